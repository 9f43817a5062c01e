"""An aiohttp web app whose handlers run goroutine code through a Runtime.

The app opens one `goroutines.Runtime` for its whole life (aiohttp's
cleanup_ctx: opened before the first request, closed after the last), and each
handler hands its work to goroutines with `await rt.call(fn, ...)`, which waits
on the app's event loop without blocking it. The goroutine side is plain Go:

  GET /squares?n=1000&workers=4
      a pipeline (Go blog, "Pipelines and cancellation"): a generator goroutine
      sends 1..n on a channel, `workers` goroutines square what they receive,
      a WaitGroup closes the output once they are done, and the handler's
      goroutine sums it.
  GET /primes?n=100000&chunks=8&limit=2
      an errgroup with set_limit: the range is cut into chunks, at most
      `limit` counted at once (in parallel on a free-threaded CPython).
  GET /search?q=golang&timeout_ms=500&latency_ms=10
      Go's "Google Search 3.0" (Go Concurrency Patterns): web, image and video
      searches, each sent to two replicas, the first answer wins, the whole
      search under a context deadline; what has not answered by then is
      reported as timed out, and its goroutines stop on ctx.done().
  GET /batch?n=10
      goroutines reaching back into asyncio: the runtime runs aio.wait's
      coroutines on the app's own loop (aio.use_loop at startup), so
      goroutines use the app's aiohttp ClientSession, which lives on that
      loop, to fetch /squares?n=1..n from this very server, 4 at a time.

A ValueError (a bad query, or one raised by goroutine code and carried back
through rt.call) is a 400 with a JSON error. Run it:

    python examples/aio_webapp.py --port 8080
    curl 'http://127.0.0.1:8080/squares?n=1000&workers=4'

`--port 0` takes a free port; the first line printed is `listening on URL`.
SIGTERM or Ctrl-C stops it: the server closes, then the runtime, and it prints
`server stopped`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from goroutines import (
    Chan,
    Runtime,
    WaitGroup,
    after,
    aio,
    checkpoint,
    context,
    errgroup,
    go,
    gomaxprocs,
    recv,
    select,
)

RT = web.AppKey("rt", Runtime)
SESSION = web.AppKey("session", ClientSession)

MAX_N = 1_000_000  # the largest n /squares and /primes accept
MAX_WORKERS = 64
BATCH_LIMIT = 4  # /batch's fetches at once

# ---------------------------------------------------------------------------
# Goroutine code: what the handlers run through rt.call


async def generate(n: int, out: Chan[int]) -> None:
    for i in range(1, n + 1):
        await out.send(i)
    out.close()


async def square(nums: Chan[int], out: Chan[int], wg: WaitGroup, done: list[int], k: int) -> None:
    async for v in nums:  # until generate closes nums
        await out.send(v * v)
        done[k] += 1
    wg.done()


async def close_when_done(wg: WaitGroup, ch: Chan[int]) -> None:
    await wg.wait()
    ch.close()


async def sum_of_squares(n: int, workers: int) -> dict[str, Any]:
    """1² + ... + n², through a pipeline of `workers` squaring goroutines."""
    if not 0 <= n <= MAX_N:
        raise ValueError(f"n must be in 0..{MAX_N}, got {n}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be in 1..{MAX_WORKERS}, got {workers}")
    nums, squares = Chan[int](64), Chan[int](64)
    go(generate, n, nums)
    wg = WaitGroup()
    done = [0] * workers  # how many numbers each worker squared
    for k in range(workers):
        wg.add(1)
        go(square, nums, squares, wg, done, k)
    go(close_when_done, wg, squares)
    total = 0
    async for v in squares:
        total += v
    return {"n": n, "workers": workers, "sum": total, "per_worker": done}


async def count_range(lo: int, hi: int, counts: list[int], k: int) -> None:
    """The primes in [lo, hi), by trial division: CPU work that yields now and then."""
    found = 0
    for i in range(max(lo, 2), hi):
        if i % 1024 == 0:
            await checkpoint()  # a preemption point, so one chunk cannot hog its P
        if i < 4 or (i % 2 and all(i % d for d in range(3, int(i**0.5) + 1, 2))):
            found += 1
    counts[k] = found


async def count_primes(n: int, chunks: int, limit: int) -> dict[str, Any]:
    """The primes up to n, `chunks` ranges counted by an errgroup, `limit` at once."""
    if not 0 <= n <= MAX_N:
        raise ValueError(f"n must be in 0..{MAX_N}, got {n}")
    if not 1 <= chunks <= MAX_WORKERS or not 1 <= limit <= MAX_WORKERS:
        raise ValueError(f"chunks and limit must be in 1..{MAX_WORKERS}, got {chunks}, {limit}")
    g = errgroup.Group()
    g.set_limit(limit)
    counts = [0] * chunks
    size = -(-(n + 1) // chunks)
    for k in range(chunks):
        await g.go(count_range, k * size, min((k + 1) * size, n + 1), counts, k)  # waits a slot
    await g.wait()
    return {"n": n, "primes": sum(counts), "chunks": chunks, "limit": limit, "per_chunk": counts}


KINDS = ("image", "video", "web")
REPLICAS = 2


async def fake_search(
    ctx: context.Context, kind: str, replica: int, q: str, latency: float, out: Chan[str]
) -> None:
    """A backend replica: answers after its latency, or gives up when ctx is done."""
    i, _, _ = await select(recv(after(latency * (replica + 1))), recv(ctx.done()))
    if i == 0:
        await out.send(f"{kind} result for {q!r} from replica {replica}")  # buffered: never blocks


async def first(ctx: context.Context, kind: str, q: str, latency: float) -> str | None:
    """Ask every replica, take the first answer (None if ctx ends first)."""
    answers = Chan[str](REPLICAS)
    for r in range(REPLICAS):
        go(fake_search, ctx, kind, r, q, latency, answers)
    i, answer, _ = await select(recv(answers), recv(ctx.done()))
    return answer if i == 0 else None


async def search_kind(
    ctx: context.Context, kind: str, q: str, latency: float, out: Chan[tuple[str, str | None]]
) -> None:
    await out.send((kind, await first(ctx, kind, q, latency)))


async def search(q: str, timeout: float, latency: float) -> dict[str, Any]:
    """Every kind of search at once, under one deadline."""
    ctx, cancel = context.with_timeout(context.background(), timeout)
    try:
        out = Chan[tuple[str, str | None]](len(KINDS))
        for kind in KINDS:
            go(search_kind, ctx, kind, q, latency, out)
        answers: dict[str, str | None] = {}
        for _ in KINDS:
            got = await out.recv()
            assert got is not None  # out is never closed
            answers[got[0]] = got[1]
    finally:
        cancel()  # the replicas still waiting stop now
    return {
        "query": q,
        "results": {k: v for k, v in sorted(answers.items()) if v is not None},
        "timed_out": sorted(k for k, v in answers.items() if v is None),
    }


async def get_json(session: ClientSession, url: str) -> tuple[int, Any]:
    """asyncio code, run on the app's loop (where the session lives) by aio.wait."""
    async with session.get(url) as resp:
        return resp.status, await resp.json()


async def fetch_sum(session: ClientSession, base: str, i: int, sums: list[int]) -> None:
    status, body = await aio.wait(get_json(session, f"{base}/squares?n={i}&workers=2"))
    if status != 200:
        raise RuntimeError(f"/squares?n={i}: HTTP {status}: {body}")
    sums[i - 1] = body["sum"]


async def batch(session: ClientSession, base: str, n: int) -> dict[str, Any]:
    """/squares?n=1..n fetched from this server by goroutines, BATCH_LIMIT at once."""
    if not 1 <= n <= 100:
        raise ValueError(f"n must be in 1..100, got {n}")
    g = errgroup.Group()
    g.set_limit(BATCH_LIMIT)
    sums = [0] * n
    for i in range(1, n + 1):
        await g.go(fetch_sum, session, base, i, sums)
    await g.wait()  # the first failure, raised again here
    return {"n": n, "limit": BATCH_LIMIT, "sums": sums}


async def use_app_loop(loop: asyncio.AbstractEventLoop) -> None:
    aio.use_loop(loop)  # aio.wait runs coroutines on the app's loop from now on


async def procs() -> int:
    return gomaxprocs()


# ---------------------------------------------------------------------------
# The web app


def query_int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


async def index(request: web.Request) -> web.Response:
    rt = request.app[RT]
    paths = ["/squares", "/primes", "/search", "/batch"]
    return web.json_response({"endpoints": paths, "gomaxprocs": await rt.call(procs)})


async def squares_handler(request: web.Request) -> web.Response:
    n, workers = query_int(request, "n", 100), query_int(request, "workers", 4)
    return web.json_response(await request.app[RT].call(sum_of_squares, n, workers))


async def primes_handler(request: web.Request) -> web.Response:
    n = query_int(request, "n", 10_000)
    chunks, limit = query_int(request, "chunks", 8), query_int(request, "limit", 2)
    return web.json_response(await request.app[RT].call(count_primes, n, chunks, limit))


async def search_handler(request: web.Request) -> web.Response:
    q = request.query.get("q", "golang")
    timeout = query_int(request, "timeout_ms", 500) / 1000
    latency = query_int(request, "latency_ms", 10) / 1000
    return web.json_response(await request.app[RT].call(search, q, timeout, latency))


async def batch_handler(request: web.Request) -> web.Response:
    app = request.app
    base = str(request.url.origin())
    n = query_int(request, "n", 10)
    return web.json_response(await app[RT].call(batch, app[SESSION], base, n))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A ValueError, from the handler or from its goroutines, is the client's fault: 400."""
    try:
        return await handler(request)
    except ValueError as e:
        return web.json_response({"error": str(e)}, status=400)


async def goroutine_runtime(app: web.Application) -> AsyncIterator[None]:
    """The app's Runtime and ClientSession, open from startup to cleanup."""
    async with ClientSession(timeout=ClientTimeout(total=30)) as session:
        app[SESSION] = session
        with Runtime() as rt:
            app[RT] = rt
            await rt.call(use_app_loop, asyncio.get_running_loop())
            yield
        # Leaving the block stopped the runtime (its goroutines, if any were
        # left, are abandoned as when a Go program's main returns).


def make_app() -> web.Application:
    app = web.Application(middlewares=[errors])
    app.cleanup_ctx.append(goroutine_runtime)
    app.router.add_get("/", index)
    app.router.add_get("/squares", squares_handler)
    app.router.add_get("/primes", primes_handler)
    app.router.add_get("/search", search_handler)
    app.router.add_get("/batch", batch_handler)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(make_app())
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        addr_host, addr_port = runner.addresses[0][:2]
        print(f"listening on http://{addr_host}:{addr_port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()  # stops serving, then closes the Runtime and the session
    print("server stopped", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description="aiohttp handlers running goroutines")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080, help="0: any free port")
    args = ap.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
