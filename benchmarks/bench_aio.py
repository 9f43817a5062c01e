"""The asyncio bridge: a round trip each way, beside what asyncio and threads offer.

Two workloads, each a loop of sequential round trips to a job that does
nothing, so that the value (ns per round trip) is the bridge's own cost: two
thread switches and the wake-ups between them.

  * From asyncio code, await a no-op on other threads:
      goroutines rt.call             `await rt.call(fn)`, fn a goroutine that returns
      asyncio (the baseline)         `await loop.run_in_executor(pool, f)`, a
                                     ThreadPoolExecutor(1)
      asyncio wrap_future(submit)    `await asyncio.wrap_future(pool.submit(f))`
      uvloop ...                     rt.call and run_in_executor on a uvloop loop
                                     (when uvloop is installed)
  * From a goroutine, wait for a no-op asyncio coroutine on an event loop's thread:
      goroutines aio.wait            `await aio.wait(coro())` (the runtime's loop)
      asyncio (the baseline)         what a thread does:
                                     `asyncio.run_coroutine_threadsafe(coro(), loop).result()`
                                     from a plain thread, the loop running in another

Every implementation runs in this one call, interleaved and repeated (best of
N), so the ratios hold on a noisy machine.

    python benchmarks/bench_aio.py [--quick]
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import goroutines
from goroutines import Runtime, aio

CALL = "await a no-op elsewhere (asyncio: run_in_executor)"
WAIT = "wait for a no-op coroutine (asyncio: run_coroutine_threadsafe)"
WARMUP = 50
HANG = 120.0  # seconds a timing loop of rt.call may take before it is taken for hung

LoopFactory = Callable[[], asyncio.AbstractEventLoop] | None


async def g_noop() -> None:
    """A goroutine that returns at once."""


def noop() -> None:
    """A function that returns at once, for a pool's thread."""


async def coro_noop() -> None:
    """An asyncio coroutine that returns at once."""


# ---------------------------------------------------------------------------
# From asyncio: rt.call, run_in_executor, wrap_future(pool.submit)


async def _rt_call(rt: Runtime, n: int) -> float:
    for _ in range(WARMUP):
        await rt.call(g_noop)
    t0 = time.perf_counter()
    for _ in range(n):
        await rt.call(g_noop)
    return time.perf_counter() - t0


async def _watched(rt: Runtime, work: Coroutine[Any, Any, float]) -> float:
    """work's result; an error, not a hang, if the runtime stops under it.

    A fatal error in a Runtime (sched.fatal) stops its Ms while the block is
    still open, and a call in flight then never returns: without this watch a
    `make bench` that met one would wait forever.
    """
    task = asyncio.ensure_future(work)
    deadline = time.monotonic() + HANG
    while not (await asyncio.wait({task}, timeout=0.25))[0]:
        fatal = rt.sched.fatal if rt.sched is not None else None
        if fatal is not None or time.monotonic() > deadline:
            task.cancel()
            raise RuntimeError(f"rt.call never returned (the runtime's fatal error: {fatal!r})")
    return task.result()


def bench_rt_call(n: int, loop_factory: LoopFactory = None) -> float:
    with Runtime() as rt, asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_watched(rt, _rt_call(rt, n)))


async def _run_in_executor(pool: ThreadPoolExecutor, n: int) -> float:
    loop = asyncio.get_running_loop()
    for _ in range(WARMUP):
        await loop.run_in_executor(pool, noop)
    t0 = time.perf_counter()
    for _ in range(n):
        await loop.run_in_executor(pool, noop)
    return time.perf_counter() - t0


def bench_run_in_executor(n: int, loop_factory: LoopFactory = None) -> float:
    with ThreadPoolExecutor(1) as pool, asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_run_in_executor(pool, n))


async def _wrap_future(pool: ThreadPoolExecutor, n: int) -> float:
    for _ in range(WARMUP):
        await asyncio.wrap_future(pool.submit(noop))
    t0 = time.perf_counter()
    for _ in range(n):
        await asyncio.wrap_future(pool.submit(noop))
    return time.perf_counter() - t0


def bench_wrap_future(n: int) -> float:
    with ThreadPoolExecutor(1) as pool, asyncio.Runner() as runner:
        return runner.run(_wrap_future(pool, n))


def _uvloop_factory() -> LoopFactory:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


# ---------------------------------------------------------------------------
# From a goroutine: aio.wait; from a thread: run_coroutine_threadsafe(...).result()


async def _aio_wait(n: int) -> float:
    for _ in range(WARMUP):  # the first starts the runtime's loop thread
        await aio.wait(coro_noop())
    t0 = time.perf_counter()
    for _ in range(n):
        await aio.wait(coro_noop())
    return time.perf_counter() - t0


def bench_aio_wait(n: int) -> float:
    elapsed: float = goroutines.run(_aio_wait, n)
    return elapsed


def bench_run_coroutine_threadsafe(n: int) -> float:
    loop = asyncio.new_event_loop()
    t = threading.Thread(target=loop.run_forever, name="bench-loop", daemon=True)
    t.start()
    try:
        for _ in range(WARMUP):
            asyncio.run_coroutine_threadsafe(coro_noop(), loop).result()
        t0 = time.perf_counter()
        for _ in range(n):
            asyncio.run_coroutine_threadsafe(coro_noop(), loop).result()
        return time.perf_counter() - t0
    finally:
        loop.call_soon_threadsafe(loop.stop)
        t.join()
        loop.close()


# ---------------------------------------------------------------------------


def run(quick: bool = False) -> list[tuple[str, str, float]]:
    """Rows of (workload, implementation, ns per round trip), best of the repeats."""
    n, repeats = (200, 1) if quick else (5000, 5)
    impls: list[tuple[str, str, Callable[[int], float]]] = [
        (CALL, "goroutines rt.call", bench_rt_call),
        (CALL, "asyncio", bench_run_in_executor),
        (CALL, "asyncio wrap_future(submit)", bench_wrap_future),
    ]
    uvloop = _uvloop_factory()
    if uvloop is not None:
        impls += [
            (CALL, "uvloop rt.call", lambda k: bench_rt_call(k, uvloop)),
            (CALL, "uvloop run_in_executor", lambda k: bench_run_in_executor(k, uvloop)),
        ]
    impls += [
        (WAIT, "goroutines aio.wait", bench_aio_wait),
        (WAIT, "asyncio", bench_run_coroutine_threadsafe),
    ]
    best: dict[tuple[str, str], float] = {}
    for _ in range(repeats):
        for workload, name, fn in impls:
            elapsed = fn(n)
            key = (workload, name)
            best[key] = min(best.get(key, elapsed), elapsed)
    return [(w, name, best[w, name] * 1e9 / n) for w, name, _ in impls]


def main(argv: list[str]) -> None:
    rows = run(quick="--quick" in argv)
    base = {w: ns for w, impl, ns in rows if impl == "asyncio"}
    for workload, impl, ns in rows:
        print(f"{workload:64} {impl:28} {ns:10.0f} ns/op  {ns / base[workload]:5.2f}x asyncio")


if __name__ == "__main__":
    main(sys.argv[1:])
