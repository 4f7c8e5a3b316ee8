"""A recommend run in use: for a known user (their liked training items) or a new one (a
list of item texts), the top-k items by the fine-tuned two-tower model, items the user has
already seen excluded, each with the history item it is closest to (``because``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tunewise.errors import UserError
from tunewise.tasks.retrieval.predictor import RetrievalPredictor


class RecommendPredictor(RetrievalPredictor):
    """The retrieval predictor (encoder + faiss index over the items) with the run's users."""

    @staticmethod
    def task_class():
        from tunewise.tasks.recommend.task import RecommendTask

        return RecommendTask

    def __init__(self, path: str | Path, batch_size: int = 64, loader=None, top_k=None):
        from tunewise.rundir import model_dir_of, read_json
        from tunewise.tasks.recommend.bundle import BUNDLE_FILE

        super().__init__(path, batch_size, loader, top_k)
        _, model_dir = model_dir_of(path)
        file = model_dir / BUNDLE_FILE
        self.bundle = read_json(file) if file.is_file() else None
        self._items: np.ndarray | None = None

    @property
    def item_embeddings(self) -> np.ndarray:
        """Every item's embedding, read back from the exact (flat) faiss index."""
        if self._items is None:
            self._items = self.index.reconstruct_n(0, self.index.ntotal)
        return self._items

    def _titles(self) -> list[str]:
        if self.bundle and self.bundle["items"].get("titles"):
            return self.bundle["items"]["titles"]
        return list(self.task.corpus.texts)

    def user(self, user_id) -> dict:
        """A known user's record (liked training items, seen items); UserError if unknown."""
        users = (self.bundle or {}).get("users") or {}
        rec = users.get(str(user_id))
        if rec is None:
            raise UserError(
                f"user {user_id!r} is not in this run ({len(users)} users); give their "
                "history as item texts instead"
            )
        return rec

    def recommend(self, user_id=None, history: list[str] | None = None, k: int = 10) -> list:
        """The top ``k`` items for a known ``user_id`` or for a new user's ``history`` (item
        texts, oldest first): ``[{"item_id", "title", "text", "score", "because"}, ...]``."""
        from tunewise.tasks.recommend.bundle import history_text, user_pieces

        recent = self.task.opts.history_items
        c = self.task.corpus
        p = self.item_embeddings
        if user_id is not None:
            rec = self.user(user_id)
            query = history_text(user_pieces(self.bundle, rec), recent)
            seen = set(rec["seen"]) | set(rec["train"])
            hist_idx = rec["train"][-50:]
            titles = self._titles()
            hist_emb = p[hist_idx]
            hist_names = [titles[i] or c.texts[i][:80] for i in hist_idx]
        else:
            history = [h for h in history or [] if str(h).strip()]
            if not history:
                raise UserError("history: give at least one item text (or a user_id)")
            query = history_text(list(history), recent)
            seen = {i for h in history if (i := c.index_of(h)) is not None}
            hist_emb, hist_names = self.embed(list(history)), list(history)
        if not query:
            raise UserError(f"user {user_id!r} has no liked item in training to start from")
        q = self.embed([query])
        # cold-start items are candidates like any other: the text tower ranks them too
        depth = min(self.index.ntotal, k + len(seen))
        scores, order = (np.asarray(a) for a in self.index.search(q, depth))
        titles = self._titles()
        out = []
        for j, s in zip(order[0], scores[0]):
            j = int(j)
            if j < 0 or j in seen:
                continue
            near = int(np.argmax(hist_emb @ p[j])) if len(hist_emb) else -1
            out.append(
                {
                    "item_id": c.ids[j],
                    "title": titles[j] or c.texts[j][:80],
                    "text": c.texts[j],
                    "score": round(float(s), 6),
                    "because": hist_names[near] if near >= 0 else None,
                }
            )
            if len(out) == k:
                break
        return out

    # -- the predictor protocol --------------------------------------------------------------
    def predict(self, inputs, top_k: int | None = None) -> list[dict]:
        """One ``{"items": [...]}`` per input: a history text (a new user's liked items)."""
        if isinstance(inputs, str):
            inputs = [inputs]
        k = top_k or self.top_k
        return [{"items": self.recommend(history=[t], k=k)} for t in inputs]

    def predict_batch(self, items: list) -> list:
        """Served requests: ``{"user_id"|"history", "k"}`` each; an error answers as a value
        (``{"error": ...}``) so one bad request does not fail its micro-batch."""
        out = []
        for it in items:
            if isinstance(it, str):
                out.append(self.predict([it])[0])
                continue
            try:
                rec = self.recommend(
                    it.get("user_id"), it.get("history"), it.get("k") or self.top_k
                )
                out.append({"items": rec})
            except UserError as e:
                out.append({"error": str(e)})
        return out
