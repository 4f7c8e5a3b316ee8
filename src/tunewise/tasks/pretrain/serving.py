"""`/v1/perplexity`: the loss and perplexity of each text under a pretrained model."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tunewise.tasks.text import texts_route


class Score(BaseModel):
    loss: float = Field(description="Mean cross-entropy over the text's predicted tokens.")
    perplexity: float
    tokens: int = Field(description="Tokens predicted (masked LM: the fixed 15% masks).")


class PerplexityResponse(BaseModel):
    model: str
    results: list[Score]


ROUTE = texts_route(
    "/v1/perplexity", "Loss and perplexity of each text under the model.", PerplexityResponse
)
