"""A web crawler with a deadline and a bounded errgroup, over a local TCP server.

The "web" is a TCP server started in the same program with goroutines.net: a
client sends a path on one line, and the server answers `200 <links...>`,
`404`, or, for /slow, nothing until long after the crawler has given up. The
crawler walks it breadth first:

  * the whole crawl has a deadline (context.with_timeout), and every fetch has
    its own, shorter one, derived from it;
  * each level of the crawl is an errgroup with set_limit(3): at most three
    fetches at once, `await g.go(...)` waits for a free slot;
  * a fetch's connection carries its context (conn.set_context): a page that
    does not answer in time ends with DeadlineExceeded, which the crawler
    records instead of failing the crawl;
  * the server shuts down through its own context: cancelling it ends the
    accept loop and every connection's reader (Canceled), and the program
    checks that no goroutine is left.

The output is a sorted summary, the same on every run:

    python examples/crawler.py
    goroutines run examples/crawler.py
"""

from __future__ import annotations

from goroutines import (
    Chan,
    WaitGroup,
    after,
    atomic,
    context,
    errgroup,
    go,
    net,
    now,
    num_goroutine,
    recv,
    run,
    select,
    sleep,
)

# The site: each page and the pages it links to. /missing is not on it.
SITE: dict[str, list[str]] = {
    "/": ["/docs", "/blog", "/about"],
    "/docs": ["/docs/intro", "/docs/api", "/"],
    "/docs/intro": ["/docs/api", "/slow"],
    "/docs/api": ["/docs/intro", "/missing"],
    "/blog": ["/blog/1", "/blog/2"],
    "/blog/1": ["/blog/2", "/about"],
    "/blog/2": ["/blog/1"],
    "/about": [],
    "/slow": ["/never-seen"],
}
SLOW_PAGE_DELAY = 5.0  # /slow answers after this...
FETCH_TIMEOUT = 0.2  # ...but a fetch gives up after this
CRAWL_TIMEOUT = 10.0  # the whole crawl's deadline
LIMIT = 3  # fetches at once


# ---------------------------------------------------------------------------
# The server


async def serve_page(ctx: context.Context, conn: net.Conn, wg: WaitGroup) -> None:
    """Answer one request: `200 links...`, `404`, or a very late answer for /slow."""
    try:
        line = await conn.read(1024)
        path = line.decode().strip()
        if path == "/slow":
            # Waits for the delay or for the server's shutdown, whichever comes first.
            await select(recv(after(SLOW_PAGE_DELAY)), recv(ctx.done()))
        links = SITE.get(path)
        reply = "404" if links is None else " ".join(["200", *links])
        await conn.write(reply.encode() + b"\n")
    except (context.Canceled, OSError):
        pass  # the server is shutting down, or the client gave up
    finally:
        conn.close()
        wg.done()


async def serve(ctx: context.Context, ln: net.Listener, wg: WaitGroup) -> None:
    """Accept connections until ctx is cancelled."""
    ln.set_context(ctx)  # accept() raises Canceled once ctx is done
    try:
        while True:
            conn = await ln.accept()
            conn.set_context(ctx)  # so do the connections' reads and writes
            wg.add(1)
            go(serve_page, ctx, conn, wg)
    except context.Canceled:
        pass
    finally:
        ln.close()
        wg.done()


# ---------------------------------------------------------------------------
# The crawler


ACTIVE, PEAK = atomic.Int(), atomic.Int()  # fetches running now, and the most at once


async def fetch(ctx: context.Context, addr: tuple[str, int], path: str) -> list[str] | None:
    """The links of the page at path; None if it does not exist. Raises ctx's errors."""
    n = ACTIVE.add(1)
    while (old := PEAK.load()) < n and not PEAK.compare_and_swap(old, n):
        pass  # another fetch raised the peak meanwhile: look again
    ctx, cancel = context.with_timeout(ctx, FETCH_TIMEOUT)
    try:
        conn = await net.dial(*addr, ctx=ctx)
        async with conn:
            conn.set_context(ctx)
            await conn.write(path.encode() + b"\n")
            status, *links = (await conn.read(4096)).decode().split()
        return links if status == "200" else None
    finally:
        cancel()
        ACTIVE.add(-1)


async def visit(
    ctx: context.Context,
    addr: tuple[str, int],
    path: str,
    results: dict[str, str],
    found: Chan[list[str]],
) -> None:
    """Fetch one page: record what happened, and send its links on found."""
    try:
        links = await fetch(ctx, addr, path)
    except context.DeadlineExceeded:
        results[path] = "timed out"  # recorded, not an error of the crawl
        return
    if links is None:
        results[path] = "not found"
        return
    results[path] = f"{len(links)} link{'' if len(links) == 1 else 's'}"
    await found.send(links)


async def crawl(ctx: context.Context, addr: tuple[str, int]) -> dict[str, str]:
    """Visit every page reachable from /, a level at a time: {path: what happened}."""
    results: dict[str, str] = {}
    frontier = ["/"]
    seen = {"/"}
    while frontier:
        g, level_ctx = errgroup.with_context(ctx)
        g.set_limit(LIMIT)
        found: Chan[list[str]] = Chan(len(frontier))
        for path in frontier:
            await g.go(visit, level_ctx, addr, path, results, found)  # waits for a free slot
        await g.wait()  # raises the first unexpected error, which ends the crawl
        found.close()
        frontier = []
        async for links in found:
            for link in links:
                if link not in seen:
                    seen.add(link)
                    frontier.append(link)
        frontier.sort()
    return results


async def main() -> None:
    server_ctx, stop_server = context.with_cancel(context.background())
    ln = await net.listen("127.0.0.1", 0)
    server_wg = WaitGroup()
    server_wg.add(1)
    go(serve, server_ctx, ln, server_wg)

    ctx, cancel = context.with_timeout(context.background(), CRAWL_TIMEOUT)
    try:
        results = await crawl(ctx, ln.addr)
    finally:
        cancel()
    for path in sorted(results):
        print(f"{path:12} {results[path]}")
    print(f"pages: {len(results)}, never more than {LIMIT} fetches at once: {PEAK.load() <= LIMIT}")

    stop_server()  # ends the accept loop and the /slow handler still waiting
    await server_wg.wait()
    deadline = now() + 10
    while num_goroutine() > 1 and now() < deadline:
        # The last to call wg.done() may not have exited quite yet: on a busy
        # machine its thread may wait a while for a core.
        await sleep(0.001)
    print(f"server stopped, goroutines left: {num_goroutine() - 1}")


if __name__ == "__main__":
    run(main)
