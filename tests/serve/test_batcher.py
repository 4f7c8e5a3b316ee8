"""The micro-batcher on its own: merging, order, backpressure, failures."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tunewise.serve.batcher import Gate, MicroBatcher, QueueFull


def test_concurrent_requests_merge_into_one_batch_in_order():
    batches = []

    def fn(items):
        batches.append(list(items))
        return [x * 10 for x in items]

    async def main():
        b = MicroBatcher(fn, max_batch=16, max_wait_ms=50, max_queue=100)
        b.start()
        outs = await asyncio.gather(*(b.submit([i, i + 100]) for i in range(6)))
        await b.stop()
        return outs

    outs = asyncio.run(main())
    assert outs == [[i * 10, (i + 100) * 10] for i in range(6)]
    assert len(batches) == 1 and len(batches[0]) == 12


def test_batches_never_exceed_max_batch_and_every_item_runs_once():
    seen = []

    def fn(items):
        assert len(items) <= 4
        seen.extend(items)
        return items

    async def main():
        b = MicroBatcher(fn, max_batch=4, max_wait_ms=5, max_queue=100)
        b.start()
        outs = await asyncio.gather(*(b.submit([i]) for i in range(30)))
        await b.stop()
        return outs

    assert asyncio.run(main()) == [[i] for i in range(30)]
    assert sorted(seen) == list(range(30))


def test_full_queue_refuses_at_once_and_errors_reach_only_their_batch():
    gate = threading.Event()

    def fn(items):
        gate.wait(5)
        if "boom" in items:
            raise ValueError("boom")
        return items

    async def main():
        b = MicroBatcher(fn, max_batch=1, max_wait_ms=0, max_queue=2)
        b.start()
        first = asyncio.ensure_future(b.submit(["a"]))
        await asyncio.sleep(0.05)  # "a" is running; the queue holds 2 more texts
        second = asyncio.ensure_future(b.submit(["boom"]))
        third = asyncio.ensure_future(b.submit(["c"]))
        await asyncio.sleep(0.01)
        t0 = time.perf_counter()
        with pytest.raises(QueueFull):
            await b.submit(["d"])
        assert time.perf_counter() - t0 < 0.05
        gate.set()
        assert await first == ["a"]
        with pytest.raises(ValueError):
            await second
        assert await third == ["c"]
        await b.stop()

    asyncio.run(main())


def test_gate_bounds_waiting_generations():
    async def main():
        g = Gate(max_waiting=1)
        await g.acquire()
        waiter = asyncio.ensure_future(g.acquire())
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFull):
            await g.acquire()
        g.release()
        await waiter
        g.release()

    asyncio.run(main())
