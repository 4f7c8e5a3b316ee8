"""`/v1/recommend`: the top-k items for a known user (``user_id``) or a new one (``history``,
liked item texts), each with its score and the history item it is closest to."""

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
    k: int = Field(10, ge=1, le=1000, description="How many items to return.")
    model: str | None = Field(None, description="Model name; may be left out with one model.")


class Item(BaseModel):
    item_id: str
    title: str
    text: str
    score: float = Field(description="Cosine similarity of the user and item embeddings.")
    because: str | None = Field(description="The history item this one is closest to.")


class RecommendResponse(BaseModel):
    model: str
    items: list[Item]


def _items(req: RecommendRequest) -> list:
    if (req.user_id is None) == (req.history is None):
        raise UserError("give exactly one of user_id (a known user) or history (item texts)")
    uid = None if req.user_id is None else str(req.user_id)
    return [{"user_id": uid, "history": req.history, "k": req.k}]


def _respond(req: RecommendRequest, results: list) -> dict:
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
    texts=lambda req: [("history", list(req.history or []))],
)
