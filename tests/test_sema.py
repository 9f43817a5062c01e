"""The runtime semaphore table and notifyList (runtime/sema.py)."""

from __future__ import annotations

import pytest

from goroutines import Deadlock, go, goid, gosched, run
from goroutines.runtime import proc
from goroutines.runtime.runtime2 import WaitReason, _Gwaiting
from goroutines.runtime.sema import (
    Sema,
    notifyList,
    notifyListAdd,
    notifyListNotifyAll,
    notifyListNotifyOne,
    notifyListWait,
    rootFor,
    semacquire,
    semacquire1,
    semrelease,
    semrelease1,
    semtable,
    semTabSize,
    sudog,
)
from tests.helpers import Counter, completes_at_once, wait_len, wait_until

pytestmark = pytest.mark.timeout(30)


def queued(addr: Sema) -> list[sudog]:
    """The sudogs waiting on addr, first to be woken first."""
    root = rootFor(addr)
    with root.lock:
        return list(root.waiters.get(addr, ()))


def listed(nl: notifyList) -> list[int]:
    """The tickets of the goroutines parked on a notifyList, in list order."""
    out = []
    with nl.lock:
        s = nl.head
        while s is not None:
            out.append(s.ticket)
            s = s.next
    return out


async def queue_a_waiter(s: Sema, reason: WaitReason = WaitReason.Semacquire) -> list[bool]:
    """Start a goroutine that acquires s and return once it is queued; [True] once it has it."""
    done: list[bool] = []

    async def waiter() -> None:
        await semacquire1(s, False, reason)
        done.append(True)

    go(waiter)
    await wait_until(lambda: queued(s))
    return done


def test_table_has_251_roots_and_an_address_always_maps_to_one() -> None:
    assert semTabSize == 251 and len(semtable) == 251
    a, b = Sema(), Sema()
    assert rootFor(a) is rootFor(a)
    assert rootFor(a) in semtable and rootFor(b) in semtable
    many = [Sema() for _ in range(1000)]
    assert len({id(rootFor(s)) for s in many}) > 100  # spread over the table


def test_easy_case_takes_the_count_without_parking() -> None:
    async def main() -> list[tuple[bool, int]]:
        gp = proc.getg()
        assert gp is not None
        gp.preempt = False
        s = Sema(2)
        return [(completes_at_once(semacquire(s)), s.value) for _ in range(3)]

    assert run(main) == [(True, 1), (True, 0), (False, 0)]


def test_release_before_acquire_is_not_lost() -> None:
    async def main() -> int:
        s = Sema()
        semrelease(s)
        semrelease(s)
        await semacquire(s)
        await semacquire(s)
        return s.value

    assert run(main) == 0


@pytest.mark.parametrize("procs", [1, 2])
def test_waiters_are_woken_in_fifo_order(procs: int) -> None:
    async def main() -> tuple[list[int], list[int], list[int]]:
        s = Sema()
        ids: list[int] = []
        woken: list[int] = []

        async def waiter(i: int) -> None:
            ids.append(goid())
            await semacquire(s)
            woken.append(i)

        for i in range(8):
            go(waiter, i)
            await wait_len(lambda: queued(s), i + 1)
        order = [sd.g.goid for sd in queued(s)]
        for k in range(8):
            semrelease(s)
            await wait_len(lambda: woken, k + 1)
        return woken, order, ids

    woken, order, ids = run(main, gomaxprocs=procs)
    assert woken == list(range(8))
    assert order == ids


def test_lifo_queues_at_the_head() -> None:
    async def main() -> list[str]:
        s = Sema()
        woken: list[str] = []

        async def waiter(name: str, lifo: bool) -> None:
            await semacquire1(s, lifo, WaitReason.SyncMutexLock)
            woken.append(name)

        for n, (name, lifo) in enumerate([("a", False), ("b", False), ("c", True)]):
            go(waiter, name, lifo)
            await wait_len(lambda: queued(s), n + 1)
        for k in range(3):
            semrelease(s)
            await wait_len(lambda: woken, k + 1)
        return woken

    assert run(main, gomaxprocs=1) == ["c", "a", "b"]


def test_waiter_parks_with_the_reason_and_frees_the_thread() -> None:
    async def main() -> tuple[int, str, int]:
        s = Sema()
        done = await queue_a_waiter(s, WaitReason.SyncRWMutexLock)
        gp = queued(s)[0].g
        status, reason = gp.status, gp.waitreason.value
        semrelease(s)
        await wait_until(lambda: done)
        return status, reason, s.value

    # One P and one thread: main ran on while the waiter was parked.
    assert run(main, gomaxprocs=1) == (_Gwaiting, "sync.RWMutex.Lock", 0)


def test_without_handoff_a_running_goroutine_can_take_the_count() -> None:
    async def main() -> tuple[int, bool, int, list[bool]]:
        s = Sema()
        done = await queue_a_waiter(s)
        semrelease1(s, False)  # wakes the waiter, which is runnable but not running
        value_after_release = s.value
        barged = completes_at_once(semacquire(s))  # we take the count first
        # The waiter wakes without a count and queues again.
        await wait_until(lambda: len(queued(s)) == 1)
        requeued = len(queued(s))
        semrelease(s)
        await wait_until(lambda: done)
        return value_after_release, barged, requeued, done

    assert run(main, gomaxprocs=1) == (1, True, 1, [True])


def test_handoff_gives_the_count_to_the_woken_waiter() -> None:
    async def main() -> tuple[int, int, bool, list[bool]]:
        s = Sema()
        done = await queue_a_waiter(s)
        sd = queued(s)[0]
        semrelease1(s, True)
        value, ticket = s.value, sd.ticket
        # The count went with the ticket: a running goroutine must queue.
        barged = completes_at_once(semacquire(s))
        await wait_until(lambda: done)
        return value, ticket, barged, done

    assert run(main, gomaxprocs=1) == (0, 1, False, [True])


def test_unawaited_slow_path_queues_nothing() -> None:
    async def main() -> tuple[int, int]:
        s = Sema()
        aw = semacquire(s)
        n = len(queued(s))
        aw.close()  # type: ignore[attr-defined]
        semrelease(s)  # no waiter: the count stays
        return n, s.value

    assert run(main) == (0, 1)


@pytest.mark.parametrize("procs", [1, 2, 4])
def test_counting_use_never_exceeds_the_count(procs: int) -> None:
    async def main() -> tuple[int, int]:
        s = Sema(3)
        inside = Counter()
        most = Counter()
        left = Counter(20)

        async def worker() -> None:
            for _ in range(20):
                await semacquire(s)
                most.max(inside.add(1))
                await gosched()
                inside.add(-1)
                semrelease(s)
            left.add(-1)

        for _ in range(20):
            go(worker)
        await wait_until(lambda: left.value == 0)
        return most.value, s.value

    most, value = run(main, gomaxprocs=procs)
    assert 1 <= most <= 3
    assert value == 3


def test_acquire_forever_is_a_deadlock() -> None:
    async def main() -> None:
        await semacquire(Sema())

    with pytest.raises(Deadlock, match="all goroutines are asleep") as ei:
        run(main)
    assert "[semacquire]" in str(ei.value)


def test_semacquire_outside_a_goroutine_names_the_problem() -> None:
    aw = semacquire(Sema())
    with pytest.raises(RuntimeError, match="semacquire called outside a goroutine"):
        aw.send(None)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# notifyList


def test_notify_list_tickets_count_up() -> None:
    nl = notifyList()
    assert [notifyListAdd(nl) for _ in range(3)] == [0, 1, 2]
    assert (nl.wait, nl.notify) == (3, 0)


def test_notified_ticket_does_not_park() -> None:
    async def main() -> tuple[int, int]:
        nl = notifyList()
        t0 = notifyListAdd(nl)
        t1 = notifyListAdd(nl)
        notifyListNotifyOne(nl)  # serves t0, which has not parked yet
        await notifyListWait(nl, t0)  # returns at once
        notifyListNotifyAll(nl)
        await notifyListWait(nl, t1)
        return nl.notify, len(listed(nl))

    assert run(main) == (2, 0)


def test_notify_without_waiters_is_a_no_op() -> None:
    nl = notifyList()
    notifyListNotifyOne(nl)
    notifyListNotifyAll(nl)
    assert (nl.wait, nl.notify) == (0, 0)


def test_notify_one_wakes_the_oldest_ticket_and_all_wakes_the_rest() -> None:
    async def main() -> tuple[list[int], list[int], list[int], list[int]]:
        nl = notifyList()
        woken: list[int] = []

        async def waiter() -> None:
            t = notifyListAdd(nl)
            await notifyListWait(nl, t)
            woken.append(t)

        for n in range(4):
            go(waiter)
            await wait_len(lambda: listed(nl), n + 1)
        notifyListNotifyOne(nl)
        await wait_until(lambda: woken)
        after_one = list(woken), listed(nl)
        notifyListNotifyAll(nl)
        await wait_until(lambda: len(woken) == 4)
        return after_one[0], after_one[1], sorted(woken), listed(nl)

    one, rest, every, left = run(main, gomaxprocs=1)
    assert one == [0]
    assert rest == [1, 2, 3]
    assert every == [0, 1, 2, 3]
    assert left == []


def test_notify_one_finds_a_ticket_that_queued_out_of_order() -> None:
    async def main() -> list[int]:
        nl = notifyList()
        tickets = [notifyListAdd(nl) for _ in range(3)]
        woken: list[int] = []

        async def waiter(t: int) -> None:
            await notifyListWait(nl, t)
            woken.append(t)

        for n, t in enumerate(reversed(tickets)):  # park 2, 1, 0
            go(waiter, t)
            await wait_len(lambda: listed(nl), n + 1)
        for k in range(3):
            notifyListNotifyOne(nl)
            await wait_len(lambda: woken, k + 1)
        return woken

    assert run(main, gomaxprocs=1) == [0, 1, 2]
