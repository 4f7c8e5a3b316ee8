"""Compute in the last encoder layer only the position the head reads.

A BERT-family sequence classifier (or regressor) reads one position of the last layer, the
first ([CLS] / ``<s>``): its pooler or classification head takes ``hidden[:, 0]``. The last
layer still has to see every token (its keys and values), but its query, attention output,
feed-forward and layer norms only matter at position 0. :func:`first_position_only` patches
that layer so it computes keys and values for all tokens and everything else for one row: the
same numbers up to float rounding (with dropout off), for about 1/num_layers less work.

Only layers of the BERT shape are patched (``attention.self.{query,key,value}``,
``attention.output``, ``feed_forward_chunk``: BERT, RoBERTa, XLM-R, ELECTRA and MiniLM in
``transformers``); anything else is left alone and the call says so by returning False.
The patch lives on the module instance, never in the weights: what is saved and reloaded is
the plain model.
"""

from __future__ import annotations

import types

from torch import nn

_FLAG = "_tunewise_first_position_only"


def _last_encoder_layer(model: nn.Module) -> nn.Module | None:
    last = None
    for name, module in model.named_modules():
        if name.endswith("encoder.layer") and isinstance(module, nn.ModuleList) and len(module):
            last = module[-1]
    return last


def _bert_shaped(layer: nn.Module) -> bool:
    att = getattr(layer, "attention", None)
    sa = getattr(att, "self", None)
    return (
        sa is not None
        and all(hasattr(sa, k) for k in ("query", "key", "value", "attention_head_size"))
        and hasattr(att, "output")
        and hasattr(layer, "feed_forward_chunk")
        and not getattr(layer, "is_decoder", False)
        and not getattr(layer, "add_cross_attention", False)
    )


def _forward_first(self, hidden_states, attention_mask=None, *args, **kwargs):
    """The BERT layer's forward with its output computed at position 0 only: [B, 1, H].

    A cache (prefix tuning's virtual keys and values) is honoured as the plain layer does:
    this layer's keys and values are appended to it and attention reads all of them.
    """
    from transformers.cache_utils import EncoderDecoderCache
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.models.bert.modeling_bert import eager_attention_forward

    sa = self.attention.self
    b, t, _ = hidden_states.shape
    first = hidden_states[:, :1]
    heads = (b, -1, sa.num_attention_heads, sa.attention_head_size)
    query = sa.query(first).view(*heads).transpose(1, 2)
    key = sa.key(hidden_states).view(*heads).transpose(1, 2)
    value = sa.value(hidden_states).view(*heads).transpose(1, 2)
    cache = kwargs.pop("cache", None)
    if cache is None:
        cache = kwargs.pop("past_key_values", None)
    if cache is not None:
        if isinstance(cache, EncoderDecoderCache):
            cache = cache.self_attention_cache
        key, value = cache.update(key, value, sa.layer_idx, kwargs=kwargs)
    mask = attention_mask
    if mask is not None and mask.dim() == 4 and mask.shape[-2] == t:
        mask = mask[:, :, :1, :]  # the first query's row of a [B, 1|H, T, T] mask
    attend = ALL_ATTENTION_FUNCTIONS.get_interface(
        sa.config._attn_implementation, eager_attention_forward
    )
    out, _ = attend(
        sa,
        query,
        key,
        value,
        mask,
        dropout=0.0 if not sa.training else sa.dropout.p,
        scaling=sa.scaling,
    )
    out = out.reshape(b, 1, -1).contiguous()
    attention_output = self.attention.output(out, first)
    return self.feed_forward_chunk(attention_output)


def first_position_only(model: nn.Module) -> bool:
    """Patch ``model``'s last encoder layer to compute position 0 only (True when patched).

    A model that reads every position of the last layer (SetFit's mean pooling) says so with
    ``reads_every_position = True`` and is left alone."""
    if getattr(model, "reads_every_position", False):
        return False
    layer = _last_encoder_layer(model)
    if layer is None or not _bert_shaped(layer):
        return False
    if not getattr(layer, _FLAG, False):
        layer.forward = types.MethodType(_forward_first, layer)
        setattr(layer, _FLAG, True)
    return True


def is_patched(model: nn.Module) -> bool:
    layer = _last_encoder_layer(model)
    return bool(layer is not None and getattr(layer, _FLAG, False))
