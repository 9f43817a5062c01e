"""Tests of goroutines.atomic: the operations, type checks, and no lost updates on several Ps."""

from __future__ import annotations

import threading

import pytest

import goroutines as g
from goroutines import atomic
from tests.helpers import SEEDS

pytestmark = pytest.mark.timeout(60)


def test_int() -> None:
    n = atomic.Int()
    assert n.load() == 0
    assert atomic.Int(5).load() == 5
    n.store(10)
    assert n.add(5) == 15 and n.add(-20) == -5
    assert n.swap(7) == -5 and n.load() == 7
    assert n.compare_and_swap(6, 1) is False and n.load() == 7
    assert n.compare_and_swap(7, 1) is True and n.load() == 1
    assert n.add(1 << 80) == (1 << 80) + 1  # Python ints: no overflow
    assert repr(atomic.Int(3)) == "<atomic.Int 3>"


def test_bool() -> None:
    b = atomic.Bool()
    assert b.load() is False
    b.store(True)
    assert b.swap(False) is True and b.load() is False
    assert b.compare_and_swap(True, True) is False
    assert b.compare_and_swap(False, True) is True and b.load() is True
    assert atomic.Bool(True).load() is True


def test_a_stored_over_value_is_dropped_after_the_lock_is_released() -> None:
    # Objects share striped locks: a finalizer that runs when store() drops the
    # old value must not wait for the lock store() holds (run in a thread, so
    # that a wait for ever fails the test instead of hanging it).
    v = atomic.Value()
    chans = [g.Chan[int](1)]  # kept: a freed one's address would come back
    while chans[-1]._c.lockno != v._lockno:
        chans.append(g.Chan[int](1))
    ch = chans[-1]
    sent: list[bool] = []

    class Finalized:
        def __del__(self) -> None:
            sent.append(ch.try_send(1))

    v.store(Finalized())
    t = threading.Thread(target=v.store, args=(None,), daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "store() waited for its own lock in the old value's finalizer"
    assert sent == [True]


def test_value_compares_by_identity() -> None:
    v = atomic.Value()
    assert v.load() is None
    a, b = [1], [1]  # equal, but not the same object
    v.store(a)
    assert v.compare_and_swap(b, "x") is False and v.load() is a
    assert v.compare_and_swap(a, b) is True and v.load() is b
    assert v.swap(None) is b and v.load() is None
    assert atomic.Value("s").load() == "s"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: atomic.Int("1"), "atomic.Int.__init__ needs an int, got str"),
        (lambda: atomic.Int(1.0), "needs an int, got float"),
        (lambda: atomic.Int(True), "needs an int, got bool"),
        (lambda: atomic.Int().store(None), "atomic.Int.store needs an int"),
        (lambda: atomic.Int().add(0.5), "atomic.Int.add needs an int"),
        (lambda: atomic.Int().swap("2"), "atomic.Int.swap needs an int"),
        (lambda: atomic.Int().compare_and_swap(0, 1.5), "compare_and_swap needs an int"),
        (lambda: atomic.Bool(1), "atomic.Bool.__init__ needs a bool, got int"),
        (lambda: atomic.Bool().store(0), "atomic.Bool.store needs a bool"),
        (lambda: atomic.Bool().swap(None), "atomic.Bool.swap needs a bool"),
        (lambda: atomic.Bool().compare_and_swap(0, True), "compare_and_swap needs a bool"),
    ],
)
def test_type_checks(call: object, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("seed", SEEDS)
def test_no_lost_updates_on_several_ps(seed: int) -> None:
    workers, rounds = 8, 2_000

    async def main() -> tuple[int, int, int]:
        n = atomic.Int()
        flips = atomic.Int()
        flag = atomic.Bool()
        wg = g.WaitGroup()

        async def worker(i: int) -> None:
            for j in range(rounds):
                n.add(1)
                # A CAS loop: a read-modify-write built from load and CAS.
                while True:
                    old = n.load()
                    if n.compare_and_swap(old, old + 1):
                        break
                if flag.compare_and_swap(False, True):
                    flips.add(1)
                    flag.store(False)
                if (i + j + seed) % 7 == 0:
                    await g.gosched()
                else:
                    await g.checkpoint()
            wg.done()

        wg.add(workers)
        for i in range(workers):
            g.go(worker, i)
        await wg.wait()
        return n.load(), flips.load(), int(flag.load())

    total, flips, flag = g.run(main, gomaxprocs=4)
    assert total == 2 * workers * rounds
    assert flips >= 1 and flag == 0


def test_no_lost_updates_from_plain_threads() -> None:
    n = atomic.Int()

    def adder() -> None:
        for _ in range(20_000):
            n.add(1)

    threads = [threading.Thread(target=adder) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert n.load() == 80_000


def test_plain_read_modify_write_across_an_await_loses_updates() -> None:
    # The counterpart: `n += 1` split by an await loses updates even on one P,
    # deterministically, since the other goroutine runs in between.
    workers, rounds = 4, 100

    async def main() -> int:
        count = [0]
        wg = g.WaitGroup()

        async def worker() -> None:
            for _ in range(rounds):
                v = count[0]
                await g.gosched()
                count[0] = v + 1
            wg.done()

        wg.add(workers)
        for _ in range(workers):
            g.go(worker)
        await wg.wait()
        return count[0]

    assert g.run(main, gomaxprocs=1) < workers * rounds
