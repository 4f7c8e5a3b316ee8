"""`/v1/classify`: labels with probabilities for a batch of texts (or sentence pairs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tunewise.data.text_type import Text
from tunewise.errors import UserError
from tunewise.tasks.base import Route


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[Text] = Field(min_length=1, description="Texts to classify (at least one).")
    text_pairs: list[Text] | None = Field(
        None, description="Second texts of sentence pairs, one per text (pair models)."
    )
    top_k: int | None = Field(None, ge=1, description="Also return the k most probable labels.")
    model: str | None = Field(None, description="Model name; may be left out with one model.")


class LabelScore(BaseModel):
    label: str
    score: float


class Classification(BaseModel):
    label: str | None = Field(None, description="Predicted label (single-label models).")
    labels: list[str] | None = Field(None, description="Labels over the threshold (multi-label).")
    score: float | None = Field(None, description="Probability of the predicted label.")
    scores: dict[str, float] = Field(description="Probability of every label.")
    top_k: list[LabelScore] | None = None
    abstained: bool | None = Field(
        None, description="Out of scope: the model abstains (runs trained with --abstain)."
    )
    oos_score: float | None = Field(None, description="Out-of-scope score (higher: less in scope).")
    abstain_threshold: float | None = Field(None, description="Abstains above this score.")
    task: str | None = Field(
        None, description="lora-per-task runs: the task whose adapter answered."
    )
    task_routed: bool | None = Field(
        None, description="lora-per-task runs: the router picked the task (it was not given)."
    )


class ClassifyResponse(BaseModel):
    model: str
    results: list[Classification]


def _items(req: ClassifyRequest) -> list:
    pairs = req.text_pairs
    if pairs is not None and len(pairs) != len(req.texts):
        raise UserError(f"text_pairs: {len(pairs)} pairs for {len(req.texts)} texts")
    return [(t, pairs[i] if pairs is not None else None) for i, t in enumerate(req.texts)]


def _texts(req: ClassifyRequest) -> list:
    return [("texts", req.texts)] + ([("text_pairs", req.text_pairs)] if req.text_pairs else [])


def _respond(req: ClassifyRequest, results: list) -> dict:
    if req.top_k:
        for r in results:
            top = sorted(r["scores"].items(), key=lambda kv: -kv[1])[: req.top_k]
            r["top_k"] = [{"label": k, "score": v} for k, v in top]
    return {"results": results}


ROUTE = Route(
    path="/v1/classify",
    summary="Labels with probabilities for a batch of texts (or sentence pairs).",
    request=ClassifyRequest,
    response=ClassifyResponse,
    items=_items,
    respond=_respond,
    texts=_texts,
)
