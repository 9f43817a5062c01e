"""Scheduler benchmarks: spawn-and-finish, gosched ping-pong, many sleepers, blocking tolerance.

Each workload runs on goroutines (GOMAXPROCS=1 unless said) and, in the same
process, on asyncio (and trio / gevent / threads where they have the same
thing and are installed). The timed ones run in turn, repeated (best of
REPEATS), so that a noisy spell of the machine hits every implementation alike.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import goroutines as g

Row = tuple[str, str, float]
Case = tuple[str, str, Callable[[], Any], float]  # workload, implementation, run, ops a run
REPEATS = 5


def interleaved(cases: list[Case], repeats: int) -> list[Row]:
    """Each case's best ns per op, the cases run in turn `repeats` times."""
    best: dict[tuple[str, str], float] = {}
    for _ in range(repeats):
        for workload, impl, fn, ops in cases:
            t0 = time.perf_counter_ns()
            fn()
            ns = (time.perf_counter_ns() - t0) / ops
            best[workload, impl] = min(best.get((workload, impl), ns), ns)
    return [(w, i, ns) for (w, i), ns in best.items()]


# --- spawn and finish -------------------------------------------------------


def spawn_goroutines(n: int) -> None:
    async def child(wg: g.WaitGroup) -> None:
        wg.done()

    async def main() -> None:
        wg = g.WaitGroup()
        wg.add(n)
        for _ in range(n):
            g.go(child, wg)
        await wg.wait()

    g.run(main, gomaxprocs=1)


def spawn_asyncio(n: int) -> None:
    async def child() -> None:
        pass

    async def main() -> None:
        await asyncio.gather(*[asyncio.create_task(child()) for _ in range(n)])

    asyncio.run(main())


# --- gosched ping-pong -----------------------------------------------------------


def gosched_goroutines(n: int) -> None:
    async def loop(wg: g.WaitGroup) -> None:
        for _ in range(n):
            await g.gosched()
        wg.done()

    async def main() -> None:
        wg = g.WaitGroup()
        wg.add(2)
        g.go(loop, wg)
        g.go(loop, wg)
        await wg.wait()

    g.run(main, gomaxprocs=1)


def sleep0_asyncio(n: int) -> None:
    async def loop() -> None:
        for _ in range(n):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(loop(), loop())

    asyncio.run(main())


# --- many sleepers ------------------------------------------------------------------


def sleepers_goroutines(n: int) -> None:
    async def sleeper(wg: g.WaitGroup) -> None:
        await g.sleep(0.01)
        wg.done()

    async def main() -> None:
        wg = g.WaitGroup()
        wg.add(n)
        for _ in range(n):
            g.go(sleeper, wg)
        await wg.wait()

    g.run(main, gomaxprocs=1)


def sleepers_asyncio(n: int) -> None:
    async def main() -> None:
        await asyncio.gather(*[asyncio.sleep(0.01) for _ in range(n)])

    asyncio.run(main())


# --- blocking tolerance ---------------------------------------------------------------


def ticks_goroutines(blockers: int, block: float, wrapped: bool) -> int:
    """1 ms ticks a goroutine gets while `blockers` goroutines each block `block` s."""

    async def blocker(wg: g.WaitGroup) -> None:
        if wrapped:
            await g.syscall(time.sleep, block)
        else:
            time.sleep(block)
        wg.done()

    async def main() -> int:
        wg = g.WaitGroup()
        wg.add(blockers)
        for _ in range(blockers):
            g.go(blocker, wg)
        ticks = 0
        end = time.monotonic() + block
        while time.monotonic() < end:
            await g.sleep(0.001)
            ticks += 1
        await wg.wait()
        return ticks

    return g.run(main, gomaxprocs=1)


def ticks_asyncio(blockers: int, block: float) -> int:
    async def blocker() -> None:
        time.sleep(block)

    async def main() -> int:
        tasks = [asyncio.create_task(blocker()) for _ in range(blockers)]
        ticks = 0
        end = time.monotonic() + block
        while time.monotonic() < end:
            await asyncio.sleep(0.001)
            ticks += 1
        await asyncio.gather(*tasks)
        return ticks

    return asyncio.run(main())


def ticks_threads(blockers: int, block: float) -> int:
    ts = [threading.Thread(target=time.sleep, args=(block,)) for _ in range(blockers)]
    for t in ts:
        t.start()
    ticks = 0
    end = time.monotonic() + block
    while time.monotonic() < end:
        time.sleep(0.001)
        ticks += 1
    for t in ts:
        t.join()
    return ticks


def run(quick: bool = False) -> list[Row]:
    """All core workloads; ns/op (ticks for the blocking-tolerance rows)."""
    n = 20_000 if quick else 200_000
    m = 10_000 if quick else 100_000
    k = 1_000 if quick else 10_000
    sleepers = f"{k} sleepers x 10ms (total ms)"
    cases: list[Case] = [
        ("spawn+finish", "goroutines", lambda: spawn_goroutines(n), n),
        ("spawn+finish", "asyncio", lambda: spawn_asyncio(n), n),
        ("gosched ping-pong", "goroutines", lambda: gosched_goroutines(m), 2 * m),
        ("gosched ping-pong", "asyncio", lambda: sleep0_asyncio(m), 2 * m),
        (sleepers, "goroutines", lambda: sleepers_goroutines(k), 1e6),
        (sleepers, "asyncio", lambda: sleepers_asyncio(k), 1e6),
    ]
    rows = interleaved(cases, 1 if quick else REPEATS)
    block = 0.05 if quick else 0.2
    ideal = block / 0.001
    rows += [
        (
            "blocking tolerance (% of ideal ticks)",
            "goroutines syscall()",
            100 * ticks_goroutines(4, block, True) / ideal,
        ),
        (
            "blocking tolerance (% of ideal ticks)",
            "goroutines unwrapped",
            100 * ticks_goroutines(4, block, False) / ideal,
        ),
        ("blocking tolerance (% of ideal ticks)", "asyncio", 100 * ticks_asyncio(4, block) / ideal),
        ("blocking tolerance (% of ideal ticks)", "threads", 100 * ticks_threads(4, block) / ideal),
    ]
    return rows
