"""Which modules a method touches, per architecture (``config.model_type``).

Defaults can always be overridden with the method's ``target_modules`` option. Names follow
peft's matching: a module matches when its full name equals an entry or ends with
``.<entry>``.
"""

from __future__ import annotations

_BERT_ATTN = ["query", "key", "value", "attention.output.dense"]
_LLAMA_ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

LORA_TARGETS: dict[str, list[str]] = {
    # every linear map of attention (q, k, v, output): at r=8 that is 0.65% of minilm's
    # parameters; all linear layers including the FFN would be 1.5%
    "bert": _BERT_ATTN,
    "roberta": _BERT_ATTN,
    "xlm-roberta": _BERT_ATTN,
    "electra": _BERT_ATTN,
    "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin"],
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
