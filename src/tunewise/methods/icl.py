"""In-context learning: a decoder classifies by the log-likelihood of each label word after a
prompt with K demonstrations per class (0 = zero-shot). Nothing is trained; the run itself is
``tunewise.fewshot.icl``. Registered here so the config, ``tunewise methods`` and the run
record know its typed options."""

from __future__ import annotations

from pydantic import Field

from tunewise.methods.base import Method, Options, register

DEFAULT_TEMPLATE = "Text: {text}\nSentiment: {label}"


class ICLOptions(Options):
    template: str = "Text: {text}\nAnswer: {label}"
    """One example of the prompt; {text} and {label} are filled in (demonstrations get their
    label word, the query ends before it). Saved with the run."""
    instruction: str = ""
    """A line put before the demonstrations (e.g. "Classify the sentiment.")."""
    label_words: dict[str, str] = {}
    """Label -> the word scored for it (its log-likelihood, never parsed from free text);
    labels not named here are scored as themselves."""
    calibrate: bool = True
    """Contextual calibration (Zhao et al. 2021): divide the label probabilities by those
    the same prompt gives a content-free input ("N/A"), renormalised."""
    content_free: list[str] = ["N/A", "", "[MASK]"]
    """Content-free inputs averaged for the calibration."""
    max_demo_chars: int = Field(400, ge=20)
    """Demonstrations longer than this are cut (the prompt must fit the model's context)."""


@register
class ICL(Method):
    name = "icl"
    summary = (
        "in-context learning with a decoder: K demonstrations per class in the prompt, label "
        "words scored by log-likelihood, contextual calibration; nothing is trained"
    )
    options = ICLOptions
    needs_base = True
    trains_model = False
    text_classes_only = True

    def apply(self, model, opts, task, total_steps=None):
        from tunewise.errors import UserError

        raise UserError(
            "method icl trains nothing and runs through `tunewise train --method icl` "
            "(tunewise.fewshot); it is not a fine-tuning method for the loop"
        )
