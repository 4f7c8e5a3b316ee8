"""JSON under /api: runs, a run, its live curve (server-sent events), jobs, data, compare,
the playground. Errors are ``{"error": {...}}`` with a 4xx status, as `tunewise serve` sends."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from tunewise.errors import UserError
from tunewise.serve.http import ApiError
from tunewise.studio import newrun, playground, runview
from tunewise.studio.compare import compare as compare_runs
from tunewise.studio.jobs import cli_line
from tunewise.studio.runs import curve_points, list_runs

router = APIRouter(prefix="/api")
TUNEWISE = [sys.executable, "-m", "tunewise"]
DOCTOR_TIMEOUT_S = 300


def _studio(request: Request):
    return request.app.state.studio


def _user(fn, *args, **kw):
    """Call ``fn``; a UserError (a bad file, a bad name) becomes a 400 with its line."""
    try:
        return fn(*args, **kw)
    except UserError as e:
        raise ApiError(400, str(e)) from None


# -- runs ---------------------------------------------------------------------------------
@router.get("/runs")
def runs(request: Request, status: str | None = None, q: str | None = None, sort: str = "id",
         order: str = "desc"):  # fmt: skip
    """Every run in the registry: task, model, method, data, status, headline with interval
    and baselines; ``status``, ``q`` (text) filter; ``sort`` by a column, ``order`` asc|desc."""
    if order not in ("asc", "desc"):
        raise ApiError(422, f"order: asc or desc, not {order!r}")
    studio = _studio(request)
    try:
        found = list_runs(studio.registry, status, q, sort, order == "desc")
    except ValueError as e:
        raise ApiError(422, str(e)) from None
    active = [j for j in studio.jobs.jobs() if j["state"] in ("queued", "running")]
    return {"runs": found, "jobs": active, "registry": str(studio.registry.path)}


@router.get("/runs/{run_id}")
def run(request: Request, run_id: int):
    studio = _studio(request)
    row = studio.run(run_id)
    return runview.run_detail(row, studio.jobs.for_run(row["path"]))


@router.get("/runs/{run_id}/predictions")
def predictions(request: Request, run_id: int, split: str = "test", errors: bool = True):
    if split not in ("dev", "test"):
        raise ApiError(422, f"split: dev or test, not {split!r}")
    return runview.predictions(Path(_studio(request).run(run_id)["path"]), split, errors)


@router.get("/runs/{run_id}/curve")
async def curve(request: Request, run_id: int):
    """Server-sent events: the new records of the run's ``train_log.jsonl`` as they are
    written (read from the last offset, never the whole file again), then ``end``."""
    from tunewise.rundir import RunDir

    path = Path(_studio(request).run(run_id)["path"])
    start = request.headers.get("last-event-id") or request.query_params.get("offset") or "0"
    offset = int(start) if start.isdigit() else 0

    async def events():
        nonlocal offset
        while True:
            records, offset = curve_points(path, offset)
            if records:
                yield f"id: {offset}\ndata: {json.dumps(records)}\n\n"
            status = RunDir(path).status()
            if status != "running" and not records:
                yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.5)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})  # fmt: skip


@router.post("/runs/{run_id}/stop")
def stop(request: Request, run_id: int):
    """Stop a running run's job (SIGINT to its process group: the run records interrupted)."""
    studio = _studio(request)
    row = studio.run(run_id)
    job = studio.jobs.for_run(row["path"])
    if job is None or job["state"] not in ("queued", "running"):
        raise ApiError(409, f"run {run_id} has no queued or running job of this studio")
    return {"job": studio.jobs.cancel(job["id"]), "command": "Ctrl-C in its terminal"}


@router.post("/runs/{run_id}/resume")
def resume(request: Request, run_id: int):
    studio = _studio(request)
    row = studio.run(run_id)
    if row["status"] not in ("interrupted", "failed"):
        raise ApiError(
            409, f"run {run_id} is {row['status']}; only an interrupted or failed run resumes"
        )
    job = studio.jobs.submit("train", [*TUNEWISE, "train", "--resume", row["path"]], row["path"])
    return {"job": job, "command": job["command"]}


class ExportRequest(BaseModel):
    format: str = Field("onnx", pattern="^(hf|onnx)$")
    int8: bool = False
    merge: bool = False


@router.post("/runs/{run_id}/export")
def export(request: Request, run_id: int, req: ExportRequest):
    """Queue `tunewise export` (its parity check is recorded in the run's exports/)."""
    studio = _studio(request)
    row = studio.run(run_id)
    if row["status"] != "completed":
        raise ApiError(409, f"run {run_id} is {row['status']}; only a completed run exports")
    name = f"{req.format}{'-int8' if req.int8 else ''}{'-merged' if req.merge else ''}"
    argv = [*TUNEWISE, "export", row["path"], "--format", req.format,
            "--out", str(Path(row["path"]) / "exports" / name)]  # fmt: skip
    argv += ["--quantize", "int8"] * req.int8 + ["--merge"] * req.merge
    job = studio.jobs.submit("export", argv, None)
    return {"job": job, "command": job["command"]}


@router.post("/runs/{run_id}/serve")
def serve(request: Request, run_id: int, port: int = 8000):
    """Start `tunewise serve RUN` on loopback as a job (stopped like any job)."""
    if not 1024 <= port <= 65535:
        raise ApiError(422, f"port: 1024 to 65535, not {port}")
    studio = _studio(request)
    row = studio.run(run_id)
    argv = [*TUNEWISE, "serve", row["path"], "--host", "127.0.0.1", "--port", str(port)]
    job = studio.jobs.submit("serve", argv, None)
    return {"job": job, "command": job["command"], "url": f"http://127.0.0.1:{port}/docs"}


# -- jobs and new runs --------------------------------------------------------------------
@router.get("/jobs")
def jobs(request: Request):
    return {"jobs": _studio(request).jobs.jobs()}


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: int):
    job = _studio(request).jobs.cancel(job_id)
    if job is None:
        raise ApiError(404, f"no job {job_id}", "not_found")
    return {"job": job}


@router.get("/settings")
def settings():
    """The form's choices and each setting's default with its reason."""
    return {**newrun.choices(), "settings": newrun.settings_help(),
            "datasets": newrun.packaged_datasets()}  # fmt: skip


@router.post("/datasets/{name}")
async def packaged(request: Request, name: str):
    """Write a packaged dataset's splits (once) and preview its train file."""
    files = await run_in_threadpool(_user, newrun.materialize, name, _studio(request).workdir)
    return {"files": files, "preview": _user(newrun.preview, files["train"]),
            "command": f"tunewise data get {name} --out DIR"}  # fmt: skip


@router.post("/upload")
async def upload(request: Request, filename: str):
    """The request body is the file (sent as is, no multipart); returns its path and preview."""
    body = await request.body()
    path = _user(newrun.save_upload, _studio(request).workdir, filename, body)
    return {"path": str(path), "preview": _user(newrun.preview, path)}


@router.get("/preview")
def preview(path: str):
    return _user(newrun.preview, path)


def _out(studio, form: newrun.NewRun) -> Path:
    out = studio.workdir / "runs" / form.name
    if out.exists():
        raise ApiError(409, f"name: a run named {form.name!r} exists ({out}); choose another")
    return out


@router.post("/doctor")
async def doctor(request: Request, form: newrun.NewRun):
    """Run `tunewise doctor` on the form's data (the checks training runs first)."""
    import subprocess

    studio = _studio(request)
    with tempfile.TemporaryDirectory(dir=studio.workdir) as tmp:
        argv = newrun.doctor_argv(form, Path(tmp))
        proc = await run_in_threadpool(
            subprocess.run, argv, capture_output=True, text=True, timeout=DOCTOR_TIMEOUT_S,
            env=studio.jobs.env,
        )  # fmt: skip
        report = Path(tmp) / "doctor.json"
        if not report.is_file():
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            raise ApiError(400, lines[-1] if lines else "the doctor did not run")
        found = json.loads(report.read_text(encoding="utf-8"))
    return {"findings": found.get("findings", []), "errors": found.get("errors", []),
            "command": cli_line(argv).replace(f" --out {tmp}", "")}  # fmt: skip


@router.post("/command")
def command(request: Request, body: dict):
    """The `tunewise train` line the form would launch (shown while the form is being filled:
    an incomplete form is answered with what is missing, not refused)."""
    from pydantic import ValidationError

    try:
        form = newrun.NewRun.model_validate(body)
    except ValidationError as e:
        missing = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        return {"command": None, "incomplete": missing}
    out = _studio(request).workdir / "runs" / form.name
    return {"command": cli_line(newrun.train_argv(form, out))}


@router.post("/jobs")
def launch(request: Request, form: newrun.NewRun):
    """Queue `tunewise train` for the form; the run appears in the registry when it starts."""
    studio = _studio(request)
    if not Path(form.train).is_file():  # before queueing: a job that cannot start helps nobody
        raise ApiError(400, f"train: {form.train}: file not found")
    out = _out(studio, form)
    job = studio.jobs.submit("train", newrun.train_argv(form, out), out)
    return {"job": job, "command": job["command"], "run_path": str(out)}


# -- compare and playground ---------------------------------------------------------------
@router.get("/compare")
async def compare(request: Request, ids: str):
    """Two or more runs side by side (``ids=3,5``: 3 is the reference)."""
    try:
        wanted = [int(x) for x in ids.split(",") if x.strip()]
    except ValueError:
        raise ApiError(422, f"ids: run ids separated by commas, not {ids!r}") from None
    if len(wanted) < 2:
        raise ApiError(422, "ids: give at least two runs")
    studio = _studio(request)
    rows = [studio.run(i) for i in wanted]
    return await run_in_threadpool(compare_runs, rows)


class PredictRequest(BaseModel):
    run: int
    text: str = Field(min_length=1, max_length=10_000)


def _finished(studio, run_id: int) -> dict:
    row = studio.run(run_id)
    if row["status"] != "completed":
        raise ApiError(409, f"run {run_id} is {row['status']}; only a completed run predicts")
    return row


@router.post("/predict")
async def predict(request: Request, req: PredictRequest):
    studio = _studio(request)
    row = _finished(studio, req.run)
    out = await run_in_threadpool(
        _user, playground.predict, studio.predictors, row["path"], req.text
    )
    return {"run": req.run, "generates": playground.generates(row["path"]), **out}


class ChatRequest(BaseModel):
    run: int
    messages: list[dict] = Field(min_length=1, max_length=50)
    max_new_tokens: int = Field(128, ge=1, le=512)


@router.post("/chat")
async def chat(request: Request, req: ChatRequest):
    """Server-sent events: an sft run's answer, chunk by chunk as tokens are generated."""
    studio = _studio(request)
    row = _finished(studio, req.run)
    if not playground.generates(row["path"]):
        raise ApiError(409, f"run {req.run} does not generate text; use /api/predict")
    chunks = playground.stream_chat(
        studio.predictors, row["path"], req.messages, req.max_new_tokens
    )

    async def events():
        done = object()
        while True:
            chunk = await run_in_threadpool(next, chunks, done)
            if chunk is done:
                yield "event: end\ndata: {}\n\n"
                return
            yield f"data: {json.dumps(chunk)}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
