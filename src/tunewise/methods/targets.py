"""Which modules a method touches, per architecture (``config.model_type``).

Defaults can always be overridden with the method's ``target_modules`` option. Names follow
peft's matching: a module matches when its full name equals an entry or ends with
``.<entry>``.
"""

from __future__ import annotations

# every linear layer: query, key, value and the "dense" ones (attention output, feed-forward in
# and out, pooler). Measured on full SST-2 with minilm, 3 epochs x 3 seeds (benchmarks/
# RESULTS.md): r 4 here (0.74% trainable) reached 0.882 +- 0.004 test accuracy against 0.876 +-
# 0.002 for r 8 on the attention maps only (0.65%), full fine-tuning 0.887 +- 0.005.
_BERT_ALL = ["query", "key", "value", "dense"]
_LLAMA_ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
_ENCODERS = ("bert", "roberta", "xlm-roberta", "electra", "distilbert")

LORA_TARGETS: dict[str, list[str]] = {
    "bert": _BERT_ALL,
    "roberta": _BERT_ALL,
    "xlm-roberta": _BERT_ALL,
    "electra": _BERT_ALL,
    "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"],
    "llama": _LLAMA_ALL,
    "mistral": _LLAMA_ALL,
    "qwen2": _LLAMA_ALL,
    "gemma3_text": _LLAMA_ALL,
}

# Bottleneck adapters (Houlsby et al. 2019) sit after the attention output projection and
# after the feed-forward output projection of every layer; entries are regexes on full names.
ADAPTER_TARGETS: dict[str, list[str]] = {
    "bert": [r"attention\.output\.dense$", r"layer\.\d+\.output\.dense$"],
    "roberta": [r"attention\.output\.dense$", r"layer\.\d+\.output\.dense$"],
    "xlm-roberta": [r"attention\.output\.dense$", r"layer\.\d+\.output\.dense$"],
    "electra": [r"attention\.output\.dense$", r"layer\.\d+\.output\.dense$"],
    "distilbert": [r"attention\.out_lin$", r"ffn\.lin2$"],
    "llama": [r"self_attn\.o_proj$", r"mlp\.down_proj$"],
    "mistral": [r"self_attn\.o_proj$", r"mlp\.down_proj$"],
    "qwen2": [r"self_attn\.o_proj$", r"mlp\.down_proj$"],
}


def model_type(model) -> str:
    cfg = getattr(model, "config", None)
    return getattr(cfg, "model_type", "") or ""


def lora_targets(model, given: list[str] | None) -> list[str] | str:
    """The LoRA target modules: ``given``, the architecture's default, or all linear layers."""
    if given:
        return list(given)
    return LORA_TARGETS.get(model_type(model), "all-linear")


def lora_rank(model, given: int | None) -> int:
    """LoRA's rank: ``given``, else 4 for encoders (every linear layer adapted: 0.74% of minilm)
    and 8 for decoders (unchanged from the SFT measurements)."""
    if given is not None:
        return given
    return 4 if model_type(model) in _ENCODERS else 8


def adapter_targets(model, given: list[str] | None) -> list[str]:
    from tunewise.errors import UserError

    if given:
        return list(given)
    mt = model_type(model)
    if mt not in ADAPTER_TARGETS:
        raise UserError(
            f"method adapter: no default insertion points for model type {mt!r}; "
            "set method.adapter.target_modules (regexes on module names)"
        )
    return ADAPTER_TARGETS[mt]


def new_head_modules(model) -> list[str]:
    """Top-level submodules with parameters outside the pretrained backbone (the task head):
    ``classifier`` for BERT-style models, ``score`` for decoders used as classifiers."""
    base = getattr(model, "base_model_prefix", "")
    return [
        name
        for name, child in model.named_children()
        if name != base and any(True for _ in child.parameters())
    ]
