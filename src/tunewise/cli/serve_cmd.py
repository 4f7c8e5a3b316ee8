"""`tunewise serve`: answer HTTP requests with one or more trained or exported models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def serve(
    models: Annotated[
        list[str],
        typer.Argument(
            help="Run directories or exports to serve, each PATH or NAME=PATH (named after its folder)"
        ),
    ],
    host: Annotated[
        str, Opt(help="Address to listen on (0.0.0.0 for every interface)")
    ] = "127.0.0.1",
    port: Annotated[int, Opt(help="Port")] = 8000,
    backend: Annotated[str, Opt(help="auto (ONNX for an ONNX export), torch or onnx")] = "auto",
    max_batch: Annotated[int, Opt(help="Most texts per forward pass")] = 32,
    max_wait_ms: Annotated[
        float, Opt(help="Longest wait for a batch to fill while another computes (ms)")
    ] = 2.0,
    max_queue: Annotated[int, Opt(help="Most texts waiting per model; more get 503")] = 1024,
    max_texts: Annotated[int, Opt(help="Most texts per request (413 beyond)")] = 256,
    max_chars: Annotated[int, Opt(help="Most characters per text (413 beyond)")] = 10_000,
    max_body_bytes: Annotated[int, Opt(help="Largest request body (413 beyond)")] = 1_000_000,
    max_new_tokens: Annotated[int, Opt(help="Most tokens one generation may ask for")] = 512,
    api_key_env: Annotated[
        str, Opt(help="Environment variable holding the API key; when set, requests need it")
    ] = "TUNEWISE_API_KEY",
    threads: Annotated[
        int, Opt(help="CPU threads per model forward pass (1 is fastest on a shared CPU)")
    ] = 1,
    workers: Annotated[
        int, Opt(help="Batches per model run at once, each in its own thread (2 fill 2 cores)")
    ] = 2,
    graceful_timeout: Annotated[
        int, Opt(help="Seconds to finish requests in flight after SIGTERM/Ctrl-C")
    ] = 30,
    allow_failed_parity: Annotated[
        bool, Opt(help="Serve an export whose parity check failed")
    ] = False,
    open_docs: Annotated[
        bool,
        Opt(help="With an API key, leave /docs, /openapi.json and /metrics open without it"),
    ] = False,
) -> None:
    """Serve models over HTTP: /v1/classify, /v1/entities, /v1/generate, /v1/chat/completions,
    /v1/models, /healthz, /readyz, /metrics (OpenAPI at /docs)."""
    from tunewise.serve.settings import settings_from_flags

    settings = settings_from_flags(
        port,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        max_texts=max_texts,
        max_chars=max_chars,
        max_body_bytes=max_body_bytes,
        max_new_tokens=max_new_tokens,
        api_key=os.environ.get(api_key_env) or None,
        threads=threads,
        workers=workers,
        open_docs=open_docs,
    )
    import torch
    import uvicorn

    import tunewise.continual  # noqa: F401  (a lora-per-task run is served through its router)
    from tunewise.serve import create_app, load_all
    from tunewise.serve.shared_base import shared_bases

    torch.set_num_threads(threads)  # generation runs in other threads; the batchers set theirs
    served = load_all(
        models,
        backend=backend,
        batch_size=max_batch,
        threads=threads,
        allow_failed_parity=allow_failed_parity,
    )
    app = create_app(served, settings)
    for m in served:
        print(f"serving {m.name!r}: {m.kind}, {m.backend}, from {Path(m.path)}", flush=True)
    for base, names in shared_bases(served):
        print(f"{len(names)} adapters share base {base}: {', '.join(names)}", flush=True)
    if settings.api_key:
        closed = "" if open_docs else "; /docs, /openapi.json and /metrics need it too"
        print(f"API key required (from ${api_key_env}){closed}", flush=True)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=graceful_timeout,
    )
    _server_class()(config).run()
    print("stopped; requests in flight were answered", flush=True)


def _server_class():
    import contextlib
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, so the process
            # dies by the signal; a finished graceful stop exits 0 here instead
            sigs = (signal.SIGINT, signal.SIGTERM)
            old = {s: signal.signal(s, self.handle_exit) for s in sigs}
            try:
                yield
            finally:
                for s, h in old.items():
                    signal.signal(s, h)

    return Server
