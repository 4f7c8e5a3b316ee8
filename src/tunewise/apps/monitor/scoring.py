"""Sentiment scores from a fine-tuned tunewise run, through its predictor (``tunewise.load``).

Probabilities are the predictor's: softmax of the logits divided by the temperature fitted on
the run's dev split (calibrated), not only the argmax. Each score carries the run's id (its
directory name) and version (a hash of its ``model/manifest.json``: the exact weights).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from tunewise.errors import UserError

NEG_NAMES = re.compile(r"^(neg|negative|bearish|bear|down|sell|bad)$", re.I)
POS_NAMES = re.compile(r"^(pos|positive|bullish|bull|up|buy|good)$", re.I)
NEU_NAMES = re.compile(r"^(neu|neutral|none|flat|hold|mixed)$", re.I)


def polarity_of_labels(labels: list[str], negative: str | None, positive: str | None):
    """(negative label, positive label, note) for a run's label names.

    Names like negative/bearish and positive/bullish are recognized; numeric labels follow
    twitter-financial-news-sentiment (0 bearish, 1 bullish, 2 neutral) for three classes and
    0/1 = negative/positive for two; anything else needs ``--negative-label/--positive-label``.
    """
    note = ""
    if negative is None:
        negative = next((lab for lab in labels if NEG_NAMES.match(lab)), None)
    if positive is None:
        positive = next((lab for lab in labels if POS_NAMES.match(lab)), None)
    if negative is None and positive is None:
        if sorted(labels) == ["0", "1", "2"]:
            negative, positive = "0", "1"
            note = "labels 0/1/2 read as bearish/bullish/neutral (twitter-financial-news-sentiment)"
        elif sorted(labels) == ["0", "1"]:
            negative, positive = "0", "1"
            note = "labels 0/1 read as negative/positive"
    for flag, lab in (("--negative-label", negative), ("--positive-label", positive)):
        if lab is None or lab not in labels:
            raise UserError(
                f"{flag} {lab!r}: the run's labels are {', '.join(labels)}; name the one that "
                f"means {'negative' if 'neg' in flag else 'positive'} sentiment"
            )
    if negative == positive:
        raise UserError("--negative-label and --positive-label name the same label")
    return negative, positive, note


@dataclass
class Score:
    label: str
    polarity: str
    """negative | positive | neutral (any other label counts as neutral)."""
    p_neg: float
    p_pos: float
    probs: dict


def run_identity(path: Path) -> tuple[str, str]:
    """(run id, version) of a run directory or model directory."""
    path = Path(path).resolve()
    model = path / "model" if (path / "model").is_dir() else path
    manifest = model / "manifest.json"
    blob = manifest.read_bytes() if manifest.is_file() else (model / "tunewise.json").read_bytes()
    name = path.name if model != path else path.parent.name
    return name, hashlib.sha256(blob).hexdigest()[:12]


MODEL_BATCH = 64
"""Texts per forward pass: the predictor sorts each call's texts by length and runs them in
batches of this size (fewer when padding would pass 20%)."""


class Scorer:
    """Batched scoring of texts with a run's classifier."""

    def __init__(
        self,
        run: str | Path,
        batch_size: int = MODEL_BATCH,
        negative: str | None = None,
        positive: str | None = None,
    ):
        import tunewise

        run = Path(run)
        if not run.exists():
            raise UserError(f"--model {run}: no such run directory")
        self.predictor = tunewise.load(run, batch_size=batch_size)
        labels = [str(lab) for lab in getattr(self.predictor, "labels", []) or []]
        if not labels or getattr(getattr(self.predictor, "task", None), "multi_label", False):
            raise UserError(f"--model {run}: not a single-label classification run")
        self.labels = labels
        self.negative, self.positive, self.note = polarity_of_labels(labels, negative, positive)
        self.run_id, self.version = run_identity(run)
        self.run = run
        self.cache: dict[str, dict] = {}
        """Answers computed ahead (``--engine ray``), by text."""

    def prescore_ray(self, texts: list[str]) -> None:
        """Answer ``texts`` with Ray Data actors ahead of the loop (same predictor)."""
        from tunewise.run.engine_ray import predict_ray

        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        for t, a in zip(todo, predict_ray(self.run, todo, fn="predict")):
            self.cache[t] = a

    def score(self, texts: list[str]) -> list[Score]:
        if not texts:
            return []
        missing = [t for t in texts if t not in self.cache]
        fresh = iter(self.predictor.predict(missing) if missing else [])
        answers = [self.cache[t] if t in self.cache else next(fresh) for t in texts]
        out = []
        for r in answers:
            probs = {str(k): float(v) for k, v in r["scores"].items()}
            lab = str(r["label"])
            pol = (
                "negative"
                if lab == self.negative
                else "positive"
                if lab == self.positive
                else "neutral"
            )
            out.append(Score(lab, pol, probs[self.negative], probs[self.positive], probs))
        return out
