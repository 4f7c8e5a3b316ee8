"""Prefix tuning for encoders whose forward takes the key/value cache as ``cache``."""

from __future__ import annotations

import torch


class PrefixModel(torch.nn.Module):
    """Runs a peft prefix-tuning model: its prefixes go in as the cache, the attention mask
    is extended over them. Saving and loading go through ``peft_model`` unchanged."""

    def __init__(self, peft_model):
        super().__init__()
        self.peft_model = peft_model
        self.config = peft_model.config

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **kwargs):
        n = input_ids.shape[0]
        prefix = self.peft_model.active_peft_config.num_virtual_tokens
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        ones = torch.ones(n, prefix, dtype=attention_mask.dtype, device=attention_mask.device)
        return self.peft_model.get_base_model()(
            input_ids=input_ids,
            attention_mask=torch.cat([ones, attention_mask], dim=1),
            token_type_ids=token_type_ids,
            cache=self.peft_model.get_prompt(batch_size=n),
            **kwargs,
        )
