"""What execution tracing costs: run time and trace size, untraced vs compact vs JSON.

Workload "chan-heavy": 4 producer/consumer pairs, each moving N ints over its
own channel (capacities 0, 0, 1 and 10) and doing nothing else, so that nearly
every send and receive parks or readies a goroutine: about two trace events
per item, nearly a million a second, the worst a program gets for the tracer
(the issue's "channel-heavy program"). Workload "pipeline": a generator feeds
4 workers over an unbuffered channel, each worker round-trips its item
through JSON and sends the result on to main over another: a busy program
that also computes. Each runs untraced, with trace="trace.out" (the compact
stream) and with trace="trace.json" (Perfetto JSON, converted when run()
returns): untraced and compact interleaved, best of 7, so that their ratio
holds on a noisy machine, then JSON once. Rows, for each workload:

    run time (ms)                each mode's wall time of run()
    extra run time traced (%)    over untraced (budget: compact <= 25%)
    trace MB per s of run time   file size / untraced run time (budget: compact <= 5)

Workload "spawn+gosched": main starts N goroutines that each yield K times;
ns/op is the run's wall time divided by N*K, untraced, compact-traced and on
asyncio (create_task and sleep(0)).

    python benchmarks/bench_trace.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from typing import Any

import goroutines
from goroutines import Chan, WaitGroup, go, gosched

CAPACITIES = (0, 0, 1, 10)
WORKERS = 4
MODES = (("untraced", None), ("trace.out (compact)", "trace.out"), ("trace.json", "trace.json"))


def chan_heavy(n: int) -> Callable[[], Coroutine[Any, Any, None]]:
    """main of the chan-heavy workload: n items through each pair's channel."""

    async def pair(cap: int, wg: WaitGroup) -> None:
        c: Chan[int] = Chan(cap)

        async def produce() -> None:
            for i in range(n):
                await c.send(i)
            c.close()

        go(produce)
        async for _ in c:
            pass
        wg.done()

    async def main() -> None:
        wg = WaitGroup()
        for cap in CAPACITIES:
            wg.add(1)
            go(pair, cap, wg)
        await wg.wait()

    return main


def pipeline(n: int) -> Callable[[], Coroutine[Any, Any, None]]:
    """main of the pipeline workload: n items through 4 JSON-crunching workers."""

    async def generate(src: Chan[int]) -> None:
        for i in range(n):
            await src.send(i)
        src.close()

    async def work(src: Chan[int], dst: Chan[int], wg: WaitGroup) -> None:
        async for i in src:
            rec = json.loads(json.dumps({"id": i, "square": i * i, "tag": "x" * (i % 7)}))
            await dst.send(rec["square"] % 97)
        wg.done()

    async def close_when_done(dst: Chan[int], wg: WaitGroup) -> None:
        await wg.wait()
        dst.close()

    async def main() -> None:
        src: Chan[int] = Chan()
        dst: Chan[int] = Chan()
        wg = WaitGroup()
        go(generate, src)
        for _ in range(WORKERS):
            wg.add(1)
            go(work, src, dst, wg)
        go(close_when_done, dst, wg)
        async for _ in dst:
            pass

    return main


def timed(main: Callable[[], Coroutine[Any, Any, None]], path: str | None) -> float:
    """Seconds for one run(), writing the trace included."""
    t = time.perf_counter()
    goroutines.run(main, trace=path)
    return time.perf_counter() - t


def traced_rows(
    name: str, program: Callable[[], Callable[[], Coroutine[Any, Any, None]]], reps: int
) -> list[tuple[str, str, float]]:
    """Run time, overhead and trace size of one workload in each mode."""
    best: dict[str, float] = {}
    size: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as d:
        # Untraced and compact in turn, best of reps: their ratio is the budget.
        # JSON once, after them: 5-15x slower, it needs no more, and its
        # hundreds of MB of conversion would disturb the runs after it.
        for mode, file in [*MODES[:2] * reps, MODES[2]]:
            path = None if file is None else os.path.join(d, file)
            best[mode] = min(best.get(mode, float("inf")), timed(program(), path))
            if path is not None:
                size[mode] = os.path.getsize(path)
    base = best["untraced"]
    rows = [(f"{name}: run time (ms)", mode, best[mode] * 1e3) for mode, _ in MODES]
    for mode, _ in MODES[1:]:
        rows.append((f"{name}: extra run time traced (%)", mode, 100 * (best[mode] / base - 1)))
    for mode, _ in MODES[1:]:
        rows.append((f"{name}: trace MB per s of run time", mode, size[mode] / 1e6 / base))
    return rows


def spawn_gosched(n: int, k: int) -> Callable[[], Coroutine[Any, Any, None]]:
    """main of the spawn+gosched workload."""

    async def worker(done: list[int]) -> None:
        for _ in range(k):
            await gosched()
        done.append(1)

    async def main() -> None:
        done: list[int] = []
        for _ in range(n):
            go(worker, done)
        while len(done) < n:
            await gosched()

    return main


def asyncio_workload(n: int, k: int) -> float:
    """Seconds for one run of spawn+gosched on asyncio."""

    async def worker() -> None:
        for _ in range(k):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(asyncio.create_task(worker()) for _ in range(n)))

    t = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - t


def spawn_rows(quick: bool) -> list[tuple[str, str, float]]:
    """ns/op of spawn+gosched untraced, compact-traced, and on asyncio."""
    n, k, reps = (200, 10, 1) if quick else (2000, 50, 3)
    per_op = 1e9 / (n * k)
    off = on = aio = float("inf")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "trace.out")
        for _ in range(reps):  # in turn, so that a noisy spell hits all three alike
            off = min(off, timed(spawn_gosched(n, k), None))
            on = min(on, timed(spawn_gosched(n, k), path))
            aio = min(aio, asyncio_workload(n, k))
    return [
        ("spawn+gosched", "goroutines", off * per_op),
        ("spawn+gosched", "goroutines trace.out", on * per_op),
        ("spawn+gosched", "asyncio", aio * per_op),
    ]


def run(quick: bool = False) -> list[tuple[str, str, float]]:
    """Rows (workload, implementation, value) of the three workloads."""
    n, m, reps = (5_000, 2_000, 1) if quick else (100_000, 60_000, 7)
    return (
        traced_rows("chan-heavy", lambda: chan_heavy(n), reps)
        + traced_rows("pipeline", lambda: pipeline(m), reps)
        + spawn_rows(quick)
    )


if __name__ == "__main__":
    for workload, impl, value in run(quick="--quick" in sys.argv):
        print(f"{workload:42s} {impl:22s} {value:10.1f}")
