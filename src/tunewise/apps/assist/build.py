"""`tunewise assist build`: an assistant directory from finished runs, and loading it back.

The directory holds ``assistant.json`` (the runs it answers with, how the FAQ threshold was
chosen), ``policy.yaml`` (what the user edits) and, with ``--faq-categories``,
``faq_categories.json`` (FAQ id -> category). The runs stay where they are and are named by
absolute path. The directory is written beside its destination and renamed into place, so a
failed build never leaves one that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from tunewise.apps.assist.policy import POLICY_FILE, Policy, dump_policy, load_policy
from tunewise.errors import UserError

ASSISTANT_FILE = "assistant.json"
CATEGORIES_FILE = "faq_categories.json"
MAX_PASS = 0.05
"""Share of the intent run's questions (out-of-scope; in-scope) a chosen FAQ threshold lets
through as FAQ matches."""
MAX_ROWS = 2000


def _load(path: Path, want: str, flag: str, hint: str):
    from tunewise.run.api import load
    from tunewise.rundir import model_dir_of, read_meta

    path = Path(path)
    if not path.exists():
        raise UserError(f"{flag} {path}: no such run directory")
    _, model_dir = model_dir_of(path)
    task = read_meta(model_dir).task
    if task != want:
        raise UserError(f"{flag} {path}: a {task} run; {flag} needs a {want} run ({hint})")
    return load(path)


def load_intents(path: Path):
    p = _load(path, "classification", "--intents", "tunewise train --abstain ...")
    if not p.abstain:
        raise UserError(
            f"--intents {path}: the classifier was trained without --abstain, so it cannot say "
            "when a message is out of scope; retrain it with --abstain (and --oos-label)"
        )
    return p


def load_faq(path: Path):
    return _load(path, "retrieval", "--faq", "tunewise train --task retrieval ...")


def load_generator(path: Path):
    return _load(path, "sft", "--generator", "tunewise train --task sft ...")


def faq_questions_scores(faq_run: Path) -> list[float]:
    """Top-1 scores of the retrieval run's held-out questions (its ``predictions/test.jsonl``)."""
    p = Path(faq_run) / "predictions" / "test.jsonl"
    if not p.is_file():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line) if line.strip() else {}
        if rec.get("top"):
            out.append(float(rec["top"][0]["score"]))
    return out[:MAX_ROWS]


def dev_texts(intents_run: Path, oos_label: str | None) -> tuple[list[str], list[str]]:
    """(in-scope, out-of-scope) dev questions of the intent run (its out-of-scope ones were
    kept out of its training). Dev only: the test split stays clean for `assist eval`. The
    in-scope ones come from ``splits/dev.jsonl`` when the dev file is gone or was carved."""
    from tunewise.data.readers import read_examples
    from tunewise.rundir import RUN_FILE, RunDir
    from tunewise.tasks.text import columns

    run = Path(intents_run)
    if not (run / RUN_FILE).is_file():
        return [], []
    data = RunDir(run).data_settings()
    ins: list[str] = []
    oos: list[str] = []
    f = data.get("dev")
    if f and Path(f).is_file():
        for r in read_examples(f, require_label=True, **columns(data)):
            (oos if r.label == oos_label else ins).append(r.text)
    elif (run / "splits" / "dev.jsonl").is_file():
        for line in (run / "splits" / "dev.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                ins.append(json.loads(line)["text"])
    return list(dict.fromkeys(ins))[:MAX_ROWS], list(dict.fromkeys(oos))[:MAX_ROWS]


def choose_threshold(
    faq_scores, other_scores, default: float, what: str
) -> tuple[float, str, dict]:
    """(threshold, how it was chosen, evidence): the lowest top-1 FAQ score that lets at most
    ``MAX_PASS`` of the ``other_scores`` questions (not FAQ questions: ``what``) through as FAQ
    matches, so as many FAQ questions as possible are answered; ``default`` without any."""
    pos, neg = np.asarray(faq_scores, float), np.asarray(other_scores, float)
    if not len(neg):
        return default, f"default (the intent run has no {what} to choose it on)", {}
    t = round(float(np.quantile(neg, 1 - MAX_PASS, method="higher")) + 1e-4, 4)
    ev = {
        "questions": int(len(neg)),
        "pass_rate": round(float((neg >= t).mean()), 4),
        "faq_questions": int(len(pos)),
        "faq_pass_rate": round(float((pos >= t).mean()), 4) if len(pos) else None,
    }
    how = f"chosen at build: {ev['pass_rate']:.1%} of {len(neg)} {what} pass"
    if len(pos):
        how += f"; {ev['faq_pass_rate']:.1%} of {len(pos)} held-out FAQ questions pass"
    return t, how, ev


def _top1(fp, texts: list[str]) -> list[float]:
    if not texts:
        return []
    return [r["passages"][0]["score"] for r in fp.predict(texts, top_k=1) if r["passages"]]


def choose_thresholds(policy: Policy, ip, fp, intents: Path, faq: Path, kept: set, echo) -> dict:
    """Set ``faq.threshold`` (against the intent run's out-of-scope dev questions) and
    ``faq.over_intent`` (against its in-scope ones: banking questions an intent answers,
    which an FAQ answer should rarely take over) unless the user's policy set them."""
    ins, oos = dev_texts(intents, ip.abstain.get("oos_label"))
    faq_scores = faq_questions_scores(faq)
    evidence: dict = {}
    f = policy.faq
    for key, texts, what in (
        ("threshold", oos, "out-of-scope dev questions"),
        ("over_intent", ins, "in-scope dev questions"),
    ):
        if key in kept:
            echo(f"FAQ {key} {getattr(f, key)} (from the policy given)")
            continue
        echo(f"choosing the FAQ {key} on {len(texts)} {what}")
        t, how, ev = choose_threshold(faq_scores, _top1(fp, texts), getattr(f, key), what)
        setattr(f, key, t)
        setattr(f, f"{key}_source", how)
        evidence[key] = {"value": t, "how": how, **ev}
        echo(f"FAQ {key} {t}: {how}")
    if f.over_intent < f.threshold:  # taking over from an intent never needs less than answering
        f.over_intent = f.threshold
    return evidence


def read_categories(path: Path, faq) -> dict:
    """FAQ passage id -> category from a CSV/JSONL with a ``category`` column and an ``id``
    (a corpus id) or ``answer`` (a corpus text) column."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise UserError(f"--faq-categories {path}: no such file")
    corpus = faq.task.corpus
    by_text = dict(zip(corpus.texts, corpus.ids))
    ids = set(corpus.ids)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "category" not in rows[0] or not ({"id", "answer"} & set(rows[0])):
        raise UserError(
            f"--faq-categories {path}: needs a 'category' column and an 'id' or 'answer' column"
        )
    out: dict[str, str] = {}
    for r in rows:
        pid = r.get("id") if r.get("id") in ids else by_text.get((r.get("answer") or "").strip())
        if pid is not None and r.get("category"):
            out.setdefault(pid, r["category"])
    if not out:
        raise UserError(f"--faq-categories {path}: no row names a passage of the FAQ run's corpus")
    return out


def build_assistant(
    intents: Path,
    faq: Path,
    out: Path,
    generator: Path | None = None,
    policy_file: Path | None = None,
    faq_categories: Path | None = None,
    overwrite: bool = False,
    echo=print,
) -> dict:
    """Check the runs, choose the FAQ threshold, write the assistant directory ``out``.

    Returns:
        ``assistant.json``'s content.
    """
    from tunewise.outdir import claim, prepare_export_out

    out = Path(out)
    prepare_export_out(out, overwrite, "assistant")
    policy = load_policy(policy_file) if policy_file is not None else Policy()
    echo(f"intents: {intents}")
    ip = load_intents(intents)
    policy.check_intents(ip.labels, str(policy_file or POLICY_FILE))
    echo(f"FAQ: {faq}")
    fp = load_faq(faq)
    if generator is not None:
        echo(f"generator: {generator}")
        load_generator(generator)
    cats = read_categories(faq_categories, fp) if faq_categories is not None else {}
    if policy.intent.categories and not cats:
        raise UserError(
            "the policy maps intents to FAQ categories (intent.categories) but the FAQ has "
            "none; give --faq-categories FILE"
        )
    kept = policy.faq.model_fields_set if policy_file is not None else set()
    evidence = choose_thresholds(policy, ip, fp, intents, faq, kept, echo)
    info = {
        "version": 1,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "intents": str(Path(intents).resolve()),
        "faq": str(Path(faq).resolve()),
        "generator": str(Path(generator).resolve()) if generator is not None else None,
        "intent_labels": len(ip.labels),
        "faq_passages": len(fp.task.corpus.ids),
        "faq_thresholds": evidence,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        (tmp / POLICY_FILE).write_text(dump_policy(policy), encoding="utf-8")
        if cats:
            (tmp / CATEGORIES_FILE).write_text(json.dumps(cats, indent=1) + "\n", encoding="utf-8")
        claim(tmp, "assistant")
        (tmp / ASSISTANT_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def read_assistant(path: Path) -> tuple[dict, Policy, dict]:
    """(assistant.json, the validated policy, FAQ categories) of an assistant directory."""
    path = Path(path)
    f = path / ASSISTANT_FILE
    if not f.is_file():
        raise UserError(
            f"{path}: not an assistant directory (no {ASSISTANT_FILE}); build one with "
            "`tunewise assist build --intents RUN --faq RUN --out DIR`"
        )
    try:
        info = json.loads(f.read_text(encoding="utf-8"))
    except ValueError as e:
        raise UserError(f"{f}: not valid JSON ({e})") from None
    for key in ("intents", "faq", "generator"):
        p = info.get(key)
        if p is not None and not Path(p).exists():
            raise UserError(f"{f}: the {key} run {p} is gone; rebuild the assistant")
    policy = load_policy(path / POLICY_FILE)
    cats_file = path / CATEGORIES_FILE
    cats = json.loads(cats_file.read_text(encoding="utf-8")) if cats_file.is_file() else {}
    return info, policy, cats


def load_assistant(path: Path, store=None):
    """The :class:`~tunewise.apps.assist.engine.Assistant` of an assistant directory."""
    from tunewise.apps.assist.engine import Assistant

    info, policy, cats = read_assistant(path)
    ip = load_intents(Path(info["intents"]))
    policy.check_intents(ip.labels, str(Path(path) / POLICY_FILE))
    fp = load_faq(Path(info["faq"]))
    gen = load_generator(Path(info["generator"])) if info.get("generator") else None
    if policy.intent.categories and not cats:
        raise UserError(
            f"{Path(path) / POLICY_FILE}: intent.categories is set but the assistant has no FAQ "
            "categories; rebuild with --faq-categories FILE"
        )
    return Assistant(ip, fp, policy, generator=gen, store=store, categories=cats)
