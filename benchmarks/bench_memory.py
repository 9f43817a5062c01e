"""Memory: resident bytes per parked goroutine, beside an asyncio task parked the same way.

Each measurement runs in a fresh interpreter, so that one's freed memory is not
the next one's reuse: it reads its resident set size, starts N goroutines
(tasks) that each wait to receive from one shared channel (queue), or sleep an
hour, waits until all N are parked, reads the resident set size again, and
reports the growth divided by N. Then it ends them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import goroutines as g

Row = tuple[str, str, float]


def rss() -> int:
    """The process's resident set size now, in bytes (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def parked_goroutines(n: int, sleep: bool) -> float:
    parked = 0

    async def receiver(c: g.Chan[int], wg: g.WaitGroup) -> None:
        nonlocal parked
        parked += 1
        await c.recv()
        wg.done()

    async def sleeper(c: g.Chan[int], wg: g.WaitGroup) -> None:
        nonlocal parked
        parked += 1
        await g.sleep(3600)

    async def main() -> float:
        c, wg = g.Chan[int](), g.WaitGroup()
        before = rss()
        wg.add(n)
        waiter = sleeper if sleep else receiver
        for _ in range(n):
            g.go(waiter, c, wg)
        while parked < n:  # GOMAXPROCS=1: each gosched lets the queue run, and they park
            await g.gosched()
        per = (rss() - before) / n
        if not sleep:  # (sleepers are abandoned: main's return ends them)
            c.close()
            await wg.wait()
        return per

    return g.run(main, gomaxprocs=1)


def parked_asyncio(n: int, sleep: bool) -> float:
    async def receiver(q: asyncio.Queue[int]) -> None:
        await q.get()

    async def sleeper(q: asyncio.Queue[int]) -> None:
        await asyncio.sleep(3600)

    async def main() -> float:
        q: asyncio.Queue[int] = asyncio.Queue()
        before = rss()
        waiter = sleeper if sleep else receiver
        tasks = [asyncio.create_task(waiter(q)) for _ in range(n)]
        await asyncio.sleep(0)  # one pass of the loop: every task runs to its get and parks
        per = (rss() - before) / n
        for t in tasks:
            if sleep:
                t.cancel()
            else:
                q.put_nowait(0)
        await asyncio.gather(*tasks, return_exceptions=True)
        return per

    return asyncio.run(main())


def measure(impl: str, n: int, sleep: bool) -> float:
    """Bytes per parked goroutine (task) of impl, measured in a fresh interpreter."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import bench_memory as b; "
        "print(getattr(b, 'parked_' + sys.argv[2])(int(sys.argv[3]), sys.argv[4] == '1'))"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    argv = [sys.executable, "-c", code, here, impl, str(n), "1" if sleep else "0"]
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Row]:
    """RSS per parked goroutine (task), in bytes."""
    n = 10_000 if quick else 100_000
    rows: list[Row] = []
    for sleep, what in ((False, "in recv"), (True, "asleep")):
        name = f"RSS per goroutine {what}, {n // 1000}k (bytes)"
        rows += [(name, impl, measure(impl, n, sleep)) for impl in ("goroutines", "asyncio")]
    return rows
