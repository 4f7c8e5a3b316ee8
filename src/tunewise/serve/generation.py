"""`/v1/generate` (plain and server-sent events) and OpenAI-compatible `/v1/chat/completions`.

Generation is not batched: one request at a time per model (``Gate``), a bounded number
waiting. The model is a :class:`tunewise.tasks.sft.predictor.Generator`, the one ``tunewise generate``
and ``tunewise chat`` use, so a prompt is answered as they answer it (a chat model gets it as
a user turn through its chat template). It runs in a worker thread; a streamed answer is sent
chunk by chunk as ``data: {...}`` events and ends with ``data: [DONE]``.
"""

from __future__ import annotations

import json
import time
import uuid

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import StreamingResponse

from tunewise.errors import UserError
from tunewise.serve.http import ApiError
from tunewise.serve.schemas import ChatRequest, GenerateRequest, GenerateResponse

SSE = {"description": "With stream: server-sent events", "content": {"text/event-stream": {}}}


def add_generation_routes(app, state, auth, errors) -> None:
    settings = state.settings

    def prepare(req, kind_endpoint, prompt=None, messages=None):
        m = state.pick(lambda m: m.generates, "generation", req.model, kind_endpoint)
        texts = [prompt] if prompt is not None else [x["content"] for x in messages]
        state.check_texts(texts, "prompt" if prompt is not None else "messages.content")
        n = req.max_new_tokens
        if n > settings.max_new_tokens:
            raise ApiError(
                422,
                f"max_new_tokens: {n}; the limit is {settings.max_new_tokens} (--max-new-tokens)",
            )
        stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        kw = dict(
            max_new_tokens=n,
            temperature=req.temperature,
            top_p=req.top_p,
            stop=stop,
            **({"seed": req.seed} if req.seed is not None else {}),
        )
        asked = prompt if prompt is not None else messages
        try:
            prompt_tokens = len(m.model.prompt_ids(asked))
        except (UserError, ValueError) as e:  # e.g. messages for a model without a chat template
            raise ApiError(422, str(e)) from None
        return m, (asked, kw), prompt_tokens

    def finish(m, text: str, n: int) -> tuple[str, int]:
        """A streamed answer's finish reason and length, from its text."""
        used = m.model.count_tokens(text)
        return ("length" if used >= n else "stop"), used

    async def run(m, kw, stream: bool, events):
        """Hold the model's gate for the whole answer; ``events(chunks)`` formats a stream."""
        gate = state.gates[m.name]
        await gate.acquire()
        state.metrics.items.labels(m.name).inc()
        asked, kw = kw
        if not stream:
            try:
                return await run_in_threadpool(lambda: m.model.complete(asked, **kw))
            finally:
                gate.release()
        try:
            chunks = m.model.stream(asked, **kw)
        except BaseException:
            gate.release()
            raise

        async def body():
            try:
                async for line in events(iterate_in_threadpool(iter(chunks))):
                    yield line
            finally:
                gate.release()
                close = getattr(chunks, "close", None)
                if close:
                    try:
                        close()  # a client that left stops the generation
                    except ValueError:  # still running in its thread; it ends on its own
                        pass

        return StreamingResponse(body(), media_type="text/event-stream")

    @app.post(
        "/v1/generate",
        response_model=GenerateResponse,
        responses=errors | {200: SSE},
        dependencies=auth,
    )
    async def generate(req: GenerateRequest):
        """Continue a prompt; with ``stream`` as server-sent events ``{"text": chunk}``, then a
        last event with ``finish_reason`` and ``data: [DONE]``."""
        m, kw, prompt_tokens = prepare(req, "/v1/generate", prompt=req.prompt)

        async def events(chunks):
            text = ""
            async for c in chunks:
                text += c
                yield f"data: {json.dumps({'text': c}, ensure_ascii=False)}\n\n"
            reason, used = finish(m, text, req.max_new_tokens)
            end = {"text": "", "finish_reason": reason, "completion_tokens": used}
            yield f"data: {json.dumps(end)}\n\n"
            yield "data: [DONE]\n\n"

        out = await run(m, kw, req.stream, events)
        if req.stream:
            return out
        return GenerateResponse(
            model=m.name,
            text=out["text"],
            finish_reason=out["finish_reason"],
            prompt_tokens=prompt_tokens,
            completion_tokens=out["new_tokens"],
        )

    @app.post("/v1/chat/completions", responses=errors | {200: SSE}, dependencies=auth)
    async def chat_completions(req: ChatRequest):
        """OpenAI-compatible chat completion (``stream`` gives ``chat.completion.chunk``
        events); the messages go through the model's chat template."""
        if req.max_tokens is not None:
            req.max_new_tokens = req.max_tokens
        messages = [msg.model_dump() for msg in req.messages]
        m, kw, prompt_tokens = prepare(req, "/v1/chat/completions", messages=messages)
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        head = {"id": cid, "created": created, "model": m.name}

        def chunk(delta: dict, reason=None) -> str:
            c = head | {
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
            }
            return f"data: {json.dumps(c, ensure_ascii=False)}\n\n"

        async def events(chunks):
            yield chunk({"role": "assistant", "content": ""})
            text = ""
            async for c in chunks:
                text += c
                yield chunk({"content": c})
            yield chunk({}, finish(m, text, req.max_new_tokens)[0])
            yield "data: [DONE]\n\n"

        out = await run(m, kw, req.stream, events)
        if req.stream:
            return out
        reason, used = out["finish_reason"], out["new_tokens"]
        return head | {
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": out["text"]},
                    "finish_reason": reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": used,
                "total_tokens": prompt_tokens + used,
            },
        }
