"""`/v1/entities`: entities (type, text, character offsets, score) found in each text."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tunewise.tasks.text import TextsRequest, texts_route


class EntitiesRequest(TextsRequest):
    """Texts to tag."""


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


ROUTE = texts_route(
    "/v1/entities",
    "Entities (type, text, character offsets, score) found in each text.",
    EntitiesResponse,
    EntitiesRequest,
)
