"""What execution tracing costs: spawn + gosched with the trace off and on.

Workload "spawn+gosched": main starts N goroutines that each yield K times
(gosched), then waits for all of them; ns/op is the run's wall time divided by
N*K. Each op records two events when tracing (GoSched, GoStart). Rows:

    goroutines                      tracing off (one `if trace.enabled:` per hook site)
    goroutines trace=on (record)    tracing on, without the time trace.stop takes
                                    to decode, model and write the file after the run
    goroutines trace=on (total)     tracing on, writing the Chrome JSON included
    asyncio                         the same workload with create_task and sleep(0)

    python benchmarks/bench_trace.py [--quick]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time

import goroutines
from goroutines import go, gosched
from goroutines.runtime import trace

WORKLOAD = "spawn+gosched"


def sizes(quick: bool) -> tuple[int, int, int]:
    """(goroutines, yields each, repetitions)."""
    return (200, 10, 1) if quick else (2000, 50, 3)


def goroutines_workload(n: int, k: int, path: str | None) -> tuple[float, float]:
    """Seconds for one run of the workload, and how many of them trace.stop took."""

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

    stopping: list[float] = []
    stop = trace.stop

    def timed_stop(tracer: trace.Tracer) -> None:
        t = time.perf_counter()
        stop(tracer)
        stopping.append(time.perf_counter() - t)

    trace.stop = timed_stop  # run() looks it up when it ends: time the writing apart
    try:
        t = time.perf_counter()
        goroutines.run(main, trace=path)
        return time.perf_counter() - t, sum(stopping)
    finally:
        trace.stop = stop


def asyncio_workload(n: int, k: int) -> float:
    """Seconds for one run of the workload on asyncio."""

    async def worker() -> None:
        for _ in range(k):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(asyncio.create_task(worker()) for _ in range(n)))

    t = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - t


def run(quick: bool = False) -> list[tuple[str, str, float]]:
    """Rows (workload, implementation, ns/op): trace off, trace on, asyncio."""
    n, k, reps = sizes(quick)
    per_op = 1e9 / (n * k)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "trace.json")
        off = min(goroutines_workload(n, k, None)[0] for _ in range(reps))
        on = [goroutines_workload(n, k, path) for _ in range(reps)]
    aio = min(asyncio_workload(n, k) for _ in range(reps))
    return [
        (WORKLOAD, "goroutines", off * per_op),
        (WORKLOAD, "goroutines trace=on (record)", min(t - w for t, w in on) * per_op),
        (WORKLOAD, "goroutines trace=on (total)", min(t for t, _ in on) * per_op),
        (WORKLOAD, "asyncio", aio * per_op),
    ]


if __name__ == "__main__":
    for workload, impl, ns in run(quick="--quick" in sys.argv):
        print(f"{workload:16s} {impl:30s} {ns:10.0f} ns/op")
