"""A decoder (Llama) as a classifier: pad token set, last-token pooling right under padding."""

import pytest
import torch

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.data import Example
from tunewise.tasks import ClassificationTask


def test_padded_batches_pool_each_rows_last_real_token(tiny_llama_dir, tiny_tokenizer):
    from transformers import AutoModelForSequenceClassification

    task = ClassificationTask(["neg", "pos"])
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_llama_dir, **task.model_kwargs()
    ).eval()
    assert model.config.pad_token_id == tiny_tokenizer.pad_token_id == tiny_tokenizer.eos_token_id
    texts = ["a much longer sentence than the others", "short", "mid length"]
    enc = task.encode([Example(t, None) for t in texts], tiny_tokenizer, 64, with_labels=False)
    batch = task.collate(enc, [0, 1, 2], tiny_tokenizer.pad_token_id)
    assert (batch["input_ids"][1] == tiny_tokenizer.pad_token_id).sum() > 10  # right padding
    with torch.no_grad():
        batched = model(**batch).logits
        alone = torch.cat([model(**task.collate(enc, [i], 0)).logits for i in range(3)])
        # left padding (a tokenizer's padding_side) pools the same token
        left = tiny_tokenizer(texts, padding=True, return_tensors="pt", padding_side="left")
        lefted = model(**left).logits
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(lefted, alone, atol=1e-5, rtol=1e-4)


def test_decoder_without_pad_token_trains_and_reloads_as_classifier(tmp_path):
    from tests.sft.conftest import build_tiny_llama

    d = build_tiny_llama(tmp_path / "nopad")
    # a decoder shipped without a pad token (GPT-2, Llama ...)
    import json

    cfg_file = d / "config.json"
    c = json.loads(cfg_file.read_text())
    c["pad_token_id"] = None
    cfg_file.write_text(json.dumps(c))
    tc = json.loads((d / "tokenizer_config.json").read_text())
    tc.pop("pad_token", None)
    (d / "tokenizer_config.json").write_text(json.dumps(tc))
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(d).pad_token is None
    data = {
        "train": write_jsonl(tmp_path / "train.jsonl", make_rows(48, 1)),
        "dev": write_jsonl(tmp_path / "dev.jsonl", make_rows(16, 2)),
        "test": write_jsonl(tmp_path / "test.jsonl", make_rows(16, 3)),
    }
    cfg = tiny_config(d, data, tmp_path / "run", epochs=1)
    cfg["doctor"] = {"enabled": False}
    result = tunewise.train(cfg)
    checks = result.metrics["checks"]
    assert checks["reload_parity"]["ok"] and checks["eval_mode"]["ok"]
    assert result.metrics["test"]["n"] == 16
    pred = tunewise.load(result.path)
    assert pred.tokenizer.pad_token == "<|im_end|>"
    assert pred.model.config.pad_token_id == pred.tokenizer.pad_token_id
    many = pred.predict(["the film was good", "bad", "a long dull boring story and plot"])
    one = [
        pred.predict([t])[0]
        for t in ["the film was good", "bad", "a long dull boring story and plot"]
    ]
    for a, b in zip(many, one):
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-5)
