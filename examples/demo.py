"""The demo: a real program on goroutines, and what the scheduler did to run it.

A pipeline of goroutines: a generator feeds numbers through Go's concurrent
prime sieve (a chain of filter goroutines, one per prime found), while a worker
pool hashes blocks with blocking calls wrapped in syscall() and a ticker
reports progress. It runs with GODEBUG-style schedtrace lines printed by sysmon
while it works and an execution trace recorded; at the end it prints the trace
summary (goroutines created, scheduling latency, per-P use, steals, handoffs)
and writes the timeline as a self-contained HTML page (what `goroutines trace
summary|html|convert` do with the compact trace it recorded).

    python examples/demo.py [--gomaxprocs N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

from goroutines import Chan, Ticker, WaitGroup, go, num_goroutine, recv, run, select, syscall
from goroutines.tracetools import convert, html, load, summary
from goroutines.tracetools.model import Model


async def generate(ch: Chan[int]) -> None:
    """Send 2, 3, 4, ... to ch (Go's sieve example)."""
    i = 2
    while True:
        await ch.send(i)
        i += 1


async def filter_(src: Chan[int], dst: Chan[int], prime: int) -> None:
    """Copy the values from src to dst, removing those divisible by prime."""
    async for i in src:
        if i % prime != 0:
            await dst.send(i)


async def sieve(n: int, out: Chan[int]) -> None:
    """The first n primes, each found by a new filter goroutine."""
    ch = Chan[int]()
    go(generate, ch)
    for _ in range(n):
        prime = await ch.recv()
        assert prime is not None
        await out.send(prime)
        ch1 = Chan[int]()
        go(filter_, ch, ch1, prime)
        ch = ch1
    out.close()


def digest(block: int) -> str:
    """A blocking call: hash 256 KiB (releases the GIL in C)."""
    return hashlib.sha256(block.to_bytes(8, "big") * 32768).hexdigest()


async def hasher(jobs: Chan[int], results: Chan[str], wg: WaitGroup) -> None:
    async for block in jobs:
        await results.send(await syscall(digest, block))
    wg.done()


async def main(primes: int, blocks: int) -> tuple[int, int, str]:
    found: Chan[int] = Chan(16)
    go(sieve, primes, found)
    jobs, results = Chan[int](64), Chan[str](64)
    wg = WaitGroup()
    for _ in range(4):
        wg.add(1)
        go(hasher, jobs, results, wg)

    async def feed() -> None:
        for b in range(blocks):
            await jobs.send(b)
        jobs.close()
        await wg.wait()
        results.close()

    go(feed)
    tick = Ticker(0.25)
    last, nprimes, hashes, peak = 0, 0, [], 0
    open_ = {"primes": True, "hashes": True}
    while any(open_.values()):
        i, v, ok = await select(
            recv(found if open_["primes"] else None),
            recv(results if open_["hashes"] else None),
            recv(tick.c),
        )
        peak = max(peak, num_goroutine())
        if i == 0:
            if not ok:
                open_["primes"] = False
            else:
                nprimes, last = nprimes + 1, v
        elif i == 1:
            if not ok:
                open_["hashes"] = False
            else:
                hashes.append(v)
        else:
            print(
                f"  progress: {nprimes} primes, {len(hashes)} blocks hashed, "
                f"{num_goroutine()} goroutines",
                flush=True,
            )
    tick.stop()
    combined = hashlib.sha256("".join(sorted(hashes)).encode()).hexdigest()[:16]
    return last, peak, combined


def demo() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gomaxprocs", type=int, default=2, help="Ps (default 2, to show stealing)")
    ap.add_argument("--primes", type=int, default=200)
    ap.add_argument("--blocks", type=int, default=100)
    args = ap.parse_args()
    os.makedirs("out", exist_ok=True)
    trace_path = os.path.join("out", "demo.trace.out")
    print(f"== running: prime sieve ({args.primes} primes) + worker pool ({args.blocks} blocks)")
    print("== sysmon prints Go's schedtrace lines to stderr every 100 ms", flush=True)
    t0 = time.monotonic()
    last, peak, combined = run(
        main,
        args.primes,
        args.blocks,
        gomaxprocs=args.gomaxprocs,
        schedtrace=100,
        trace=trace_path,
    )
    dt = time.monotonic() - t0
    print(
        f"\n== done in {dt:.2f}s: prime #{args.primes} is {last}; "
        f"block digests {combined}; peak {peak} goroutines"
    )
    raw = load(trace_path)
    model = Model(raw)
    print("\n== what the scheduler did (goroutines trace summary)\n")
    print(summary.summary(model, 15))
    page = os.path.join("out", "demo.html")
    with open(page, "w", encoding="utf-8") as f:
        f.write(html.render(model, os.path.basename(trace_path)))
    perfetto = os.path.join("out", "demo.trace.json")
    with open(perfetto, "w", encoding="utf-8") as f:
        convert.write(f, raw)
    print(f"\n== timeline: {os.path.abspath(page)} (open it in a browser)")
    print(f"== for Perfetto / chrome://tracing: {os.path.abspath(perfetto)}")
    return 0


if __name__ == "__main__":
    sys.exit(demo())
