"""Pages for people: server-rendered HTML (Jinja2), small vanilla JS for what moves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse

from tunewise.errors import UserError
from tunewise.serve.http import ApiError
from tunewise.studio import newrun, playground, runview
from tunewise.studio.compare import compare as compare_runs
from tunewise.studio.runs import SORT_KEYS, list_runs

router = APIRouter()
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["tojson_attr"] = lambda v: json.dumps(v)
STATUSES = ("running", "completed", "interrupted", "failed", "pruned")


def _page(request: Request, name: str, **ctx) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"page": name.removesuffix(".html"), **ctx})


@router.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request, status: str = "", q: str = "", sort: str = "id", order: str = "desc"
):
    studio = request.app.state.studio
    sort = sort if sort in SORT_KEYS else "id"
    found = list_runs(studio.registry, status or None, q or None, sort, order != "asc")
    cli_line = (
        "tunewise runs ls"
        + (f" --status {status}" if status else "")
        + (f" --filter {q}" if q else "")
    )
    return _page(
        request,
        "runs.html",
        runs=found,
        jobs=[j for j in studio.jobs.jobs() if j["state"] in ("queued", "running")],
        statuses=STATUSES,
        sort_keys=SORT_KEYS,
        f={"status": status, "q": q, "sort": sort, "order": order},
        registry=studio.registry.path,
        cli_line=cli_line,
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: int):
    studio = request.app.state.studio
    row = studio.run(run_id)
    detail = runview.run_detail(row, studio.jobs.for_run(row["path"]))
    return _page(request, "run.html", run=detail)


@router.get("/runs/{run_id}/report.html")
def report(request: Request, run_id: int):
    """The run's own report.html, as `tunewise report` wrote it (embedded in the run page)."""
    path = Path(request.app.state.studio.run(run_id)["path"]) / "report.html"
    if not path.is_file():
        raise ApiError(
            404, f"run {run_id} has no report.html yet (tunewise report RUN)", "not_found"
        )
    # the report runs no script of its own: keep it that way inside the studio's origin
    return FileResponse(path, headers={"Content-Security-Policy": "sandbox; script-src 'none'"})


@router.get("/new", response_class=HTMLResponse)
def new_page(request: Request):
    return _page(
        request, "new.html", choices=newrun.choices(), help=newrun.settings_help(),
        datasets=newrun.packaged_datasets(),
    )  # fmt: skip


@router.get("/watch/{job_id}", response_class=HTMLResponse)
def watch(request: Request, job_id: int):
    """A launched job: its run's page once the run is recorded, else its state and log."""
    studio = request.app.state.studio
    job = studio.jobs.get(job_id)
    if job is None:
        raise ApiError(404, f"no job {job_id}", "not_found")
    if job["run_path"]:
        for r in studio.registry.runs():
            if r["path"] == str(Path(job["run_path"]).resolve()):
                return RedirectResponse(f"/runs/{r['id']}", status_code=303)
    log = ""
    if job["log"] and Path(job["log"]).is_file():
        log = "\n".join(Path(job["log"]).read_text(errors="replace").splitlines()[-30:])
    return _page(request, "watch.html", job=job, log=log)


def _ids(ids: str | None, id_list: list[int]) -> list[int]:
    out = list(id_list)
    for part in (ids or "").split(","):
        if part.strip().isdigit():
            out.append(int(part))
    return list(dict.fromkeys(out))


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    ids: str | None = None,
    id: Annotated[list[int], Query()] = [],  # noqa: B006
):
    studio = request.app.state.studio
    wanted = _ids(ids, id)
    runs = [r for r in studio.registry.runs() if r["status"] == "completed"]
    result = compare_runs([studio.run(i) for i in wanted]) if len(wanted) >= 2 else None
    return _page(request, "compare.html", result=result, runs=runs, chosen=wanted)


@router.get("/playground", response_class=HTMLResponse)
def playground_page(request: Request, a: int | None = None, b: int | None = None):
    studio = request.app.state.studio
    runs = [r for r in studio.registry.runs() if r["status"] == "completed"]
    for r in runs:
        try:
            r["generates"] = playground.generates(r["path"])
        except (UserError, OSError):  # no model directory: not a run the playground can ask
            r["generates"] = None
    runs = [r for r in runs if r["generates"] is not None]
    return _page(request, "playground.html", runs=runs, a=a, b=b)
