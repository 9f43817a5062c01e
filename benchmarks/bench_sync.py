"""Benchmarks of the sync package beside asyncio's equivalents.

    uncontended lock/unlock   Mutex fast path            vs asyncio.Lock
    mutex contention          8 workers, yield inside    vs asyncio.Lock + sleep(0)
    waitgroup fan-out         N goroutines + wg.wait()   vs N tasks + a countdown Event

Run `python benchmarks/bench_sync.py` (with src on PYTHONPATH) to print the rows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import goroutines

Row = tuple[str, str, float]


def _per_op(ops: int, fn: Callable[[], int]) -> float:
    """ns per op, best of 3: fn runs `ops` operations and returns the ns they took.

    The workloads time themselves inside the event loop or runtime, so that
    starting and stopping it (threads for goroutines.run) is not counted.
    """
    return min(fn() for _ in range(3)) / ops


def _uncontended(n: int) -> list[Row]:
    async def gor() -> int:
        mu = goroutines.Mutex()
        t0 = time.perf_counter_ns()
        for _ in range(n):
            await mu.lock()
            mu.unlock()
        return time.perf_counter_ns() - t0

    async def aio() -> int:
        mu = asyncio.Lock()
        t0 = time.perf_counter_ns()
        for _ in range(n):
            await mu.acquire()
            mu.release()
        return time.perf_counter_ns() - t0

    w = "uncontended lock/unlock"
    return [
        (w, "goroutines", _per_op(n, lambda: goroutines.run(gor, gomaxprocs=1))),
        (w, "asyncio", _per_op(n, lambda: asyncio.run(aio()))),
    ]


def _contention(workers: int, n: int) -> list[Row]:
    async def gor() -> int:
        mu = goroutines.Mutex()
        wg = goroutines.WaitGroup()
        count = [0]

        async def worker() -> None:
            for _ in range(n):
                async with mu:
                    count[0] += 1
                    await goroutines.gosched()
            wg.done()

        t0 = time.perf_counter_ns()
        for _ in range(workers):
            wg.add(1)
            goroutines.go(worker)
        await wg.wait()
        assert count[0] == workers * n
        return time.perf_counter_ns() - t0

    async def aio() -> int:
        mu = asyncio.Lock()
        count = [0]

        async def worker() -> None:
            for _ in range(n):
                async with mu:
                    count[0] += 1
                    await asyncio.sleep(0)

        t0 = time.perf_counter_ns()
        await asyncio.gather(*(worker() for _ in range(workers)))
        assert count[0] == workers * n
        return time.perf_counter_ns() - t0

    w = f"mutex contention ({workers} workers, yield inside)"
    ops = workers * n
    return [
        (w, "goroutines", _per_op(ops, lambda: goroutines.run(gor, gomaxprocs=1))),
        (w, "asyncio", _per_op(ops, lambda: asyncio.run(aio()))),
    ]


def _fanout(n: int) -> list[Row]:
    async def gor() -> int:
        wg = goroutines.WaitGroup()

        async def leaf() -> None:
            wg.done()

        t0 = time.perf_counter_ns()
        for _ in range(n):
            wg.add(1)
            goroutines.go(leaf)
        await wg.wait()
        return time.perf_counter_ns() - t0

    async def aio() -> int:
        left = [n]
        done = asyncio.Event()

        async def leaf() -> None:
            left[0] -= 1
            if left[0] == 0:
                done.set()

        t0 = time.perf_counter_ns()
        tasks = [asyncio.create_task(leaf()) for _ in range(n)]
        await done.wait()
        elapsed = time.perf_counter_ns() - t0
        await asyncio.gather(*tasks)
        return elapsed

    w = "waitgroup fan-out (per goroutine)"
    return [
        (w, "goroutines", _per_op(n, lambda: goroutines.run(gor, gomaxprocs=1))),
        (w, "asyncio", _per_op(n, lambda: asyncio.run(aio()))),
    ]


def run(quick: bool = False) -> list[Row]:
    """Rows of (workload, implementation, ns_per_op); quick takes a few seconds at most."""
    scale = 1 if quick else 10
    return [
        *_uncontended(20_000 * scale),
        *_contention(8, 500 * scale),
        *_fanout(5_000 * scale),
    ]


if __name__ == "__main__":
    for workload, impl, ns in run():
        print(f"{workload:45} {impl:12} {ns:10.0f} ns/op")
