"""The method registry and the contract every fine-tuning method implements.

A method is a class registered by name beside its code (``@register``); the config, the CLI,
``tunewise methods`` and the contract test all read this one registry. A method knows nothing
about tasks beyond what a task declares:

- ``task.peft_task_type``: the peft ``TaskType`` name (``"SEQ_CLS"``, ``"TOKEN_CLS"``,
  ``"CAUSAL_LM"``);
- ``task.head_modules(model)``: names of the freshly initialised head modules that must be
  trained and saved with an adapter (peft's ``modules_to_save``).

Nothing here imports torch or peft: the CLI and the config stay fast to import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Options(BaseModel):
    """Base of every method's options: typed, each field with a one-line docstring."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, use_attribute_docstrings=True
    )


class NoOptions(Options):
    """This method has no options."""


@dataclass
class MethodHooks:
    """What the training loop calls for a method, passed to ``fit`` explicitly.

    ``after_step(step)`` runs after each optimizer step and before gradients are cleared
    (AdaLoRA's ``update_and_allocate`` needs them); ``extra_loss()`` returns a term added to
    the task's loss before backward (AdaLoRA's orthogonal regularisation) or None.
    """

    after_step: Callable[[int], None] | None = None
    extra_loss: Callable[[], Any] | None = None
    state: Callable[[], dict] | None = None
    """What the method keeps between steps outside the weights (AdaLoRA's importance scores
    and rank pattern), saved in every checkpoint so that a resumed run continues it."""
    load_state: Callable[[dict], None] | None = None


class Method:
    """One fine-tuning method. Subclasses set the class attributes and override what differs."""

    name: ClassVar[str]
    summary: ClassVar[str]
    """One line for ``tunewise methods``."""
    options: ClassVar[type[Options]] = NoOptions
    options_key: ClassVar[str | None] = None
    """Config section holding the options (``method.<key>``); default: the method's name.
    LoRA variants share ``lora``."""
    fixed: ClassVar[dict[str, Any]] = {}
    """Option values this name implies (``dora`` = lora with ``use_dora: true``)."""
    lr_factor: ClassVar[float] = 1.0
    """Default learning rate = this x the model's full fine-tuning rate."""
    mergeable: ClassVar[bool] = False
    """``export --merge`` can fold it into a plain transformers model."""
    needs_base: ClassVar[bool] = True
    """Its saved directory holds only what was trained; loading starts from the base model."""
    text_classes_only: ClassVar[bool] = False
    """Only for tasks with one class (or set) per text (``Task.classifies_texts``)."""
    trains_model: ClassVar[bool] = True
    """It trains and saves a model that reloads, predicts and serves; False for a method that
    only scores with the pretrained model (``icl``: its run has metrics and a prompt, no model)."""
    shares_base: ClassVar[bool] = False
    """Several saved runs over one base can be attached to one loaded copy of it as named
    adapters (``attach``), one active at a time (peft's multi-adapter models)."""

    @property
    def key(self) -> str:
        return self.options_key or self.name

    def apply(self, model, opts: Options, task, total_steps: int | None = None):
        """Return the model to train (parameters frozen/added as the method says)."""
        raise NotImplementedError

    def prefit(self, model, opts: Options, task, train, pad_id: int, train_cfg, echo) -> dict:
        """Training the method does before the one loop, on the encoded train split (SetFit's
        contrastive stage and head); returns its record. When it leaves no parameter
        trainable, the loop does not run and the model is saved as it is."""
        return {}

    def hooks(self, model, opts: Options) -> MethodHooks | None:
        """Per-step hooks the loop must call, or None."""
        return None

    def save(self, model, path: Path) -> None:
        """Write what was trained to ``path`` (a directory that exists)."""
        raise NotImplementedError

    def load(self, base, path: Path, opts: Options, task):
        """Rebuild the trained model from a fresh ``base`` and the saved ``path``."""
        raise NotImplementedError

    def attach(self, model, path: Path, opts: Options, task, name: str):
        """``model`` (a fresh base, or what an earlier ``attach`` returned) with the adapter
        saved at ``path`` added as ``name`` beside the others (only when ``shares_base``)."""
        raise NotImplementedError

    def merge(self, model):
        """A plain transformers model equal to ``model`` (only when ``mergeable``)."""
        raise NotImplementedError


METHODS: dict[str, Method] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: make a method findable by its name."""
    if cls.name in METHODS:
        raise RuntimeError(f"method {cls.name!r} registered twice")
    METHODS[cls.name] = cls()
    return cls


def get_method(name: str) -> Method:
    """The registered method ``name``; a UserError naming the choices otherwise."""
    from tunewise.errors import UserError

    _load_all()
    if name not in METHODS:
        raise UserError(f"method.name: unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def all_methods() -> dict[str, Method]:
    _load_all()
    return METHODS


def option_keys() -> set[str]:
    """Config sections that hold method options (``lora``, ``adalora``, ...)."""
    return {m.key for m in all_methods().values()}


def _load_all() -> None:
    # importing the package runs every method module's @register
    import tunewise.methods  # noqa: F401


def parse_options(name: str, sections: dict[str, Any]) -> Options:
    """Validate the options of method ``name`` from the config's method sections.

    Raises ValueError (collected by the config) for an unknown method, options given for a
    method that is not selected, bad values, or a value contradicting the method's name.
    """
    methods = all_methods()
    if name not in methods:
        raise ValueError(f"name: unknown method {name!r}; choose one of {', '.join(methods)}")
    method = methods[name]
    keys = option_keys()
    problems = []
    for k in sections:
        if k not in keys:
            problems.append(f"{k}: unknown setting (method sections: {', '.join(sorted(keys))})")
        elif k != method.key:
            problems.append(
                f"{k}: options for another method, but method.name is {name!r} "
                f"(select it: --method {k})"
            )
    raw = sections.get(method.key) or {}
    if not isinstance(raw, dict):
        problems.append(f"{method.key}: expected a mapping of options")
        raw = {}
    for k, v in method.fixed.items():
        if k in raw and raw[k] != v:
            problems.append(f"{method.key}.{k}: method {name!r} means {k}={v}; use another method")
    if problems:
        raise ValueError("; ".join(problems))
    try:
        return method.options.model_validate({**raw, **method.fixed})
    except Exception as e:  # pydantic ValidationError: name the field under method.<key>
        errs = getattr(e, "errors", lambda: [])()
        msg = "; ".join(
            f"{method.key}.{'.'.join(str(x) for x in err['loc'])}: "
            + ("unknown setting" if err["type"] == "extra_forbidden" else err["msg"])
            for err in errs
        )
        raise ValueError(msg or str(e)) from None
