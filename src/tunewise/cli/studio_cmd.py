"""`tunewise studio`: the web studio on this machine's run registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def studio(
    port: Annotated[int, Opt(help="Port")] = 7860,
    host: Annotated[
        str, Opt(help="Address to listen on; beyond loopback a token is required")
    ] = "127.0.0.1",
    token: Annotated[
        str | None,
        Opt(
            help="Token every request needs (?token=T once, or Authorization: Bearer T) "
            "[$TUNEWISE_STUDIO_TOKEN]"
        ),
    ] = None,
    registry: Annotated[
        Path | None, Opt(help="Registry file [$TUNEWISE_REGISTRY or ~/.tunewise/runs.db]")
    ] = None,
    workdir: Annotated[
        Path | None, Opt(help="Jobs, uploads, datasets and new runs [studio/ beside the registry]")
    ] = None,
    jobs: Annotated[int, Opt(help="Training jobs that run at once (one fills this machine)")] = 1,
) -> None:
    """Web UI: runs, live curves, reports, new runs from a form, compare, a playground."""
    from tunewise.errors import UserError

    if not 0 <= port <= 65535:
        raise UserError(f"--port {port}: a port is a number from 0 to 65535")
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: at least 1")
    token = token or os.environ.get("TUNEWISE_STUDIO_TOKEN") or None
    from tunewise.studio import serve_studio

    serve_studio(host, port, token, registry, workdir, jobs)
