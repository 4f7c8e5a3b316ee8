"""`tunewise assist build|serve|eval|export`: the customer-service assistant."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option
Arg = typer.Argument
app = typer.Typer(
    no_args_is_help=True,
    help="A customer-service assistant from an intent run, an FAQ run and an sft run.",
)
DirArg = Annotated[Path, Arg(help="The assistant directory (tunewise assist build --out)")]
DbOpt = Annotated[
    str | None,
    Opt(
        "--db",
        help="Conversation store: a SQLite path or a postgresql:// URL [DIR/conversations.db]",
    ),
]


def _store(directory: Path, db: str | None):
    from tunewise.apps.assist.build import read_assistant
    from tunewise.apps.assist.store import DB_FILE, Store

    read_assistant(directory)  # a clear line when DIR is not an assistant
    return Store(db or directory / DB_FILE)


@app.command("build")
def build(
    intents: Annotated[Path, Opt(help="An intent classification run trained with --abstain")],
    faq: Annotated[Path, Opt(help="A retrieval run over the FAQ answers (--task retrieval)")],
    out: Annotated[Path, Opt(help="The assistant directory to write")],
    generator: Annotated[
        Path | None, Opt(help="An sft run that words replies grounded on the FAQ answer")
    ] = None,
    policy: Annotated[
        Path | None, Opt(help="Start from this policy.yaml (its faq.threshold, if set, is kept)")
    ] = None,
    faq_categories: Annotated[
        Path | None,
        Opt(help="CSV with 'category' and 'id' or 'answer' columns: each FAQ answer's category"),
    ] = None,
    overwrite: Annotated[bool, Opt(help="Replace an assistant directory tunewise built")] = False,
) -> None:
    """Build an assistant directory: the runs it answers with and its policy.yaml."""
    from tunewise.apps.assist.build import build_assistant

    info = build_assistant(
        intents, faq, out, generator, policy, faq_categories, overwrite, echo=print
    )
    print(
        f"assistant written to {out} ({info['intent_labels']} intents, {info['faq_passages']} FAQ answers)"
    )
    print(f"edit {out / 'policy.yaml'}, then: tunewise assist serve {out}")


@app.command("serve")
def serve(
    directory: DirArg,
    host: Annotated[str, Opt(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, Opt(help="Port")] = 8080,
    db: DbOpt = None,
    max_chars: Annotated[int, Opt(help="Most characters per message (413 beyond)")] = 2_000,
    max_body_bytes: Annotated[int, Opt(help="Largest request body (413 beyond)")] = 64_000,
    api_key_env: Annotated[
        str, Opt(help="Environment variable holding the API key; when set, requests need it")
    ] = "TUNEWISE_API_KEY",
    open_docs: Annotated[
        bool, Opt(help="With an API key, leave /docs, /openapi.json and /metrics open")
    ] = False,
    threads: Annotated[int, Opt(help="CPU threads for the models")] = 1,
) -> None:
    """Serve the chat page at /, POST /v1/assist, /handoffs, /healthz and /metrics."""
    from tunewise.serve.settings import settings_from_flags

    settings = settings_from_flags(
        port,
        max_chars=max_chars,
        max_body_bytes=max_body_bytes,
        api_key=os.environ.get(api_key_env) or None,
        open_docs=open_docs,
        threads=threads,
    )
    import torch
    import uvicorn

    from tunewise.apps.assist.build import load_assistant
    from tunewise.apps.assist.server import create_assist_app

    torch.set_num_threads(threads)
    store = _store(directory, db)
    assistant = load_assistant(directory, store=store)
    app = create_assist_app(assistant, settings)
    print(f"assistant {directory} on http://{host}:{port}/ (operators: /handoffs)", flush=True)
    if settings.api_key:
        print(f"API key required (from ${api_key_env}) for /v1 and /handoffs", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@app.command("eval")
def evaluate(
    directory: DirArg,
    data: Annotated[
        Path, Opt(help="JSONL: message, intent (or 'oos'), faq_id (optional), session_id")
    ],
    oos_label: Annotated[str, Opt(help="The intent value of out-of-scope messages")] = "oos",
    as_json: Annotated[bool, Opt("--json", help="Print the result as JSON")] = False,
    out: Annotated[
        Path | None, Opt(help="Also write the JSON result (with per-row answers) here")
    ] = None,
) -> None:
    """Replay labeled messages: intent accuracy, OOS recall/precision, FAQ Recall@1,
    handoff rate, latency, with bootstrap intervals."""
    from tunewise.apps.assist.build import load_assistant
    from tunewise.apps.assist.evaluate import evaluate as run_eval
    from tunewise.apps.assist.evaluate import read_conversations, table

    rows = read_conversations(data)
    result = run_eval(load_assistant(directory), rows, oos_label)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if as_json:
        print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    else:
        print(table(result))


@app.command("export")
def export(
    directory: DirArg,
    out: Annotated[Path, Opt(help="The file to write (.csv or .jsonl)")],
    db: DbOpt = None,
) -> None:
    """Logged turns as labeled data (text, label, decision); handed-off ones marked for labeling."""
    from tunewise.apps.assist.export import export_turns

    counts = export_turns(_store(directory, db), out)
    print(
        f"{counts['turns']} turns written to {out}; {counts['needs_label']} marked needs_label "
        "(label them, then train on the file)"
    )
