"""`/v1/recommend`: the top-k items for a known user (``user_id``) or a new one (``history``,
liked item texts), each with its score and the history item it is closest to. Like every
task's route it also takes ``texts`` (each one a new user's history in one text) and answers
``results``, one ``{"items": [...]}`` per text."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tunewise.errors import UserError
from tunewise.tasks.base import Route
from tunewise.tasks.text import Text


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str | int | None = Field(None, description="A user of the run's data.")
    history: list[Text] | None = Field(
        None, min_length=1, description="A new user's liked items as texts, oldest first."
    )
    texts: list[Text] | None = Field(
        None, min_length=1, description="Several new users, one history text each."
    )
    k: int = Field(10, ge=1, le=1000, description="How many items to return.")
    model: str | None = Field(None, description="Model name; may be left out with one model.")


class Item(BaseModel):
    item_id: str
    title: str
    text: str
    score: float = Field(description="Cosine similarity of the user and item embeddings.")
    because: str | None = Field(description="The history item this one is closest to.")


class Recommended(BaseModel):
    items: list[Item]


class RecommendResponse(BaseModel):
    model: str
    items: list[Item] | None = None
    results: list[Recommended] | None = Field(None, description="One per text of ``texts``.")


def _items(req: RecommendRequest) -> list:
    given = [f for f in ("user_id", "history", "texts") if getattr(req, f) is not None]
    if len(given) != 1:
        raise UserError("give exactly one of user_id (a known user) or history (item texts)")
    if req.texts is not None:
        return [{"history": [t], "k": req.k} for t in req.texts]
    uid = None if req.user_id is None else str(req.user_id)
    return [{"user_id": uid, "history": req.history, "k": req.k}]


def _respond(req: RecommendRequest, results: list) -> dict:
    if req.texts is not None:
        return {"results": results}
    res = results[0]
    if "error" in res:
        raise UserError(res["error"])
    return {"items": res["items"]}


ROUTE = Route(
    path="/v1/recommend",
    summary="The top-k items for a known user or a new user's history, with explanations.",
    request=RecommendRequest,
    response=RecommendResponse,
    items=_items,
    respond=_respond,
    texts=lambda req: [("history", list(req.history or [])), ("texts", list(req.texts or []))],
)
