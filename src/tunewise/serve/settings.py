"""Server settings: limits, batching and auth, validated once."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ServeSettings(BaseModel):
    """How `tunewise serve` batches, limits and protects requests."""

    model_config = ConfigDict(extra="forbid")

    max_batch: int = Field(32, ge=1)
    """Most texts run in one forward pass (requests arriving together are merged)."""
    max_wait_ms: float = Field(2.0, ge=0)  # bench_serve: 2 ms beat 5, 10, 20 at c=8 and c=32
    """While another batch computes, how long the next one waits for more requests to fill
    it; a request that finds the model idle runs at once."""
    max_queue: int = Field(1024, ge=1)
    """Most texts (generation: requests) waiting per model; more are refused with 503."""
    max_texts: int = Field(256, ge=1)
    """Most texts in one request (422 beyond)."""
    max_chars: int = Field(10_000, ge=1)
    """Most characters in one text or prompt (422 beyond)."""
    max_body_bytes: int = Field(1_000_000, ge=1)
    """Largest request body in bytes (413 beyond)."""
    max_new_tokens: int = Field(512, ge=1)
    """Most tokens one generation request may ask for (422 beyond)."""
    api_key: str | None = None
    """When set, every /v1 request needs `Authorization: Bearer <key>` (401 otherwise)."""
    open_docs: bool = False
    """With an API key, /docs, /openapi.json and /metrics need the key too unless this is
    set (they tell a stranger what the server runs); without a key they are always open."""
    threads: int | None = Field(1, ge=1)
    """CPU threads of each model's forward pass (torch); None = torch's default. One is
    fastest on a shared CPU (measured here: 2 threads were 2-6x slower under load). A batch
    that computes while no other batch of its model does gets ``threads * workers`` (torch)."""
    workers: int = Field(2, ge=1)
    """Batches of one model that run at once, each in its own thread (with ``threads`` CPU
    threads). Two keep a 2-core machine busy: one batch computes while the server answers and
    gathers the next (measured: benchmarks/RESULTS.md, serving)."""
    retry_after_s: int = Field(1, ge=1)
    """Retry-After header sent with 503 when a queue is full."""

    @model_validator(mode="after")
    def _queue_holds_a_request(self):
        if self.max_queue < self.max_texts:
            raise ValueError(
                f"max_queue ({self.max_queue}) must be at least max_texts ({self.max_texts}), "
                "or a full-size request could never be queued"
            )
        return self


def settings_from_flags(port: int | None = None, **flags) -> ServeSettings:
    """Settings from a serving command's flags; a bad port or value is one UserError naming
    the flag (``tunewise serve``, ``tunewise assist serve``)."""
    from pydantic import ValidationError

    from tunewise.errors import UserError

    if port is not None and not 0 <= port <= 65535:
        raise UserError(f"--port {port}: a port is a number from 0 to 65535")
    try:
        return ServeSettings(**flags)
    except ValidationError as e:
        raise UserError(
            "; ".join(
                f"--{'-'.join(map(str, x['loc'])) or 'settings'}: {x['msg']}" for x in e.errors()
            )
        ) from None
