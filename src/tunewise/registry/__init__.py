"""The run registry: every run (finished, failed, interrupted) in one embedded SQLite database.

The registry is an index over run directories, which stay the source of truth: a row is
(re)built from ``run.json``, ``config.yaml`` and ``metrics.json`` by :func:`record_run`.
"""

from tunewise.registry.store import Registry, default_path, record_run

__all__ = ["Registry", "default_path", "record_run"]
