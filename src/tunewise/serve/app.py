"""The HTTP app: one FastAPI app serving several models by name, micro-batched.

``create_app(models, settings)`` is all a caller needs; `tunewise serve` runs it on uvicorn.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.security import HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from tunewise import __version__
from tunewise.serve.batcher import Gate, MicroBatcher
from tunewise.serve.http import ApiError, GuardMiddleware, install_error_handlers
from tunewise.serve.metrics import ServerMetrics
from tunewise.serve.registry import Served
from tunewise.serve.schemas import ErrorBody, ModelInfo, ModelList
from tunewise.serve.settings import ServeSettings

ERRORS = {
    c: {"model": ErrorBody, "description": d}
    for c, d in {
        400: "Body is not valid JSON or not UTF-8",
        401: "Missing or wrong API key",
        404: "No such model",
        413: "Body, number of texts or a text over the limits",
        422: "A field has the wrong type or value",
        503: "Queue full; retry after the Retry-After header's seconds",
    }.items()
}


class State:
    """What the endpoints share: models by name, their batchers/gates, readiness."""

    def __init__(self, models: list[Served], settings: ServeSettings, metrics: ServerMetrics):
        self.models = {m.name: m for m in models}
        self.settings, self.metrics = settings, metrics
        self.batchers: dict[str, MicroBatcher] = {}
        self.gates: dict[str, Gate] = {}
        self.ready = False

    def pick(self, accepts, kind: str, name: str | None, endpoint: str) -> Served:
        """The served model a request names (or the only one ``accepts`` takes).

        Args:
            accepts: ``accepts(served) -> bool``: whether a model answers ``endpoint``.
            kind: what such a model is, in words, for the error messages.
        """
        served = ", ".join(f"{m.name} ({m.kind})" for m in self.models.values())
        if name is not None:
            m = self.models.get(name)
            if m is None:
                raise ApiError(404, f"model {name!r} not found; served: {served}", "not_found")
            if not accepts(m):
                raise ApiError(
                    422, f"model {name!r} is a {m.kind} model; {endpoint} needs a {kind} model"
                )
            return m
        fit = [m for m in self.models.values() if accepts(m)]
        if len(fit) == 1:
            return fit[0]
        if not fit:
            raise ApiError(404, f"no {kind} model is served here (served: {served})", "not_found")
        raise ApiError(
            422,
            f"several {kind} models are served ({', '.join(m.name for m in fit)}); "
            "name one in the 'model' field",
        )

    def check_texts(self, texts: list[str], field: str) -> None:
        s = self.settings
        if len(texts) > s.max_texts:
            raise ApiError(
                413,
                f"{field}: {len(texts)} texts; the limit is {s.max_texts} per request "
                "(--max-texts); split the request",
                "too_many_texts",
            )
        long = [(i, len(t)) for i, t in enumerate(texts) if len(t) > s.max_chars]
        if long:
            fields = [
                {"field": f"{field}[{i}]", "problem": f"{n} characters; the limit is {s.max_chars}"}
                for i, n in long[:10]
            ]
            raise ApiError(
                413,
                f"{field}[{long[0][0]}]: {long[0][1]} characters; the limit is {s.max_chars} "
                f"per text (--max-chars); {len(long)} text(s) too long",
                "text_too_long",
                fields,
            )


def _threads(n: int | None):
    if n is None:
        return None

    def init():  # torch's thread count is per thread: set it in the model's own thread
        import torch

        torch.set_num_threads(n)

    return init


def _elastic_threads(n: int | None, workers: int):
    """A batch that computes alone gets the threads of every worker (``n * workers``): with
    one client the other workers' cores are idle (measured: a lone sentence took 12.4 ms p50
    on one thread, the naive server 7.4 ms on two). Back to ``n`` when batches overlap."""
    if n is None or workers <= 1:
        return None
    import threading

    local = threading.local()

    def on_start(alone: bool) -> None:
        want = n * workers if alone else n
        if getattr(local, "threads", n) != want:
            import torch

            torch.set_num_threads(want)
            local.threads = want

    return on_start


def _add_task_route(app: FastAPI, state: State, task, auth) -> None:
    """``POST task.route.path``: the request's items join the model's micro-batch; the
    predictor's ``predict_batch`` answers them; the route builds the response."""
    from tunewise.errors import UserError

    route = task.route

    def accepts(m: Served) -> bool:
        return m.kind == task.name

    async def endpoint(req):
        m = state.pick(accepts, task.name, req.model, route.path)
        for field, texts in route.texts(req) if route.texts else []:
            state.check_texts(texts, field)
        try:
            items = route.items(req)
        except UserError as e:
            raise ApiError(422, str(e)) from None
        results = await state.batchers[m.name].submit(items)
        state.metrics.items.labels(m.name).inc(len(items))
        try:
            body = route.respond(req, results)
        except UserError as e:  # an answer the predictor gave as an error value (unknown user)
            raise ApiError(422, str(e)) from None
        return {"model": m.name, **body}

    endpoint.__annotations__ = {"req": route.request}
    endpoint.__doc__ = route.summary
    endpoint.__name__ = f"{task.name}_endpoint"
    app.post(
        route.path,
        response_model=route.response,
        response_model_exclude_none=True,
        responses=ERRORS,
        dependencies=auth,
        summary=route.summary,
    )(endpoint)


def create_app(models: list[Served], settings: ServeSettings | None = None) -> FastAPI:
    """A FastAPI app answering for ``models`` (names must be unique)."""
    settings = settings or ServeSettings()
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        from tunewise.errors import UserError

        raise UserError(f"two served models share a name ({names}); name them with NAME=PATH")
    metrics = ServerMetrics()
    state = State(models, settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for m in models:
            depth = metrics.queue_depth.labels(m.name).set
            if m.generates:
                state.gates[m.name] = Gate(settings.max_queue, on_depth=depth)
            else:
                b = MicroBatcher(
                    m.run_batch,
                    settings.max_batch,
                    settings.max_wait_ms,
                    settings.max_queue,
                    on_batch=metrics.batch_size.labels(m.name).observe,
                    on_depth=depth,
                    init=_threads(settings.threads),
                    workers=settings.workers,
                    on_start=_elastic_threads(settings.threads, settings.workers)
                    if m.backend == "torch"
                    else None,
                )
                b.start()
                state.batchers[m.name] = b
        state.ready = True
        yield
        state.ready = False  # uvicorn has finished the requests in flight by now
        for b in state.batchers.values():
            await b.stop()

    app = FastAPI(
        title="tunewise",
        version=__version__,
        description="Fine-tuned models served by tunewise: one route per task, and generation.",
        lifespan=lifespan,
    )
    app.state.tunewise = state
    app.add_middleware(GuardMiddleware, settings=settings, metrics=metrics)
    install_error_handlers(app, settings)
    auth = [Depends(HTTPBearer(auto_error=False))] if settings.api_key else []

    from tunewise.tasks import TASKS

    for task in TASKS.values():  # each task's route, built from its description
        if task.route is not None and not task.route.generation:
            _add_task_route(app, state, task, auth)

    from tunewise.serve.generation import add_generation_routes

    add_generation_routes(app, state, auth, ERRORS)

    @app.get("/v1/models", response_model=ModelList, responses=ERRORS, dependencies=auth)
    async def list_models():
        """The models this server answers for, by name."""
        return {
            "data": [
                ModelInfo(
                    id=m.name,
                    kind=m.kind,
                    backend=m.backend,
                    path=m.path,
                    labels=m.labels,
                    **m.info(),
                )
                for m in models
            ]
        }

    @app.get("/healthz")
    async def healthz():
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"model": ErrorBody}})
    async def readyz():
        """Readiness: models loaded and batchers running (503 while starting or stopping)."""
        if not state.ready:
            return JSONResponse(
                {"error": {"code": 503, "type": "not_ready", "message": "not ready"}}, 503
            )
        return {"status": "ready", "models": list(state.models)}

    @app.get("/metrics", response_class=Response)
    async def prometheus_metrics():
        """Prometheus metrics: requests, latency, errors, batch sizes, queue depth."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
