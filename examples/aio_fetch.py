"""Goroutines fetching pages over HTTP with aiohttp, through aio.wait.

A goroutine program (`run(main)`) that uses an asyncio library as it is:

  * asyncio code runs on the runtime's own event loop (one thread, started the
    first time a goroutine calls aio.wait). An aiohttp ClientSession belongs to
    the loop it was made on, so it is made there too, inside a coroutine run
    by aio.wait, and every request goes through aio.wait to the same loop;
  * PAGES goroutines fetch /squares?n=N for N in -1..PAGES-2, at most LIMIT at
    once (an errgroup with set_limit: `await g.go(...)` waits for a free slot),
    and send what they got on a channel; -1 is refused with a 400, which is
    recorded, not an error of the program;
  * while a goroutine waits for its response it is parked (its M runs other
    goroutines): no thread per request.

The server is either examples/aio_webapp.py (`--url http://127.0.0.1:PORT`),
or, without --url, a small aiohttp server with the same /squares started in
this process, on the runtime's loop, through aio.wait. Either way the output
is the same sorted summary:

    python examples/aio_fetch.py
    python examples/aio_fetch.py --url http://127.0.0.1:8080
    goroutines run examples/aio_fetch.py
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from goroutines import Chan, aio, atomic, errgroup, run

PAGES = 20
LIMIT = 4

ACTIVE, PEAK = atomic.Int(), atomic.Int()  # fetches waiting now, and the most at once

# ---------------------------------------------------------------------------
# asyncio code: run on the runtime's event loop by aio.wait


async def squares(request: web.Request) -> web.Response:
    """The server's /squares?n=N: 1² + ... + N² (as examples/aio_webapp.py answers it)."""
    try:
        n = int(request.query["n"])
    except (KeyError, ValueError):
        return web.json_response({"error": "n must be an integer"}, status=400)
    if n < 0:
        return web.json_response({"error": f"n must be in 0..1000000, got {n}"}, status=400)
    await asyncio.sleep(0.005)  # a little latency, so that the fetches overlap
    return web.json_response({"n": n, "sum": sum(i * i for i in range(1, n + 1))})


async def start_server() -> tuple[web.AppRunner, str]:
    """An aiohttp server on 127.0.0.1, a free port: its runner and its URL."""
    app = web.Application()
    app.router.add_get("/squares", squares)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def new_session() -> ClientSession:
    return ClientSession(timeout=ClientTimeout(total=30))  # made on the loop it will use


async def get_json(session: ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as resp:
        return resp.status, await resp.json()


# ---------------------------------------------------------------------------
# Goroutines


async def fetch(session: ClientSession, base: str, n: int, out: Chan[tuple[int, str]]) -> None:
    """One page: its sum, or its HTTP status if it was refused."""
    now = ACTIVE.add(1)
    while (old := PEAK.load()) < now and not PEAK.compare_and_swap(old, now):
        pass  # another fetch raised the peak meanwhile: look again
    try:
        status, body = await aio.wait(get_json(session, f"{base}/squares?n={n}"))
    finally:
        ACTIVE.add(-1)
    await out.send((n, f"sum {body['sum']}" if status == 200 else f"HTTP {status}"))


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="goroutines fetching with aiohttp via aio.wait")
    ap.add_argument("--url", help="a server with /squares (default: start one in-process)")
    ap.add_argument("--pages", type=int, default=PAGES)
    ap.add_argument("--limit", type=int, default=LIMIT)
    return ap.parse_args()


async def main() -> None:
    args = parse_args()  # here, so that `goroutines run aio_fetch.py --url ...` works too
    url, pages, limit = args.url, args.pages, args.limit
    runner = None
    if url is None:
        runner, url = await aio.wait(start_server())
    session = await aio.wait(new_session())
    try:
        g = errgroup.Group()
        g.set_limit(limit)
        results = Chan[tuple[int, str]](pages)
        for n in range(-1, pages - 1):
            await g.go(fetch, session, url, n, results)  # waits for a free slot
        await g.wait()  # the first exception of a fetch (a network error), raised here
        results.close()
        got = sorted([r async for r in results])
    finally:
        await aio.wait(session.close())
        if runner is not None:
            await aio.wait(runner.cleanup())
    for n, what in got:
        print(f"{f'/squares?n={n}':16} {what}")
    print(f"pages: {len(got)}, never more than {limit} fetches at once: {PEAK.load() <= limit}")
    print(f"most fetches at once: {PEAK.load()}", file=sys.stderr)  # 1..limit: timing


if __name__ == "__main__":
    run(main)
