"""Channels and select: goroutines beside asyncio, trio, gevent and threads.

Workloads (Go's runtime/chan_test.go benchmarks, GOMAXPROCS=1):

  ping-pong          two goroutines bounce a value over two unbuffered channels;
                     ns per round trip.
  prodcons buf=N     one producer sends items to 4 consumers over one channel of
                     capacity N (Go's BenchmarkChanProdCons); ns per item.
  select uncontended one goroutine selects over two buffered channels of which
                     one is ready, then refills the other (BenchmarkSelectUncontended);
                     ns per select.
  select contended   4 goroutines do the same over two shared channels
                     (BenchmarkSelectContended); ns per select.
  sieve buf=N        the prime sieve (a chain of filter goroutines) up to the
                     500th prime, over channels of capacity N; ns per prime.

The peers get the nearest thing they have: asyncio.Queue (a capacity of 0 is
unbounded there, so buf=0 uses Queue(1), which lets a sender run on),
asyncio.wait(FIRST_COMPLETED) over two Queue.get() tasks for select; trio memory
channels; gevent's Channel (unbuffered) and Queue; queue.Queue with threads. A
peer that is not installed is skipped.
Every implementation runs in this one call, interleaved and repeated (best of
N), so that the ratios hold on a noisy machine.

    python benchmarks/bench_chan.py [--quick]
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

import goroutines
from goroutines import Chan, go, recv, select

CONSUMERS = 4
BUFFERS = (0, 10, 100)

# ---------------------------------------------------------------------------
# goroutines


def gr_run(main: Callable[..., Any], *args: Any) -> float:
    """Run main under a fresh runtime with GOMAXPROCS=1; its result is the elapsed time."""
    elapsed: float = goroutines.run(main, *args, gomaxprocs=1)
    return elapsed


def aio_run(main: Callable[..., Coroutine[Any, Any, float]], *args: Any) -> float:
    """Run main in a fresh asyncio event loop; its result is the elapsed time."""
    return asyncio.run(main(*args))


async def gr_pingpong(n: int) -> float:
    ping, pong = Chan[int](), Chan[int]()

    async def echo() -> None:
        async for v in ping:
            await pong.send(v)

    go(echo)
    t0 = time.perf_counter()
    for i in range(n):
        await ping.send(i)
        await pong.recv()
    elapsed = time.perf_counter() - t0
    ping.close()
    return elapsed


async def gr_prodcons(n: int, buf: int) -> float:
    c, done = Chan[int](buf), Chan[int](CONSUMERS)

    async def consumer() -> None:
        total = 0
        async for v in c:
            total += v
        await done.send(total)

    t0 = time.perf_counter()
    for _ in range(CONSUMERS):
        go(consumer)
    for i in range(n):
        await c.send(i)
    c.close()
    total = 0
    for _ in range(CONSUMERS):
        total += await done.recv() or 0
    elapsed = time.perf_counter() - t0
    assert total == n * (n - 1) // 2
    return elapsed


async def gr_select_loop(n: int, c1: Chan[int], c2: Chan[int]) -> None:
    """BenchmarkSelect*'s body: take whichever of c1/c2 holds the token, pass it on."""
    for _ in range(n):
        i, _v, _ok = await select(recv(c1), recv(c2))
        await (c2 if i == 0 else c1).send(0)


async def gr_select_uncontended(n: int) -> float:
    c1, c2 = Chan[int](1), Chan[int](1)
    await c1.send(0)
    t0 = time.perf_counter()
    await gr_select_loop(n, c1, c2)
    return time.perf_counter() - t0


async def gr_select_contended(n: int) -> float:
    c1, c2, done = Chan[int](1), Chan[int](1), Chan[None](CONSUMERS)
    await c1.send(0)

    async def selector() -> None:
        await gr_select_loop(n // CONSUMERS, c1, c2)
        await done.send(None)

    t0 = time.perf_counter()
    for _ in range(CONSUMERS):
        go(selector)
    for _ in range(CONSUMERS):
        await done.recv()
    return time.perf_counter() - t0


async def gr_sieve(n: int, buf: int) -> float:
    async def generate(ch: Chan[int]) -> None:
        i = 2
        while True:
            await ch.send(i)
            i += 1

    async def filter(src: Chan[int], dst: Chan[int], prime: int) -> None:
        while True:
            i = await src.recv()
            assert i is not None
            if i % prime:
                await dst.send(i)

    t0 = time.perf_counter()
    ch = Chan[int](buf)
    go(generate, ch)
    for _ in range(n):
        prime = await ch.recv()
        assert prime is not None
        ch1 = Chan[int](buf)
        go(filter, ch, ch1, prime)
        ch = ch1
    return time.perf_counter() - t0  # the filters are abandoned when main returns


# ---------------------------------------------------------------------------
# asyncio


async def aio_pingpong(n: int) -> float:
    ping: asyncio.Queue[int] = asyncio.Queue(1)
    pong: asyncio.Queue[int] = asyncio.Queue(1)

    async def echo() -> None:
        for _ in range(n):
            await pong.put(await ping.get())

    task = asyncio.create_task(echo())
    t0 = time.perf_counter()
    for i in range(n):
        await ping.put(i)
        await pong.get()
    elapsed = time.perf_counter() - t0
    await task
    return elapsed


async def aio_prodcons(n: int, buf: int) -> float:
    q: asyncio.Queue[int | None] = asyncio.Queue(max(buf, 1))

    async def consumer() -> int:
        total = 0
        while (v := await q.get()) is not None:
            total += v
        return total

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(consumer()) for _ in range(CONSUMERS)]
    for i in range(n):
        await q.put(i)
    for _ in range(CONSUMERS):
        await q.put(None)
    total = sum(await asyncio.gather(*tasks))
    elapsed = time.perf_counter() - t0
    assert total == n * (n - 1) // 2
    return elapsed


async def aio_select_loop(n: int, q1: asyncio.Queue[int], q2: asyncio.Queue[int]) -> None:
    """The nearest asyncio has to select: wait for the first of two gets, cancel the other."""
    for _ in range(n):
        g1, g2 = asyncio.ensure_future(q1.get()), asyncio.ensure_future(q2.get())
        done, pending = await asyncio.wait((g1, g2), return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        for t in done:
            await (q2 if t is g1 else q1).put(t.result())


async def aio_select_uncontended(n: int) -> float:
    q1: asyncio.Queue[int] = asyncio.Queue(1)
    q2: asyncio.Queue[int] = asyncio.Queue(1)
    q1.put_nowait(0)
    t0 = time.perf_counter()
    await aio_select_loop(n, q1, q2)
    return time.perf_counter() - t0


async def aio_select_contended(n: int) -> float:
    q1: asyncio.Queue[int] = asyncio.Queue(1)
    q2: asyncio.Queue[int] = asyncio.Queue(1)
    q1.put_nowait(0)
    t0 = time.perf_counter()
    await asyncio.gather(*(aio_select_loop(n // CONSUMERS, q1, q2) for _ in range(CONSUMERS)))
    return time.perf_counter() - t0


async def aio_sieve(n: int) -> float:
    async def generate(q: asyncio.Queue[int]) -> None:
        i = 2
        while True:
            await q.put(i)
            i += 1

    async def filter(src: asyncio.Queue[int], dst: asyncio.Queue[int], prime: int) -> None:
        while True:
            i = await src.get()
            if i % prime:
                await dst.put(i)

    t0 = time.perf_counter()
    tasks = []
    q: asyncio.Queue[int] = asyncio.Queue(1)
    tasks.append(asyncio.create_task(generate(q)))
    for _ in range(n):
        prime = await q.get()
        q1: asyncio.Queue[int] = asyncio.Queue(1)
        tasks.append(asyncio.create_task(filter(q, q1, prime)))
        q = q1
    elapsed = time.perf_counter() - t0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return elapsed


# ---------------------------------------------------------------------------
# trio


def trio_pingpong(n: int) -> float:
    import trio

    async def main() -> float:
        ping_s, ping_r = trio.open_memory_channel[int](0)
        pong_s, pong_r = trio.open_memory_channel[int](0)

        async def echo() -> None:
            async for v in ping_r:
                await pong_s.send(v)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(echo)
            t0 = time.perf_counter()
            for i in range(n):
                await ping_s.send(i)
                await pong_r.receive()
            elapsed = time.perf_counter() - t0
            await ping_s.aclose()
        return elapsed

    elapsed: float = trio.run(main)
    return elapsed


def trio_prodcons(n: int, buf: int) -> float:
    import trio

    async def main() -> float:
        send, receive = trio.open_memory_channel[int](buf)
        totals: list[int] = []

        async def consumer(r: Any) -> None:
            total = 0
            async for v in r:
                total += v
            totals.append(total)

        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            async with receive:
                for _ in range(CONSUMERS):
                    nursery.start_soon(consumer, receive.clone())
            async with send:
                for i in range(n):
                    await send.send(i)
        elapsed = time.perf_counter() - t0
        assert sum(totals) == n * (n - 1) // 2
        return elapsed

    elapsed: float = trio.run(main)
    return elapsed


def trio_sieve(n: int, buf: int) -> float:
    import trio

    async def main() -> float:
        async def generate(s: Any) -> None:
            i = 2
            while True:
                await s.send(i)
                i += 1

        async def filter(r: Any, s: Any, prime: int) -> None:
            async for i in r:
                if i % prime:
                    await s.send(i)

        async with trio.open_nursery() as nursery:
            t0 = time.perf_counter()
            s, r = trio.open_memory_channel[int](buf)
            nursery.start_soon(generate, s)
            for _ in range(n):
                prime = await r.receive()
                s1, r1 = trio.open_memory_channel[int](buf)
                nursery.start_soon(filter, r, s1, prime)
                r = r1
            elapsed = time.perf_counter() - t0
            nursery.cancel_scope.cancel()
        return elapsed

    elapsed: float = trio.run(main)
    return elapsed


# ---------------------------------------------------------------------------
# gevent (greenlets, not monkey-patched) and threads


def gevent_queue(buf: int) -> Any:
    """An unbuffered gevent Channel, or a bounded Queue."""
    import gevent.queue

    return gevent.queue.Channel() if buf == 0 else gevent.queue.Queue(buf)


def gevent_pingpong(n: int) -> float:
    import gevent

    ping, pong = gevent_queue(0), gevent_queue(0)

    def echo() -> None:
        for _ in range(n):
            pong.put(ping.get())

    g = gevent.spawn(echo)
    t0 = time.perf_counter()
    for i in range(n):
        ping.put(i)
        pong.get()
    elapsed = time.perf_counter() - t0
    g.join()
    return elapsed


def gevent_prodcons(n: int, buf: int) -> float:
    import gevent

    q = gevent_queue(buf)

    def consumer() -> int:
        total = 0
        while (v := q.get()) is not None:
            total += v
        return total

    t0 = time.perf_counter()
    gs = [gevent.spawn(consumer) for _ in range(CONSUMERS)]
    for i in range(n):
        q.put(i)
    for _ in range(CONSUMERS):
        q.put(None)
    gevent.joinall(gs)
    elapsed = time.perf_counter() - t0
    assert sum(g.value for g in gs) == n * (n - 1) // 2
    return elapsed


def gevent_sieve(n: int, buf: int) -> float:
    import gevent

    def generate(q: Any) -> None:
        i = 2
        while True:
            q.put(i)
            i += 1

    def filter(src: Any, dst: Any, prime: int) -> None:
        while True:
            i = src.get()
            if i % prime:
                dst.put(i)

    t0 = time.perf_counter()
    q = gevent_queue(buf)
    gs = [gevent.spawn(generate, q)]
    for _ in range(n):
        prime = q.get()
        q1 = gevent_queue(buf)
        gs.append(gevent.spawn(filter, q, q1, prime))
        q = q1
    elapsed = time.perf_counter() - t0
    gevent.killall(gs)
    return elapsed


def threads_pingpong(n: int) -> float:
    ping: queue.Queue[int] = queue.Queue(1)
    pong: queue.Queue[int] = queue.Queue(1)

    def echo() -> None:
        for _ in range(n):
            pong.put(ping.get())

    t = threading.Thread(target=echo)
    t.start()
    t0 = time.perf_counter()
    for i in range(n):
        ping.put(i)
        pong.get()
    elapsed = time.perf_counter() - t0
    t.join()
    return elapsed


def threads_prodcons(n: int, buf: int) -> float:
    q: queue.Queue[int | None] = queue.Queue(max(buf, 1))
    totals: list[int] = []

    def consumer() -> None:
        total = 0
        while (v := q.get()) is not None:
            total += v
        totals.append(total)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=consumer) for _ in range(CONSUMERS)]
    for t in ts:
        t.start()
    for i in range(n):
        q.put(i)
    for _ in range(CONSUMERS):
        q.put(None)
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    assert sum(totals) == n * (n - 1) // 2
    return elapsed


# ---------------------------------------------------------------------------
# The table


def importable(name: str) -> bool:
    """Whether the peer package `name` is installed."""
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def cases(quick: bool) -> list[tuple[str, str, Callable[[], float], int]]:
    """(workload, implementation, measure, ops): measure() returns seconds for ops ops."""
    n = 2_000 if quick else 20_000
    primes = 100 if quick else 500
    out: list[tuple[str, str, Callable[[], float], int]] = []

    def add(workload: str, impl: str, ops: int, fn: Callable[..., float], *args: Any) -> None:
        out.append((workload, impl, partial(fn, *args), ops))

    trio, gevent = importable("trio"), importable("gevent")
    w = "ping-pong round trip, unbuffered"
    add(w, "goroutines", n, gr_run, gr_pingpong, n)
    add(w, "asyncio", n, aio_run, aio_pingpong, n)
    if trio:
        add(w, "trio", n, trio_pingpong, n)
    if gevent:
        add(w, "gevent", n, gevent_pingpong, n)
    add(w, "threads", n // 4, threads_pingpong, n // 4)
    for buf in BUFFERS:
        w = f"prodcons buf={buf}, {CONSUMERS} consumers, per item"
        add(w, "goroutines", n, gr_run, gr_prodcons, n, buf)
        add(w, "asyncio", n, aio_run, aio_prodcons, n, buf)
        if trio:
            add(w, "trio", n, trio_prodcons, n, buf)
        if gevent:
            add(w, "gevent", n, gevent_prodcons, n, buf)
        add(w, "threads", n // 4, threads_prodcons, n // 4, buf)
    w = "select uncontended, 2 channels"
    add(w, "goroutines", n, gr_run, gr_select_uncontended, n)
    add(w, "asyncio", n // 4, aio_run, aio_select_uncontended, n // 4)
    w = f"select contended, {CONSUMERS} goroutines, 2 channels"
    add(w, "goroutines", n, gr_run, gr_select_contended, n)
    add(w, "asyncio", n // 4, aio_run, aio_select_contended, n // 4)
    for buf in (0, 1):
        w = f"prime sieve buf={buf}, {primes} primes, per prime"
        add(w, "goroutines", primes, gr_run, gr_sieve, primes, buf)
        add(w, "asyncio", primes, aio_run, aio_sieve, primes)
        if trio:
            add(w, "trio", primes, trio_sieve, primes, buf)
        if gevent:
            add(w, "gevent", primes, gevent_sieve, primes, buf)
    return out


def run(quick: bool = False) -> list[tuple[str, str, float]]:
    """Rows of (workload, implementation, ns per op), best of the repeats."""
    table = cases(quick)
    best: dict[tuple[str, str], float] = {}
    for _ in range(1 if quick else 3):
        for workload, impl, measure, ops in table:
            ns = measure() / ops * 1e9
            key = (workload, impl)
            best[key] = min(best.get(key, ns), ns)
    return [(w, i, ns) for (w, i), ns in best.items()]


def main() -> None:
    rows = run(quick="--quick" in sys.argv)
    base = {w: ns for w, i, ns in rows if i == "asyncio"}
    for w, i, ns in rows:
        ratio = f"{ns / base[w]:.2f}x asyncio" if w in base else ""
        print(f"{w:48s} {i:11s} {ns:12,.0f} ns/op  {ratio}")


if __name__ == "__main__":
    main()
