"""From scratch: a WordPiece tokenizer trained on the text (Chinese by character), a small
BERT-style encoder of a size preset, listed by `tunewise models` and usable by name."""

from __future__ import annotations

import pytest

from tests.pretrain.conftest import ZH
from tunewise.doctor.registry import CHECKS, Context
from tunewise.tasks.pretrain.data import TextDoc
from tunewise.tasks.pretrain.scratch import SIZES, build_scratch, train_tokenizer


def test_trained_tokenizer_covers_chinese_by_character():
    tok = train_tokenizer(ZH * 3, vocab_size=300)
    ids = tok("质量不错，价格便宜")["input_ids"]
    assert tok.unk_token_id not in ids
    assert tok.convert_ids_to_tokens(ids)[1:-1] == list("质量不错，价格便宜")
    # the doctor's unknown-token check passes on text of those characters
    docs = [TextDoc(t) for t in ZH]
    f = CHECKS["unknown_tokens"]({"train": docs, "dev": [], "test": []}, Context(tokenizer=tok))
    assert f.ok and f.details["overall_unknown_share"] == 0.0


def test_build_scratch_size_preset_and_reuse(tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    kw = dict(size="tiny", vocab_size=300, max_length=64, seed=0, root=tmp_path)
    path = build_scratch(ZH * 3, **kw)
    m = AutoModelForMaskedLM.from_pretrained(path)
    assert m.config.hidden_size == SIZES["tiny"]["hidden_size"]
    assert m.config.num_hidden_layers == SIZES["tiny"]["num_hidden_layers"]
    assert m.config.vocab_size == len(AutoTokenizer.from_pretrained(path))
    assert build_scratch(ZH * 3, **kw) == path  # built once
    with pytest.raises(Exception, match="sizes are"):
        build_scratch(ZH, **dict(kw, size="huge"))


def test_cli_from_scratch_lists_the_model_and_fine_tunes_without_unknown_tokens(tmp_path, capsys):
    import json

    from tunewise.cli.main import main

    text = tmp_path / "zh.txt"
    text.write_text("\n".join(ZH * 10) + "\n", encoding="utf-8")
    out = tmp_path / "zh-small"
    main(
        [
            "pretrain",
            "--from-scratch",
            "--size",
            "tiny",
            "--tokenizer",
            "train",
            "--text",
            str(text),
            "--objective",
            "mlm",
            "--max-steps",
            "3",
            "--vocab-size",
            "300",
            "--batch-size",
            "8",
            "--no-bf16",
            "--out",
            str(out),
        ]
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["perplexity"]["before"] > 0 and metrics["perplexity"]["after"] > 0
    capsys.readouterr()
    main(["models"])
    listed = capsys.readouterr().out
    assert "zh-small" in listed and "built here" in listed
    from tunewise.models.registry import resolve_model

    assert resolve_model("zh-small").path == str((out / "model").resolve())
    rows = [{"text": t, "label": "pos" if i % 2 else "neg"} for i, t in enumerate(ZH * 6)]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    main(
        [
            "train",
            "--model",
            "zh-small",
            "--train",
            str(train),
            "--epochs",
            "1",
            "--no-bf16",
            "--no-label-issues",
            "--out",
            str(tmp_path / "ft"),
            "--allow",
            "same_splits",
        ]
    )
    doctor = json.loads((tmp_path / "ft" / "doctor.json").read_text())
    unk = next(f for f in doctor["findings"] if f["check"] == "unknown_tokens")
    assert unk["ok"] and unk["details"]["overall_unknown_share"] == 0.0
