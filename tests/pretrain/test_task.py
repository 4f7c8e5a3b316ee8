"""The pretrain task through the one runner on tiny in-process models: held-out perplexity
before/after in metrics.json, a tied MLM head for an encoder without one, the result
fine-tuned by the classification task, packing for causal LM, dedup, resume."""

from __future__ import annotations

import json

import pytest
import torch

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tests.pretrain.conftest import pretrain_config
from tunewise.errors import UserError


def test_mlm_lowers_held_out_perplexity_and_records_before_after(tiny_bert, en_text, tmp_path):
    r = tunewise.train(pretrain_config(tiny_bert, en_text, tmp_path / "run", whole_word=True))
    p = json.loads((r.path / "metrics.json").read_text())["perplexity"]
    assert p["before"] > p["after"] > 1 and p["objective"] == "mlm"
    assert r.metrics["checks"]["reload_parity"]["ok"]
    from transformers import AutoModelForMaskedLM

    m = AutoModelForMaskedLM.from_pretrained(r.path / "model")
    # the head added to a bare BertModel shares the input embeddings
    assert (
        m.cls.predictions.decoder.weight.data_ptr()
        == m.bert.embeddings.word_embeddings.weight.data_ptr()
    )


def test_pretrained_model_fine_tunes_with_train(tiny_bert, en_text, tmp_path):
    r = tunewise.train(pretrain_config(tiny_bert, en_text, tmp_path / "pt"))
    data = {
        s: write_jsonl(tmp_path / f"{s}.jsonl", make_rows(n, i))
        for i, (s, n) in enumerate((("train", 64), ("dev", 16), ("test", 16)))
    }
    ft = tunewise.train(tiny_config(r.path / "model", data, tmp_path / "ft", epochs=1))
    assert ft.metrics["test"]["accuracy"] >= 0
    # the encoder weights come from the pretraining run
    from safetensors.torch import load_file

    a = load_file(r.path / "model" / "model.safetensors")
    key = "bert.encoder.layer.0.attention.self.query.weight"
    from transformers import AutoModelForSequenceClassification

    c = AutoModelForSequenceClassification.from_pretrained(r.path / "model", num_labels=2)
    assert torch.equal(c.bert.encoder.layer[0].attention.self.query.weight, a[key])


def test_head_only_on_masked_positions_equals_full_logits(tiny_bert, en_text, tmp_path):
    from transformers import AutoModelForMaskedLM, BertTokenizerFast

    from tunewise.tasks.pretrain.encode import encode_mlm
    from tunewise.tasks.pretrain.task import PretrainTask

    tok = BertTokenizerFast.from_pretrained(tiny_bert)
    model = AutoModelForMaskedLM.from_pretrained(tiny_bert).eval()
    task = PretrainTask(seed=0).bind(tok)
    enc = encode_mlm(en_text.read_text().splitlines()[:8], tok, 32)
    batch = task.collate(enc, list(range(8)), 0)
    fast = task.forward(model, batch)
    full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert fast.shape == (int(batch["masked"].sum()), len(tok))
    torch.testing.assert_close(fast, full[batch["masked"]], atol=1e-5, rtol=1e-5)


def test_clm_packs_full_blocks_and_lowers_perplexity(tiny_llama, tmp_path):
    from tests.sft.conftest import build_tiny_tokenizer
    from tunewise.tasks.pretrain.encode import encode_clm

    tok = build_tiny_tokenizer()
    texts = [" ".join(["hello world"] * k) for k in range(1, 30)]
    enc = encode_clm(texts, tok, 16)
    assert all(len(r) == 16 for r in enc.input_ids[:-1])  # packed: no padding but the last
    flat = [t for r in enc.input_ids for t in r]
    assert flat.count(tok.eos_token_id) == len(texts)  # every document ends in EOS
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(texts * 4) + "\n")
    cfg = pretrain_config(tiny_llama, corpus, tmp_path / "clm", objective="clm")
    cfg["method"] = {"name": "full"}
    r = tunewise.train(cfg)
    p = r.metrics["perplexity"]
    assert p["objective"] == "clm" and p["after"] < p["before"]
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(r.path / "model")  # a plain causal LM


def test_mlm_on_a_decoder_is_one_clear_error(tiny_llama, en_text, tmp_path):
    with pytest.raises(UserError, match="--objective clm"):
        tunewise.train(pretrain_config(tiny_llama, en_text, tmp_path / "x"))


def test_dedup_against_drops_test_texts_before_training(tiny_bert, en_text, tmp_path):
    lines = en_text.read_text().splitlines()
    test = write_jsonl(tmp_path / "test.jsonl", [{"text": t, "label": "pos"} for t in lines[:30]])
    cfg = pretrain_config(tiny_bert, en_text, tmp_path / "d", dedup_against=[str(test)])
    r = tunewise.train(cfg)
    data = json.loads((r.path / "data.json").read_text())
    dropped = data["test_sets"]["dropped_documents"]
    assert dropped >= 30 - 1  # (a line may repeat)
    doctor = json.loads((r.path / "doctor.json").read_text())
    found = [f for f in doctor["findings"] if f["check"] == "test_texts_in_text"]
    assert found and found[0]["ok"]
    cfg = pretrain_config(
        tiny_bert, en_text, tmp_path / "e", dedup_against=[str(test)], dedup=False
    )
    with pytest.raises(UserError, match="test_texts_in_text|test texts"):
        tunewise.train(cfg)


def test_killed_run_resumes_from_its_checkpoint(tiny_bert, en_text, tmp_path):
    import yaml

    from tests.conftest import kill_after_checkpoint

    cfg = pretrain_config(tiny_bert, en_text, tmp_path / "run")
    cfg["train"].update(max_steps=40, checkpoint_every=4, eval_every=None)
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    kill_after_checkpoint(cfg_path, tmp_path / "run" / "checkpoints", 4)
    assert not (tmp_path / "run" / "metrics.json").exists()  # a killed run is not complete
    r = tunewise.train(resume=tmp_path / "run")
    assert r.metrics["training"]["steps"] == 40
    p = r.metrics["perplexity"]
    assert p["after"] < p["before"]


def test_a_model_without_mlm_head_gets_one_tied_to_its_input_embeddings(tiny_bert, tmp_path):
    from transformers import AutoModelForMaskedLM, BertModel

    from tunewise.tasks.pretrain.task import PretrainTask

    bare = BertModel.from_pretrained(tiny_bert)  # the fixture, like minilm, has no MLM head
    assert not hasattr(bare, "cls")
    model = AutoModelForMaskedLM.from_pretrained(tiny_bert)
    PretrainTask(seed=0).prepare_model(model)
    emb = model.bert.embeddings.word_embeddings.weight
    assert model.cls.predictions.decoder.weight.data_ptr() == emb.data_ptr()
    # a step on the head moves the embeddings: one matrix, not a copy
    before = emb.detach().clone()
    model.cls.predictions.decoder.weight.data.add_(1.0)
    assert not torch.equal(before, emb.detach())
    # saved and reloaded, the head stays tied
    model.save_pretrained(tmp_path / "m")
    again = AutoModelForMaskedLM.from_pretrained(tmp_path / "m")
    w = again.bert.embeddings.word_embeddings.weight
    assert again.cls.predictions.decoder.weight.data_ptr() == w.data_ptr()


def test_pretraining_computes_every_position_first_position_only_is_not_for_it():
    """The runner's [CLS]-only last layer (train.first_position_only) would leave the masked
    positions of the last layer uncomputed: the pretrain task must not ask for it."""
    from tunewise.tasks.classification.task import ClassificationTask
    from tunewise.tasks.pretrain.task import PretrainTask

    assert ClassificationTask.reads_first_position is True
    assert PretrainTask.reads_first_position is False
