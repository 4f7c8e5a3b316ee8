"""`/v1/regress`: a number for each text (or sentence pair)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tunewise.data.text_type import Text
from tunewise.tasks.base import Route


class RegressRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[Text] = Field(min_length=1, description="Texts to score (at least one).")
    model: str | None = Field(None, description="Model name; may be left out with one model.")


class Prediction(BaseModel):
    prediction: float = Field(description="The predicted number, in the training data's units.")


class RegressResponse(BaseModel):
    model: str
    results: list[Prediction]


ROUTE = Route(
    path="/v1/regress",
    summary="A number for each text (a rating, a score).",
    request=RegressRequest,
    response=RegressResponse,
    items=lambda req: list(req.texts),
    respond=lambda req, results: {"results": results},
    texts=lambda req: [("texts", req.texts)],
)
