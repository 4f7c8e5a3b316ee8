"""`/v1/entities`: entities (type, text, character offsets, score) found in each text."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tunewise.data.text_type import Text
from tunewise.tasks.base import Route


class EntitiesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[Text] = Field(min_length=1, description="Texts to tag (at least one).")
    model: str | None = None


class Entity(BaseModel):
    type: str
    text: str
    start: int = Field(description="Character offset where the entity starts.")
    end: int = Field(description="Character offset just past its end.")
    score: float


class EntityResult(BaseModel):
    entities: list[Entity]


class EntitiesResponse(BaseModel):
    model: str
    results: list[EntityResult]


ROUTE = Route(
    path="/v1/entities",
    summary="Entities (type, text, character offsets, score) found in each text.",
    request=EntitiesRequest,
    response=EntitiesResponse,
    items=lambda req: list(req.texts),
    respond=lambda req, results: {"results": results},
    texts=lambda req: [("texts", req.texts)],
)
