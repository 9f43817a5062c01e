"""Checks of the scheduler's invariants (DESIGN.md), for tests and debugging.

`checkinvariants()` stops the world from a goroutine, checks that every G is in
exactly one place and that the M/P bookkeeping agrees with itself, and starts
the world again. It raises AssertionError naming the first broken invariant.
"""

from __future__ import annotations

from .proc import acquire_g, startTheWorld, stopTheWorld
from .runtime2 import RUNQ_SIZE, G, _Grunnable, _Grunning, _Gwaiting, schedt


def checkinvariants() -> None:
    """Stop the world, check the invariants, restart: call it from a goroutine."""
    mp, me = acquire_g("checkinvariants")
    with mp.sched.worldsema:
        if not stopTheWorld(mp):
            return  # the program is ending: nothing to check
        try:
            with mp.sched.lock:
                check_stopped(mp.sched, me)
        finally:
            startTheWorld(mp, mp.sched.gomaxprocs)


def queued(sched: schedt) -> list[G]:
    """Every G on a run queue: runnext, local rings, the global queue."""
    out: list[G] = []
    for pp in sched.allp:
        if pp.runnext is not None:
            out.append(pp.runnext)
        out.extend(pp.runq[i % RUNQ_SIZE] for i in range(pp.runqhead, pp.runqtail))  # type: ignore[misc]
    out.extend(sched.runq)
    return out


def check_stopped(sched: schedt, me: G) -> None:
    """The invariants that hold while the world is stopped (sched.lock held)."""
    q = queued(sched)
    ids = [id(g) for g in q]
    assert len(ids) == len(set(ids)), "a G is on two run queues (or twice on one)"
    for g in q:
        assert g.status == _Grunnable, f"G {g.goid} on a run queue in status {g.status}"
    onq = set(ids)
    for g in list(sched.allgs):
        if g.status == _Grunnable:
            assert id(g) in onq, f"runnable G {g.goid} is on no run queue (lost)"
        elif g.status == _Grunning:
            assert g.m is not None and g.m.curg is g, (
                f"running G {g.goid} has no M: g.m={g.m} m.curg={g.m and g.m.curg} me={me.goid}"
            )
        elif g.status == _Gwaiting:
            assert id(g) not in onq, f"waiting G {g.goid} is on a run queue"
    for pp in sched.allp:
        assert 0 <= pp.runqtail - pp.runqhead <= RUNQ_SIZE, f"P{pp.id} ring out of bounds"
    # An M that is dropping its P may still be counted in nmspinning for a
    # moment; one that holds a P has stopped, and a spinning M never holds local work.
    assert 0 <= sched.nmspinning <= len(sched.allm), f"nmspinning={sched.nmspinning}"
    for m in sched.allm:
        if m.spinning and m.p is not None:
            assert m.p.runqhead == m.p.runqtail and m.p.runnext is None, (
                f"M{m.id} spins with local work"
            )
    assert sched.npidle == len(sched.pidle), "npidle disagrees with the idle P list"
    assert len(sched.allm) <= sched.maxmcount, "more Ms than maxmcount"
    for m in sched.midle:
        assert m.p is None and not m.spinning, f"idle M{m.id} holds a P or spins"
    assert me.status == _Grunning
