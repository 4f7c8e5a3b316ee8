"""`assist build|eval|export` from real tiny runs (an abstaining classifier and a retrieval
run): the FAQ threshold chosen from the runs' held-out questions and recorded in the policy,
the directory written whole or not at all, and the CLI's one-line errors."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import pytest
import yaml

import tunewise
from tests.conftest import NEG, POS, make_rows, tiny_config, write_jsonl
from tunewise.apps.assist.build import choose_threshold, load_assistant
from tunewise.cli.main import main

OOS_WORDS = ["lasagna", "recipe", "volcano", "guitar", "weather", "planet", "soccer", "poem"]
TOPICS = ["film", "story", "plot", "movie", "cast", "really", "very", "quite"]


def _oos(n, seed):
    rng = random.Random(seed)
    return [
        {"text": " ".join(rng.choice(OOS_WORDS) for _ in range(rng.randint(3, 8))), "label": "oos"}
        for _ in range(n)
    ]


def _faq_rows(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        t = rng.choice(TOPICS)
        out.append(
            {
                "question": "what about " + " ".join([t, *rng.sample(POS + NEG, 2)]),
                "answer": f"{t} is explained here",
            }
        )
    return out


def _csv(path, rows, cols):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("assist-runs")
    data = {
        "train": write_jsonl(tmp / "train.jsonl", make_rows(120, 1)),
        "dev": write_jsonl(tmp / "dev.jsonl", make_rows(30, 2) + _oos(20, 2)),
        "test": write_jsonl(tmp / "test.jsonl", make_rows(30, 3) + _oos(20, 3)),
    }
    cfg = tiny_config(tiny_model_dir, data, tmp / "intents", epochs=6)
    cfg["task"] = {"oos_label": "oos"}
    intents = tunewise.train(cfg).path
    files = {
        "train": _csv(tmp / "faq_train.csv", _faq_rows(64, 0), ["question", "answer"]),
        "test": _csv(tmp / "faq_test.csv", _faq_rows(16, 1), ["question", "answer"]),
        "corpus": _csv(
            tmp / "corpus.csv",
            [{"id": f"faq-{i}", "answer": f"{t} is explained here"} for i, t in enumerate(TOPICS)],
            ["id", "answer"],
        ),
    }
    cfg = tiny_config(tiny_model_dir, files, tmp / "faq", epochs=3, lr=3e-3)
    cfg["data"].update(text_column="question", text_pair_column="answer")
    cfg["task"] = {"type": "retrieval"}
    faq = tunewise.train(cfg).path
    return {"intents": intents, "faq": faq, "tmp": tmp}


def _cli(argv, capsys):
    """(exit code, captured output) of the CLI run in-process."""
    code = 0
    try:
        main(argv)
    except SystemExit as e:
        code = e.code or 0
    return code, capsys.readouterr()


def test_choose_threshold_lets_few_other_questions_through():
    faq = np.linspace(0.5, 0.9, 50)
    oos = np.linspace(0.0, 0.6, 100)
    t, how, ev = choose_threshold(faq, oos, 0.5, "out-of-scope questions")
    assert (oos >= t).mean() <= 0.05 and (oos >= t - 0.01).mean() > 0.03
    assert ev["questions"] == 100 and ev["faq_pass_rate"] == pytest.approx((faq >= t).mean())
    assert "of 100 out-of-scope questions pass" in how and "of 50 held-out FAQ questions" in how
    t, how, _ = choose_threshold(faq, [], 0.5, "out-of-scope questions")
    assert t == 0.5 and how.startswith("default")


def test_build_records_the_threshold_and_the_assistant_answers(runs, capsys):
    out = runs["tmp"] / "app"
    build = ["assist", "build", "--intents", str(runs["intents"]), "--faq", str(runs["faq"])]
    code, built = _cli([*build, "--out", str(out)], capsys)
    assert code == 0, built.err
    assert f"assistant written to {out}" in built.out
    info = json.loads((out / "assistant.json").read_text())
    policy = yaml.safe_load((out / "policy.yaml").read_text())
    chosen = info["faq_thresholds"]
    assert chosen["threshold"]["questions"] == 20  # the intent run's dev OOS rows (not test's)
    assert chosen["over_intent"]["questions"] == 30  # and its in-scope dev rows
    assert chosen["threshold"]["faq_questions"] == 16  # the retrieval run's test questions
    assert policy["faq"]["threshold"] == chosen["threshold"]["value"]
    assert policy["faq"]["over_intent"] >= policy["faq"]["threshold"]
    assert "out-of-scope dev questions pass" in policy["faq"]["threshold_source"]
    assert "in-scope dev questions pass" in policy["faq"]["over_intent_source"]
    a = load_assistant(out)
    r = a.answer("x", "what about plot good")
    assert r["faq"]["id"] == "faq-2" and r["faq"]["answer"] == "plot is explained here"
    assert r["intent"] in ("pos", "neg") and isinstance(r["intent_abstained"], bool)
    # eval on the built assistant, JSON out
    conv = runs["tmp"] / "conv.jsonl"
    rows = [{"message": "what about plot good", "intent": "pos", "faq_id": "faq-2"}] + [
        {"message": x["text"], "intent": "oos"} for x in _oos(5, 9)
    ]
    conv.write_text("".join(json.dumps(x) + "\n" for x in rows))
    code, io = _cli(["assist", "eval", str(out), "--data", str(conv), "--json"], capsys)
    res = json.loads(io.out)
    assert code == 0 and res["n"] == 6 and res["metrics"]["faq_recall_at_1"]["value"] == 1.0
    # a built directory is never half-replaced: without --overwrite it is refused
    code, io = _cli([*build, "--out", str(out)], capsys)
    assert code == 2 and "already exists" in io.err and len(io.err.strip().splitlines()) == 1
    # with --overwrite the folder is replaced whole (an edited policy goes back to the build's)
    (out / "policy.yaml").write_text("faq: {threshold: 0.99}\n")
    code, io = _cli([*build, "--out", str(out), "--overwrite"], capsys)
    assert code == 0, io.err
    assert (
        yaml.safe_load((out / "policy.yaml").read_text())["faq"]["threshold"]
        == policy["faq"]["threshold"]
    )
    assert not list(out.parent.glob(".app.*"))


def test_user_mistakes_are_one_line_and_leave_nothing(runs, capsys, tmp_path):
    out = tmp_path / "app"
    base = ["assist", "build", "--out", str(out)]
    cases = [
        (
            ["--intents", str(runs["faq"]), "--faq", str(runs["faq"])],
            "a retrieval run; --intents needs a classification run",
        ),
        (
            ["--intents", str(runs["intents"]), "--faq", str(runs["intents"])],
            "--faq needs a retrieval run",
        ),
        (["--intents", str(tmp_path / "nope"), "--faq", str(runs["faq"])], "no such run directory"),
    ]
    bad_policy = tmp_path / "p.yaml"
    bad_policy.write_text("intent:\n  handoff: [card_arival]\n")
    cases.append(
        (
            [
                "--intents",
                str(runs["intents"]),
                "--faq",
                str(runs["faq"]),
                "--policy",
                str(bad_policy),
            ],
            "unknown intent 'card_arival'",
        )
    )
    for args, msg in cases:
        code, io = _cli([*base, *args], capsys)
        assert code == 2 and msg in io.err, io.err
        assert "Traceback" not in io.err and len(io.err.strip().splitlines()) == 1
        assert not out.exists() and not list(tmp_path.glob(".app.tmp-*"))
    code, io = _cli(["assist", "serve", str(tmp_path)], capsys)
    assert code == 2 and "not an assistant directory" in io.err
    code, io = _cli(["assist", "export", str(tmp_path), "--out", str(tmp_path / "t.csv")], capsys)
    assert code == 2 and "not an assistant directory" in io.err


def test_faq_categories_and_a_users_policy(runs, capsys, tmp_path):
    cats = _csv(
        tmp_path / "cats.csv",
        [
            {"answer": f"{t} is explained here", "category": "plots" if t == "plot" else "other"}
            for t in TOPICS
        ],
        ["answer", "category"],
    )
    pol = tmp_path / "mine.yaml"
    pol.write_text("intent:\n  categories: {pos: [plots]}\nfaq:\n  threshold: 0.25\n")
    base = ["assist", "build", "--intents", str(runs["intents"]), "--faq", str(runs["faq"])]
    code, io = _cli([*base, "--out", str(tmp_path / "a"), "--policy", str(pol)], capsys)
    assert code == 2 and "give --faq-categories FILE" in io.err
    code, io = _cli([*base, "--out", str(tmp_path / "a"), "--faq-categories", str(pol)], capsys)
    assert code == 2 and "needs a 'category' column" in io.err
    args = ["--out", str(tmp_path / "a"), "--policy", str(pol), "--faq-categories", str(cats)]
    code, io = _cli([*base, *args], capsys)
    assert code == 0, io.err
    saved = json.loads((tmp_path / "a" / "faq_categories.json").read_text())
    assert saved["faq-2"] == "plots" and len(saved) == len(TOPICS)
    policy = yaml.safe_load((tmp_path / "a" / "policy.yaml").read_text())
    assert policy["faq"]["threshold"] == 0.25  # the user's threshold is kept, not re-chosen
    assert "in-scope dev questions" in policy["faq"]["over_intent_source"]
    assert policy["intent"]["categories"] == {"pos": ["plots"]}
    r = load_assistant(tmp_path / "a").answer("x", "what about plot good")
    assert r["faq"]["category"] == "plots"
