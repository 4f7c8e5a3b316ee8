"""Several LoRA runs on one base model served by one process: the base is loaded once, each
name answers with its own adapter and head, against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tests.serve.conftest import Client, running
from tunewise.serve import ServeSettings, create_app, load_all
from tunewise.serve.shared_base import shared_bases

TEXTS = [r["text"] for r in make_rows(24, 77)] + ["", "GOOD!!", "é ü 中文"]


def _abc(rows):
    return [{**r, "label": "abc"[len(r["text"]) % 3]} for r in rows]


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    """Two tiny LoRA runs on the tiny BERT with different label sets: neg/pos and a/b/c."""
    tmp = tmp_path_factory.mktemp("shared-base")
    out = {}
    for name, relabel in (("pn", lambda rows: rows), ("abc", _abc)):
        data = {
            s: write_jsonl(tmp / f"{name}-{s}.jsonl", relabel(make_rows(n, i + 30)))
            for i, (s, n) in enumerate((("train", 64), ("dev", 16), ("test", 16)))
        }
        cfg = tiny_config(tiny_model_dir, data, tmp / name, epochs=2)
        cfg["method"] = {"name": "lora"}
        out[name] = tunewise.train(cfg).path
    return out


@pytest.fixture(scope="module")
def served(runs):
    return load_all([f"{n}={p}" for n, p in runs.items()])


@pytest.fixture(scope="module")
def server(served):
    with running(create_app(served, ServeSettings(max_wait_ms=5))) as (client, _):
        yield client


def _same(got: list[dict], want: list[dict]) -> None:
    assert [g["label"] for g in got] == [w["label"] for w in want]
    for g, w in zip(got, want):
        assert g["scores"].keys() == w["scores"].keys()
        for k in w["scores"]:
            assert abs(g["scores"][k] - w["scores"][k]) < 1e-5, (g, w)


def test_each_adapter_answers_as_tunewise_predict(server, served, runs):
    assert [names for _, names in shared_bases(served)] == [["pn", "abc"]]
    for name, run in [*runs.items(), *runs.items()]:  # twice: switching back and forth
        status, _, body = server.post("/v1/classify", {"model": name, "texts": TEXTS})
        assert status == 200, body
        assert body["model"] == name
        _same(body["results"], tunewise.load(run).predict(TEXTS))


def test_base_weights_are_loaded_once(served, tiny_model_dir):
    from transformers import BertModel

    a, b = served
    view_a, view_b = a.model.model, b.model.model
    assert view_a.shared is view_b.shared
    peft_model = view_a.shared.model
    assert set(peft_model.peft_config) == {view_a.adapter, view_b.adapter}
    # the one backbone both answer with: by identity, and by counting what the process holds
    base = peft_model.get_base_model().bert
    assert view_b.shared.model.get_base_model().bert is base
    held = {
        id(p): p.numel()
        for s in served
        for n, p in s.model.model.shared.model.named_parameters()
        if "lora_" not in n and "classifier" not in n  # the backbone, without adapters or heads
    }
    backbone = sum(p.numel() for p in BertModel.from_pretrained(tiny_model_dir).parameters())
    assert sum(held.values()) == backbone


def test_interleaved_concurrent_requests_get_their_own_adapter(server, runs):
    want = {n: tunewise.load(p).predict(TEXTS) for n, p in runs.items()}
    names = list(runs)

    def ask(i):
        name = names[i % 2]
        lo = i % len(TEXTS)
        status, _, body = server.post(
            "/v1/classify", {"model": name, "texts": TEXTS[lo : lo + 1 + i % 4]}
        )
        return name, lo, i, status, body

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(ask, range(80)))
    for name, lo, i, status, body in answers:
        assert status == 200, body
        assert body["model"] == name
        _same(body["results"], want[name][lo : lo + 1 + i % 4])


def test_models_endpoint_reports_adapter_and_base(server, tiny_model_dir):
    status, _, body = server.get("/v1/models")
    assert status == 200, body
    info = {m["id"]: m for m in body["data"]}
    base = str(tiny_model_dir.resolve())
    assert info["pn"]["adapter"] is True and info["pn"]["base"] == base
    assert info["abc"]["adapter"] is True and info["abc"]["base"] == base
    assert info["pn"]["shares_base_with"] == ["abc"] and info["abc"]["shares_base_with"] == ["pn"]
    assert info["pn"]["labels"] == ["neg", "pos"] and info["abc"]["labels"] == ["a", "b", "c"]


def test_other_bases_and_methods_load_separately(runs, tiny_run, tiny_model_dir, tmp_path):
    # the same adapter over a copy of the base at another path must not share
    other_base = shutil.copytree(tiny_model_dir, tmp_path / "other-base")
    moved = shutil.copytree(runs["pn"], tmp_path / "moved")
    meta_file = moved / "model" / "tunewise.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps(meta | {"base_model": str(other_base)}))
    specs = [f"pn={runs['pn']}", f"full={tiny_run}", f"moved={moved}", f"abc={runs['abc']}"]
    served = load_all(specs)
    by = {s.name: s for s in served}
    assert [s.name for s in served] == ["pn", "full", "moved", "abc"]
    assert shared_bases(served) == [(str(tiny_model_dir.resolve()), ["pn", "abc"])]
    assert by["full"].info() == {}  # full fine-tuning: no adapter, loaded as before
    assert by["moved"].info() == {
        "adapter": True,
        "base": str(other_base.resolve()),
        "shares_base_with": [],
    }
    _same(by["moved"].run_batch([(t, None) for t in TEXTS]), tunewise.load(moved).predict(TEXTS))


def test_two_served_names_must_differ(runs):
    from tunewise.errors import UserError

    with pytest.raises(UserError, match="two served models share a name"):
        load_all([f"x={runs['pn']}", f"x={runs['abc']}"])


def test_token_adapters_share_a_base(tiny_model_dir, tmp_path):
    from tests.unit.test_tokens_cli import _conll

    paths = {}
    for name, drop_bad in (("both", False), ("good", True)):
        files = {}
        for i, (s, n) in enumerate((("train", 48), ("dev", 16), ("test", 16))):
            p = _conll(tmp_path / f"{name}-{s}.conll", n, i)
            if drop_bad:  # another tag set: GOOD entities only
                p.write_text(p.read_text().replace("B-BAD", "O").replace("I-BAD", "O"))
            files[s] = str(p)
        cfg = tiny_config(tiny_model_dir, files, tmp_path / name, epochs=1)
        cfg |= {"task": {"type": "tokens"}, "method": {"name": "lora"}}
        paths[name] = tunewise.train(cfg).path
    served = load_all([f"{n}={p}" for n, p in paths.items()])
    assert len(shared_bases(served)) == 1
    texts = ["the film was great and awful", "good fun", ""]
    with running(create_app(served)) as (client, _):
        for name, run in [*paths.items(), *paths.items()]:
            status, _, body = client.post("/v1/entities", {"model": name, "texts": texts})
            assert status == 200, body
            assert body["results"] == tunewise.load(run).predict(texts)


def test_serve_cli_says_which_adapters_share_a_base(runs, tmp_path, tiny_model_dir):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "serve.log", "w")
    cmd = [sys.executable, "-m", "tunewise", "serve", "--port", str(port)]
    cmd += [f"{n}={p}" for n, p in runs.items()]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
    try:
        client = Client(port)
        for _ in range(240):
            try:
                if client.get("/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.25)
        for name, labels in (("pn", {"neg", "pos"}), ("abc", {"a", "b", "c"})):
            status, _, body = client.post("/v1/classify", {"model": name, "texts": TEXTS[:4]})
            assert status == 200, body
            assert {r["label"] for r in body["results"]} <= labels
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    text = (tmp_path / "serve.log").read_text()
    assert code == 0, text
    assert f"2 adapters share base {tiny_model_dir.resolve()}: pn, abc" in text, text
