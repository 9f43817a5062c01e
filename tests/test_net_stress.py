"""Seeded stress of goroutines.net: random writes against random reads, on several Ps.

Every byte written must be read once, in order, whatever the sizes: full reads
that leave data queued, short reads that drain it (after which a read parks
before its recv), EAGAIN, wakeups from a netpoll on another M, and EOF.
"""

from __future__ import annotations

import random

import pytest

from goroutines import gosched, run
from goroutines.net import Conn
from tests.helpers import SEEDS
from tests.test_net import WaitGroup, pair, spawn

pytestmark = pytest.mark.timeout(60)

CONNS = 12


async def writer(c: Conn, payload: bytes, pieces: list[tuple[int, int]]) -> None:
    """Write payload in the planned piece sizes, yielding the planned times between."""
    at = 0
    for size, yields in pieces:
        assert await c.write(payload[at : at + size]) == size
        at += size
        for _ in range(yields):
            await gosched()
    assert at == len(payload)
    c.close_write()


async def reader(s: Conn, want: int, reads: list[tuple[str, int]], out: bytearray) -> None:
    """Read until EOF with the planned operations, cycling through them."""
    i = 0
    while True:
        kind, size = reads[i % len(reads)]
        i += 1
        if kind == "exactly" and len(out) + size <= want:
            out += await s.read_exactly(size)
            continue
        if kind == "into":
            buf = bytearray(size)
            n = await s.read_into(buf)
            chunk = bytes(buf[:n])
        else:
            chunk = await s.read(size)
        if not chunk:
            return
        out += chunk


def plan(rng: random.Random) -> tuple[bytes, list[tuple[int, int]], list[tuple[str, int]]]:
    """A payload, how to write it (piece size, goscheds after) and how to read it."""
    payload = rng.randbytes(rng.randrange(1, 60_000))
    pieces, left = [], len(payload)
    while left:
        size = min(left, rng.choice([1, 7, 64, 1000, 4096, 20_000]))
        pieces.append((size, rng.choice([0, 0, 1, 5])))
        left -= size
    kinds = ["read", "exactly", "into"]
    reads = [(rng.choice(kinds), rng.choice([1, 5, 64, 1500, 65_536])) for _ in range(7)]
    return payload, pieces, reads


@pytest.mark.parametrize("procs", [1, 2, 4])
@pytest.mark.parametrize("seed", SEEDS)
def test_every_byte_arrives_once_in_order(procs: int, seed: int) -> None:
    rng = random.Random(seed)
    plans = [plan(rng) for _ in range(CONNS)]

    async def main() -> list[bytes]:
        outs = [bytearray() for _ in range(CONNS)]
        wg, errors = WaitGroup(2 * CONNS), []
        conns = []
        for (payload, pieces, reads), out in zip(plans, outs, strict=True):
            ln, c, s = await pair()
            ln.close()
            conns += [c, s]
            spawn(wg, errors, reader, s, len(payload), reads, out)
            spawn(wg, errors, writer, c, payload, pieces)
        await wg.wait()
        for x in conns:
            x.close()
        if errors:
            raise errors[0]
        return [bytes(o) for o in outs]

    got = run(main, gomaxprocs=procs)
    for i, (payload, _, _) in enumerate(plans):
        assert got[i] == payload, f"connection {i}: {len(got[i])} of {len(payload)} bytes right"
