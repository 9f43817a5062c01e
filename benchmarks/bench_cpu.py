"""CPU-bound goroutines: the same pure-Python work on GOMAXPROCS=1 and =2.

On free-threaded CPython the Ps run on two cores at once; under the GIL the
second P buys nothing. The same chunks also run on a ThreadPoolExecutor with
two workers and on asyncio (one thread), for comparison. Values are ms for the
whole job; the goroutines rows carry the speedup of 2 Ps over 1 in their name.

The second workload asks what the CPU-bound chunks do to everything else: while
four long chunks run, a short job arrives every 10 ms, and the value is how
long one waits on average from its arrival to its end (ms). A thread pool runs
it only once a chunk has finished; sysmon preempts a goroutine that has run
10 ms, so a short one waits about that long; asyncio switches at each of its
chunks' `sleep(0)`, but runs everything on one core.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import goroutines as g

Row = tuple[str, str, float]


def work(lo: int, hi: int) -> int:
    """A chunk of pure-Python arithmetic."""
    s = 0
    for i in range(lo, hi):
        s += i * i % 7
    return s


def chunks(total: int, n: int) -> list[tuple[int, int]]:
    step = total // n
    return [(i * step, (i + 1) * step) for i in range(n)]


async def gwork(lo: int, hi: int, out: list[int], wg: g.WaitGroup) -> None:
    s = 0
    for a in range(lo, hi, 20_000):  # a preemption point now and then
        s += work(a, min(a + 20_000, hi))
        await g.checkpoint()
    out.append(s)
    wg.done()


def start_chunks(parts: list[tuple[int, int]]) -> tuple[g.WaitGroup, list[int]]:
    """One goroutine per chunk; the WaitGroup is done when their sums are in the list."""
    out: list[int] = []
    wg = g.WaitGroup()
    wg.add(len(parts))
    for lo, hi in parts:
        g.go(gwork, lo, hi, out, wg)
    return wg, out


def run_goroutines(parts: list[tuple[int, int]], procs: int) -> int:
    async def main() -> int:
        wg, out = start_chunks(parts)
        await wg.wait()
        return sum(out)

    return g.run(main, gomaxprocs=procs)


def run_threads(parts: list[tuple[int, int]]) -> int:
    with ThreadPoolExecutor(2) as ex:
        return sum(ex.map(lambda p: work(*p), parts))


def run_asyncio(parts: list[tuple[int, int]]) -> int:
    async def one(lo: int, hi: int) -> int:
        s = 0
        for a in range(lo, hi, 20_000):
            s += work(a, min(a + 20_000, hi))
            await asyncio.sleep(0)
        return s

    async def main() -> int:
        return sum(await asyncio.gather(*[one(lo, hi) for lo, hi in parts]))

    return asyncio.run(main())


SHORT_GAP = 0.010  # a short job arrives this often (s)


def short_job(due: float) -> float:
    """A short job: a little work, then how long after `due` it ended (ms)."""
    work(0, 2_000)
    return (time.perf_counter() - due) * 1e3


def latency_goroutines(parts: list[tuple[int, int]], nshort: int, procs: int) -> float:
    async def short(due: float, done: g.Chan[float]) -> None:
        await done.send(short_job(due))

    async def main() -> float:
        wg, _ = start_chunks(parts)
        done = g.Chan[float](nshort)
        start = time.perf_counter()
        for k in range(1, nshort + 1):
            due = start + k * SHORT_GAP
            await g.sleep(due - time.perf_counter())
            g.go(short, due, done)
        total = sum([await done.recv() for _ in range(nshort)])
        await wg.wait()
        return total / nshort

    return g.run(main, gomaxprocs=procs)


def latency_threads(parts: list[tuple[int, int]], nshort: int) -> float:
    with ThreadPoolExecutor(2) as ex:
        jobs = [ex.submit(work, lo, hi) for lo, hi in parts]
        start = time.perf_counter()
        waits = []
        for k in range(1, nshort + 1):
            due = start + k * SHORT_GAP
            time.sleep(max(0.0, due - time.perf_counter()))
            waits.append(ex.submit(short_job, due))
        for j in jobs:
            j.result()
        return sum(w.result() for w in waits) / nshort


def latency_asyncio(parts: list[tuple[int, int]], nshort: int) -> float:
    async def long(lo: int, hi: int) -> None:
        for a in range(lo, hi, 20_000):
            work(a, min(a + 20_000, hi))
            await asyncio.sleep(0)

    async def short(due: float) -> float:
        return short_job(due)

    async def main() -> float:
        longs = [asyncio.create_task(long(lo, hi)) for lo, hi in parts]
        start = time.perf_counter()
        shorts = []
        for k in range(1, nshort + 1):
            due = start + k * SHORT_GAP
            await asyncio.sleep(due - time.perf_counter())
            shorts.append(asyncio.create_task(short(due)))
        total = sum(await asyncio.gather(*shorts))
        await asyncio.gather(*longs)
        return total / nshort

    return asyncio.run(main())


def run(quick: bool = False) -> list[Row]:
    """Each implementation once per round, best of the rounds: interleaved, so that
    a noisy neighbour slows all of them alike instead of one."""
    parts = chunks(400_000 if quick else 4_000_000, 8)
    want = work(0, parts[-1][1])
    impls: dict[str, Callable[[], int]] = {
        "g1": lambda: run_goroutines(parts, 1),
        "g2": lambda: run_goroutines(parts, 2),
        "pool": lambda: run_threads(parts),
        "asyncio": lambda: run_asyncio(parts),
    }
    best = dict.fromkeys(impls, float("inf"))
    for _ in range(1 if quick else 5):
        for name, fn in impls.items():
            t0 = time.perf_counter()
            v = fn()
            best[name] = min(best[name], (time.perf_counter() - t0) * 1e3)
            assert v == want, f"the CPU job computed the wrong sum on {name}"
    w = "CPU-bound job, 8 chunks (ms)"
    t1, t2 = best["g1"], best["g2"]
    return [
        (w, "goroutines GOMAXPROCS=1", t1),
        (w, f"goroutines GOMAXPROCS=2 ({t1 / t2:.2f}x)", t2),
        (w, "ThreadPoolExecutor(2)", best["pool"]),
        (w, "asyncio", best["asyncio"]),
        *latency(quick),
    ]


def latency(quick: bool) -> list[Row]:
    """Mean wait of the short jobs behind four long chunks; median of the rounds."""
    parts = chunks(400_000 if quick else 4_000_000, 4)
    nshort = 2 if quick else 10
    impls: dict[str, Callable[[], float]] = {
        "goroutines GOMAXPROCS=1": lambda: latency_goroutines(parts, nshort, 1),
        "goroutines GOMAXPROCS=2": lambda: latency_goroutines(parts, nshort, 2),
        "ThreadPoolExecutor(2)": lambda: latency_threads(parts, nshort),
        "asyncio": lambda: latency_asyncio(parts, nshort),
    }
    waits: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(1 if quick else 5):
        for name, fn in impls.items():
            waits[name].append(fn())
    w = "short job wait behind 4 CPU-bound jobs (ms)"
    return [(w, name, sorted(v)[len(v) // 2]) for name, v in waits.items()]
