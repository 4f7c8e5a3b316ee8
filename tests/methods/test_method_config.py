"""Method selection and options: config sections, dotted CLI flags, lr defaults, errors."""

from __future__ import annotations

import pytest
import torch

from tunewise.cli.dotted import expand_dotted_flags
from tunewise.config import build_config
from tunewise.errors import UserError
from tunewise.methods import METHODS, default_lr


def test_dotted_flags_become_overrides():
    argv = ["train", "--method", "lora", "--lora.r", "16", "--lora.use_rslora", "--train.lr=3e-4"]
    assert expand_dotted_flags(argv) == [
        "train",
        "--method",
        "lora",
        "method.lora.r=16",
        "method.lora.use_rslora=true",
        "train.lr=3e-4",
    ]
    assert expand_dotted_flags(["predict", "x"]) == ["predict", "x"]
    with pytest.raises(UserError, match="--lorax.r: unknown option section"):
        expand_dotted_flags(["train", "--lorax.r", "8"])


def test_options_are_typed_and_checked_against_the_method():
    cfg = build_config({}, {"method.name": "dora"}, ["method.lora.r=4"])
    assert cfg.method.model_extra["lora"]["r"] == 4
    assert cfg.method.model_extra["lora"]["use_dora"] is True
    bad = {
        "method.name=lorax": "unknown method 'lorax'",
        "method.lora.r=0": "options for another method",  # method is full
    }
    for item, msg in bad.items():
        with pytest.raises(UserError, match=msg):
            build_config({}, {}, [item])
    with pytest.raises(UserError, match=r"method: lora.r: Input should be greater"):
        build_config({}, {"method.name": "lora"}, ["method.lora.r=0"])
    with pytest.raises(UserError, match="lora.foo: unknown setting"):
        build_config({}, {"method.name": "lora"}, ["method.lora.foo=1"])
    with pytest.raises(UserError, match="means use_dora=True"):
        build_config({}, {"method.name": "dora"}, ["method.lora.use_dora=false"])


def test_cli_bad_method_option_is_one_line(tmp_path, capsys):
    from tunewise.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["train", "--method", "lora", "--lora.r", "zero", "--out", str(tmp_path / "r")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: invalid config: method: lora.r")


def test_lr_defaults_differ_by_method():
    assert default_lr("full", 1e-4) == 1e-4
    # LoRA wants ~10x full; 30x collapsed runs at full SST-2 size (benchmarks/RESULTS.md)
    assert default_lr("lora", 1e-4) == pytest.approx(1e-3)
    assert default_lr("prompt", 1e-4) > default_lr("lora", 1e-4) > default_lr("rslora", 1e-4)
    for name, m in METHODS.items():
        assert m.lr_factor >= 1.0, name
        for field, info in m.options.model_fields.items():
            assert info.description, f"{name}.{field} has no one-line doc"


def test_bottleneck_adapter_starts_as_identity(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    from tunewise.methods import apply_method
    from tunewise.tasks import ClassificationTask

    task = ClassificationTask(["a", "b"])
    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_pretrained(str(tiny_model_dir), num_labels=2)
    x = {"input_ids": torch.tensor([[2, 40, 41, 3]])}
    base.eval()
    with torch.no_grad():
        ref = base(**x).logits
        model = apply_method(base, {"name": "adapter"}, task).eval()
        assert torch.equal(model(**x).logits, ref)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert sum(".adapter_down.weight" in n for n in names) == 4  # 2 layers x (attn, ffn)
    assert any(n.startswith("classifier.") for n in names)


def test_methods_command_lists_every_method_with_trainable_params(tiny_model_dir, capsys):
    from tunewise.cli.main import main

    main(["methods", "--model", str(tiny_model_dir)])
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    for name in METHODS:
        assert name in rows, f"{name} missing from `tunewise methods`"
        trainable = int(rows[name][1].replace(",", ""))
        # icl trains nothing; every other method trains something
        assert trainable == 0 if not METHODS[name].trains_model else trainable > 0
    full = int(rows["full"][1].replace(",", ""))
    # setfit trains the whole body, like full fine-tuning (and a head of the same size)
    assert int(rows["setfit"][1].replace(",", "")) == full
    assert all(
        int(rows[n][1].replace(",", "")) < full for n in METHODS if n not in ("full", "setfit")
    )


def test_lora_defaults_adapt_every_linear_layer_of_an_encoder(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification, LlamaConfig, LlamaForCausalLM

    from tunewise.methods import apply_method
    from tunewise.tasks import ClassificationTask

    task = ClassificationTask(["a", "b"])
    base = AutoModelForSequenceClassification.from_pretrained(str(tiny_model_dir), num_labels=2)
    model = apply_method(base, {"name": "lora"}, task)
    cfg = model.peft_config["default"]
    assert cfg.r == 4
    adapted = {n.rsplit(".lora_A", 1)[0] for n, _ in model.named_parameters() if ".lora_A." in n}
    # the feed-forward layers too, not only attention
    assert any(n.endswith("intermediate.dense") for n in adapted)
    assert any(n.endswith("output.dense") and "attention" not in n for n in adapted)
    assert any(n.endswith("attention.self.query") for n in adapted)
    # an explicit rank wins; decoders keep rank 8
    model = apply_method(
        AutoModelForSequenceClassification.from_pretrained(str(tiny_model_dir), num_labels=2),
        {"name": "lora", "lora": {"r": 2}},
        task,
    )
    assert model.peft_config["default"].r == 2
    from tunewise.methods.targets import lora_rank

    tiny_llama = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=64,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    )
    assert lora_rank(tiny_llama, None) == 8
