"""The web studio: runs, live curves, reports, new runs, compare and a playground, on the run
registry and the public API. Nothing but the CLI imports it."""

from __future__ import annotations

from pathlib import Path

from tunewise.studio.app import Studio, create_app, make_studio

__all__ = ["Studio", "create_app", "make_studio", "serve_studio"]


def serve_studio(
    host: str,
    port: int,
    token: str | None,
    registry: str | Path | None = None,
    workdir: str | Path | None = None,
    slots: int = 1,
) -> None:
    """Serve the studio until Ctrl-C; its jobs keep running after it stops."""
    import uvicorn

    from tunewise.studio.auth import check_bind

    check_bind(host, token)
    studio = make_studio(registry, workdir, token, slots)
    where = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    print(f"tunewise studio on {where} (registry {studio.registry.path})", flush=True)
    if token:
        print("a token is required: open the address with ?token=<your token>", flush=True)
    uvicorn.run(create_app(studio), host=host, port=port, log_level="warning")
