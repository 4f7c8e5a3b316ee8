"""Progress of the steps after training: what runs, how far it is, when it should end.

After the last training step a run computes baselines, intervals, calibration, label issues
and a reload check; on a loaded machine that took minutes with nothing printed, and looked
like a hang. Each such step is wrapped in :func:`step`: it says what starts, reports how far
it is (with an ETA) at most every few seconds while it runs, and records its duration, which
the run keeps in ``metrics.json`` (``timings``). Lines go to the sink the run sets
(:func:`set_sink`); with none set nothing is printed and only the durations are kept.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable

EVERY_S = 5.0
"""Least seconds between two progress lines of one step."""

_local = threading.local()
_timings: dict[str, float] = {}


def set_sink(echo: Callable[[str], None] | None) -> None:
    """Send progress lines to ``echo`` (None: silent) and start a new set of timings."""
    _local.sink = echo
    _timings.clear()


def take_timings() -> dict[str, float]:
    """Seconds per step since :func:`set_sink`, rounded (and cleared)."""
    out = {k: round(v, 2) for k, v in _timings.items()}
    _timings.clear()
    return out


def _emit(line: str) -> None:
    sink = getattr(_local, "sink", None)
    if sink is not None:
        sink(line)


class Ticker:
    """Reports ``done of total`` with an ETA, at most every :data:`EVERY_S` seconds."""

    def __init__(self, what: str):
        self.what, self.t0, self.last = what, time.perf_counter(), time.perf_counter()

    def tick(self, done: int, total: int, unit: str = "") -> None:
        now = time.perf_counter()
        if now - self.last < EVERY_S or done <= 0 or done >= total:
            return
        self.last = now
        eta = (now - self.t0) / done * (total - done)
        _emit(f"  {self.what}: {done}/{total}{' ' + unit if unit else ''}, ETA {eta:.0f}s")


@contextlib.contextmanager
def step(what: str, cost: str = ""):
    """Announce ``what`` (with its expected ``cost``), yield a :class:`Ticker`, and record
    (and print) how long it took."""
    _emit(f"{what}{f' ({cost})' if cost else ''}...")
    ticker = Ticker(what)
    outer = getattr(_local, "ticker", None)
    _local.ticker = ticker
    try:
        yield ticker
    finally:
        _local.ticker = outer
        seconds = time.perf_counter() - ticker.t0
        _timings[what] = _timings.get(what, 0.0) + seconds
        if seconds >= 1.0:
            _emit(f"{what}: done in {seconds:.1f}s")


def timed(what: str, cost: str = ""):
    """Decorator: run the function inside :func:`step`."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with step(what, cost):
                return fn(*args, **kwargs)

        return inner

    return wrap


def current_ticker() -> Ticker | None:
    """The innermost running step's ticker (for loops deep inside a step)."""
    return getattr(_local, "ticker", None)
