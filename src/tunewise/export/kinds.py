"""What an ONNX export needs to know about the task it exports: classification or tokens.

A kind chooses the probe (the run's own dev rows, never test), computes a model's outputs on
it, the labels those outputs decide (for agreement), the task's headline metric on the probe's
gold labels and the paired bootstrap interval of a change in it (for the int8 quality bar),
and the ONNX predictor class that runs an export folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tunewise.errors import UserError
from tunewise.export.onnx_predictor import OnnxPredictor, OnnxTokenPredictor
from tunewise.tasks.classification.predictor import Predictor
from tunewise.tasks.tokens.predictor import TokenPredictor


class ClassifierKind:
    """Sequence classification: logits [rows, classes]; headline accuracy (macro-F1 multi-label)."""

    onnx_class = OnnxPredictor
    max_drop = 0.003  # 0.3 points of accuracy

    def __init__(self, pred):
        self.pred = pred
        self.metric = pred.task.default_metric()
        self.probe: list = []
        self.y = None

    def choose_probe(self, source, probe, rows: int) -> str:
        from tunewise.export.parity import probe_examples

        self.y = None
        if isinstance(probe, list):
            self.probe, where = probe[:rows], f"{min(len(probe), rows)} given examples"
        else:
            self.probe, where = probe_examples(
                source, self.pred.tokenizer, rows, probe, self.pred.task.multi_label
            )
        if self.probe and all(ex.label is not None for ex in self.probe):
            try:
                self.y = self.pred.task.encode_labels(self.probe)
            except KeyError:  # a label the run never saw: only agreement is left
                self.y = None
        return where

    def outputs(self, model, rows: int | None = None) -> np.ndarray:
        return model.logits(self.probe[:rows])

    def flat(self, out) -> np.ndarray:
        return np.asarray(out)

    def decided(self, out) -> np.ndarray:
        """One row per probe row: the label ids (multi-label: the 0/1 vector) it decides."""
        return self.pred.task.predict(np.asarray(out), self.pred.threshold)

    def score(self, out) -> float:
        return float(
            self.pred.task.metrics(np.asarray(out), self.y, self.pred.threshold)[self.metric]
        )

    def smallest_step(self) -> float:
        """The smallest change the probe can show: one row."""
        return 1.0 / len(self.y)

    def delta_ci(self, ref, out) -> list[float] | None:
        if self.metric != "accuracy":
            return None
        from tunewise.evaluation.stats import paired_bootstrap

        pb = paired_bootstrap(self.y, self.decided(ref), self.decided(out), n_boot=2000)
        return [round(x, 6) for x in pb["ci"]]

    def feeds(self, rows: int = 256) -> list[dict]:
        """Probe batches as ONNX Runtime inputs (calibration of static int8)."""
        task, tok = self.pred.task, self.pred.tokenizer
        data = task.encode(self.probe[:rows], tok, self.pred.max_length, with_labels=False)
        return _batches(data, task, tok.pad_token_id or 0)


class TokenKind:
    """Token classification: word logits per sentence; headline entity micro-F1."""

    onnx_class = OnnxTokenPredictor
    max_drop = 0.005  # 0.5 points of entity F1
    metric = "entity_micro_f1"

    def __init__(self, pred):
        self.pred = pred
        self.probe: list = []
        self.y = None

    def choose_probe(self, source, probe, rows: int) -> str:
        from tunewise.rundir import RunDir
        from tunewise.tasks.tokens.data import load_tagged_split

        run, self.y = self.pred.run, None
        if isinstance(probe, list):
            found, where = probe, "given sentences"
        elif probe is not None:
            if not Path(probe).is_file():
                raise UserError(f"{probe}: probe file not found")
            found, where = self._read(probe), str(probe)
        elif run is not None and (saved := load_tagged_split(run.path, "dev")):
            found, where = saved, "the run's dev split (RUN/splits/dev.tokens.jsonl)"
        else:
            settings = RunDir(source).data_settings() if run is not None else {}
            found, where = [], ""
            for key in ("dev", "train"):
                path = settings.get(key)
                if path and Path(path).is_file():
                    found, where = self._read(path), str(path)
                    break
        self.probe = [ex for ex in found if ex.words][:rows]
        if self.probe and all(ex.tags is not None for ex in self.probe):
            self.y = [ex.tags for ex in self.probe]
        return f"{where} (first {len(self.probe)} sentences)"

    def _read(self, path):
        from tunewise.tasks.tokens.data import read_tagged

        data = self.pred._data_config()
        return read_tagged(Path(path), data, data.tag_scheme)[0]

    def outputs(self, model, rows: int | None = None) -> list[np.ndarray]:
        return model.word_logits(self.probe[:rows])

    def flat(self, out) -> np.ndarray:
        c = len(self.pred.labels)
        return np.concatenate(out) if len(out) else np.zeros((0, c), np.float32)

    def decided(self, out) -> np.ndarray:
        """One row per word: its tag id (argmax of the word logits)."""
        return self.flat(out).argmax(axis=1)

    def _tags(self, out) -> list[list[str]]:
        return self.pred.task.predict_tags(out)

    def score(self, out) -> float:
        from tunewise.tasks.tokens.metrics import entity_metrics

        return float(entity_metrics(self.y, self._tags(out))["micro_f1"])

    def smallest_step(self) -> float:
        """About the smallest change of entity F1 the probe can show: one entity."""
        return 1.0 / max(1, sum(1 for tags in self.y for t in tags if t.startswith("B-")))

    def delta_ci(self, ref, out) -> list[float]:
        """Paired bootstrap over sentences of the change in entity micro-F1."""
        from tunewise.tasks.tokens.metrics import sentence_counts

        a, b = sentence_counts(self.y, self._tags(ref)), sentence_counts(self.y, self._tags(out))
        idx = np.random.default_rng(0).integers(0, len(a), size=(2000, len(a)))

        def f1(c):
            tp, npred, ngold = (c[:, k][idx].sum(1).astype(float) for k in range(3))
            return np.divide(2 * tp, npred + ngold, out=np.zeros_like(tp), where=npred + ngold > 0)

        lo, hi = np.percentile(f1(b) - f1(a), [2.5, 97.5])
        return [round(float(lo), 6), round(float(hi), 6)]

    def feeds(self, rows: int = 256) -> list[dict]:
        task, tok = self.pred.task, self.pred.tokenizer
        data = task.encode(self.probe[:rows], tok, self.pred.max_length, with_labels=False)
        return _batches(data, task, tok.pad_token_id or 0)


def _batches(data, task, pad: int) -> list[dict]:
    feeds = []
    for at in range(0, len(data), 16):
        idx = list(range(at, min(at + 16, len(data))))
        b = {k: np.asarray(v) for k, v in task.collate(data, idx, pad).items()}
        b.setdefault("token_type_ids", np.zeros_like(b["input_ids"]))
        feeds.append({k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
    return feeds


KINDS = {Predictor: ClassifierKind, TokenPredictor: TokenKind}


def kind_of(pred):
    """The export kind of a loaded run's predictor, or None when ONNX does not cover its task."""
    cls = KINDS.get(type(pred))
    return cls(pred) if cls else None
