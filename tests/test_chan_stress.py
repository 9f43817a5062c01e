"""Stress: many producers and consumers over buffered and unbuffered channels and selects,
on 1, 2, 4 and 8 Ps, with the workload drawn from a seeded random.Random. Every value
sent must be received exactly once; nothing may be lost or duplicated."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

import goroutines as g
from goroutines import Chan, ChannelClosed, recv, select, send
from tests.helpers import SEEDS

PROCS = [1, 2, 4, 8]


def check_exactly_once(sent: list[Any], received: list[Any]) -> None:
    """Every sent value was received once: report duplicates and losses separately."""
    counts = Counter(received)
    assert [v for v, k in counts.items() if k > 1] == [], "received twice"
    assert sorted(set(sent) - set(counts)) == [], "lost"
    assert sorted(set(counts) - set(sent)) == [], "received but never sent"


async def producer(rng: random.Random, pid: int, n: int, chans: list[Chan[Any]]) -> None:
    """Send (pid, i) for i < n by a plain send, a select over two channels, or try_send
    (falling back to a send: an unbuffered channel takes one only from a parked receiver)."""
    for i in range(n):
        v = (pid, i)
        how = rng.random()
        if how < 0.4:
            await rng.choice(chans).send(v)
        elif how < 0.8:
            a, b = rng.sample(chans, 2)
            await select(send(a, v), recv(None), send(b, v))
        else:
            c = rng.choice(chans)
            for _ in range(3):
                if c.try_send(v):
                    break
                await g.gosched()
            else:
                await c.send(v)


async def ranger(c: Chan[Any], out: Chan[list[Any]]) -> None:
    """Receive from c until it is closed; each channel has one, so no send waits forever."""
    await out.send([v async for v in c])


async def selector(rng: random.Random, chans: list[Chan[Any]], out: Chan[list[Any]]) -> None:
    """Receive from whichever channel is ready; a closed one becomes nil (never ready)."""
    got: list[Any] = []
    live: list[Chan[Any] | None] = list(chans)
    while any(live):
        if rng.random() < 0.3:
            k = rng.choice([i for i, c in enumerate(live) if c is not None])
            v, ok = live[k].try_recv()  # type: ignore[union-attr]
            if ok:
                got.append(v)
                continue
        i, v, ok = await select(*(recv(c) for c in live))
        if ok:
            got.append(v)
        else:
            live[i] = None  # closed and drained
    await out.send(got)


async def prodcons(seed: int) -> tuple[list[Any], list[Any]]:
    rng = random.Random(seed)
    chans: list[Chan[Any]] = [Chan(rng.choice([0, 0, 1, rng.randint(2, 50)])) for _ in range(3)]
    nprod, nsel, n = rng.randint(2, 6), rng.randint(1, 4), rng.randint(300, 800)
    ncons = len(chans) + nsel
    done, out = Chan[None](), Chan[list[Any]](ncons)

    async def run_producer(pid: int) -> None:
        await producer(random.Random(rng.random()), pid, n, chans)
        await done.send(None)

    for pid in range(nprod):
        g.go(run_producer, pid)
    for c in chans:
        g.go(ranger, c, out)
    for _ in range(nsel):
        g.go(selector, random.Random(rng.random()), chans, out)
    for _ in range(nprod):
        await done.recv()
    for c in chans:
        c.close()
    received: list[Any] = []
    for _ in range(ncons):
        received += await out.recv() or []
    return [(p, i) for p in range(nprod) for i in range(n)], received


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("procs", PROCS)
def test_producers_consumers_selects(procs: int, seed: int) -> None:
    sent, received = g.run(prodcons, seed, gomaxprocs=procs)
    check_exactly_once(sent, received)


async def close_race(seed: int) -> tuple[list[Any], list[Any]]:
    """Senders keep sending while another goroutine closes the channel under them.

    A send that returned was delivered; one that raised ChannelClosed was not.
    Receivers drain until closed, so the two sets must match exactly.
    """
    rng = random.Random(seed)
    c: Chan[Any] = Chan(rng.choice([0, 1, 8]))
    nsend, nrecv = rng.randint(2, 5), rng.randint(1, 4)
    delivered, out = Chan[list[Any]](nsend), Chan[list[Any]](nrecv)

    async def sender(sid: int) -> None:
        ok = []
        try:
            for i in range(10_000):
                await c.send((sid, i))
                ok.append((sid, i))
        except ChannelClosed:
            pass
        await delivered.send(ok)

    async def receiver() -> None:
        await out.send([v async for v in c])

    for sid in range(nsend):
        g.go(sender, sid)
    for _ in range(nrecv):
        g.go(receiver)
    # One value through before the close, whatever the scheduling: a sender
    # has run (with several Ps the goroutines may start late).
    received: list[Any] = [await c.recv()]
    for _ in range(rng.randint(50, 400)):
        await g.gosched()
    c.close()
    sent: list[Any] = []
    for _ in range(nsend):
        sent += await delivered.recv() or []
    for _ in range(nrecv):
        received += await out.recv() or []
    return sent, received


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("procs", PROCS)
def test_close_racing_with_senders_loses_nothing(procs: int, seed: int) -> None:
    sent, received = g.run(close_race, seed, gomaxprocs=procs)
    assert sent, "some sends completed before the close"
    check_exactly_once(sent, received)
