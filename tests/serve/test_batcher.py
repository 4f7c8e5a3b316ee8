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


def test_an_idle_model_runs_a_lone_request_at_once():
    # a window of 2 s that a lone request would have to sit out if the batcher always waited
    def fn(items):
        return items

    async def main():
        b = MicroBatcher(fn, max_batch=32, max_wait_ms=2000, max_queue=100)
        b.start()
        t0 = time.perf_counter()
        for i in range(5):  # one client, one request after the other
            assert await b.submit([i]) == [i]
        took = time.perf_counter() - t0
        await b.stop()
        return took

    assert asyncio.run(main()) < 0.5


def test_a_batch_alone_is_told_so_and_overlapping_batches_are_not():
    # the server gives a lone batch every worker's threads: on_start(alone) must say whether
    # another batch of the model computes at the same time
    gate, seen = threading.Event(), []

    def on_start(alone):
        seen.append(alone)

    def fn(items):
        if items == ["slow"]:
            gate.wait(5)
        return items

    async def main():
        b = MicroBatcher(fn, 8, max_wait_ms=0, max_queue=100, workers=2, on_start=on_start)
        b.start()
        assert await b.submit(["one"]) == ["one"]  # idle model: alone
        slow = asyncio.ensure_future(b.submit(["slow"]))  # alone, then held
        while len(seen) < 2:
            await asyncio.sleep(0.01)
        assert await b.submit(["beside"]) == ["beside"]  # overlaps the held batch
        gate.set()
        assert await slow == ["slow"]
        await b.stop()

    asyncio.run(main())
    assert seen == [True, True, False]


def test_elastic_threads_widen_a_lone_batch_and_narrow_overlapping_ones():
    torch = pytest.importorskip("torch")
    from tunewise.serve.app import _elastic_threads

    on_start = _elastic_threads(1, 2)
    got = []

    def run():  # in a thread of its own, as the batcher's workers do
        torch.set_num_threads(1)
        for alone in (True, False, True):
            on_start(alone)
            got.append(torch.get_num_threads())

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert got == [2, 1, 2]
    assert _elastic_threads(1, 1) is None and _elastic_threads(None, 2) is None


def test_requests_arriving_while_a_batch_computes_gather_into_the_next():
    gate, batches = threading.Event(), []

    def fn(items):
        batches.append(list(items))
        if items == ["first"]:
            gate.wait(5)
        return items

    async def main():
        b = MicroBatcher(fn, max_batch=8, max_wait_ms=300, max_queue=100, workers=2)
        b.start()
        first = asyncio.ensure_future(b.submit(["first"]))
        await asyncio.sleep(0.05)  # "first" computes; the second worker gathers what comes
        rest = []
        for i in range(4):
            rest.append(asyncio.ensure_future(b.submit([i])))
            await asyncio.sleep(0.02)
        assert [await r for r in rest] == [[i] for i in range(4)]
        gate.set()
        await first
        await b.stop()

    asyncio.run(main())
    assert batches == [["first"], [0, 1, 2, 3]]


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


@pytest.mark.parametrize("workers", [1, 2])
def test_waves_of_requests_are_all_answered(workers):
    """Request after request while batches finish (the server's steady state); a worker's
    slot coming free before its batch's bookkeeping ends must not stop the batcher."""

    def fn(items):
        time.sleep(0.002)
        return [x + 1 for x in items]

    async def client(b, k):
        return [(await b.submit([k * 100 + j]))[0] for j in range(20)]

    async def main():
        b = MicroBatcher(fn, max_batch=8, max_wait_ms=1, max_queue=100, workers=workers)
        b.start()
        outs = await asyncio.wait_for(asyncio.gather(*(client(b, k) for k in range(8))), 20)
        await b.stop()
        return outs

    assert asyncio.run(main()) == [[k * 100 + j + 1 for j in range(20)] for k in range(8)]


def test_two_workers_share_waiting_requests_and_compute_at_once():
    """With 2 workers, 16 waiting texts run as two batches of 8 at the same time (both
    cores busy), not as one batch of 16 while the other worker idles."""
    running, peak, sizes = 0, 0, []
    lock = threading.Lock()

    def fn(items):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            sizes.append(len(items))
        time.sleep(0.2)
        with lock:
            running -= 1
        return items

    async def main():
        b = MicroBatcher(fn, max_batch=32, max_wait_ms=20, max_queue=100, workers=2)
        b.start()
        outs = await asyncio.gather(*(b.submit([i]) for i in range(16)))
        await b.stop()
        return outs

    assert asyncio.run(main()) == [[i] for i in range(16)]
    assert peak == 2
    assert sorted(sizes) == [8, 8]


def test_a_lone_client_always_runs_on_the_same_worker_thread():
    """One client's batches take the lowest free worker, so they all run on one thread (with
    a shared pool they alternated between threads, and the idle one's OpenMP team competed
    with the working one for the cores)."""
    threads = []

    def fn(items):
        threads.append(threading.current_thread().name)
        time.sleep(0.002)
        return items

    async def main():
        b = MicroBatcher(fn, max_batch=8, max_wait_ms=1, max_queue=100, workers=2)
        b.start()
        for i in range(30):  # one client: one request after the other
            assert await b.submit([i]) == [i]
        # two at once still use both workers
        await asyncio.gather(b.submit(["a"]), b.submit(["b"]))
        await b.stop()

    asyncio.run(main())
    assert len(set(threads[:30])) == 1, set(threads[:30])
    assert threads[0].startswith("tunewise-model-0")
