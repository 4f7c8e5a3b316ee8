"""sft end to end on the tiny Llama: the fine-tuned model stops, the template travels with the
model, generate/stream/stop strings/sampling, the CLI, and resume on the shared loop."""

import json
import random

import pytest

import tunewise
from tests.sft.conftest import sft_config, write_rows
from tunewise.rundir import RunDir
from tunewise.tasks.sft.chat_template import CHATML

WORDS = ["apple", "river", "stone", "cloud", "green", "tiger", "lamp", "music"]
REPLY = "Noted."


def _rows(n, seed):
    rng = random.Random(seed)
    return [
        {"instruction": f"Tell me about {rng.choice(WORDS)} {rng.choice(WORDS)}", "output": REPLY}
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def trained(tiny_llama_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("sft-run")
    data = {
        "train": write_rows(d / "train.jsonl", _rows(48, 1)),
        "dev": write_rows(d / "dev.jsonl", _rows(8, 2)),
    }
    cfg = sft_config(tiny_llama_dir, data, d / "run", epochs=20)
    cfg["sft"]["packing"] = True
    cfg["data"]["split"] = {"test": 0.0}
    return tunewise.train(cfg)


def test_finetuned_model_stops_with_eos_well_before_the_limit(trained):
    m = trained.metrics
    before, after = m["generation"]["before"], m["generation"]["after"]
    assert before["stopped_share"] == 0.0  # the random model rambles to the limit
    assert after["stopped_share"] == 1.0 and after["mean_new_tokens"] <= 10 < 40
    assert after["exact_match"] == 1.0 and after["rouge_l"] == 1.0
    assert m["dev"]["loss"] < 0.1 and m["dev"]["perplexity"] == pytest.approx(
        2.718281828 ** m["dev"]["loss"]
    )
    assert m["training"]["packing"] is True
    gen = tunewise.load(trained.path)
    out = gen.complete("Tell me about lamp music", max_new_tokens=40)
    assert out == {
        "text": REPLY,
        "finish_reason": "stop",
        "prompt_tokens": out["prompt_tokens"],
        "new_tokens": len(REPLY) + 1,
    }  # byte tokens + the end-of-turn token


def test_run_directory_holds_samples_log_and_the_template(trained):
    run = RunDir(trained.path)
    assert run.status() == "completed" and not run.checkpoints.exists()
    samples = [json.loads(l) for l in (run.path / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and all(s["after"] == REPLY for s in samples)
    assert all(s["after_finish"] == "stop" and s["before_finish"] == "length" for s in samples)
    assert "| before | after |" in (run.path / "samples.md").read_text()
    evals = [json.loads(l) for l in run.log.read_text().splitlines()]
    assert any(e["type"] == "eval" and "perplexity" in e for e in evals)
    # the template training used is saved with the model; plain transformers stops at EOS
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(run.model)
    assert tok.chat_template == CHATML
    model = AutoModelForCausalLM.from_pretrained(run.model)
    assert tok.eos_token_id in list(model.generation_config.eos_token_id)
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "Tell me about tiger stone"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=40, do_sample=False)
    assert tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True) == REPLY
    meta = json.loads((run.model / "tunewise.json").read_text())
    assert meta["task"] == "sft" and meta["stop_token_ids"] == [tok.eos_token_id]


def test_stream_stop_strings_and_sampling(trained):
    gen = tunewise.load(trained.path)
    prompt = [{"role": "user", "content": "Tell me about green river"}]
    assert "".join(gen.stream(prompt, max_new_tokens=40)) == REPLY
    cut = gen.complete(prompt, max_new_tokens=40, stop=["ted"])
    assert cut["text"] == "No" and cut["finish_reason"] == "stop"
    assert "".join(gen.stream(prompt, max_new_tokens=40, stop=["ted"])) == "No"
    a = gen.generate(prompt, max_new_tokens=8, temperature=1.5, top_p=0.9, seed=1)
    b = gen.generate(prompt, max_new_tokens=8, temperature=1.5, top_p=0.9, seed=1)
    assert a == b
    short = gen.complete("Tell me about lamp", max_new_tokens=3)
    assert short["finish_reason"] == "length" and short["new_tokens"] == 3
    with pytest.raises(tunewise.UserError, match="top_p"):
        gen.generate(prompt, temperature=1.0, top_p=0)


def test_cli_generate_and_chat(trained, capsys, monkeypatch):
    import io

    from tunewise.cli.main import main

    main(
        ["generate", str(trained.path), "--prompt", "Tell me about lamp", "--max-new-tokens", "30"]
    )
    assert capsys.readouterr().out == REPLY + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("Tell me about stone\n/reset\nhi there\n/exit\n"))
    main(["chat", str(trained.path), "--max-new-tokens", "30"])
    assert capsys.readouterr().out == f"{REPLY}\n{REPLY}\n"


def test_cli_refuses_a_classification_run(tmp_path, capsys):
    from tunewise.cli.main import main

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "tunewise.json").write_text('{"task": "classification"}')
    with pytest.raises(SystemExit) as e:
        main(["generate", str(tmp_path / "model"), "--prompt", "x"])
    assert e.value.code == 2 and "need a run trained with --task sft" in capsys.readouterr().err


def test_interrupted_sft_run_resumes_to_the_same_model(tiny_llama_dir, tmp_path, monkeypatch):
    import numpy as np
    from safetensors.numpy import load_file

    import tunewise.training.loop as loop

    data = {
        "train": write_rows(tmp_path / "train.jsonl", _rows(32, 3)),
        "dev": write_rows(tmp_path / "dev.jsonl", _rows(4, 4)),
    }
    settings = dict(epochs=3, checkpoint_every=3, batch_size=8)
    real_save, saves = loop.save_checkpoint, []

    def save_then_die(*a, **k):
        real_save(*a, **k)
        saves.append(1)
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    cfg = sft_config(tiny_llama_dir, data, tmp_path / "killed", **settings)
    with pytest.raises(KeyboardInterrupt):
        tunewise.train(cfg)
    assert RunDir(tmp_path / "killed").status() == "interrupted"
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    resumed = tunewise.train(resume=tmp_path / "killed")
    straight = tunewise.train(sft_config(tiny_llama_dir, data, tmp_path / "straight", **settings))
    wa = load_file(str(resumed.path / "model" / "model.safetensors"))
    wb = load_file(str(straight.path / "model" / "model.safetensors"))
    for k in wa:
        np.testing.assert_allclose(wa[k], wb[k], rtol=0, atol=1e-6)
    assert resumed.metrics["dev"]["loss"] == pytest.approx(straight.metrics["dev"]["loss"])
    assert (resumed.path / "samples.md").is_file()


def test_lora_is_the_decoder_default_and_is_merged_into_a_plain_model(tiny_llama_dir, tmp_path):
    from safetensors.numpy import load_file

    from tunewise.run.runner import build_config

    assert build_config({"task": {"type": "sft"}}).method.name == "lora"
    assert build_config({"model": {"name": "smollm2"}}).method.name == "lora"  # as classifier
    assert build_config({"task": {"type": "sft"}, "method": {"name": "full"}}).method.name == "full"
    assert build_config({}).method.name == "full"  # encoders keep full fine-tuning
    data = {
        "train": write_rows(tmp_path / "train.jsonl", _rows(16, 5)),
        "dev": write_rows(tmp_path / "dev.jsonl", _rows(4, 6)),
    }
    cfg = sft_config(tiny_llama_dir, data, tmp_path / "lora", epochs=2)
    del cfg["method"]
    r = tunewise.train(cfg)
    assert r.metrics["method"]["name"] == "lora"
    assert r.metrics["method"]["trainable"] < r.metrics["method"]["total"] / 2
    weights = load_file(str(r.path / "model" / "model.safetensors"))
    assert not any("lora" in k for k in weights)  # merged: plain transformers weights
    # the merged, reloaded model scores dev exactly as the adapter model did during training
    evals = [json.loads(l) for l in (r.path / "train_log.jsonl").read_text().splitlines()]
    best = [e for e in evals if e["type"] == "eval" and e["step"] == r.metrics["best_step"]][0]
    assert r.metrics["dev"]["loss"] == pytest.approx(best["loss"], rel=1e-4)
    assert r.metrics["dev"]["loss"] < r.metrics["dev_before"]["loss"]
    with pytest.raises(tunewise.UserError, match="needs a method that merges"):
        tunewise.train({**cfg, "method": {"name": "prompt"}, "out": str(tmp_path / "p")})


def test_plain_text_run_continues_raw_text(tiny_llama_dir, tmp_path):
    corpus = tmp_path / "corpus.txt"
    # distinct documents: copies of one text would all land in one split (grouped split)
    corpus.write_text("\n\n".join(f"the vault opens at nine. note {i}." for i in range(30)) + "\n")
    cfg = sft_config(tiny_llama_dir, {"train": corpus}, tmp_path / "text", epochs=15)
    cfg["data"]["split"] = {"dev": 0.1, "test": 0.0}
    r = tunewise.train(cfg)
    assert r.metrics["dev"]["loss"] < 0.5 * r.metrics["dev_before"]["loss"]
    assert "generation" not in r.metrics  # no prompts/references in plain text
    gen = tunewise.load(r.path)
    assert gen.chat_mode is False
    out = gen.complete("the vault", max_new_tokens=30)
    assert out["text"].startswith(" opens at nine")  # raw continuation, no chat template


def test_served_sft_run_answers_as_tunewise_generate(trained):
    """`tunewise serve RUN` answers through the same Generator as `tunewise generate`: the
    prompt as a user turn through the saved template, stopped at the end-of-turn token."""
    from tests.serve.conftest import running
    from tunewise.serve import create_app, load_served

    served = load_served(f"sft={trained.path}")
    assert served.kind == "sft" and served.generates
    want = tunewise.load(trained.path).complete("Tell me about lamp", max_new_tokens=30)
    with running(create_app([served])) as (client, _):
        status, _, body = client.post(
            "/v1/generate", {"prompt": "Tell me about lamp", "max_new_tokens": 30}
        )
        assert status == 200, body
        assert body["text"] == want["text"] == REPLY
        assert body["finish_reason"] == "stop" and body["prompt_tokens"] == want["prompt_tokens"]
        events = client.events(
            "/v1/generate", {"prompt": "Tell me about lamp", "max_new_tokens": 30, "stream": True}
        )
        assert "".join(e["text"] for e in events[:-2]) == REPLY
        assert events[-2]["finish_reason"] == "stop"
        msgs = [{"role": "user", "content": "Tell me about lamp"}]
        status, _, body = client.post("/v1/chat/completions", {"messages": msgs, "max_tokens": 30})
        assert status == 200 and body["choices"][0]["message"]["content"] == REPLY
        assert body["choices"][0]["finish_reason"] == "stop"
