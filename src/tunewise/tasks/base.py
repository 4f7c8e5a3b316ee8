"""The task protocol, the predictor protocol and the task registry.

A task is one folder, ``tasks/<name>/``, holding everything that is the task's own: reading and
validating its data, encoding and collating, the loss (``step(model, batch) -> loss``), the
final evaluation (metrics, baselines, intervals, per-row predictions), its doctor checks, its
predictor, its terminal summary, its report sections and its serving route. The folder's
``__init__.py`` registers the task class with :func:`register_task`; the runner, the config,
the CLI, the doctor, the report and the server find tasks here, by name, and nowhere else.

The runner (``tunewise.run``) calls a task in this order::

    Task.configure(cfg)                        defaults and checks of the config
    data = Task.read_data(cfg)                 files -> examples (split by the runner)
    task = Task.from_data(cfg, data, tok)      label map, end-of-turn token, scaling ...
    task.encode / collate / step               the one training loop
    task.evaluate(fitted)                      final metrics, baselines, predictions/
    task.meta()                                the task's fields of model/tunewise.json
and ``Task.predictor(path)`` loads a finished run for ``tunewise.load``, ``predict`` and
``serve``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from tunewise.errors import UserError

TASKS: dict[str, type[Task]] = {}
"""Every registered task class by name, in registration order."""


def register_task(cls: type[Task]) -> type[Task]:
    """Register ``cls`` under ``cls.name`` (a class decorator, used beside the task's code)."""
    name = getattr(cls, "name", None)
    if not name or not isinstance(name, str):
        raise ValueError(f"{cls.__name__}: a task needs a string `name`")
    if name in TASKS and TASKS[name] is not cls:
        raise ValueError(f"task {name!r} registered twice ({TASKS[name].__name__}, {cls.__name__})")
    TASKS[name] = cls
    return cls


def unregister_task(name: str) -> None:
    """Forget a task (tests register throwaway tasks)."""
    TASKS.pop(name, None)


def get_task(name: str) -> type[Task]:
    """The task class registered as ``name``; an unknown name is a UserError listing the others."""
    import tunewise.tasks  # noqa: F401  (registers the built-in tasks)

    try:
        return TASKS[name]
    except KeyError:
        raise UserError(
            f"task {name!r} is not registered; the tasks are: {', '.join(TASKS)}"
        ) from None


def task_names() -> list[str]:
    import tunewise.tasks  # noqa: F401

    return list(TASKS)


class EncodedRows:
    """What the loop and the batchers read of any task's encoded split: one row of token ids
    per example (unpadded). Tasks' encoded dataclasses inherit it."""

    input_ids: list[list[int]]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> list[int]:
        """Tokens per row (what length-grouped batches sort by)."""
        return [len(x) for x in self.input_ids]


@dataclass
class TaskData:
    """A task's examples, as read from the files (before the runner splits train).

    ``dev``/``test`` are None when their file was not given: the runner then carves them from
    train with one duplicate-grouped, seeded split (:meth:`Task.group_key`, :meth:`Task.stratum`).
    """

    train: list
    dev: list | None = None
    test: list | None = None
    info: dict = field(default_factory=dict)
    """Files, rows read, what the task found in them (label counts, entity types ...)."""
    held_out: dict = field(default_factory=dict)
    """Rows of dev/test a task keeps out of the splits, by split name (classification: the
    out-of-scope rows that score an abstaining classifier)."""


@dataclass
class Fitted:
    """What the runner hands to :meth:`Task.evaluate` after training."""

    cfg: Any
    run: Any
    """The :class:`tunewise.rundir.RunDir` being written."""
    accelerator: Any
    data: TaskData
    enc: dict
    """Encoded splits by name (None where a split is empty or kept out)."""
    model: Any
    """The model as prepared by accelerate (the best checkpoint's weights)."""
    raw: Any
    """The same model unwrapped (what was saved)."""
    tokenizer: Any
    pad_id: int
    state: Any
    """The loop's final :class:`tunewise.training.loop.LoopState`."""
    metric: str
    echo: Callable[[str], None]
    extras: dict = field(default_factory=dict)
    """What the task kept from :meth:`Task.before_training` (e.g. the base model's answers)."""

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def eval_batch_size(self) -> int:
        return self.cfg.train.batch_size * 2


@dataclass
class Section:
    """One section a task adds to the run report: a title, Markdown lines and an HTML body."""

    title: str
    markdown: list[str]
    html: str
    anchor: str = ""


@dataclass
class Route:
    """A task's HTTP endpoint, built by the server from this description.

    ``items(request)`` turns a validated request into the items that join a micro-batch (a
    ``UserError`` there becomes a 422 naming the field); the predictor's ``predict_batch``
    answers a batch of items; ``respond(request, results)`` builds the response body.
    ``generation`` routes (sft) are the server's streaming generation endpoints instead.
    """

    path: str
    summary: str
    request: type | None = None
    response: type | None = None
    items: Callable[[Any], list] | None = None
    respond: Callable[[Any, list], dict] | None = None
    generation: bool = False
    texts: Callable[[Any], list[tuple[str, list[str]]]] | None = None
    """(field name, texts) pairs the server checks against its size limits."""


@runtime_checkable
class Predictor(Protocol):
    """What ``tunewise.load(run)`` returns, for every task.

    ``predict(inputs)`` answers raw inputs (texts, or prompts for sft) with one JSON-ready dict
    per input; ``predict_rows(examples)`` answers rows read from a file with the task's reader;
    ``evaluate_file(path)`` scores the model on a labeled file with the run's data settings;
    ``predict_batch(items)`` answers the items of a served micro-batch. Optional:
    ``parity_outputs(texts)``, raw numbers (logits) an export is compared on.
    """

    task: Any
    meta: Any

    def predict(self, inputs) -> list[dict]: ...

    def predict_rows(self, examples: list) -> list[dict]: ...

    def read_inputs(self, path: Path, require_label: bool = False) -> list: ...

    def evaluate_file(self, path: Path) -> dict: ...

    def predict_batch(self, items: list) -> list: ...


class Task:
    """Base of every task: class attributes describe it; subclasses override what differs.

    Only a task's own folder knows its name; code outside ``tasks/`` asks the task (its class
    attributes and methods) instead of comparing names.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    """One line for ``tunewise train --help`` and the docs."""
    peft_task_type: ClassVar[str | None] = "SEQ_CLS"
    """What peft calls this task (methods read it)."""
    lower_is_better: ClassVar[tuple[str, ...]] = ()
    """Metrics where lower is better (the loop negates them to pick the best checkpoint)."""
    log_keys: ClassVar[tuple[str, ...]] = ("accuracy",)
    """Metrics written to the training log at every evaluation."""
    headline: ClassVar[tuple[str, str]] = ("accuracy", "accuracy")
    """(metrics key, words) of the one figure the report and summaries lead with."""
    doctor_checks: ClassVar[tuple[str, ...]] = ()
    """Names of the doctor checks (``tunewise.doctor.CHECKS``) that understand this task's data."""
    route: ClassVar[Route | None] = None
    """The serving endpoint of this task."""
    hf_architectures: ClassVar[tuple[str, ...]] = ()
    """Architecture suffixes of plain transformers directories this task can serve."""
    options: ClassVar[type | None] = None
    """The task's typed settings (a pydantic model) read from ``task.options``; None: none."""
    parity_atol: ClassVar[float] = 1e-4
    """Largest logit difference the reload-parity check accepts between the saved model,
    loaded fresh, and the trained one."""
    abstains: ClassVar[bool] = False
    """The task can abstain on out-of-scope inputs (``task.abstain``, ``task.oos_label``)."""
    classifies_texts: ClassVar[bool] = False
    """One class (or set of classes) per text: what setfit and icl need."""
    reads_first_position: ClassVar[bool] = False
    """The head reads only the first position of the last layer (a [CLS] head): the run may
    compute that layer for position 0 alone (``train.first_position_only``)."""
    multi_label: bool = False

    # -- configuration ----------------------------------------------------------------------
    @classmethod
    def configure(cls, cfg) -> None:
        """Apply this task's defaults to ``cfg`` and reject settings that do not fit it
        (raise UserError). Called once, before the config is saved in the run."""

    @classmethod
    def default_lr(cls, cfg, lr: float) -> float:
        """The learning rate when none is given (``lr``: the method's default for the model)."""
        return lr

    # -- data -------------------------------------------------------------------------------
    @classmethod
    def read_data(cls, cfg) -> TaskData:
        """Read and validate the files ``cfg.data`` names (UserError naming file and line)."""
        raise NotImplementedError

    @classmethod
    def group_key(cls, example) -> Hashable:
        """Examples with equal keys are copies of one another: they land in the same split."""
        raise NotImplementedError

    @classmethod
    def stratum(cls, example) -> Hashable:
        """What a split is stratified by (a label); None for no stratification."""
        return None

    @classmethod
    def from_data(cls, cfg, data: TaskData, tokenizer) -> Task:
        """The task for this run's data (label map, special tokens ...)."""
        raise NotImplementedError

    @classmethod
    def from_meta(cls, meta) -> Task:
        """The task as a trained model's ``tunewise.json`` records it."""
        raise NotImplementedError

    def meta(self) -> dict:
        """This task's own fields of ``model/tunewise.json``."""
        return {}

    def labels_record(self) -> dict | None:
        """What ``labels.json`` holds for this task (None: no such file)."""
        return None

    def data_record(self, data: TaskData) -> dict:
        """What the task adds to ``data.json`` beyond files, rows and token statistics."""
        return {}

    @classmethod
    def doctor_view(cls, examples: list) -> list:
        """The examples as the doctor's checks see them (text checks read ``text``/``label``)."""
        return examples

    def validate(self, data: TaskData) -> None:
        """Checks that must hold even with the doctor off (e.g. valid tag sequences)."""

    # -- model ------------------------------------------------------------------------------
    def auto_model(self):
        """The transformers auto class of this task's model."""
        raise NotImplementedError

    def model_kwargs(self) -> dict:
        """Keyword arguments of ``auto_model().from_pretrained`` (head size, label names)."""
        return {}

    def head_modules(self, model) -> list[str]:
        """The freshly initialised head: trained and saved with every PEFT method."""
        from tunewise.methods.targets import new_head_modules

        return new_head_modules(model)

    def check_method(self, method) -> None:
        """Reject a fine-tuning method this task cannot save or use (UserError)."""
        if getattr(method, "text_classes_only", False) and not self.classifies_texts:
            raise UserError(
                f"method {method.name}: only for text classification, not the {self.name} task"
            )

    def prepare_model(self, model) -> None:
        """Adjust the freshly loaded pretrained model before the method is attached."""

    def save_model(self, raw, path: Path, method_cfg, tokenizer) -> None:
        """Save the trained model into the existing directory ``path`` (default: what the
        method trained, e.g. adapter + head, plus the tokenizer)."""
        from tunewise import methods

        methods.save_trained(raw, path, method_cfg)
        tokenizer.save_pretrained(path)

    def load_base(self, path):
        """The task's model class loaded from ``path`` (a base model or a full checkpoint)."""
        return self.auto_model().from_pretrained(path, **self.model_kwargs())

    def load_saved(self, path: Path, meta: dict | None = None, loader=None):
        """A fresh model, in eval mode, from what :meth:`save_model` wrote: a full fine-tune's
        plain transformers directory, or the base plus the saved adapter and head.

        Args:
            loader: stands in for :func:`tunewise.methods.load_trained` (same arguments); the
                server passes one that attaches the adapter to a base shared by several runs.
        """
        from tunewise import methods
        from tunewise.models.loading import quiet_transformers

        with quiet_transformers():
            model = (loader or methods.load_trained)(path, self.load_base, self, meta)
        return model.eval()

    def reloads_saved(self, method) -> bool:
        """Whether the final evaluation reloads the saved model (PEFT methods: evaluate
        exactly base + saved adapter) rather than loading saved weights into the trained one."""
        return method.needs_base

    # -- training ---------------------------------------------------------------------------
    def encode(self, examples: list, tokenizer, max_length: int, with_labels: bool = True):
        raise NotImplementedError

    def collate(self, data, idx: list[int], pad_id: int) -> dict:
        raise NotImplementedError

    def forward(self, model, batch: dict):
        """The model's raw output tensor for a batch without labels (logits)."""
        return model(**batch).logits

    def loss(self, logits, labels):
        raise NotImplementedError

    def step(self, model, batch: dict):
        """The training loss of one collated batch (labels included)."""
        labels = batch.pop("labels")
        return self.loss(self.forward(model, batch), labels)

    def metrics(self, outputs, labels, threshold: float | None = None) -> dict:
        raise NotImplementedError

    def split_metrics(self, model, data, batch_size: int, accelerator, pad_id: int) -> dict:
        """Metrics of ``model`` over a whole encoded split (dev during training)."""
        from tunewise.training.loop import predict_logits

        logits = predict_logits(model, self, data, batch_size, accelerator, pad_id)
        return self.metrics(logits, data.labels)

    def default_metric(self) -> str:
        return self.headline[0]

    def prepare_train(self, data, cfg):
        """The encoded train split as the loop sees it (e.g. packed rows)."""
        return data

    def before_training(self, model, enc, data, cfg, accelerator, pad_id, tokenizer, echo) -> dict:
        """Work on the pretrained model before training starts (kept across a resume in
        ``RUN/.before.json``); its result reaches :meth:`evaluate` as ``fitted.extras``."""
        return {}

    # -- after training ---------------------------------------------------------------------
    def evaluate(self, fitted: Fitted) -> dict:
        """Final metrics (``dev``, ``test``, ``baselines`` ...) of the best model; writes
        ``predictions/`` on the main process. Runs on every process (gathers inside)."""
        raise NotImplementedError

    def collapse_check(self, outputs, split: str) -> dict | None:
        """Whether predictions on ``split`` collapsed (one class, no entity ...)."""
        return None

    # -- use --------------------------------------------------------------------------------
    predictor_class: ClassVar[type | None] = None
    """The task's predictor (set where the task registers, beside its code)."""

    @classmethod
    def predictor(cls, path: str | Path, **kw) -> Predictor:
        """Load a finished run (or its model directory) of this task."""
        if cls.predictor_class is None:
            raise UserError(f"the {cls.name} task has no predictor")
        return cls.predictor_class(path, **kw)

    plain_predictor_class: ClassVar[type | None] = None
    """What loads a plain transformers directory of one of ``hf_architectures`` (not a run)."""

    @classmethod
    def plain_predictor(cls, model_dir: Path, **kw):
        """Load a plain transformers directory of one of ``hf_architectures`` (not a run)."""
        if cls.plain_predictor_class is None:
            raise UserError(f"{model_dir}: the {cls.name} task serves only tunewise runs")
        return cls.plain_predictor_class(model_dir, **kw)

    @classmethod
    def cv_folds(cls, cfg) -> int:
        """How many cross-validation folds ``cfg`` asks for (``run/folds.py`` trains one run
        per fold when > 1); 0: a single run."""
        return 0

    @classmethod
    def pool_folds(cls, paths: list[Path]) -> dict:
        """Metrics pooled over the folds' runs at ``paths`` (``test``, ``baselines`` ...)."""
        raise UserError(f"the {cls.name} task has no cross-validation")

    @classmethod
    def print_summary(cls, metrics: dict, console) -> None:
        """Print the terminal summary of a run's (or an evaluation's) metrics on ``console``
        (a rich Console)."""
        for split in ("dev", "test"):
            if split in metrics:
                console.print(f"{split}: {metrics[split]}")

    @classmethod
    def report_sections(cls, run_data) -> list[Section]:
        """Sections this task adds to ``report.html``/``report.md`` (from the run's files)."""
        return []
