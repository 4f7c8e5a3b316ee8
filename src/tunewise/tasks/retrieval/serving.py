"""`/v1/retrieve`: the top-k passages (id, text, score) for each question."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tunewise.tasks.text import TextsRequest, texts_route


class RetrieveRequest(TextsRequest):
    """Questions to answer from the run's corpus."""


class Passage(BaseModel):
    id: str = Field(description="The passage's id in the corpus.")
    text: str
    score: float = Field(description="Cosine similarity (the cross-encoder's score if reranked).")


class Retrieved(BaseModel):
    passages: list[Passage]


class RetrieveResponse(BaseModel):
    model: str
    results: list[Retrieved]


ROUTE = texts_route(
    "/v1/retrieve",
    "The top-k passages of the run's corpus for each question.",
    RetrieveResponse,
    RetrieveRequest,
)
