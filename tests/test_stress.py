"""Randomized stress of the scheduler with several Ps and seeds.

Tokens hop between goroutines through mailboxes (park/ready), sometimes carried
by freshly spawned goroutines, sometimes after a gosched. At the end every
token must have arrived exactly once with all its hops, every spawned carrier
must have run exactly once, and the invariants of DESIGN.md must have held at
the stop-the-world checks along the way.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

import goroutines as g
from goroutines.runtime.invariants import checkinvariants
from tests.helpers import SEEDS
from tests.mailbox import Mailbox

STOP = object()


async def carrier(box: Mailbox, token: Any, ran: list[Any], cid: Any) -> None:
    ran.append(cid)
    box.put(token)


async def node(
    seed: int,
    me: int,
    boxes: list[Mailbox],
    sink: Mailbox,
    ran: list[int],
    cids: list[int],
    done: Mailbox,
) -> None:
    rng = random.Random(seed * 1000 + me)
    box = boxes[me]
    spawned = 0
    while True:
        item = await box.get()
        if item is STOP:
            done.put(me)
            return
        tid, hops = item
        if hops == 0:
            sink.put(tid)
            continue
        nxt = boxes[rng.randrange(len(boxes))]
        r = rng.random()
        if r < 0.3:
            cid = (me, spawned)  # unique without a lock (nodes run in parallel without the GIL)
            spawned += 1
            cids.append(cid)
            g.go(carrier, nxt, (tid, hops - 1), ran, cid)
        else:
            if r < 0.5:
                await g.gosched()
            nxt.put((tid, hops - 1))


async def stress(
    seed: int, nodes: int, tokens: int, hops: int
) -> tuple[list[int], list[int], list[int]]:
    rng = random.Random(seed)
    boxes = [Mailbox() for _ in range(nodes)]
    sink, done = Mailbox(), Mailbox()
    ran: list[Any] = []
    cids: list[Any] = []
    for i in range(nodes):
        g.go(node, seed, i, boxes, sink, ran, cids, done)
    for t in range(tokens):
        boxes[rng.randrange(nodes)].put((t, hops))
    got = []
    for k in range(tokens):
        got.append(await sink.get())
        if k % (tokens // 4) == 0:
            checkinvariants()
    for b in boxes:
        b.put(STOP)
    stopped = [await done.get() for _ in range(nodes)]
    checkinvariants()
    assert g.num_goroutine() == 1
    return got, sorted(stopped), (sorted(ran) == sorted(cids) and ran) or []


def run_stress(seed: int, procs: int, nodes: int, tokens: int, hops: int, **opts: Any) -> None:
    """Run `stress` with run()'s options and check that every token and carrier arrived once."""
    got, stopped, ran = g.run(stress, seed, nodes, tokens, hops, gomaxprocs=procs, **opts)
    assert sorted(got) == list(range(tokens)), "a token was lost or delivered twice"
    assert stopped == list(range(nodes))
    assert len(ran) == len(set(ran)) and ran, "a carrier goroutine ran twice or not at all"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("procs", [1, 2, 4, 8])
@pytest.mark.parametrize("seed", SEEDS)
def test_tokens_delivered_exactly_once(procs: int, seed: int) -> None:
    run_stress(seed, procs, nodes=40, tokens=300, hops=20)


async def leaf(box: Mailbox, i: int) -> None:
    if i % 3 == 0:
        await g.gosched()
    box.put(i)


async def branch(box: Mailbox, base: int) -> None:
    for j in range(50):
        g.go(leaf, box, base + j)


async def spawn_storm(procs: int) -> list[int]:
    """Thousands of goroutines spawning children while GOMAXPROCS changes."""
    box = Mailbox()
    for b in range(60):
        g.go(branch, box, b * 50)
        if b % 20 == 10:
            g.gomaxprocs(procs + b % 3)
    out = [await box.get() for _ in range(3000)]
    checkinvariants()
    return sorted(out)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("procs", [2, 4])
def test_spawn_storm_with_resizes(procs: int) -> None:
    assert g.run(spawn_storm, procs, gomaxprocs=procs) == list(range(3000))
