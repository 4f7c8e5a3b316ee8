"""NER on real data: minilm on WNUT-17 and CoNLL-2003 subsets learns entities; Chinese
resume_ner (BMES, one character per line) runs end to end with a tokenizer that has its
characters; predict's spans match the text; plain transformers loads the model."""

import json

import pytest

import tunewise
from tests.conftest import SHARED

pytestmark = [pytest.mark.real, pytest.mark.shared]


def sentences(src, dst, n, skip=0):
    """The first ``n`` sentences (after ``skip``) of a CoNLL-style file."""
    blocks, cur = [], []
    for line in open(src, encoding="utf-8"):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if cur:
                blocks.append("".join(cur))
                cur = []
        else:
            cur.append(line)
    if cur:
        blocks.append("".join(cur))
    dst.write_text("\n".join(blocks[skip : skip + n]) + "\n", encoding="utf-8")
    return dst


def _train(tmp, data: dict, **train):
    cfg = {
        "task": {"type": "tokens"},
        "model": {"name": "minilm", "max_length": 64},
        "data": {k: str(v) for k, v in data.items()},
        "train": {"epochs": 2, "batch_size": 16, "lr": 2e-4, "checkpoint_every": None, **train},
        "out": str(tmp / "run"),
    }
    return tunewise.train(cfg)


@pytest.fixture(scope="module")
def conll_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conll")
    src = SHARED / "conll2003"
    data = {
        "train": sentences(src / "eng.train", tmp / "eng.train", 400),
        "dev": sentences(src / "eng.testa", tmp / "eng.testa", 100),
        "test": sentences(src / "eng.testb", tmp / "eng.testb", 200),
    }
    return _train(tmp, data)


def test_minilm_learns_conll2003_entities(conll_run):
    m = conll_run.metrics
    assert m["test"]["n"] == 200  # every sentence, once
    assert m["test"]["micro_f1"] > 0.3, m["test"]
    assert m["test"]["micro_f1"] > m["baselines"]["word_memory"]["micro_f1"]
    assert set(m["test"]["per_type"]) == {"LOC", "MISC", "ORG", "PER"}
    info = json.loads((conll_run.path / "data.json").read_text())
    assert info["tag_schemes"] == {"train": "IOB1", "dev": "IOB1", "test": "IOB1"}
    lines = (conll_run.path / "predictions" / "test.jsonl").read_text().splitlines()
    assert len(lines) == 200


def test_predict_spans_match_text_and_transformers_loads_it(conll_run):
    from transformers import AutoModelForTokenClassification

    text = "Barack Obama visited Paris with Microsoft engineers ."
    pred = tunewise.load(conll_run.path)
    (row,) = pred.predict([text])
    assert row["entities"], row
    for e in row["entities"]:
        assert text[e["start"] : e["end"]] == e["text"] and 0 < e["score"] <= 1
    assert "PER" in {e["type"] for e in row["entities"]}
    model = AutoModelForTokenClassification.from_pretrained(str(conll_run.path / "model"))
    assert model.config.id2label[0] == "O" and model.config.num_labels == 9
    # a text longer than max_length is read in pieces, not cut off
    long_text = " ".join(["the"] * 80 + ["Barack", "Obama", "visited", "Paris", "."])
    ents = pred.predict(long_text)[0]["entities"]
    assert any(
        long_text[e["start"] : e["end"]].startswith("Obama") or "Obama" in e["text"] for e in ents
    )


def test_minilm_learns_wnut17(tmp_path):
    # WNUT's entities are rare: at lr 1e-4 (the sentence-task rate) minilm still tagged
    # everything O after 126 steps; 3e-4 is the tokens default (TOKENS_LR_FACTOR)
    src = SHARED / "wnut17"
    data = {
        "train": sentences(src / "wnut17train.conll", tmp_path / "train.conll", 1000),
        "test": sentences(src / "emerging.test.annotated", tmp_path / "test.conll", 200),
    }
    m = _train(tmp_path, data, epochs=2, lr=3e-4).metrics  # the tokens default for minilm
    assert m["test"]["micro_f1"] > 0.1, m["test"]
    assert m["test"]["token_accuracy"] > m["test"]["micro_f1"]


def _tiny_chinese_model(d, chars):
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(chars)
    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=False)
    tok.save_pretrained(d)
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=256,
    )
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(d)
    return d


def test_chinese_resume_ner_end_to_end(tmp_path):
    src = SHARED / "resume_ner"
    data = {
        "train": sentences(src / "train.char.bmes", tmp_path / "train.char.bmes", 300),
        "dev": sentences(src / "dev.char.bmes", tmp_path / "dev.char.bmes", 60),
        "test": sentences(src / "test.char.bmes", tmp_path / "test.char.bmes", 60),
    }
    chars = {
        line.split()[0] for p in data.values() for line in open(p, encoding="utf-8") if line.strip()
    }
    model = _tiny_chinese_model(tmp_path / "zh-model", chars)
    cfg = {
        "task": {"type": "tokens"},
        "model": {"name": str(model), "max_length": 160},
        "data": {k: str(v) for k, v in data.items()},
        "train": {"epochs": 8, "batch_size": 16, "lr": 3e-3, "bf16": False, "threads": 1},
        "out": str(tmp_path / "run"),
    }
    result = tunewise.train(cfg)
    info = json.loads((result.path / "data.json").read_text())
    assert info["tag_schemes"] == {"train": "BMES", "dev": "BMES", "test": "BMES"}
    assert result.metrics["test"]["micro_f1"] > 0.1, result.metrics["test"]
    doctor = json.loads((result.path / "doctor.json").read_text())
    assert next(f for f in doctor["findings"] if f["check"] == "unknown_tokens")["ok"]
    text = "张三，男，现任中国银行董事长。"
    (row,) = tunewise.load(result.path).predict([text])
    for e in row["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]
    first = json.loads((result.path / "predictions" / "test.jsonl").read_text().splitlines()[0])
    assert " " not in first["text"]  # characters joined without spaces
    for e in first["entities"]:
        assert first["text"][e["start"] : e["end"]] == e["text"]


def test_english_vocabulary_on_chinese_is_flagged(tmp_path):
    from tunewise.doctor import run_doctor
    from tunewise.models.loading import load_pretrained, load_tokenizer
    from tunewise.tasks.tokens.conll import read_conll

    exs = read_conll(sentences(SHARED / "resume_ner" / "dev.char.bmes", tmp_path / "d.bmes", 50))
    for e in exs:
        e.tags = e.raw_tags
    _, tok = load_pretrained("minilm", lambda p: load_tokenizer(p))
    from tunewise.tasks import get_task

    f = run_doctor({"train": exs}, tokenizer=tok, checks=get_task("tokens").doctor_checks)[
        "unknown_tokens"
    ]
    assert not f.ok, f.details
