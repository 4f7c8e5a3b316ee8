"""The run configuration: nested, typed, validated once, with dotted overrides.

A config comes from defaults, then an optional YAML file, then CLI flags, then dotted
overrides like ``train.lr=3e-5``; all errors are collected and reported at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tunewise.errors import UserError


class _Section(BaseModel):
    # allow_inf_nan=False: `--epochs inf` or `lr: nan` is a one-line config error, not a crash
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ModelConfig(_Section):
    name: str = "minilm"
    """Packaged model name (see `tunewise models`), a local directory, or a hub id."""
    max_length: int = Field(128, ge=8, le=8192)
    """Longest input in tokens (default 128; 512 for sft); longer inputs are truncated and the
    share is reported."""


class SplitConfig(_Section):
    dev: float = Field(0.1, ge=0.0, lt=1.0)
    """Share of train held out as dev when no dev file is given."""
    test: float = Field(0.1, ge=0.0, lt=1.0)
    """Share of train held out as test when no test file is given."""
    seed: int = 0
    """Seed of the stratified split."""

    @model_validator(mode="after")
    def _shares(self) -> SplitConfig:
        if self.dev + self.test >= 0.9:
            raise ValueError("split.dev + split.test must leave at least 10% for training")
        return self


class DataConfig(_Section):
    train: Path | None = None
    """Training file (CSV, TSV, JSONL or Parquet)."""
    dev: Path | None = None
    """Dev file; split from train when absent."""
    test: Path | None = None
    """Test file; split from train when absent."""
    corpus: Path | None = None
    """Retrieval: the passages to retrieve from (default: every passage of the pairs)."""
    text_column: str = "text"
    """Column holding the text."""
    text_pair_column: str | None = None
    """Column holding the second text of a sentence pair (optional)."""
    label_column: str = "label"
    """Column holding the label (a string, an int, or for multi-label a list)."""
    label_sep: str = "|"
    """Separator of labels inside one CSV/TSV cell, for multi-label data."""
    quoting: Literal["auto", "none", "csv"] = "auto"
    """Quotes in CSV/TSV cells: auto (CSV quoted, TSV read as is, like GLUE's loaders), none,
    or csv (a TSV written with CSV quoting)."""
    split: SplitConfig = SplitConfig()
    """How to split train when dev or test is missing."""
    token_format: Literal["auto", "conll", "chars", "jsonl"] = "auto"
    """Token task files: auto (.jsonl/.json = text + character spans, else CoNLL columns, read
    as one character per line when the tokens are CJK characters), or force one."""
    tag_column: int = -1
    """Token task, CoNLL files: which column holds the tag (0-based; -1 = the last)."""
    token_column: int = 0
    """Token task, CoNLL files: which column holds the token (0-based)."""
    tag_scheme: Literal["auto", "IO", "BIO", "IOB1", "BIOES", "BMES"] = "auto"
    """Token task: the tag scheme of the files; auto detects it per file."""


class TaskConfig(_Section):
    type: str = "classification"
    """The task, by its registered name (``tunewise.tasks``): classification (one label per
    text), tokens (a tag per word: NER), sft (supervised fine-tuning of a decoder; settings in
    the ``sft`` section), regression (a number per text), or a task a plugin registers."""
    multi_label: bool = False
    """Several labels per example (sigmoid + BCE, threshold tuned on dev)."""
    class_weights: Literal["none", "balanced"] | list[float] = "none"
    """Loss weights per class: none, balanced (inverse frequency), or explicit list."""
    calibrate: bool = True
    """Apply the temperature fitted on dev to predicted probabilities (predict, serve) when it
    lowers dev NLL (the decision is recorded in metrics.json); false = raw softmax."""
    label_issues: bool = True
    """Classification: list the train rows whose label the model doubts (embeddings of train
    once, then 5-fold logistic regression on them; 28 s of a 116 s 1-epoch minilm run on
    10,201 rows here); false skips it."""
    abstain: bool = False
    """Classification: answer "out of scope" (abstain) when an input looks unlike the
    training intents: out-of-scope scores (msp, energy, knn), a threshold chosen on dev for
    ``abstain_target``, OOS metrics with intervals in metrics.json; predict and serve answer
    ``abstained`` with the score and threshold."""
    oos_label: str | None = None
    """The label of out-of-scope rows (implies abstain). Absent from train: its dev/test rows
    are kept out of the splits and score the abstention; present in train: an explicit class,
    whose prediction is an abstention too."""
    abstain_target: str = "in_scope_recall=0.95"
    """What the dev-chosen threshold keeps: in_scope_recall=X (X of dev's in-scope rows
    answered), oos_recall=X or in_scope_precision=X (these need out-of-scope rows in dev)."""
    abstain_score: Literal["auto", "msp", "energy", "knn"] = "auto"
    """The out-of-scope score: auto = the best dev AUROC where dev has out-of-scope rows, msp
    otherwise."""
    head_init: Literal["auto", "random", "probe"] = "auto"
    """Classification: how the new head starts. random = the checkpoint's initialisation;
    probe = a logistic regression fitted on the frozen model's head inputs for the training
    rows (linear probe, then fine-tune: LP-FT, Kumar et al. 2022); auto = probe for many
    classes with few rows each (at least 10 classes, at most 100 training rows per class on
    average: a random head learns too slowly in the steps such a train set gives), else
    random. A continued run (--continue-from) keeps its parent's head."""
    options: dict[str, Any] = {}
    """The task's own settings (e.g. ``task.options.loss=huber`` for regression), checked
    against the task's typed options when the run starts and saved with every default."""


class SFTConfig(_Section):
    chat_template: str | None = None
    """Chat template: null = the model's own; a name (chatml) or a .jinja file. Saved with the
    model, so training, evaluation and generation render prompts identically."""
    packing: bool = False
    """Pack short examples into rows of model.max_length tokens (no attention across examples)."""
    eval_samples: int = Field(8, ge=0)
    """Dev prompts answered before and after training (exact match, ROUGE-L, samples file)."""
    eval_max_new_tokens: int = Field(64, ge=1)
    """Longest answer generated for dev prompts and test prompts."""
    test_generations: int | None = Field(None, ge=1)
    """Test prompts answered for the generation metrics (exact match, ROUGE-L, stop rate, with
    bootstrap intervals): null = every test row; N = a sample of N rows seeded by train.seed."""


class TrainConfig(_Section):
    epochs: float = Field(3, gt=0)
    """Passes over the training data (fractions allowed)."""
    max_steps: int | None = Field(None, ge=1)
    """Stop after this many optimizer steps (overrides epochs when smaller)."""
    batch_size: int = Field(32, ge=1)
    """Examples per forward pass, per process (default 32; 8 for sft)."""
    grad_accum: int = Field(1, ge=1)
    """Forward passes per optimizer step."""
    lr: float | None = Field(None, gt=0, lt=1)
    """Peak learning rate of AdamW; null = the model's recommended rate (1e-4 for minilm,
    5e-5 for other models); the resolved value is saved in the run's config.yaml."""
    head_lr: float | None = Field(None, gt=0, lt=1)
    """Peak learning rate of the task head (the layers the pretrained checkpoint lacks);
    null = ``lr`` (the same rate as the body)."""
    weight_decay: float = Field(0.01, ge=0)
    """AdamW weight decay (not applied to biases and LayerNorm)."""
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    """Share of steps spent warming the learning rate up linearly; then linear decay."""
    max_grad_norm: float | None = Field(1.0, gt=0)
    """Gradient clipping norm; null disables clipping."""
    bf16: bool | Literal["auto"] = "auto"
    """bf16 autocast for forward/backward (weights and optimizer stay fp32); auto = on where
    bf16 matmul is fast (GPUs with bf16, CPUs with AVX512-BF16/AMX), off elsewhere."""
    group_by_length: bool = True
    """Batch examples of similar length together so little compute goes to padding."""
    first_position_only: bool = True
    """For a sequence classifier or regressor of the BERT family, compute in the last layer
    only the position its head reads ([CLS]): the same numbers up to float rounding, measured
    1.15-1.19x faster per step for minilm (6 layers)."""
    attention: Literal["auto", "sdpa", "eager"] = "auto"
    """Attention kernel of a BERT-family encoder: auto = time PyTorch's SDPA and the model's
    eager attention at the run's shapes, for training (dropout, bf16 when on) and for
    evaluation, and keep the faster of each. Exact up to float rounding (the same dropout
    masks); on this CPU eager won in bf16 training, SDPA's flash kernel in fp32 inference."""
    prefetch: bool = True
    """Collate the next batch in a background thread while the current one computes (on a
    GPU: into pinned memory, copied without blocking). Exact: the same batches in order."""
    token_budget: int | None = Field(None, ge=1)
    """Batches of at most this many padded tokens (rows x longest row) instead of batch_size
    rows: every step costs about the same. Changes the numbers (other batches); opt-in."""
    freeze_embeddings: bool = False
    """Keep the word embeddings frozen (no gradient, no optimizer state for the largest
    matrix of a small encoder: for minilm 11.7M of 22.7M parameters; measured 1.3-1.4x faster
    a step here, its accuracy cost over 3 seeds in benchmarks/RESULTS.md). Changes the
    numbers, and a model whose embeddings carry little (a randomly initialised one) learns
    far less with them frozen; opt-in."""
    dropout: float | None = Field(None, ge=0, lt=1)
    """Probability of every dropout layer of the pretrained model and its head (hidden and
    attention); null = the model's own (0.1 for the BERT family). 0 draws no random masks at
    all (about a fifth of a bf16 step on a CPU, measured in benchmarks/RESULTS.md;
    ``attention: auto`` times both kernels without it, and eager stayed faster there).
    Changes the numbers; opt-in. A PEFT
    method's own dropout (``method.dropout``) is kept; the saved config keeps the model's."""
    compile: bool = False
    """torch.compile the model's forward for training (in place: saved weights unchanged).
    Pays only on long runs (the first steps compile); opt-in."""
    compile_backend: str = "inductor"
    """torch.compile backend when ``compile`` is on (inductor; aot_eager for debugging)."""
    eval_every: int | None = Field(None, ge=1)
    """Evaluate on dev every N optimizer steps; null means once per epoch."""
    checkpoint_every: int | None = Field(100, ge=1)
    """Write a resumable checkpoint every N optimizer steps (and at each evaluation)."""
    early_stopping_patience: int | None = Field(None, ge=1)
    """Stop after this many evaluations without improvement; null disables."""
    metric: str = "auto"
    """Dev metric that picks the best checkpoint; auto = accuracy (macro_f1 for multi-label)."""
    seed: int = 42
    """Seed of weights init, data order and dropout; two runs with one seed are identical."""
    seeds: int = Field(1, ge=1, le=20)
    """Train this many seeds (seed, seed+1, ...) and report mean and std of every metric."""
    threads: int | None = Field(None, ge=1)
    """torch CPU threads; null leaves torch's default."""


class MethodConfig(BaseModel):
    """The fine-tuning method and its options, one section per method (``method.lora.r``);
    sections are checked against the method registry (``tunewise methods``)."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    name: str = "full"
    """Method: full, head, lora, rslora, dora, adalora, ia3, prefix, prompt, ptuning, adapter."""

    @model_validator(mode="after")
    def _options(self) -> MethodConfig:
        from tunewise.methods.base import parse_options

        opts = parse_options(self.name, dict(self.model_extra or {}))
        # keep only the selected method's section, every default filled in (saved in the run)
        from tunewise.methods.base import get_method

        key = get_method(self.name).key
        for k in list(self.model_extra or {}):
            if k != key:
                del self.model_extra[k]
        self.model_extra[key] = opts.model_dump(mode="json")
        return self


class DoctorConfig(_Section):
    enabled: bool = True
    """Run the doctor's data checks before training (errors stop the run)."""
    allow: list[str] = []
    """Names of error-level checks to let through; recorded in the run."""
    near_duplicate_threshold: float = Field(0.9, gt=0, le=1)
    """Estimated Jaccard similarity (word 3-shingles, MinHash) above which two texts are near-duplicates."""


class TrackConfig(_Section):
    backends: list[Literal["tensorboard", "mlflow", "wandb"]] = []
    """Experiment trackers (--track tensorboard,mlflow,wandb); only the main process logs."""
    mlflow_uri: str | None = None
    """MLflow tracking URI; null = $MLFLOW_TRACKING_URI, else SQLite beside the run registry."""
    experiment: str = "tunewise"
    """MLflow experiment and W&B project name."""


class TuneConfig(_Section):
    space: dict[str, str] = {}
    """Search space for `tunewise tune`: dotted key -> "LOW..HIGH", "LOW..HIGH:log" or "a|b|c"."""
    trials: int = Field(20, ge=1)
    """Trials to run."""
    pruning: bool = True
    """Stop trials whose dev metric trails the others' at the same evaluation (median rule)."""


class FewShotConfig(_Section):
    shots: int | None = Field(None, ge=1)
    """K: train on K examples per class drawn from train (seeded, recorded); null = all rows."""
    draws: int = Field(1, ge=1, le=50)
    """Repeat the run over this many different K-shot draws; mean, std and 95% interval."""
    dev_shots: int | None = Field(None, ge=0)
    """Dev examples per class, drawn the same way (from --dev, else from the rest of train;
    never from test); null = the same as shots; 0 = no dev set."""
    seed: int = 0
    """Seed of the first draw; draw i uses seed + i (independent of train.seed)."""

    @model_validator(mode="after")
    def _draws_need_shots(self) -> FewShotConfig:
        if self.draws > 1 and self.shots is None:
            raise ValueError("draws: several draws need shots (give --shots K)")
        return self


class Config(_Section):
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    task: TaskConfig = TaskConfig()
    train: TrainConfig = TrainConfig()
    method: MethodConfig = MethodConfig()
    doctor: DoctorConfig = DoctorConfig()
    track: TrackConfig = TrackConfig()
    tune: TuneConfig = TuneConfig()
    sft: SFTConfig = SFTConfig()
    """Supervised fine-tuning of decoders (task.type sft)."""
    fewshot: FewShotConfig = FewShotConfig()
    """Few labels: K-shot draws from train (--shots, --draws)."""
    out: Path | None = None
    """Run directory; a fresh one under runs/ when absent."""

    @field_validator("out", mode="before")
    @classmethod
    def _out(cls, v: Any) -> Any:
        return None if v in ("", None) else v


def format_errors(err: ValidationError, prefix: str = "") -> str:
    """Every error of a pydantic validation as one ``invalid config: a.b: what; ...`` line."""
    parts = []
    for e in err.errors():
        loc = prefix + ".".join(str(x) for x in e["loc"]) or "config"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown setting"
        parts.append(f"{loc}: {msg}")
    return "invalid config: " + "; ".join(parts)


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``train.lr=3e-5`` into (["train", "lr"], 3e-5) with YAML typing of the value."""
    if "=" not in item:
        raise UserError(f"override {item!r}: expected KEY=VALUE, e.g. train.lr=3e-5")
    key, raw = item.split("=", 1)
    if not key or any(not p for p in key.split(".")):
        raise UserError(f"override {item!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def _set(tree: dict, keys: list[str], value: Any) -> None:
    for k in keys[:-1]:
        node = tree.get(k)
        if not isinstance(node, dict):
            node = {}
            tree[k] = node
        tree = node
    tree[keys[-1]] = value


def load_yaml(path: str | Path) -> dict:
    """Read a YAML config file into a dict; a bad file is a UserError."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: config file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        at = f" line {line + 1}" if line is not None else ""
        raise UserError(f"{p}{at}: not valid YAML ({str(e).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{p}: the config must be a mapping of sections (model, data, train ...)")
    return data


def build_config(
    base: dict | None = None,
    flags: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
) -> Config:
    """Merge a base dict (from YAML), dotted CLI flags and ``key=value`` overrides; validate.

    Args:
        base: nested dict, e.g. from :func:`load_yaml`.
        flags: dotted keys to values (``{"train.lr": 3e-5}``); None values are ignored.
        overrides: strings like ``"train.lr=3e-5"``, applied last.
    """
    tree: dict = _deepcopy(base or {})
    for key, value in (flags or {}).items():
        if value is not None:
            _set(tree, key.split("."), value)
    for item in overrides or []:
        keys, value = parse_override(item)
        _set(tree, keys, value)
    try:
        return Config.model_validate(tree)
    except ValidationError as e:
        raise UserError(format_errors(e)) from None


def _deepcopy(tree: dict) -> dict:
    return {k: _deepcopy(v) if isinstance(v, dict) else v for k, v in tree.items()}


def config_to_dict(config: Config) -> dict:
    """A JSON/YAML-ready dict of the resolved config."""
    return config.model_dump(mode="json")
