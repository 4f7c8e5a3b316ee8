"""The contract over the registries: every registered task x every method that applies trains
a tiny in-process model through the one runner, saves, reloads in a fresh process, predicts
with the ``tunewise predict`` CLI, and answers over HTTP on 127.0.0.1, the three answers equal
(numbers to 1e-4) to the in-memory predictor's; the runner's reload-parity check holds too.

``toy_sign`` is registered only in this folder (``tests/contract/toy_task``): it runs through
train, predict and serve with no line of ``src/`` knowing it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import tests.contract.toy_task  # noqa: F401  (registers toy_sign, in this process only)
import tunewise
from tests.conftest import FILL, NEG, POS, make_rows, tiny_config, write_jsonl
from tunewise.errors import UserError
from tunewise.methods import METHODS, get_method
from tunewise.tasks import TASKS, Predictor, get_task

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ["the film was good", "a dull and boring plot", "great cast 12", "awful flat story"]
PROMPTS = ["Tell me about lamp", "Tell me about river"]


def _regression_rows(n, seed):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        k_pos, k_neg = rng.randint(0, 2), rng.randint(0, 2)
        words = rng.sample(FILL, 3) + rng.sample(POS, k_pos) + rng.sample(NEG, k_neg)
        rng.shuffle(words)
        rows.append({"text": " ".join(words) + f" {rng.randint(0, 999)}", "label": k_pos - k_neg})
    return rows


def _sign_rows(n, seed):
    return [
        {"text": r["text"], "label": 1 if r["label"] == "pos" else -1} for r in make_rows(n, seed)
    ]


def _retrieval_rows(n, seed):
    """Questions about a word, each answered by the passage on that word (8 passages)."""
    rng = random.Random(seed)
    topics = FILL[:8]
    rows = []
    for _ in range(n):
        t = rng.choice(topics)
        q = " ".join([t, *rng.sample(POS + NEG, 2)])
        rows.append({"text": f"what about {q}", "passage": f"{t} is explained here"})
    return rows


def _conll(path, n, seed):
    from tests.unit.test_tokens_cli import _conll as build

    return build(path, n, seed)


def _data(task: str, tmp: Path) -> dict:
    sizes = (("train", 64), ("dev", 16), ("test", 16))
    if task == "tokens":
        return {s: _conll(tmp / f"{s}.conll", n, i) for i, (s, n) in enumerate(sizes)}
    if task == "sft":
        return {
            s: write_jsonl(
                tmp / f"{s}.jsonl",
                [
                    {"instruction": f"Tell me about {s} item {k}", "output": "It is fine."}
                    for k in range(n // 2)
                ],
            )
            for s, n in sizes
        }
    if task == "pretrain":  # text only: no labels to learn, the text is the target
        return {
            s: write_jsonl(tmp / f"{s}.jsonl", [{"text": r["text"]} for r in make_rows(n, i)])
            for i, (s, n) in enumerate(sizes)
        }
    rows = {
        "classification": make_rows,
        "regression": _regression_rows,
        "retrieval": _retrieval_rows,
        "recommend": _retrieval_rows,  # (history, item) pairs without a bundle: retrieval rows
        "toy_sign": _sign_rows,
    }
    return {s: write_jsonl(tmp / f"{s}.jsonl", rows[task](n, i)) for i, (s, n) in enumerate(sizes)}


def _applies(task_cls, method: str) -> bool:
    try:
        task_cls.__new__(task_cls).check_method(get_method(method))
    except UserError:
        return False
    return True


def _close(a, b, tol=1e-4) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return all(
            _close(a.get(k), b.get(k), tol)
            for k in keys
            if a.get(k) is not None and b.get(k) is not None
        )
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(a)))
    return a == b


FRESH = """
import json, sys
sys.path.insert(0, {root!r})
import tests.contract.toy_task  # a plugin: registered by importing it
import tunewise
runs, inputs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {{}}
for name, path in runs.items():
    p = tunewise.load(path)
    out[name] = p.predict(inputs, max_new_tokens=8) if p.task.route.generation else p.predict(inputs)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from tests.conftest import build_tiny_model
    from tests.sft.conftest import build_tiny_llama

    return {
        "bert": build_tiny_model(tmp_path_factory.mktemp("c-bert")),
        "llama": build_tiny_llama(tmp_path_factory.mktemp("c-llama")),
    }


@pytest.mark.parametrize("task_name", sorted(TASKS))
def test_every_task_x_method_trains_reloads_predicts_and_serves(task_name, tiny_models, tmp_path):
    task_cls = get_task(task_name)
    generation = task_cls.route is not None and task_cls.route.generation
    data = _data(task_name, tmp_path)
    model = tiny_models["llama" if generation else "bert"]
    # icl trains nothing and saves no model (tests/fewshot/test_icl.py covers its runs)
    methods = [m for m in METHODS if get_method(m).trains_model and _applies(task_cls, m)]
    assert methods, f"no method applies to {task_name}"
    inputs = PROMPTS if generation else INPUTS
    runs, memory = {}, {}
    for method in methods:
        cfg = tiny_config(model, data, tmp_path / method, epochs=1, max_steps=3, batch_size=8)
        if task_name == "pretrain":  # no test split: held-out text is dev; test is predict input
            cfg["data"].pop("test")
        cfg["task"] = {"type": task_name}
        cfg["method"] = {"name": method}
        if generation:
            cfg["model"]["max_length"] = 64
            cfg["sft"] = {"eval_samples": 1, "eval_max_new_tokens": 4, "test_generations": 2}
        r = tunewise.train(cfg)
        assert r.metrics["task"] == task_name
        checks = r.metrics["checks"]
        assert checks["reload_parity"]["ok"], (method, checks["reload_parity"])
        assert (r.path / "report.html").is_file() and (r.path / "doctor.json").is_file()
        runs[method] = str(r.path)
        pred = tunewise.load(r.path)
        assert isinstance(pred, Predictor), type(pred)  # the one predictor protocol
        memory[method] = (
            pred.predict(inputs, max_new_tokens=8) if generation else pred.predict(inputs)
        )

    # a fresh process reloads every run and predicts the same
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", FRESH.format(root=str(ROOT)), json.dumps(runs), json.dumps(inputs)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    fresh = json.loads(out.stdout.strip().splitlines()[-1])
    for method in methods:
        assert _close(memory[method], fresh[method]), (method, memory[method], fresh[method])

    # the real CLI predicts a file with the run's own reader (one run is enough here)
    first = methods[0]
    src = data["test"]
    cli = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; import tests.contract.toy_task; from tunewise.cli.main import main; "
            "main(sys.argv[1:])",
            "predict",
            runs[first],
            "--input",
            str(src),
            "--output",
            str(tmp_path / "pred.jsonl"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    rows = (tmp_path / "pred.jsonl").read_text().splitlines()
    assert len(rows) == len(tunewise.load(runs[first]).read_inputs(src))

    # export writes a directory the same predictor loads, checked for parity on the way
    from tunewise.export.hf import export_hf

    record = export_hf(Path(runs[first]), tmp_path / "export")
    assert record["parity"]["ok"], record["parity"]
    exported = tunewise.load(tmp_path / "export")
    again = exported.predict(inputs, max_new_tokens=8) if generation else exported.predict(inputs)
    assert _close(again, memory[first]), (again, memory[first])

    # one server answers for every run, by name, on the task's route
    from tests.serve.conftest import running
    from tunewise.serve import create_app, load_all

    served = load_all([f"{m}={p}" for m, p in runs.items()])
    with running(create_app(served)) as (client, _):
        for method in methods:
            if generation:
                status, _, body = client.post(
                    "/v1/generate", {"prompt": inputs[0], "model": method, "max_new_tokens": 8}
                )
                assert status == 200, body
                assert body["text"] == memory[method][0]["text"]
            else:
                status, _, body = client.post(
                    task_cls.route.path, {"texts": inputs, "model": method}
                )
                assert status == 200, body
                assert _close(body["results"], memory[method]), (method, body, memory[method])
