"""Dynamic micro-batching: requests that arrive together run as one forward pass.

Each model has one batcher. A request puts its items (texts) in a bounded queue and awaits
its results. When no batch is computing, what waits runs at once (a lone client never waits
for company); while a batch computes, the next one gathers waiting requests until
``max_batch`` items are in it or the first has waited ``max_wait_ms``. Each batch runs the
model once in a worker thread (the model function sorts by length so padding stays small)
and hands each request its share.
Up to ``workers`` batches run at once, each in its own thread: while one batch computes, the
event loop answers the previous one and the next gathers, so a 2-core machine keeps both
cores busy (with one worker the server measured ~1 core of CPU at 32 concurrent clients).
Each worker is one thread of its own, and a batch takes the lowest-numbered free one: one
client's batches always run on the same thread. (With a shared pool any idle thread took the
next batch; the thread that had just finished kept its OpenMP team spinning while the other
computed, and the two competed for the cores: one client measured 17.7 ms p50 that way and
12.4 ms on one thread.)
``on_start(alone)`` runs in the worker thread before each batch: ``alone`` is true when no
other batch of this model computes, so the model may spread that batch over every core (one
client: the cores the other workers would use are idle) and go back to its share otherwise.
A full queue refuses new work at once (the caller answers 503 + Retry-After): memory stays
bounded however many clients connect. A batch that raises is rerun request by request, so a
request whose text breaks the model fails alone and the others batched with it are answered.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


class QueueFull(Exception):
    """The model's queue cannot take this request now; retry later."""


@dataclass
class _Job:
    items: list
    future: asyncio.Future


class MicroBatcher:
    """Merge concurrent requests into batches for ``fn(items) -> results`` (same length)."""

    def __init__(
        self,
        fn: Callable[[list], list],
        max_batch: int,
        max_wait_ms: float,
        max_queue: int,
        on_batch: Callable[[int], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
        init: Callable[[], None] | None = None,
        workers: int = 1,
        on_start: Callable[[bool], None] | None = None,
    ):
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.max_queue = max_queue
        self.on_batch = on_batch or (lambda n: None)
        self.on_depth = on_depth or (lambda n: None)
        self._jobs: collections.deque[_Job] = collections.deque()
        self.depth = 0  # items waiting (not yet running)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.workers = max(1, workers)
        self.on_start = on_start
        self._slots: asyncio.Semaphore | None = None
        self._running: set[asyncio.Task] = set()
        self._busy = 0  # batches computing (a worker's slot is released when it ends)
        # the model runs off the event loop, at most ``workers`` batches at a time, each on
        # a thread of its own; ``_free`` holds the numbers of the idle ones
        self._pools = [
            ThreadPoolExecutor(1, thread_name_prefix=f"tunewise-model-{i}", initializer=init)
            for i in range(self.workers)
        ]
        self._free = set(range(self.workers))

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self.workers)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._running:  # batches already running finish and answer their requests
            await asyncio.gather(*self._running, return_exceptions=True)
        for job in self._jobs:
            if not job.future.done():
                job.future.set_exception(QueueFull("server is shutting down"))
        for pool in self._pools:
            pool.shutdown(wait=True)

    async def submit(self, items: list) -> list:
        """Results for ``items`` in order; raises QueueFull when the queue is full."""
        if not items:
            return []
        if self.depth + len(items) > self.max_queue:
            raise QueueFull(f"{self.depth} texts already waiting (limit {self.max_queue})")
        job = _Job(list(items), asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self.depth += len(items)
        self.on_depth(self.depth)
        self._wake.set()
        return await job.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._slots.acquire()  # a worker is free: gather its batch
            try:
                while not self._jobs:
                    await self._wake.wait()
                    self._wake.clear()
                # an idle model runs what waits at once: waiting for company that may never
                # come only adds latency (one client: every request paid the whole window).
                # Only while another batch computes is it worth gathering for a moment.
                deadline = loop.time() + (self.max_wait if self._busy else 0.0)
                while self.depth < self.max_batch and (left := deadline - loop.time()) > 0:
                    try:
                        await asyncio.wait_for(self._wake.wait(), left)
                    except TimeoutError:
                        break
                    self._wake.clear()
            except BaseException:
                self._slots.release()
                raise
            # share what waits among the free workers, so that they all compute at once
            free = self.workers - self._busy  # >= 1: this worker's slot is held
            limit = min(self.max_batch, max(1, -(-self.depth // free)))
            jobs, n = [], 0
            while self._jobs and (not jobs or n + len(self._jobs[0].items) <= limit):
                job = self._jobs.popleft()
                jobs.append(job)
                n += len(job.items)
            self.depth -= n
            self.on_depth(self.depth)
            alone = self._busy == 0
            self._busy += 1
            worker = min(self._free)  # the lowest free worker: one client stays on one thread
            self._free.discard(worker)
            task = loop.create_task(self._execute(jobs, worker, alone))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _call(self, items: list, alone: bool) -> list:
        if self.on_start is not None:
            self.on_start(alone)
        return self.fn(items)

    async def _execute(self, jobs: list[_Job], worker: int, alone: bool = False) -> None:
        """Run one batch on worker thread ``worker`` and answer its requests; frees it."""
        pool = self._pools[worker]
        try:
            items = [x for job in jobs for x in job.items]
            self.on_batch(len(items))
            loop = asyncio.get_running_loop()
            try:
                results = await loop.run_in_executor(pool, self._call, items, alone)
                if len(results) != len(items):
                    raise RuntimeError(f"model returned {len(results)} results for {len(items)}")
            except Exception as e:
                if len(jobs) == 1:  # the failing request is this one alone
                    if not jobs[0].future.done():
                        jobs[0].future.set_exception(e)
                    return
                # one request's items failed the batch: run each request on its own, so
                # only the one that fails gets the error and the others are answered
                for job in jobs:
                    try:
                        part = await loop.run_in_executor(pool, self.fn, job.items)
                        if len(part) != len(job.items):
                            raise RuntimeError(
                                f"model returned {len(part)} results for {len(job.items)}"
                            )
                    except Exception as err:
                        if not job.future.done():
                            job.future.set_exception(err)
                        continue
                    if not job.future.done():
                        job.future.set_result(part)
                return
            at = 0
            for job in jobs:
                k = len(job.items)
                if not job.future.done():  # a client that went away leaves a cancelled future
                    job.future.set_result(results[at : at + k])
                at += k
        finally:
            self._busy -= 1
            self._free.add(worker)
            self._slots.release()


class Gate:
    """One generation at a time per model, with a bounded number of requests waiting.

    ``acquire`` before generating and ``release`` when the (possibly streamed) answer is done.
    """

    def __init__(self, max_waiting: int, on_depth: Callable[[int], None] | None = None):
        self.max_waiting = max_waiting
        self.on_depth = on_depth or (lambda n: None)
        self.waiting = 0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.waiting >= self.max_waiting:
            raise QueueFull(f"{self.waiting} requests already waiting (limit {self.max_waiting})")
        self.waiting += 1
        self.on_depth(self.waiting)
        try:
            await self._lock.acquire()
        finally:
            self.waiting -= 1
            self.on_depth(self.waiting)

    def release(self) -> None:
        if self._lock.locked():
            self._lock.release()
