"""`/v1/regress`: a number for each text (or sentence pair)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tunewise.tasks.text import TextsRequest, texts_route


class RegressRequest(TextsRequest):
    """Texts to score."""


class Prediction(BaseModel):
    prediction: float = Field(description="The predicted number, in the training data's units.")


class RegressResponse(BaseModel):
    model: str
    results: list[Prediction]


ROUTE = texts_route(
    "/v1/regress", "A number for each text (a rating, a score).", RegressResponse, RegressRequest
)
