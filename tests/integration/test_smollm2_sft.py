"""Real SmolLM2-135M-Instruct: LoRA SFT on a few human-written instructions lowers the loss and
the fine-tuned model still stops by itself (EOS) well before max_new_tokens; and the same
decoder works as a classifier. Kept CI-sized: a handful of short examples, a few steps."""

import json
import time

import pytest

import tunewise
from tests.conftest import SHARED

pytestmark = [pytest.mark.real, pytest.mark.shared]


def _short_instructions(n: int) -> list[dict]:
    rows = []
    path = SHARED / "self_instruct_human" / "user_oriented_instructions.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        inst = r["instances"][0]
        if len(r["instruction"]) + len(inst["input"]) + len(inst["output"]) < 110:
            rows.append(
                {"instruction": r["instruction"], "input": inst["input"], "output": inst["output"]}
            )
        if len(rows) == n:
            return rows
    raise AssertionError("not enough short instructions")


def test_smollm2_lora_sft_lowers_loss_and_stops_with_eos(tmp_path):
    rows = _short_instructions(4)
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = {
        "task": {"type": "sft"},
        "model": {"name": "smollm2", "max_length": 96},
        # dev = the training rows: "the loss falls" is about fitting them
        "data": {"train": str(train), "dev": str(train), "split": {"test": 0.0}},
        "sft": {"eval_samples": 2, "eval_max_new_tokens": 48},
        "train": {
            "epochs": 3,
            "batch_size": 4,
            "lr": 2e-3,
            "threads": 1,
            "bf16": False,
            "warmup_ratio": 0.0,
            "checkpoint_every": None,
        },
        "doctor": {"enabled": False},
        "out": str(tmp_path / "run"),
    }
    t0 = time.perf_counter()
    r = tunewise.train(cfg)
    seconds = time.perf_counter() - t0
    m = r.metrics
    assert m["method"]["name"] == "lora"  # the decoder default
    assert m["dev"]["loss"] < 0.8 * m["dev_before"]["loss"], (m["dev_before"], m["dev"])
    after = m["generation"]["after"]
    assert after["stopped_share"] == 1.0 and after["mean_new_tokens"] < 48
    gen = tunewise.load(r.path)
    out = gen.complete(rows[0]["instruction"] + "\n\n" + rows[0]["input"], max_new_tokens=48)
    assert out["finish_reason"] == "stop" and out["new_tokens"] < 48 and out["text"].strip()
    print(
        f"smollm2 LoRA sft: {seconds:.1f} s, dev loss {m['dev_before']['loss']:.3f} -> "
        f"{m['dev']['loss']:.3f}"
    )


def test_smollm2_as_a_classifier(tmp_path):
    src = (SHARED / "sst2_sentences" / "train.tsv").read_text(encoding="utf-8").splitlines()
    head, body = src[0], src[1:]
    for name, part in (("train", body[:16]), ("dev", body[16:24]), ("test", body[24:32])):
        (tmp_path / f"{name}.tsv").write_text("\n".join([head, *part]) + "\n", encoding="utf-8")
    cfg = {
        "model": {"name": "smollm2", "max_length": 32},
        "data": {k: str(tmp_path / f"{k}.tsv") for k in ("train", "dev", "test")}
        | {"text_column": "sentence"},
        "train": {
            "epochs": 1,
            "batch_size": 8,
            "threads": 1,
            "bf16": False,
            "checkpoint_every": None,
        },
        "doctor": {"enabled": False},
        "out": str(tmp_path / "run"),
    }
    r = tunewise.train(cfg)
    assert r.metrics["method"]["name"] == "lora"  # decoders default to LoRA (+ the score head)
    assert r.metrics["checks"]["reload_parity"]["ok"]
    assert r.metrics["test"]["n"] == 8
    pred = tunewise.load(r.path)
    texts = ["a gripping , beautifully shot film", "dull"]
    batched = pred.predict(texts)
    for t, b in zip(texts, batched):
        assert pred.predict([t])[0]["scores"] == pytest.approx(b["scores"], abs=1e-4)
