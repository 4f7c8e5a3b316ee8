"""Request and response bodies (they are also the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


def _unicode_text(value: str) -> str:
    """Refuse text a tokenizer cannot take: a lone surrogate (``"\\ud800"`` in JSON) has no
    UTF-8 form, and inside a micro-batch it would fail every request batched with it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"a lone surrogate (U+{ord(value[e.start]):04X} at character {e.start + 1}) is not "
            "valid Unicode text; send each surrogate with its pair or remove it"
        ) from None
    return value


Text = Annotated[str, AfterValidator(_unicode_text)]
"""A string that is valid Unicode (no lone surrogates)."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassifyRequest(_Body):
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


class ClassifyResponse(BaseModel):
    model: str
    results: list[Classification]


class EntitiesRequest(_Body):
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


class _Sampling(_Body):
    max_new_tokens: int = Field(64, ge=1, description="Most tokens to generate.")
    temperature: float = Field(0.0, ge=0, le=5, description="0 = greedy decoding.")
    top_p: float = Field(1.0, gt=0, le=1)
    stop: list[Text] | Text | None = Field(None, description="Stop before any of these strings.")
    stream: bool = Field(False, description="Send server-sent events as text is generated.")
    seed: int | None = None
    model: str | None = None


class GenerateRequest(_Sampling):
    prompt: Text = Field(min_length=1)


class GenerateResponse(BaseModel):
    model: str
    text: str
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int
    completion_tokens: int


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: Text


class ChatRequest(_Sampling):
    """OpenAI-compatible chat completion (``max_tokens`` is accepted for ``max_new_tokens``)."""

    model_config = ConfigDict(extra="ignore")  # clients send fields we do not use (n=1, user...)
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)


class ModelInfo(BaseModel):
    id: str
    object: Literal["model"] = "model"
    owned_by: str = "tunewise"
    kind: Literal["classification", "tokens", "generation"]
    backend: str
    path: str = Field(
        description="The served folder's name (never a full path: it would tell "
        "clients how the server's disk is laid out)."
    )
    labels: list[str] | None = None
    adapter: bool = Field(False, description="A LoRA-family or IA3 adapter run on a base model.")
    base: str | None = Field(None, description="The adapter's base model.")
    shares_base_with: list[str] | None = Field(
        None, description="Served models whose adapters share this one's loaded base."
    )

    @field_validator("path")
    @classmethod
    def _no_absolute_path(cls, value: str) -> str:
        from pathlib import PurePath

        return PurePath(value).name or value


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelInfo]


class ErrorDetail(BaseModel):
    code: int
    type: str
    message: str
    fields: list[dict] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
