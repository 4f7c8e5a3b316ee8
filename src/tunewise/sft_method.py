"""Which parameters a decoder trains: LoRA by default, full fine-tuning on request.

PROVISIONAL (to reconcile with tunewise.methods from [peft]): until the shared method registry
lands, this one function attaches peft's LoRA itself.
"""

from __future__ import annotations


def apply_method(model, cfg, task, echo):
    """Return ``model`` ready to train with the configured method (full fine-tuning for now)."""
    echo("method: full fine-tuning (every weight trains)")
    return model
