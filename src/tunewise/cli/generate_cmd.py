"""`tunewise generate` and `tunewise chat`: use a fine-tuned decoder (task sft)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def _sampling(max_new_tokens, temperature, top_p, stop, seed) -> dict:
    return {
        "max_new_tokens": max_new_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "stop": stop or None,
        "seed": seed,
    }


def generate(
    run: Annotated[Path, typer.Argument(help="A finished sft run directory (or its model/)")],
    prompt: Annotated[
        str, Opt("--prompt", "-p", help="The user message (or raw text for a plain-text run)")
    ],
    max_new_tokens: Annotated[int, Opt(help="Longest answer in tokens")] = 256,
    temperature: Annotated[float, Opt(help="0 = greedy; > 0 samples")] = 0.0,
    top_p: Annotated[float, Opt(help="Nucleus sampling mass (with --temperature > 0)")] = 1.0,
    stop: Annotated[
        list[str] | None, Opt("--stop", help="Stop at this string (repeatable)")
    ] = None,
    seed: Annotated[int | None, Opt(help="Seed for sampling")] = None,
    stream: Annotated[bool, Opt("--stream/--no-stream", help="Print tokens as they come")] = True,
) -> None:
    """Answer one prompt with the run's chat template; stops at end-of-turn/EOS."""
    from tunewise.tasks.sft.predictor import Generator

    gen = Generator(run)
    kw = _sampling(max_new_tokens, temperature, top_p, stop, seed)
    if stream:
        for chunk in gen.stream(prompt, **kw):
            sys.stdout.write(chunk)
            sys.stdout.flush()
        sys.stdout.write("\n")
    else:
        print(gen.generate(prompt, **kw))


def chat(
    run: Annotated[Path, typer.Argument(help="A finished sft run directory (or its model/)")],
    system: Annotated[str | None, Opt(help="A system message to start with")] = None,
    max_new_tokens: Annotated[int, Opt(help="Longest answer in tokens")] = 256,
    temperature: Annotated[float, Opt(help="0 = greedy; > 0 samples")] = 0.0,
    top_p: Annotated[float, Opt(help="Nucleus sampling mass")] = 1.0,
    stop: Annotated[list[str] | None, Opt("--stop", help="Stop string (repeatable)")] = None,
    seed: Annotated[int | None, Opt(help="Seed for sampling")] = None,
) -> None:
    """Talk to the model: answers stream as they are generated; /reset clears, /exit quits."""
    from tunewise.tasks.sft.predictor import Generator

    gen = Generator(run)
    kw = _sampling(max_new_tokens, temperature, top_p, stop, seed)
    start = [{"role": "system", "content": system}] if system else []
    messages = list(start)
    tty = sys.stdin.isatty()
    print("chat with the model; /reset starts over, /exit (or Ctrl-D) quits", file=sys.stderr)
    while True:
        if tty:
            print("you> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            break
        line = line.rstrip("\n")
        if line.strip() in ("/exit", "/quit"):
            break
        if line.strip() == "/reset":
            messages = list(start)
            continue
        if not line.strip():
            continue
        messages.append({"role": "user", "content": line})
        if tty:
            print("bot> ", end="", file=sys.stderr, flush=True)
        answer = ""
        for chunk in gen.stream(messages, **kw):
            answer += chunk
            sys.stdout.write(chunk)
            sys.stdout.flush()
        sys.stdout.write("\n")
        sys.stdout.flush()
        messages.append({"role": "assistant", "content": answer})
