"""The sync package: WaitGroup, Mutex, RWMutex, Once, Cond, Semaphore."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

import pytest

import goroutines.sync as gsync
from goroutines import (
    Chan,
    Cond,
    Deadlock,
    Mutex,
    Once,
    RWMutex,
    Semaphore,
    WaitGroup,
    go,
    gosched,
    run,
)
from goroutines.runtime import proc
from goroutines.runtime.runtime2 import G, _Gwaiting
from goroutines.runtime.sema import Sema, rootFor
from goroutines.sync import (
    mutexLocked,
    mutexStarving,
    mutexWaiterShift,
    mutexWoken,
    rwmutexMaxReaders,
)
from tests.helpers import Counter, completes_at_once, wait_len, wait_until

pytestmark = pytest.mark.timeout(30)

PROCS = [1, 2, 4]


def parked(addr: Sema) -> int:
    """How many goroutines are parked on a runtime semaphore."""
    root = rootFor(addr)
    with root.lock:
        return len(root.waiters.get(addr, ()))


def waiters(mu: Mutex) -> int:
    """The waiter count of a Mutex's state word."""
    return mu._state >> mutexWaiterShift


# ---------------------------------------------------------------------------
# Mutex


class FakeClock:
    """A nanotime() that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.mark.parametrize("procs", PROCS)
def test_mutex_counter_is_exact_and_only_one_goroutine_is_inside(procs: int) -> None:
    async def main() -> tuple[int, int]:
        mu = Mutex()
        wg = WaitGroup()
        counter = 0
        inside = 0
        most = 0

        async def worker() -> None:
            nonlocal counter, inside, most
            for _ in range(50):
                async with mu:
                    inside += 1
                    most = max(most, inside)
                    c = counter
                    await gosched()  # another goroutine runs while we hold the lock
                    counter = c + 1
                    inside -= 1
            wg.done()

        for _ in range(16):
            wg.add(1)
            go(worker)
        await wg.wait()
        return counter, most

    assert run(main, gomaxprocs=procs) == (16 * 50, 1)


def test_mutex_lock_fast_path_does_not_park() -> None:
    async def main() -> tuple[bool, int]:
        gp = proc.getg()
        assert gp is not None
        gp.preempt = False
        mu = Mutex()
        return completes_at_once(mu.lock()), mu._state

    assert run(main) == (True, mutexLocked)


def test_mutex_try_lock() -> None:
    async def main() -> list[bool]:
        mu = Mutex()
        got = [mu.try_lock(), mu.try_lock()]
        mu.unlock()
        got.append(mu.try_lock())
        mu.unlock()
        await mu.lock()
        got.append(mu.try_lock())
        mu.unlock()
        return got

    assert run(main) == [True, False, True, False]


def test_mutex_unlock_of_unlocked_mutex_raises_and_changes_nothing() -> None:
    async def main() -> tuple[str, int, bool]:
        mu = Mutex()
        with pytest.raises(RuntimeError) as ei:
            mu.unlock()
        state = mu._state
        ok = mu.try_lock()
        mu.unlock()
        return str(ei.value), state, ok

    assert run(main) == ("sync: unlock of unlocked mutex", 0, True)


def test_mutex_async_with_unlocks_on_exception() -> None:
    async def main() -> int:
        mu = Mutex()
        with pytest.raises(KeyError):
            async with mu:
                raise KeyError("x")
        return mu._state

    assert run(main) == 0


def test_mutex_can_be_unlocked_by_another_goroutine() -> None:
    async def main() -> tuple[list[str], int]:
        mu = Mutex()
        await mu.lock()
        events: list[str] = []

        async def unlocker() -> None:
            events.append("unlock")
            mu.unlock()

        go(unlocker)
        await mu.lock()  # parks until the other goroutine unlocks
        events.append("locked again")
        mu.unlock()
        return events, mu._state

    assert run(main, gomaxprocs=2) == (["unlock", "locked again"], 0)


def test_mutex_lock_outside_a_goroutine_names_the_problem() -> None:
    mu = Mutex()
    with pytest.raises(RuntimeError, match=r"Mutex\.lock called outside a goroutine"):
        mu.lock().send(None)  # type: ignore[attr-defined]  # as a plain thread awaiting it
    assert mu._state == 0


def test_mutex_normal_mode_wake_sets_woken_and_lets_a_running_goroutine_barge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gsync, "nanotime", FakeClock())  # nobody waits > 1 ms

    async def main() -> list[int]:
        mu = Mutex()
        states: list[int] = []
        got: list[bool] = []

        async def waiter() -> None:
            await mu.lock()
            got.append(True)
            mu.unlock()

        await mu.lock()
        go(waiter)
        await wait_until(lambda: waiters(mu) == 1)
        states.append(mu._state)
        mu.unlock()  # wakes the waiter: it no longer counts as waiting
        states.append(mu._state)
        await mu.lock()  # the waiter has not run yet: we take the lock first
        states.append(mu._state)
        await wait_until(lambda: waiters(mu) == 1)  # it lost and queued again
        states.append(mu._state)
        mu.unlock()
        await wait_until(lambda: got)
        states.append(mu._state)
        return states

    assert run(main, gomaxprocs=1) == [
        mutexLocked | 1 << mutexWaiterShift,
        mutexWoken,
        mutexLocked | mutexWoken,
        mutexLocked | 1 << mutexWaiterShift,
        0,
    ]


@pytest.mark.parametrize(("waited", "starving"), [(2_000_000, True), (500_000, False)])
def test_mutex_starvation_mode_engages_after_1ms_and_hands_off(
    monkeypatch: pytest.MonkeyPatch, waited: int, starving: bool
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(gsync, "nanotime", clock)

    async def main() -> list[object]:
        mu = Mutex()
        seen: list[object] = []
        got: list[int] = []

        async def waiter() -> None:
            await mu.lock()
            got.append(mu._state)
            mu.unlock()

        await mu.lock()
        go(waiter)
        await wait_until(lambda: waiters(mu) == 1)
        clock.now += waited  # the waiter has waited this long
        mu.unlock()  # normal mode: wake it
        await mu.lock()  # and barge in before it runs
        # The waiter runs, finds the mutex locked again and queues at the head.
        await wait_until(lambda: waiters(mu) == 1)
        seen.append(mu._state)
        seen.append(mu.try_lock())
        mu.unlock()
        # In starvation mode the mutex went to the waiter: not locked, but taken.
        seen.append(mu._state)
        seen.append(mu.try_lock())
        if not starving:
            mu.unlock()
        await wait_until(lambda: got)
        seen.append(got[0])
        seen.append(mu._state)
        return seen

    one_waiter = 1 << mutexWaiterShift
    if starving:
        assert run(main, gomaxprocs=1) == [
            mutexLocked | mutexStarving | one_waiter,
            False,
            mutexStarving | one_waiter,
            False,  # a running goroutine may not take a starving mutex
            mutexLocked,  # the last waiter took it and left starvation mode
            0,
        ]
    else:
        assert run(main, gomaxprocs=1) == [
            mutexLocked | one_waiter,
            False,
            mutexWoken,
            True,  # normal mode: we barge in again
            mutexLocked,
            0,
        ]


def test_mutex_starvation_mode_stays_while_long_waiters_remain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(gsync, "nanotime", clock)

    async def main() -> list[int]:
        mu = Mutex()
        got: list[str] = []
        states: list[int] = []

        async def waiter(name: str) -> None:
            await mu.lock()
            got.append(name)
            states.append(mu._state)
            clock.now += 2_000_000  # everyone else waits 2 ms more
            mu.unlock()

        await mu.lock()
        for n, name in enumerate("abc"):
            go(waiter, name)
            await wait_until(lambda n=n: waiters(mu) == n + 1)
        clock.now += 2_000_000
        mu.unlock()  # wakes a
        await mu.lock()  # barge: a queues again at the head, starving
        await wait_until(lambda: mu._state & mutexStarving)
        mu.unlock()  # hand off to a, b, c in turn
        await wait_len(lambda: got, 3)
        assert got == ["a", "b", "c"]
        return [*states, mu._state]

    one_waiter = 1 << mutexWaiterShift
    assert run(main, gomaxprocs=1) == [
        mutexLocked | mutexStarving | 2 * one_waiter,
        mutexLocked | mutexStarving | one_waiter,
        mutexLocked,  # c was the last waiter: back to normal mode
        0,
    ]


def test_mutex_blocked_forever_is_a_deadlock() -> None:
    async def main() -> None:
        mu = Mutex()
        await mu.lock()
        await mu.lock()

    with pytest.raises(Deadlock, match="all goroutines are asleep - deadlock!") as ei:
        run(main)
    assert "[sync.Mutex.Lock]" in str(ei.value)


def test_mutex_repr() -> None:
    async def main() -> tuple[str, str]:
        mu = Mutex()
        free = repr(mu)
        await mu.lock()
        return free, repr(mu)

    free, held = run(main)
    assert free.startswith("<Mutex unlocked, 0 waiters")
    assert held.startswith("<Mutex locked, 0 waiters")


# ---------------------------------------------------------------------------
# RWMutex


def test_rwmutex_many_readers_are_inside_at_once() -> None:
    async def main() -> int:
        rw = RWMutex()
        inside: list[int] = []
        most = Counter()
        left = Counter(10)

        async def reader(i: int) -> None:
            async with rw.rlocker():
                inside.append(i)
                await wait_len(lambda: inside, 10)  # every reader gets in
                most.max(len(inside))
            left.add(-1)

        for i in range(10):
            go(reader, i)
        await wait_until(lambda: left.value == 0)
        return most.value

    assert run(main, gomaxprocs=2) == 10


@pytest.mark.parametrize("procs", PROCS)
def test_rwmutex_writers_exclude_everyone(procs: int) -> None:
    async def main() -> tuple[int, list[str]]:
        rw = RWMutex()
        wg = WaitGroup()
        readers = Counter()
        writers = Counter()
        value = 0
        errors: list[str] = []

        async def writer() -> None:
            nonlocal value
            for _ in range(20):
                async with rw:
                    w = writers.add(1)
                    if w != 1 or readers.value != 0:
                        errors.append(f"writer with {w} writers, {readers.value} readers")
                    v = value
                    await gosched()
                    value = v + 1
                    writers.add(-1)
            wg.done()

        async def reader() -> None:
            for _ in range(20):
                async with rw.rlocker():
                    readers.add(1)
                    if writers.value:
                        errors.append(f"reader with {writers.value} writers")
                    await gosched()
                    readers.add(-1)
            wg.done()

        for i in range(12):
            wg.add(1)
            go(writer if i % 3 == 0 else reader)
        await wg.wait()
        return value, errors

    assert run(main, gomaxprocs=procs) == (4 * 20, [])


def test_rwmutex_waiting_writer_blocks_new_readers() -> None:
    async def main() -> list[str]:
        rw = RWMutex()
        events: list[str] = []

        async def writer() -> None:
            await rw.lock()
            events.append("writer in")
            rw.unlock()

        async def late_reader() -> None:
            await rw.rlock()
            events.append("late reader in")
            rw.runlock()

        await rw.rlock()
        go(writer)
        await wait_until(lambda: rw._readerCount < 0)  # the writer is pending
        go(late_reader)
        await wait_until(lambda: rw._readerCount == 2 - rwmutexMaxReaders)
        await wait_until(lambda: parked(rw._readerSem) == 1)
        events.append("first reader out")
        rw.runlock()  # the last active reader lets the writer in
        await wait_len(lambda: events, 3)
        return events

    assert run(main, gomaxprocs=1) == ["first reader out", "writer in", "late reader in"]


def test_rwmutex_readers_stream_does_not_starve_a_writer() -> None:
    reads = Counter()

    class Announcing(RWMutex):
        """Notes how many reads had happened when a writer announced itself."""

        __slots__ = ("reads_at_announce",)

        def _announceWriter(self) -> bool:
            self.reads_at_announce = reads.value
            return super()._announceWriter()

    async def main() -> tuple[int, list[int]]:
        rw = Announcing()
        stop = [False]
        running = Counter(4)

        async def reader() -> None:
            while not stop[0]:
                async with rw.rlocker():
                    reads.add(1)
                    await gosched()
            running.add(-1)

        for _ in range(4):
            go(reader)
        await wait_until(lambda: reads.value >= 8)
        during = []
        for _ in range(5):
            await rw.lock()  # we are the only writer: lock() announces us at once
            # Only readers that were already past their check when we
            # announced ourselves got in while we waited: at most one each.
            during.append(reads.value - rw.reads_at_announce)
            rw.unlock()
            await wait_until(lambda before=reads.value: reads.value > before)
        stop[0] = True
        await wait_until(lambda: running.value == 0)
        return len(during), [d for d in during if d > 4]

    assert run(main, gomaxprocs=2) == (5, [])


def test_rwmutex_misuse_raises_go_messages_and_changes_nothing() -> None:
    async def main() -> list[str]:
        rw = RWMutex()
        msgs: list[str] = []
        for bad in (rw.runlock, rw.unlock):
            with pytest.raises(RuntimeError) as ei:
                bad()
            msgs.append(str(ei.value))
        await rw.rlock()
        with pytest.raises(RuntimeError) as ei:
            rw.unlock()  # read-locked, not write-locked
        msgs.append(str(ei.value))
        rw.runlock()
        await rw.lock()
        with pytest.raises(RuntimeError) as ei:
            rw.runlock()  # write-locked, not read-locked
        msgs.append(str(ei.value))
        rw.unlock()
        # Still usable.
        await rw.lock()
        rw.unlock()
        await rw.rlock()
        rw.runlock()
        msgs.append(str((rw._readerCount, rw._readerWait, rw._w._state)))
        return msgs

    assert run(main) == [
        "sync: RUnlock of unlocked RWMutex",
        "sync: Unlock of unlocked RWMutex",
        "sync: Unlock of unlocked RWMutex",
        "sync: RUnlock of unlocked RWMutex",
        "(0, 0, 0)",
    ]


def test_rwmutex_rlocker_is_a_locker() -> None:
    async def main() -> tuple[int, int, bool]:
        rw = RWMutex()
        rl = rw.rlocker()
        await rl.lock()
        await rl.lock()
        during = rw._readerCount
        writer_free = rw._w.try_lock()  # readers do not hold the writers' mutex
        rw._w.unlock()
        rl.unlock()
        rl.unlock()
        return during, rw._readerCount, writer_free and rw.rlocker() is rl

    assert run(main) == (2, 0, True)


def test_rwmutex_blocked_writer_is_a_deadlock() -> None:
    async def main() -> None:
        rw = RWMutex()
        await rw.rlock()
        await rw.lock()

    with pytest.raises(Deadlock) as ei:
        run(main)
    assert "[sync.RWMutex.Lock]" in str(ei.value)


# ---------------------------------------------------------------------------
# WaitGroup


@pytest.mark.parametrize("procs", PROCS)
def test_waitgroup_waits_for_every_goroutine(procs: int) -> None:
    async def main() -> list[int]:
        wg = WaitGroup()
        finished: list[int] = []

        async def worker(i: int) -> None:
            for _ in range(i % 4):
                await gosched()
            finished.append(i)
            wg.done()

        for i in range(50):
            wg.add(1)
            go(worker, i)
        await wg.wait()
        return sorted(finished)

    assert run(main, gomaxprocs=procs) == list(range(50))


def test_waitgroup_wait_on_zero_returns_at_once() -> None:
    async def main() -> bool:
        gp = proc.getg()
        assert gp is not None
        gp.preempt = False
        return completes_at_once(WaitGroup().wait())

    assert run(main) is True


def test_waitgroup_negative_counter_raises_and_changes_nothing() -> None:
    async def main() -> tuple[str, str, int]:
        wg = WaitGroup()
        with pytest.raises(ValueError) as e1:
            wg.done()
        wg.add(2)
        with pytest.raises(ValueError) as e2:
            wg.add(-3)
        v = wg._v
        wg.add(-2)
        await wg.wait()
        return str(e1.value), str(e2.value), v

    msg = "sync: negative WaitGroup counter"
    assert run(main) == (msg, msg, 2)


def test_waitgroup_releases_every_waiter_and_can_be_reused() -> None:
    async def main() -> list[int]:
        wg = WaitGroup()
        rounds: list[int] = []

        async def waiter(released: Counter, inner: WaitGroup) -> None:
            await wg.wait()
            released.add(1)
            inner.done()

        for r in range(3):
            released = Counter()
            inner = WaitGroup()
            wg.add(1)
            for _ in range(5):
                inner.add(1)
                go(waiter, released, inner)
            await wait_until(lambda: wg._w == 5)
            wg.done()
            await inner.wait()  # every wait() returned: wg may be reused
            rounds.append(released.value + 10 * r)
        return rounds

    assert run(main, gomaxprocs=2) == [5, 15, 25]


def test_waitgroup_reuse_before_wait_returned_is_detected() -> None:
    async def main() -> list[str]:
        wg = WaitGroup()
        errors: list[str] = []

        async def waiter() -> None:
            try:
                await wg.wait()
            except RuntimeError as e:
                errors.append(str(e))

        wg.add(1)
        go(waiter)
        await wait_until(lambda: wg._w == 1)
        wg.done()  # releases the waiter, which has not run yet
        wg.add(1)  # and a new round starts before its wait() returned
        await wait_until(lambda: errors)
        return errors

    assert run(main, gomaxprocs=1) == [
        "sync: WaitGroup is reused before previous Wait has returned"
    ]


def test_waitgroup_never_done_is_a_deadlock() -> None:
    async def main() -> None:
        wg = WaitGroup()
        wg.add(1)
        await wg.wait()

    with pytest.raises(Deadlock) as ei:
        run(main)
    assert "[sync.WaitGroup.Wait]" in str(ei.value)


# ---------------------------------------------------------------------------
# Once


@pytest.mark.parametrize("procs", PROCS)
def test_once_runs_exactly_once_for_100_concurrent_callers(procs: int) -> None:
    async def main() -> tuple[int, int, int]:
        once = Once()
        wg = WaitGroup()
        calls = [0]
        finished = [False]
        early = [0]

        async def init() -> None:
            calls[0] += 1
            for _ in range(5):
                await gosched()  # the others arrive meanwhile
            finished[0] = True

        async def caller() -> None:
            await once.do(init)
            if not finished[0]:
                early[0] += 1  # returned before init finished
            wg.done()

        for _ in range(100):
            wg.add(1)
            go(caller)
        await wg.wait()
        await once.do(init)
        return calls[0], early[0], int(finished[0])

    assert run(main, gomaxprocs=procs) == (1, 0, 1)


def test_once_exception_propagates_to_the_runner_and_counts_as_done() -> None:
    async def main() -> tuple[int, bool]:
        once = Once()
        calls = [0]

        async def boom() -> None:
            calls[0] += 1
            raise ValueError("init failed")

        with pytest.raises(ValueError, match="init failed"):
            await once.do(boom)
        await once.do(boom)  # done: does not run it again
        return calls[0], once._m.try_lock()

    assert run(main) == (1, True)


def test_once_waiters_return_when_the_runner_raises() -> None:
    async def main() -> tuple[list[str], int]:
        once = Once()
        results: list[str] = []
        wg = WaitGroup()

        async def boom() -> None:
            await gosched()
            raise KeyError("k")

        async def caller() -> None:
            try:
                await once.do(boom)
                results.append("returned")
            except KeyError:
                results.append("raised")
            wg.done()

        for _ in range(5):
            wg.add(1)
            go(caller)
        await wg.wait()
        return sorted(results), len(results)

    assert run(main, gomaxprocs=2) == (["raised"] + ["returned"] * 4, 5)


def test_once_rejects_a_plain_function() -> None:
    async def main() -> str:
        once = Once()
        with pytest.raises(TypeError) as ei:
            await once.do(lambda: None)  # type: ignore[arg-type,return-value]
        return str(ei.value)

    msg = run(main)
    assert "Once.do() needs an async function" in msg


# ---------------------------------------------------------------------------
# Cond


def cond_waiting(c: Cond) -> int:
    """How many goroutines are parked in c.wait()."""
    nl = c._notify
    n = 0
    with nl.lock:
        s = nl.head
        while s is not None:
            n += 1
            s = s.next
    return n


def test_cond_signal_wakes_one_and_broadcast_wakes_all() -> None:
    async def main() -> tuple[list[int], int, list[int], int]:
        mu = Mutex()
        c = Cond(mu)
        woken: list[int] = []
        go_ahead = [0]

        async def waiter(i: int) -> None:
            async with mu:
                while go_ahead[0] == 0:
                    await c.wait()
                woken.append(i)

        for i in range(5):
            go(waiter, i)
        await wait_until(lambda: cond_waiting(c) == 5)
        async with mu:
            go_ahead[0] = 1
            c.signal()
        await wait_len(lambda: woken, 1)
        after_signal = list(woken)
        still = cond_waiting(c)
        async with mu:
            c.broadcast()
        await wait_len(lambda: woken, 5)
        return after_signal, still, sorted(woken), cond_waiting(c)

    one, still, every, left = run(main, gomaxprocs=2)
    assert len(one) == 1
    assert still == 4
    assert every == [0, 1, 2, 3, 4]
    assert left == 0


def test_cond_wait_unlocks_while_waiting_and_relocks() -> None:
    async def main() -> tuple[int, int, bool]:
        mu = Mutex()
        c = Cond(mu)
        seen: list[int] = []

        async def waiter() -> None:
            await mu.lock()
            await c.wait()
            seen.append(mu._state & mutexLocked)
            mu.unlock()

        go(waiter)
        await wait_until(lambda: cond_waiting(c) == 1)
        during = mu._state  # the waiter released it
        got = mu.try_lock()
        c.signal()
        await gosched()
        blocked = not seen  # it cannot return while we hold the lock
        mu.unlock()
        await wait_until(lambda: seen)
        return during, seen[0], got and blocked

    assert run(main, gomaxprocs=1) == (0, mutexLocked, True)


def test_cond_with_rwmutex_read_locker() -> None:
    async def main() -> int:
        rw = RWMutex()
        c = Cond(rw.rlocker())
        ready = [False]
        woken = Counter()

        async def waiter() -> None:
            async with rw.rlocker():
                while not ready[0]:
                    await c.wait()
            woken.add(1)  # after the read lock is released, which main checks

        for _ in range(3):
            go(waiter)
        await wait_until(lambda: cond_waiting(c) == 3)
        async with rw:
            ready[0] = True
        c.broadcast()
        await wait_until(lambda: woken.value == 3)
        return rw._readerCount

    assert run(main, gomaxprocs=2) == 0


def test_cond_needs_a_locker() -> None:
    with pytest.raises(TypeError):
        Cond()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="needs a Locker"):
        Cond(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a Locker"):
        Cond(threading.Lock())  # type: ignore[arg-type]


def test_cond_wait_without_signal_is_a_deadlock() -> None:
    async def main() -> None:
        mu = Mutex()
        c = Cond(mu)
        await mu.lock()
        await c.wait()

    with pytest.raises(Deadlock) as ei:
        run(main)
    assert "[sync.Cond.Wait]" in str(ei.value)


# ---------------------------------------------------------------------------
# Semaphore


@pytest.mark.parametrize("procs", PROCS)
def test_semaphore_bound_is_respected(procs: int) -> None:
    async def main() -> tuple[int, int]:
        sem = Semaphore(3)
        wg = WaitGroup()
        inside = Counter()
        most = Counter()

        async def worker() -> None:
            for _ in range(10):
                async with sem:
                    most.max(inside.add(1))
                    # Holders wait for each other until three were inside at
                    # once: otherwise whether the bound is ever reached is up to
                    # the interleaving (CI once saw 2 on free-threaded 3.13).
                    for _ in range(10_000):
                        if most.value >= 3:
                            break
                        await gosched()
                    await gosched()
                    await gosched()
                    inside.add(-1)
            wg.done()

        for _ in range(20):
            wg.add(1)
            go(worker)
        await wg.wait()
        return most.value, sem._cur

    most, cur = run(main, gomaxprocs=procs)
    assert most == 3  # never more than the permits, and all of them used
    assert cur == 0


def test_semaphore_serves_waiters_in_order_and_hands_off_permits() -> None:
    async def main() -> tuple[list[int], int, bool]:
        sem = Semaphore(1)
        order: list[int] = []
        await sem.acquire()

        async def waiter(i: int) -> None:
            await sem.acquire()
            order.append(i)
            sem.release()

        for i in range(4):
            go(waiter, i)
            await wait_until(lambda i=i: sem._waiters == i + 1)
        sem.release()  # the permit goes to waiter 0, not to whoever asks next
        held = sem._cur
        await sem.acquire()  # we queue behind the four
        order.append(99)
        sem.release()
        return order, held

    assert run(main, gomaxprocs=1) == ([0, 1, 2, 3, 99], 1)


def test_semaphore_misuse() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        Semaphore(-1)
    with pytest.raises(TypeError, match="needs an int"):
        Semaphore(1.5)  # type: ignore[arg-type]

    async def main() -> str:
        sem = Semaphore(2)
        await sem.acquire()
        sem.release()
        with pytest.raises(ValueError) as ei:
            sem.release()
        assert sem._cur == 0
        return str(ei.value)

    assert "Semaphore released too many times" in run(main)


@pytest.mark.parametrize("n", [0, 1])
def test_semaphore_acquire_forever_is_a_deadlock(n: int) -> None:
    async def main() -> None:
        sem = Semaphore(n)
        for _ in range(n + 1):
            await sem.acquire()

    with pytest.raises(Deadlock) as ei:
        run(main)
    assert "[semacquire]" in str(ei.value)


def test_reprs_name_the_state() -> None:
    async def main() -> list[str]:
        rw = RWMutex()
        wg = WaitGroup()
        sem = Semaphore(2)
        wg.add(2)
        await rw.rlock()
        await sem.acquire()
        return [repr(rw), repr(wg), repr(sem)]

    rw, wg, sem = run(main)
    assert rw.startswith("<RWMutex 1 readers")
    assert wg.startswith("<WaitGroup counter=2 waiters=0")
    assert sem.startswith("<Semaphore 1/2 held, 0 waiting")


# ---------------------------------------------------------------------------
# Program exit


async def blocking_wait(kind: str) -> tuple[Callable[[], Awaitable[object]], Callable[[], object]]:
    """A wait on a primitive of `kind` that blocks, and the release that would end it."""
    if kind == "WaitGroup":
        wg = WaitGroup()
        wg.add(1)
        return wg.wait, wg.done
    if kind == "Mutex":
        mu = Mutex()
        await mu.lock()
        return mu.lock, mu.unlock
    if kind == "RWMutex":
        rw = RWMutex()
        await rw.lock()
        return rw.rlock, rw.unlock
    if kind == "Cond":
        cmu = Mutex()
        await cmu.lock()
        cond = Cond(cmu)
        return cond.wait, cond.signal
    sem = Semaphore(1)
    await sem.acquire()
    return sem.acquire, sem.release


@pytest.mark.parametrize("kind", ["WaitGroup", "Mutex", "RWMutex", "Cond", "Semaphore"])
def test_a_release_in_a_finally_block_at_exit_readies_no_closed_waiter(
    kind: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # A panic ends the program while main waits; run() then closes main first
    # (goroutine 1), and the releaser's finally block (Python's `defer
    # wg.Done()`) releases what main waited on: main must have left the queue.
    released: list[str] = []

    async def releaser(release: Callable[[], object], gs: list[G | None]) -> None:
        gs.append(proc.getg())
        try:
            await Chan[None]().recv()  # parked until the program ends
        finally:
            release()
            released.append(kind)

    async def panic_once_both_parked(gs: list[G | None]) -> None:
        await wait_until(lambda: len(gs) == 2 and all(gp and gp.status == _Gwaiting for gp in gs))
        raise ValueError("boom")

    async def main() -> None:
        wait, release = await blocking_wait(kind)
        gs = [proc.getg()]
        go(releaser, release, gs)
        go(panic_once_both_parked, gs)
        await wait()

    with pytest.raises(ValueError, match="boom"):
        run(main, gomaxprocs=1)
    assert released == [kind]
    assert "Exception ignored" not in capfd.readouterr().err
