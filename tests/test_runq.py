"""Unit tests of the run queues, goid batches and G reuse (no threads involved)."""

from __future__ import annotations

from goroutines.runtime import proc
from goroutines.runtime.runtime2 import RUNQ_SIZE, G, P, schedt


def mksched(nprocs: int = 1) -> schedt:
    sched = schedt()
    sched.gomaxprocs = nprocs
    sched.allp = [P(i) for i in range(nprocs)]
    return sched


def gs(sched: schedt, n: int) -> list[G]:
    out = []
    for i in range(n):
        g = G(sched)
        g.goid = i + 1
        out.append(g)
    return out


def drain(pp: P) -> list[G]:
    out = []
    while True:
        g, _ = proc.runqget(pp)
        if g is None:
            return out
        out.append(g)


def test_runq_fifo_and_wraparound_over_many_cycles() -> None:
    sched = mksched()
    pp = sched.allp[0]
    g = gs(sched, 200)
    for cycle in range(50):  # 50 * 200 puts: head/tail pass the ring size many times
        for x in g:
            proc.runqput(sched, pp, x, False)
        assert pp.runqsize() == 200
        assert drain(pp) == g, f"cycle {cycle}"
    assert pp.runqhead == pp.runqtail == 50 * 200
    assert not sched.runq


def test_runnext_replacement_kicks_old_to_tail() -> None:
    sched = mksched()
    pp = sched.allp[0]
    a, b, c = gs(sched, 3)
    proc.runqput(sched, pp, a, False)
    proc.runqput(sched, pp, b, True)
    proc.runqput(sched, pp, c, True)  # b goes to the tail of the ring
    assert pp.runnext is c
    got = [proc.runqget(pp) for _ in range(3)]
    assert got == [(c, True), (a, False), (b, False)]  # runnext inherits the time slice
    assert proc.runqget(pp) == (None, False)


def test_overflow_moves_half_plus_new_to_global_in_order() -> None:
    sched = mksched()
    pp = sched.allp[0]
    g = gs(sched, RUNQ_SIZE + 1)
    for x in g:
        proc.runqput(sched, pp, x, False)
    # The 257th put finds the ring full: the first 128 plus the new one go global.
    assert list(sched.runq) == [*g[: RUNQ_SIZE // 2], g[RUNQ_SIZE]]
    assert drain(pp) == g[RUNQ_SIZE // 2 : RUNQ_SIZE]


def test_steal_half_and_runnext_only_when_asked() -> None:
    sched = mksched(2)
    p0, p1 = sched.allp
    g = gs(sched, 10)
    for x in g[:9]:
        proc.runqput(sched, p1, x, False)
    proc.runqput(sched, p1, g[9], True)
    got = proc.runqsteal(sched, p0, p1, False)
    # Half of 9 rounded up: 5 stolen, the last of them returned to run.
    assert got is g[4]
    assert drain(p0) == g[:4]
    assert p1.runqsize() == 4
    assert p1.runnext is g[9]


def test_steal_takes_half_exactly() -> None:
    sched = mksched(2)
    p0, p1 = sched.allp
    g = gs(sched, 8)
    for x in g:
        proc.runqput(sched, p1, x, False)
    got = proc.runqsteal(sched, p0, p1, False)
    assert got is g[3]
    assert drain(p0) == g[:3]
    assert drain(p1) == g[4:]


def test_steal_runnext_only_on_request() -> None:
    sched = mksched(2)
    p0, p1 = sched.allp
    (a,) = gs(sched, 1)
    proc.runqput(sched, p1, a, True)
    assert proc.runqsteal(sched, p0, p1, False) is None
    p1.status = 0  # idle: no yield before stealing runnext
    assert proc.runqsteal(sched, p0, p1, True) is a
    assert p1.runnext is None


def test_globrunqget_batch_rule() -> None:
    sched = mksched(4)
    pp = sched.allp[0]
    g = gs(sched, 100)
    for x in g:
        proc.globrunqput(sched, x)
    # n = min(size, size // gomaxprocs + 1, RUNQ_SIZE // 2) = min(100, 26, 128) = 26
    first = proc.globrunqget(sched, pp, 0)
    assert first is g[0]
    assert drain(pp) == g[1:26]
    assert len(sched.runq) == 74
    # with max = 1 exactly one
    assert proc.globrunqget(sched, pp, 1) is g[26]
    assert pp.runqsize() == 0


def test_globrunqget_caps_at_half_the_ring() -> None:
    sched = mksched(1)
    pp = sched.allp[0]
    g = gs(sched, 1000)
    for x in g:
        proc.globrunqput(sched, x)
    assert proc.globrunqget(sched, pp, 0) is g[0]
    assert pp.runqsize() == RUNQ_SIZE // 2 - 1


def test_goid_batches_and_g_reuse() -> None:
    sched = mksched(2)
    p0, p1 = sched.allp

    async def body() -> None:
        pass

    def make(pp: P) -> G:
        coro = body()
        with pp.lock:
            g = proc.newproc1(sched, pp, coro, body, 1, None, 0)
        coro.close()
        return g

    a = make(p0)
    b = make(p1)
    # Each P took a batch of 16 ids: p0 got 1..16, p1 got 17..32.
    assert (a.goid, b.goid) == (1, 17)
    assert sched.goidgen == 32
    ids = [make(p0).goid for _ in range(15)]
    assert ids == list(range(2, 17))
    assert make(p0).goid == 33  # a fresh batch
    # A dead G is reused from the P's free list.
    proc.gfput(sched, p0, a)
    c = make(p0)
    assert c is a
    assert len(sched.allgs) == 18


def test_gfput_spills_to_global_and_gfget_refills() -> None:
    sched = mksched(2)
    p0, p1 = sched.allp
    dead = gs(sched, 64)
    for g in dead:
        proc.gfput(sched, p0, g)
    assert len(p0.gFree) < 64 and len(p0.gFree) + len(sched.gFree) == 64
    assert proc.gfget(sched, p1) is not None  # p1 refills a batch from the global list
    assert len(p1.gFree) == 31


def test_random_order_visits_each_p_once() -> None:
    for n in range(1, 9):
        order = proc._RandomOrder(n)
        for r in range(50):
            assert sorted(order.order(r * 7919)) == list(range(n))
