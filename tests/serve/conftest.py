"""Serve tests: real uvicorn servers on 127.0.0.1 (free port, in a thread) and tiny models."""

from __future__ import annotations

import http.client
import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl


class Client:
    """A small HTTP client on http.client (one connection per request)."""

    def __init__(self, port: int, key: str | None = None):
        self.port, self.key = port, key

    def request(self, method, path, body=None, headers=None, raw=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = dict(headers or {})
        if self.key and "Authorization" not in h:
            h["Authorization"] = f"Bearer {self.key}"
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        if raw:
            return r.status, dict(r.getheaders()), data
        ctype = r.getheader("content-type", "")
        return r.status, dict(r.getheaders()), json.loads(data) if "json" in ctype else data

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def events(self, path, body) -> list:
        """The ``data:`` payloads of a server-sent-event response, in order."""
        status, headers, data = self.post(path, body, raw=True)
        assert status == 200, data
        assert headers["content-type"].startswith("text/event-stream")
        out = []
        for line in data.decode().split("\n"):
            if line.startswith("data: "):
                p = line[6:]
                out.append(p if p == "[DONE]" else json.loads(p))
        return out


@contextmanager
def running(app):
    """Run ``app`` on uvicorn at 127.0.0.1 on a free port; yields (Client, uvicorn.Server)."""
    import uvicorn

    cfg = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=10
    )
    server = uvicorn.Server(cfg)
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    assert server.started, "server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Client(port, getattr(app.state.tunewise.settings, "api_key", None)), server
    finally:
        server.should_exit = True
        t.join(15)


@pytest.fixture(scope="session")
def tiny_run(tiny_model_dir, tmp_path_factory) -> Path:
    """A finished classification run on the tiny BERT (pos/neg sentiment words)."""
    tmp = tmp_path_factory.mktemp("serve-run")
    data = {
        s: write_jsonl(tmp / f"{s}.jsonl", make_rows(n, i + 10))
        for i, (s, n) in enumerate((("train", 160), ("dev", 40), ("test", 60)))
    }
    return tunewise.train(tiny_config(tiny_model_dir, data, tmp / "run", epochs=4)).path


@pytest.fixture(scope="session")
def tiny_tagger_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A tiny random BERT token classifier (B-/I- tags) saved with its tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    d = tmp_path_factory.mktemp("tiny-tagger")
    tags = ["O", "B-ENT", "I-ENT", "B-SENT", "I-SENT"]
    cfg = BertConfig.from_pretrained(tiny_model_dir)
    cfg.num_labels = len(tags)
    cfg.id2label = dict(enumerate(tags))
    cfg.label2id = {t: i for i, t in enumerate(tags)}
    torch.manual_seed(1)
    BertForTokenClassification(cfg).save_pretrained(d)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_llm_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A tiny random Llama with a chat template (the tiny BERT's WordPiece vocab)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    d = tmp_path_factory.mktemp("tiny-llama")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = (
        "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} . {% endfor %}"
        "{% if add_generation_prompt %}assistant :{% endif %}"
    )
    tok.eos_token = "[SEP]"
    tok.save_pretrained(d)
    cfg = LlamaConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(2)
    LlamaForCausalLM(cfg).save_pretrained(d)
    return d
