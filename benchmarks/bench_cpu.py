"""CPU-bound goroutines: the same pure-Python work on GOMAXPROCS=1 and =2.

On free-threaded CPython the Ps run on two cores at once; under the GIL the
second P buys nothing. The same chunks also run on a ThreadPoolExecutor with
two workers and on asyncio (one thread), for comparison. Values are ms for the
whole job; the goroutines rows carry the speedup of 2 Ps over 1 in their name.
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


def run_goroutines(parts: list[tuple[int, int]], procs: int) -> int:
    async def main() -> int:
        out: list[int] = []
        wg = g.WaitGroup()
        wg.add(len(parts))
        for lo, hi in parts:
            g.go(gwork, lo, hi, out, wg)
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
    ]
