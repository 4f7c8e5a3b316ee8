"""Request and response bodies (they are also the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tunewise.data.text_type import Text


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    kind: str = Field(description="The model's task (a registered task name).")
    backend: str
    path: str = Field(
        description="The served folder's name (never a full path: it would tell clients how "
        "the server's disk is laid out)."
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
