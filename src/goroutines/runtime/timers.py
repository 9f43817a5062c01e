"""Per-P timers (the timer half of Go 1.21's runtime/time.go).

Every P has a heap of timers. A timer lives on at most one P's heap; the M that
holds the P runs the due ones from `find_runnable` (`checkTimers`), a spinning M
runs other Ps' due timers while stealing, and an M with nothing to do blocks in
the network poller until the earliest timer (`pollUntil`). A timer's function
runs on the M without the heap lock held, as Go's runOneTimer does: it usually
readies a goroutine (sleep) or sends on a channel without blocking (after,
Ticker, Timer).

Go marks changed timers in place (timerModifiedEarlier, timerDeleted, ...) so
that other Ps can change them without locks. Here a P's heap is guarded by
`P.timersLock`, and a change is lazy: the timer's `gen` moves on, which turns
its old heap entry stale; stale entries are dropped when they reach the top or
when they are more than a quarter of the heap (Go's clearDeletedTimers).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, Final

from . import netpoll, tls
from .osapi import nanotime
from .runtime2 import M, P, schedt

_tls: Final = tls._tls  # Final: a compiled core reads it as a constant


class timer:
    """A runtime timer: at `when` (nanotime) call f(arg, seq, delay); again every period."""

    __slots__ = ("arg", "f", "gen", "period", "pp", "seq", "when")

    def __init__(self, f: Callable[[Any, int, int], None], arg: Any, seq: int = 0) -> None:
        self.pp: P | None = None  # the P whose heap holds it; None while not pending
        self.when = 0
        self.period = 0
        self.f = f
        self.arg = arg
        self.seq = seq
        # The key of its live heap entry (heapkey); changed on every change, so
        # that an entry with another key is stale.
        self.gen = 0


def now() -> int:
    """The timers' clock in ns: the run's (virtual under testing's virtual time), else nanotime.

    Every `when` of a timer, and every deadline, is read on this clock.
    """
    mp: M | None = _tls.__dict__.get("m")
    return nanotime() if mp is None else mp.sched.now()


def durationns(seconds: object, what: str) -> int:
    """Seconds (an int or float) as nanoseconds; else the TypeError naming `what`."""
    kind = type(seconds)
    if kind is float:
        if seconds != seconds:  # NaN
            raise ValueError(f"{what}: the duration is NaN")
        return int(seconds * 1e9)  # type: ignore[operator]
    if kind is int:
        return seconds * 1_000_000_000  # type: ignore[operator]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} takes seconds as an int or float, not {type(seconds).__name__}")
    return durationns(float(seconds), what)  # a subclass of int or float


def heapkey(pp: P) -> int:
    """A new key for an entry of pp's heap: unique, and ordering timers due at once.

    In insertion order; under a seeded schedule in an order drawn from its
    generator (testing: timer ties are a choice the scheduler makes).
    """
    pp.timerseq += 1
    sched = pp.sched
    if sched is not None and sched.chaos is not None:
        return (sched.chaos.getrandbits(30) << 40) | pp.timerseq
    return pp.timerseq


def _current() -> tuple[schedt, P]:
    """The scheduler and P of this M; P 0 if sysmon took ours (its heap is locked anyway)."""
    mp: M | None = _tls.__dict__.get("m")
    if mp is None:
        raise RuntimeError("timers can only be used inside a goroutine: start one with run(main)")
    pp = mp.p
    return mp.sched, pp if pp is not None else mp.sched.allp[0]


def addtimer(t: timer, when: int, period: int = 0) -> None:
    """Put t on the current P's heap to fire at `when` (Go's addtimer)."""
    if when < 0:
        when = (1 << 63) - 1
    sched, pp = _current()
    lock = pp.timersLock
    lock.acquire()  # not `with`: a compiled core looks __enter__ and __exit__ up each time
    try:
        cleantimers(pp)
        t.when = when
        t.period = period
        t.gen = heapkey(pp)
        t.pp = pp
        heapq.heappush(pp.timers, (when, t.gen, t))
    finally:
        lock.release()
    netpoll.wakeNetPoller(sched, when)


def cleantimers(pp: P) -> None:
    """Drop stale entries, at the top and past a quarter of the heap; pp.timersLock held.

    Go's addtimer cleans the top of the heap first: a goroutine that starts and
    stops timers in a loop without ever yielding (contexts with a deadline,
    created and cancelled) would otherwise pile up stale entries that only
    checkTimers, on the scheduler's path, drops.
    """
    h = pp.timers
    while h:
        _, gen, t = h[0]
        if t.gen == gen and t.pp is pp:
            break
        heapq.heappop(h)
        pp.deletedTimers -= 1
    if pp.deletedTimers > 64 and pp.deletedTimers > len(h) // 4:
        clearDeletedTimers(pp)


def deltimer(t: timer) -> bool:
    """Stop t; True if it was pending, so this call prevented it from firing (Go's deltimer)."""
    while True:
        pp = t.pp
        if pp is None:
            return False
        lock = pp.timersLock
        lock.acquire()  # not `with`, as in addtimer
        try:
            if t.pp is pp:
                t.pp = None
                t.gen = 0  # its heap entry is stale now
                pp.deletedTimers += 1
                return True
        finally:
            lock.release()
        # It fired or moved meanwhile: look again.


def modtimer(t: timer, when: int, period: int) -> bool:
    """Change when t fires; True if it was pending before (Go's modtimer)."""
    pending = deltimer(t)
    addtimer(t, when, period)
    return pending


def resettimer(t: timer, when: int) -> bool:
    """Reset an inactive or active timer to fire at `when` (Go's resettimer)."""
    return modtimer(t, when, t.period)


def nobarrierWakeTime(pp: P) -> int:
    """When the earliest timer on pp fires, or 0 (a racy read, as Go's)."""
    h = pp.timers
    try:
        return h[0][0] if h else 0
    except IndexError:  # emptied concurrently
        return 0


def checkTimers(pp: P, now: int) -> tuple[int, int, bool]:
    """Run pp's due timers: (now, when the next one is due or 0, whether any ran) (Go)."""
    h = pp.timers
    next = nobarrierWakeTime(pp)
    if next == 0:
        return now, 0, False
    if now == 0:
        now = nanotime() if pp.sched is None else pp.sched.now()
    if now < next and pp.deletedTimers <= len(h) // 4:
        return now, next, False
    pollUntil = 0
    ran = False
    lock = pp.timersLock
    lock.acquire()  # not `with`, as in addtimer
    try:
        while h:
            when, gen, t = h[0]
            if t.gen != gen or t.pp is not pp:
                heapq.heappop(h)
                pp.deletedTimers -= 1
                continue
            if when > now:
                pollUntil = when
                break
            f, arg, seq = runtimer(pp, t, now)
            lock.release()
            try:
                f(arg, seq, now - when)
            finally:
                lock.acquire()
            ran = True
        if pp.deletedTimers > len(h) // 4:
            clearDeletedTimers(pp)
    finally:
        lock.release()
    return now, pollUntil, ran


def runtimer(pp: P, t: timer, now: int) -> tuple[Callable[[Any, int, int], None], Any, int]:
    """Take due t off the heap (re-adding it if periodic); returns what to call (Go)."""
    h = pp.timers
    if t.period > 0:
        # Leave in heap but adjust next time to fire.
        delta = t.when - now
        t.when += t.period * (1 + -delta // t.period)
        if t.when < 0:  # overflow
            t.when = (1 << 63) - 1
        t.gen = heapkey(pp)
        heapq.heapreplace(h, (t.when, t.gen, t))
    else:
        heapq.heappop(h)
        t.pp = None
        t.gen = 0
    return t.f, t.arg, t.seq


def clearDeletedTimers(pp: P) -> None:
    """Drop every stale entry of pp's heap; pp.timersLock held."""
    h = pp.timers
    h[:] = [e for e in h if e[2].gen == e[1] and e[2].pp is pp]
    heapq.heapify(h)
    pp.deletedTimers = 0


def moveTimers(dst: P, src: P) -> None:
    """Move src's live timers to dst; the world is stopped (Go's moveTimers)."""
    live = [e[2] for e in src.timers if e[2].gen == e[1] and e[2].pp is src]
    src.timers.clear()
    src.deletedTimers = 0
    with dst.timersLock:
        for t in live:
            t.pp = dst
            t.gen = heapkey(dst)
            heapq.heappush(dst.timers, (t.when, t.gen, t))


def timeSleepUntil(allp: list[P]) -> int:
    """The earliest timer of all Ps, or 0 if there is none (Go's timeSleepUntil)."""
    nexts = [w for w in (nobarrierWakeTime(pp) for pp in allp) if w]
    return min(nexts) if nexts else 0
