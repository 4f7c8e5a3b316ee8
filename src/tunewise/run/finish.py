"""The end of every run: metrics.json, the report, the trackers' final figures, completion."""

from __future__ import annotations

import shutil
import time

from tunewise.rundir import RunDir, write_json


def write_report(run_path):
    """The run's report, with the sections its task adds (``Task.report_sections``)."""
    from tunewise.errors import UserError
    from tunewise.evaluation.report import write_report as write
    from tunewise.evaluation.report_data import load_run
    from tunewise.tasks import get_task

    data = load_run(run_path)
    name = (data.metrics or {}).get("task") or (data.config.get("task") or {}).get("type")
    sections = []
    if isinstance(name, str):
        try:
            sections = get_task(name).report_sections(data)
        except UserError:  # a task no longer registered: the common sections still render
            sections = []
    from tunewise.run.report_continual import continual_sections

    return write(run_path, [*sections, *continual_sections(data)])


def finish(run: RunDir, metrics: dict, echo, tracker=None) -> None:
    """Write metrics.json, drop the checkpoints, mark the run completed, write the report and
    hand the final figures to the trackers (the runner closes them and records the run)."""
    write_json(run.metrics, metrics)
    shutil.rmtree(run.checkpoints, ignore_errors=True)
    from tunewise.integrity import write_manifest

    write_manifest(run.model)  # sizes and hashes: loading names a damaged file
    run.set_status("completed", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    html, md = write_report(run.path)
    echo(f"report: {html}")
    if tracker:
        from tunewise.registry.store import summary_metrics

        tracker.final(summary_metrics(metrics), [html, md], run.model)


def log_sinks(tracker, on_log):
    """One callable that hands a training-log record to the trackers and to ``on_log``."""
    if not tracker and not on_log:
        return None

    def sink(rec: dict) -> None:
        if tracker:
            tracker.step(rec)
        if on_log:
            on_log(rec)

    return sink
