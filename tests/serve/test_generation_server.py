"""/v1/entities, /v1/generate (SSE) and /v1/chat/completions on tiny random models."""

from __future__ import annotations

import pytest

from tests.serve.conftest import running
from tunewise.serve import ServeSettings, create_app, load_served


@pytest.fixture(scope="module")
def tagger(tiny_tagger_dir):
    return load_served(f"tagger={tiny_tagger_dir}")


@pytest.fixture(scope="module")
def llm(tiny_llm_dir):
    return load_served(f"llm={tiny_llm_dir}")


@pytest.fixture(scope="module")
def server(tagger, llm, tiny_run):
    clf = load_served(f"clf={tiny_run}")
    with running(create_app([tagger, llm, clf], ServeSettings(max_new_tokens=40))) as (c, _):
        yield c


def test_entities_equal_the_tagger_and_offsets_point_at_the_text(server, tagger):
    texts = ["good film and a dull plot", "awful cast, superb story!", "x"]
    status, _, body = server.post("/v1/entities", {"texts": texts})
    assert status == 200, body
    assert body["model"] == "tagger"
    assert body["results"] == tagger.model.predict(texts)
    assert sum(len(r["entities"]) for r in body["results"]) > 0
    for text, r in zip(texts, body["results"]):
        for e in r["entities"]:
            assert text[e["start"] : e["end"]] == e["text"] and e["type"] in ("ENT", "SENT")


def test_entity_spans_follow_bio_tags_and_word_pieces(tagger):
    import torch

    # every token tagged B-ENT: each word (its pieces joined) is one entity
    head = tagger.model.model.classifier
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([0.0, 5.0, 0.0, 0.0, 0.0]))
    try:
        [r] = tagger.model.predict(["good xyz, film"])
    finally:
        torch.manual_seed(1)
        torch.nn.init.normal_(head.weight, std=0.02)
    assert [(e["text"], e["start"], e["end"]) for e in r["entities"]] == [
        ("good", 0, 4),
        ("xyz", 5, 8),
        (",", 8, 9),
        ("film", 10, 14),
    ]


def test_generate_plain_and_streamed_agree_with_the_model(server, llm):
    req = {"prompt": "the film was", "max_new_tokens": 12}
    status, _, body = server.post("/v1/generate", req)
    assert status == 200, body
    direct = llm.model.generate(prompt="the film was", max_new_tokens=12)
    assert body["text"] == direct and body["text"]
    assert body["completion_tokens"] > 0 and body["finish_reason"] in ("stop", "length")
    events = server.events("/v1/generate", req | {"stream": True})
    assert events[-1] == "[DONE]" and events[-2]["finish_reason"] == body["finish_reason"]
    chunks = [e["text"] for e in events[:-2]]
    assert len(chunks) >= 2 and "".join(chunks) == direct


def test_generate_matches_plain_transformers_greedy(llm, tiny_llm_dir):
    import torch

    model, tok = llm.model.model, llm.model.tokenizer
    # a chat model gets a plain prompt as a user turn, as `tunewise generate` sends it
    ids = llm.model.prompt_ids("the film was")
    rendered = tok.apply_chat_template(
        [{"role": "user", "content": "the film was"}], add_generation_prompt=True, tokenize=False
    )
    assert ids == tok(rendered, add_special_tokens=False)["input_ids"]
    x = torch.tensor([ids])
    with torch.inference_mode():
        out = model.generate(
            input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=10, do_sample=False
        )
    new = out[0, len(ids) :].tolist()
    stop = next((k for k, t in enumerate(new) if t in llm.model.stop_ids), len(new))
    want = tok.decode(new[:stop], skip_special_tokens=True)
    assert llm.model.generate("the film was", max_new_tokens=10) == want


def test_stop_string_ends_the_text_before_it(server, llm):
    full = llm.model.generate(prompt="good", max_new_tokens=20)
    stop = full.strip()[3:6]
    assert stop and stop in full
    status, _, body = server.post(
        "/v1/generate", {"prompt": "good", "max_new_tokens": 20, "stop": [stop]}
    )
    assert status == 200
    assert body["text"] == full[: full.index(stop)] and body["finish_reason"] == "stop"
    events = server.events(
        "/v1/generate", {"prompt": "good", "max_new_tokens": 20, "stop": stop, "stream": True}
    )
    assert "".join(e["text"] for e in events[:-2]) == body["text"]


def test_chat_completions_openai_shape_plain_and_streamed(server, llm):
    messages = [{"role": "user", "content": "a good film ?"}]
    req = {"model": "llm", "messages": messages, "max_tokens": 8}
    status, _, body = server.post("/v1/chat/completions", req)
    assert status == 200, body
    assert body["object"] == "chat.completion" and body["model"] == "llm"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == llm.model.generate(messages, max_new_tokens=8)
    u = body["usage"]
    assert (
        u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] and u["prompt_tokens"] > 5
    )
    events = server.events("/v1/chat/completions", req | {"stream": True})
    assert events[-1] == "[DONE]"
    assert all(
        e["object"] == "chat.completion.chunk" and e["id"] == events[0]["id"] for e in events[:-1]
    )
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == choice["message"]["content"]
    assert events[-2]["choices"][0]["finish_reason"] == choice["finish_reason"]


@pytest.mark.parametrize(
    "path,body,status,says",
    [
        ("/v1/generate", {"prompt": "a", "max_new_tokens": 41}, 422, "limit is 40"),
        ("/v1/generate", {"prompt": ""}, 422, "prompt"),
        ("/v1/generate", {"prompt": "a", "temperature": -1}, 422, "temperature"),
        ("/v1/chat/completions", {"messages": []}, 422, "messages"),
        ("/v1/chat/completions", {"messages": [{"role": "robot", "content": "x"}]}, 422, "role"),
        ("/v1/generate", {"prompt": "a", "model": "clf"}, 422, "needs a generation model"),
        ("/v1/entities", {"texts": ["a"], "model": "llm"}, 422, "needs a tokens model"),
        ("/v1/entities", {"texts": [1]}, 422, "texts[0]"),
    ],
)
def test_bad_generation_requests(server, path, body, status, says):
    got, _, err = server.post(path, body)
    assert got == status and says in err["error"]["message"], err
    assert server.get("/healthz")[0] == 200


def test_models_lists_every_kind(server):
    kinds = {m["id"]: m["kind"] for m in server.get("/v1/models")[2]["data"]}
    assert kinds == {"tagger": "tokens", "llm": "sft", "clf": "classification"}


def test_a_tunewise_token_run_is_served_by_its_own_predictor(tiny_model_dir, tmp_path):
    import tunewise
    from tests.unit.test_tokens_cli import _conll
    from tunewise.cli.main import main

    train = _conll(tmp_path / "train.conll", 80, 0)
    args = ["train", "--task", "tokens", "--model", str(tiny_model_dir), "--train", str(train)]
    args += ["--epochs", "2", "--batch-size", "16", "--lr", "3e-3", "--max-length", "32"]
    main(args + ["--no-bf16", "--no-doctor", "--out", str(tmp_path / "run"), "train.threads=1"])
    served = load_served(f"ner={tmp_path / 'run'}")
    assert served.kind == "tokens" and type(served.model).__name__ == "TokenPredictor"
    texts = ["the film was good and great", "a dull , awful plot"]
    with running(create_app([served])) as (client, _):
        status, _, body = client.post("/v1/entities", {"texts": texts})
    assert status == 200, body
    assert body["results"] == tunewise.load(tmp_path / "run").predict(texts)
