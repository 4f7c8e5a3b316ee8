"""A classification run in use: ``tunewise.load(run).predict(texts)``, files, serving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tunewise.errors import UserError
from tunewise.rundir import read_meta


def resolve_model_dir(path: str | Path):
    """(the finished run or None, its model directory) for a run or a model directory."""
    from tunewise.rundir import model_dir_of

    return model_dir_of(path)


class Predictor:
    """A fine-tuned classifier loaded from a run directory (or its ``model/`` directory)."""

    def __init__(self, path: str | Path, batch_size: int = 64, loader=None):
        """Load the run (or model directory) ``path``.

        Args:
            loader: stands in for :func:`tunewise.methods.load_trained` (same arguments);
                the server passes one that attaches this run's adapter to a base shared by several.
        """
        from tunewise.models.loading import load_tokenizer

        self.run, model_dir = resolve_model_dir(path)
        self.model_dir = model_dir
        self.meta = meta = read_meta(model_dir)
        self.task = self.task_class().from_meta(meta)
        self.threshold = self.task.threshold
        self.temperature = self.task.temperature
        self.max_length = int(meta.max_length)
        self.tokenizer = load_tokenizer(str(model_dir))
        self.model = self.task.load_saved(model_dir, meta.to_dict(), loader)
        from tunewise.models.attention import for_inference

        for_inference(self.model, batch_size)  # [CLS]-only last layer; attention kernel measured
        self.batch_size = batch_size
        self.labels = self.task.labels
        self.abstain = self.task.abstain
        self._bank = None
        if self.abstain and self.abstain.get("score") == "knn":
            bank = model_dir / "abstain_bank.npy"
            if not bank.exists():
                raise UserError(
                    f"{model_dir}: abstain_bank.npy is missing (the knn abstention needs it)"
                )
            self._bank = np.load(bank)

    @staticmethod
    def task_class():
        from tunewise.tasks.classification.task import ClassificationTask

        return ClassificationTask

    def logits(self, examples) -> np.ndarray:
        """fp32 logits, one row per example, in input order."""
        data = self.task.encode(examples, self.tokenizer, self.max_length, with_labels=False)
        return self.logits_encoded(data)

    def logits_encoded(self, data) -> np.ndarray:
        """fp32 logits of already tokenized examples (``task.encode``), in length-sorted batches."""
        return self.forward_encoded(data)[0]

    def forward_encoded(self, data) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, [CLS] embeddings or None): embeddings only where the abstention needs them."""
        from tunewise.training.batching import INFER_MAX_PAD, eval_batches

        out = np.zeros((len(data), len(self.labels)), dtype=np.float32)
        emb = None if self._bank is None else np.zeros((len(data), self._bank.shape[1]), np.float32)
        pad = self.tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for idx in eval_batches(data.lengths, self.batch_size, INFER_MAX_PAD):
                batch = self.task.collate(data, idx, pad)
                res = self.model(**batch, output_hidden_states=emb is not None)
                out[idx] = res.logits.float().numpy()
                if emb is not None:
                    emb[idx] = res.hidden_states[-1][:, 0].float().numpy()
        return out, emb

    def _answer(self, examples) -> list[dict]:
        data = self.task.encode(examples, self.tokenizer, self.max_length, with_labels=False)
        return self.decode(*self.forward_encoded(data))

    def predict(self, texts: list[str], pairs: list[str] | None = None) -> list[dict]:
        """Predict labels for raw texts (and optional second texts of pairs).

        Returns:
            One dict per text: ``label`` and ``score`` (single-label) or ``labels`` (multi-label),
            and ``scores`` with the probability of every class.
        """
        from tunewise.data import Example

        if isinstance(texts, str):
            texts = [texts]
        if pairs is not None and len(pairs) != len(texts):
            raise UserError(f"{len(pairs)} text pairs for {len(texts)} texts")
        exs = [Example(t, None, pairs[i] if pairs else None) for i, t in enumerate(texts)]
        return self._answer(exs) if exs else []

    def decode(self, logits: np.ndarray, emb: np.ndarray | None = None) -> list[dict]:
        # a temperature fitted on dev (task.calibrate) rescales probabilities, never the argmax
        probs = self.task.probabilities(logits / self.temperature)
        out = []
        for p in probs:
            scores = {l: round(float(s), 6) for l, s in zip(self.labels, p)}
            if self.task.multi_label:
                on = [l for l, s in zip(self.labels, p) if s >= self.threshold]
                out.append({"labels": on, "scores": scores})
            else:
                k = int(p.argmax())
                out.append(
                    {"label": self.labels[k], "score": round(float(p[k]), 6), "scores": scores}
                )
        if self.abstain and out:
            # the label stays the nearest intent; ``abstained`` says not to act on it
            from tunewise.tasks.classification.abstain import decide

            for r, (flag, score) in zip(
                out, decide(self.abstain, logits, self.labels, emb, self._bank)
            ):
                r["abstained"] = flag
                r["oos_score"] = round(score, 6)
                r["abstain_threshold"] = round(float(self.abstain["threshold"]), 6)
        return out

    def evaluate(self, examples, source: str | Path = "data") -> dict:
        """Metrics of this model on labeled examples (whole split at once).

        Args:
            source: the file the examples came from, named in errors (labels the model lacks).
        """
        from tunewise.data import check_labels

        check_labels(examples, self.labels, source)
        logits = self.logits(examples)
        y = self.task.encode_labels(examples)
        out = self.task.metrics(logits, y, self.threshold)
        if not self.task.multi_label:
            from tunewise.evaluation.honest import add_intervals

            add_intervals(out, self.task, y, logits, self.threshold)
        return out

    # -- the predictor protocol (tunewise.tasks.base.Predictor) ------------------------------
    def read_inputs(self, path: Path, require_label: bool = False) -> list:
        """Rows of a file read with the run's column settings (a .txt file: one text a line)."""
        from tunewise.tasks.classification.data import read_file
        from tunewise.tasks.text import read_lines

        data = self.run.data_settings() if self.run is not None else {}
        if Path(path).suffix.lower() == ".txt" and not require_label:
            return read_lines(Path(path))
        return read_file(
            Path(path), data, require_label=require_label, multi_label=self.task.multi_label
        )

    def predict_rows(self, examples: list) -> list[dict]:
        """One result per row, with the row's text (and pair) first."""
        results = self._answer(examples) if examples else []
        return [
            {
                "text": e.text,
                **({"text_pair": e.text_pair} if e.text_pair is not None else {}),
                **r,
            }
            for e, r in zip(examples, results)
        ]

    def evaluate_file(self, path: Path) -> dict:
        exs = self.read_inputs(path, require_label=True)
        metrics = self.evaluate(exs, path)
        if len(exs) != metrics["n"]:
            raise RuntimeError(f"{metrics['n']} predictions for {len(exs)} rows")
        return {"test": metrics}

    def parity_outputs(self, texts: list[str]) -> np.ndarray:
        """Logits of raw texts (an export is compared with its run on these)."""
        from tunewise.data.examples import Example

        return self.logits([Example(t, None) for t in texts])

    def predict_batch(self, items: list) -> list:
        """Answers for served items ``(text, pair or None)``: plain texts and pairs run apart
        (a pair changes the tokenization), tokenized once without statistics."""
        from tunewise.tasks.text import encode_for_inference

        out: list = [None] * len(items)
        for with_pair in (False, True):
            idx = [i for i, (_, p) in enumerate(items) if (p is not None) == with_pair]
            if not idx:
                continue
            texts = [items[i][0] for i in idx]
            pairs = [items[i][1] for i in idx] if with_pair else None
            data = encode_for_inference(self.tokenizer, texts, pairs, self.max_length)
            for i, r in zip(idx, self.decode(*self.forward_encoded(data))):
                out[i] = r
        return out
