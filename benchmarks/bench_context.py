"""Benchmarks of context and atomic beside asyncio's equivalents.

    with_timeout + cancel     a context with a deadline (one runtime timer),
                              then cancelled                vs asyncio.timeout() enter/exit
    with_cancel + cancel      a cancellable child of a long-lived parent
                                                            vs asyncio.timeout(None) enter/exit
    counter increment         atomic.Int.add, and a Mutex around `n += 1`
                                                            vs asyncio.Lock around `n += 1`
    counter, 4 goroutines     the same from 4 goroutines on 4 Ps (contended without the GIL)

Run `python benchmarks/bench_context.py` (with src on PYTHONPATH) to print the rows.
"""

from __future__ import annotations

import asyncio
import time

import goroutines
from goroutines import atomic, context

Row = tuple[str, str, float]


def _timeout(n: int) -> list[Row]:
    async def gor() -> int:
        bg = context.background()
        t0 = time.perf_counter_ns()
        for _ in range(n):
            _, cancel = context.with_timeout(bg, 60)
            cancel()
        return time.perf_counter_ns() - t0

    async def aio() -> int:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            async with asyncio.timeout(60):
                pass
        return time.perf_counter_ns() - t0

    w = "with_timeout + cancel"
    return [
        (w, "goroutines", goroutines.run(gor, gomaxprocs=1) / n),
        (w, "asyncio", asyncio.run(aio()) / n),
    ]


def _cancel(n: int) -> list[Row]:
    async def gor() -> int:
        parent, cancel_parent = context.with_cancel(context.background())
        t0 = time.perf_counter_ns()
        for _ in range(n):
            _, cancel = context.with_cancel(parent)
            cancel()
        elapsed = time.perf_counter_ns() - t0
        cancel_parent()
        return elapsed

    async def aio() -> int:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            async with asyncio.timeout(None):  # a scope that can be cancelled, no deadline
                pass
        return time.perf_counter_ns() - t0

    w = "with_cancel + cancel (under a parent)"
    return [
        (w, "goroutines", goroutines.run(gor, gomaxprocs=1) / n),
        (w, "asyncio", asyncio.run(aio()) / n),
    ]


def _counter(n: int) -> list[Row]:
    async def gor_atomic() -> int:
        c = atomic.Int()
        t0 = time.perf_counter_ns()
        for _ in range(n):
            c.add(1)
        assert c.load() == n
        return time.perf_counter_ns() - t0

    async def gor_mutex() -> int:
        mu = goroutines.Mutex()
        count = 0
        t0 = time.perf_counter_ns()
        for _ in range(n):
            await mu.lock()
            count += 1
            mu.unlock()
        assert count == n
        return time.perf_counter_ns() - t0

    async def aio() -> int:
        mu = asyncio.Lock()
        count = 0
        t0 = time.perf_counter_ns()
        for _ in range(n):
            async with mu:
                count += 1
        assert count == n
        return time.perf_counter_ns() - t0

    w = "counter increment"
    return [
        (w, "goroutines atomic.Int.add", goroutines.run(gor_atomic, gomaxprocs=1) / n),
        (w, "goroutines Mutex + n += 1", goroutines.run(gor_mutex, gomaxprocs=1) / n),
        (w, "asyncio", asyncio.run(aio()) / n),
    ]


def _counter_parallel(workers: int, n: int) -> list[Row]:
    async def gor(use_atomic: bool) -> int:
        c = atomic.Int()
        mu = goroutines.Mutex()
        box = [0]
        wg = goroutines.WaitGroup()

        async def worker() -> None:
            if use_atomic:
                for _ in range(n):
                    c.add(1)
            else:
                for _ in range(n):
                    await mu.lock()
                    box[0] += 1
                    mu.unlock()
            wg.done()

        t0 = time.perf_counter_ns()
        wg.add(workers)
        for _ in range(workers):
            goroutines.go(worker)
        await wg.wait()
        assert c.load() + box[0] == workers * n
        return time.perf_counter_ns() - t0

    async def aio() -> int:
        mu = asyncio.Lock()
        box = [0]

        async def worker() -> None:
            for _ in range(n):
                async with mu:
                    box[0] += 1

        t0 = time.perf_counter_ns()
        await asyncio.gather(*(worker() for _ in range(workers)))
        assert box[0] == workers * n
        return time.perf_counter_ns() - t0

    w = f"counter, {workers} goroutines on {workers} Ps"
    ops = workers * n
    return [
        (w, "goroutines atomic.Int.add", goroutines.run(gor, True, gomaxprocs=workers) / ops),
        (w, "goroutines Mutex + n += 1", goroutines.run(gor, False, gomaxprocs=workers) / ops),
        (w, "asyncio", asyncio.run(aio()) / ops),
    ]


def run(quick: bool = False) -> list[Row]:
    """Rows of (workload, implementation, ns_per_op); quick takes a few seconds at most."""
    scale = 1 if quick else 10
    return [
        *_timeout(10_000 * scale),
        *_cancel(10_000 * scale),
        *_counter(50_000 * scale),
        *_counter_parallel(4, 10_000 * scale),
    ]


if __name__ == "__main__":
    for workload, impl, ns in run():
        print(f"{workload:45} {impl:28} {ns:10.0f} ns/op")
