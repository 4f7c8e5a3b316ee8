"""The customer-service assistant (`tunewise assist`): an intent classifier that abstains, an
FAQ retriever and an optional generator, put together by a policy the user can edit.

``build.build_assistant`` writes the assistant directory from finished runs,
``engine.Assistant`` answers one message of a session, ``store`` keeps every turn (masked by
``mask``) in SQLite or PostgreSQL, ``server`` serves the chat page and ``/v1/assist``,
``evaluate`` replays labeled conversations and ``export`` turns logged turns into data.
"""
