"""The studio's FastAPI app: pages for people, the same data as JSON under /api."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tunewise.registry import Registry
from tunewise.serve.http import ApiError, install_error_handlers
from tunewise.serve.settings import ServeSettings
from tunewise.studio.auth import TokenMiddleware
from tunewise.studio.jobs import JobQueue
from tunewise.studio.playground import Predictors

HERE = Path(__file__).parent


@dataclass
class Studio:
    """What every route shares: the registry, the job queue, the work folder, the models."""

    registry: Registry
    jobs: JobQueue
    workdir: Path
    token: str | None = None
    predictors: Predictors = field(default_factory=Predictors)

    def run(self, run_id: int) -> dict:
        """The registry row of run ``run_id``; a 404 when there is none."""
        from tunewise.errors import UserError

        try:
            return self.registry.get(str(run_id))
        except UserError as e:
            raise ApiError(404, str(e), "not_found") from None


def make_studio(
    registry_path: str | Path | None = None,
    workdir: str | Path | None = None,
    token: str | None = None,
    slots: int = 1,
) -> Studio:
    """A studio on the registry file (default: ``$TUNEWISE_REGISTRY`` or ~/.tunewise/runs.db);
    its jobs, uploads, datasets and new runs live in ``workdir`` (default: ``studio/`` beside
    the registry)."""
    registry = Registry(registry_path)
    work = Path(workdir) if workdir else registry.path.parent / "studio"
    work.mkdir(parents=True, exist_ok=True)
    # jobs record their runs in this registry, whatever the environment of a later studio
    env = {**os.environ, "TUNEWISE_REGISTRY": str(registry.path), "PYTHONUNBUFFERED": "1"}
    src = str(Path(__file__).resolve().parents[2])
    if src not in env.get("PYTHONPATH", "").split(os.pathsep):  # the same tunewise as the studio
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    jobs = JobQueue(work / "jobs.db", work / "logs", slots=slots, env=env)
    return Studio(registry=registry, jobs=jobs, workdir=work, token=token)


def create_app(studio: Studio) -> FastAPI:
    """The app: pages (``pages.py``), JSON (``api.py``), vendored static files, the token."""
    from tunewise.studio import api, pages

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        studio.jobs.start()
        yield
        studio.jobs.stop()  # jobs keep running; the next studio picks them up

    app = FastAPI(
        title="tunewise studio",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.state.studio = studio
    install_error_handlers(app, ServeSettings())
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_middleware(TokenMiddleware, token=studio.token)
    return app
