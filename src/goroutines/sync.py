"""Basic synchronization primitives for goroutines (Go's package sync).

WaitGroup, Mutex, RWMutex, Once, Cond and Semaphore, built the way Go builds
them: each keeps a small state word and, when a goroutine has to wait, parks it
on a runtime semaphore (runtime/sema.py: semacquire1/semrelease1, FIFO queues,
direct handoff) or, for Cond, on a runtime notifyList. A blocked goroutine parks
with gopark and frees its M for other goroutines; nothing here blocks a thread.

Python has no atomics. Where Go updates a state word with a CAS or an atomic add
(Mutex.state, RWMutex.readerCount/readerWait, WaitGroup's counter and waiter
count, Once.done), the word is changed under a lock of its object, one of the
runtime's striped semaphores (osapi.lockfor: objects share them by address,
as channels and sockets do), so every shared field is read and written under
a lock and the code is correct on free-threaded CPython. A CAS loop of Go's
becomes one pass under the lock: with the lock held the CAS cannot fail. The
lock is never held across an await, nor while another lock is taken, and the
waking (semrelease) is done after it is released, as Go wakes after its CAS.

Fast and slow paths. Every blocking operation is a coroutine: it does nothing
until awaited, and one dropped unawaited warns as any forgotten coroutine does.
It first tries Go's fast path under its one lock; when that succeeds it returns
at once (yielding only if sysmon asked the goroutine to, so that a loop that
only ever takes free locks can still be preempted). Only when it must wait does
it go on to the slow path (Go's outlined lockSlow and friends) and park. The
fast paths take their lock with lockacquire and lockrelease rather than
`with`, which costs twice as much on CPython 3.11 (README, "machine
instructions"), and nothing between the two can raise.

Misuse that Go makes a fatal error (unlock of an unlocked mutex, a negative
WaitGroup counter) raises here, with Go's message, before any state changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Protocol

from .runtime.osapi import lockacquire, lockfor, lockrelease, nanotime, stripe
from .runtime.proc import check_async, getgfor, throw
from .runtime.requests import _PREEMPT
from .runtime.runtime2 import WaitReason
from .runtime.sema import (
    Sema,
    notifyList,
    notifyListAdd,
    notifyListNotifyAll,
    notifyListNotifyOne,
    notifyListWait,
    semacquire1,
    semrelease1,
)


class Locker(Protocol):
    """What Cond needs: Mutex, RWMutex, RWMutex.rlocker() (Go's Locker)."""

    def lock(self) -> Awaitable[None]: ...

    def unlock(self) -> None: ...


class _LockerContext:
    """`async with x:` for a Locker: lock() on the way in, unlock() on the way out."""

    __slots__ = ()

    def __aenter__(self: Locker) -> Awaitable[None]:
        return self.lock()  # `async with` awaits it at once

    async def __aexit__(
        self: Locker,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unlock()


# ---------------------------------------------------------------------------
# Mutex

mutexLocked = 1  # the mutex is locked
mutexWoken = 2  # a waiter has been woken and competes for the lock: unlock wakes no other
mutexStarving = 4  # starvation mode: unlock hands ownership to the first waiter
mutexWaiterShift = 3  # state >> mutexWaiterShift is the number of waiters

# Mutex fairness (Go's words).
#
# Mutex can be in 2 modes of operations: normal and starvation. In normal mode
# waiters are queued in FIFO order, but a woken up waiter does not own the mutex
# and competes with new arriving goroutines over the ownership. New arriving
# goroutines have an advantage -- they are already running on CPU and there can
# be lots of them, so a woken up waiter has good chances of losing. In such case
# it is queued at front of the wait queue. If a waiter fails to acquire the mutex
# for more than 1ms, it switches mutex to the starvation mode.
#
# In starvation mode ownership of the mutex is directly handed off from the
# unlocking goroutine to the waiter at the front of the queue. New arriving
# goroutines don't try to acquire the mutex even if it appears to be unlocked.
# Instead they queue themselves at the tail of the wait queue.
#
# If a waiter receives ownership of the mutex and sees that either (1) it is the
# last waiter in the queue, or (2) it waited for less than 1 ms, it switches mutex
# back to normal operation mode.
#
# Normal mode has considerably better performance as a goroutine can acquire a
# mutex several times in a row even if there are blocked waiters. Starvation
# mode is important to prevent pathological cases of tail latency.
starvationThresholdNs = 1_000_000


class Mutex(_LockerContext):
    """A mutual exclusion lock: `await mu.lock()`, `mu.unlock()`, `async with mu:` (Go's Mutex).

    A locked Mutex is not associated with a particular goroutine: one goroutine
    may lock it and another unlock it.
    """

    __slots__ = ("_lockno", "_sema", "_state")

    def __init__(self) -> None:
        self._state = 0  # mutexLocked | mutexWoken | mutexStarving | waiters << mutexWaiterShift
        self._sema = Sema()  # waiters park here
        self._lockno = lockfor(id(self))  # guards _state (Go updates it with CAS)

    async def lock(self) -> None:
        """`await mu.lock()`: lock the mutex, waiting while another goroutine holds it."""
        gp = getgfor("Mutex.lock")
        lockacquire[self._lockno]()
        # Fast path: grab unlocked mutex (Go: CAS(state, 0, mutexLocked)).
        if self._state == 0:
            self._state = mutexLocked
            lockrelease[self._lockno]()
            if gp.preempt:
                await _PREEMPT
            return
        lockrelease[self._lockno]()
        await self._lockSlow()

    def try_lock(self) -> bool:
        """Lock the mutex if that needs no wait; True if it did (Go's TryLock)."""
        lockacquire[self._lockno]()
        try:
            old = self._state
            if old & (mutexLocked | mutexStarving):
                return False
            # There may be a goroutine waiting for the mutex, but we are running
            # now and can try to grab it before that goroutine wakes up.
            self._state = old | mutexLocked
            return True
        finally:
            lockrelease[self._lockno]()

    async def _lockSlow(self) -> None:
        """Queue for the mutex and compete for it when woken (Go's lockSlow).

        Go first spins for a while if the mutex is locked in normal mode, betting
        that a holder running on another CPU releases it within a few hundred
        nanoseconds. That bet does not pay here: a goroutine usually holds a lock
        across awaits, under the GIL the holder cannot even run while we spin,
        and one Python loop iteration costs more than Go's whole spin. So a
        goroutine that finds the mutex held queues at once.
        """
        waitStartTime = 0
        starving = False
        awoke = False
        while True:
            with stripe(self._lockno):
                old = self._state
                new = old
                # Don't try to acquire starving mutex, new arriving goroutines must queue.
                if old & mutexStarving == 0:
                    new |= mutexLocked
                if old & (mutexLocked | mutexStarving):
                    new += 1 << mutexWaiterShift
                # The current goroutine switches mutex to starvation mode. But if
                # the mutex is currently unlocked, don't do the switch: unlock
                # expects that a starving mutex has waiters.
                if starving and old & mutexLocked:
                    new |= mutexStarving
                if awoke:
                    # The goroutine has been woken from sleep, so we need to
                    # reset the flag in either case.
                    if new & mutexWoken == 0:
                        throw("sync: inconsistent mutex state")
                    new &= ~mutexWoken
                self._state = new  # Go: CAS(state, old, new), which cannot fail here
            if old & (mutexLocked | mutexStarving) == 0:
                return  # locked the mutex
            # If we were already waiting before, queue at the front of the queue.
            queueLifo = waitStartTime != 0
            if waitStartTime == 0:
                waitStartTime = nanotime()
            await semacquire1(self._sema, queueLifo, WaitReason.SyncMutexLock)
            starving = starving or nanotime() - waitStartTime > starvationThresholdNs
            with stripe(self._lockno):
                old = self._state
                if old & mutexStarving:
                    # Ownership was handed off to us, but the state is not yet
                    # consistent: mutexLocked is not set and we are still counted
                    # as a waiter. Fix that.
                    if old & (mutexLocked | mutexWoken) or old >> mutexWaiterShift == 0:
                        throw("sync: inconsistent mutex state")
                    delta = mutexLocked - (1 << mutexWaiterShift)
                    if not starving or old >> mutexWaiterShift == 1:
                        # Exit starvation mode. Critical to do it here and
                        # consider wait time: starvation mode is so inefficient
                        # that two goroutines can go lock-step infinitely once
                        # they switch mutex to starvation mode.
                        delta -= mutexStarving
                    self._state = old + delta
                    return
            awoke = True

    def unlock(self) -> None:
        """Unlock the mutex; RuntimeError if it is not locked (Go's Unlock)."""
        lockacquire[self._lockno]()
        try:
            # Fast path: drop lock bit.
            new = self._state - mutexLocked
            if (new + mutexLocked) & mutexLocked == 0:
                raise RuntimeError("sync: unlock of unlocked mutex")
            self._state = new
            if new == 0:
                return
            handoff = self._unlockSlow(new)
        finally:
            lockrelease[self._lockno]()
        if handoff is not None:
            semrelease1(self._sema, handoff)

    def _unlockSlow(self, new: int) -> bool | None:
        """Decide whom unlock wakes; the Mutex's lock held (Go's unlockSlow).

        Returns None to wake nobody, False to wake a waiter that competes for the
        mutex, True to hand the mutex to the first waiter.
        """
        if new & mutexStarving:
            # Starving mode: hand off mutex ownership to the next waiter. Note:
            # mutexLocked is not set, the waiter will set it after wakeup. But
            # mutex is still considered locked if mutexStarving is set, so new
            # coming goroutines won't acquire it.
            return True
        # If there are no waiters or a goroutine has already been woken or
        # grabbed the lock, no need to wake anyone.
        if new >> mutexWaiterShift == 0 or new & (mutexLocked | mutexWoken):
            return None
        # Grab the right to wake someone.
        self._state = (new - (1 << mutexWaiterShift)) | mutexWoken
        return False

    def __repr__(self) -> str:
        with stripe(self._lockno):
            state = self._state
        return f"<Mutex {_mutexStateString(state)} at {id(self):#x}>"


def _mutexStateString(state: int) -> str:
    """The Mutex state word in words, for repr."""
    words = ["locked" if state & mutexLocked else "unlocked"]
    if state & mutexWoken:
        words.append("woken")
    if state & mutexStarving:
        words.append("starving")
    words.append(f"{state >> mutexWaiterShift} waiters")
    return ", ".join(words)


# ---------------------------------------------------------------------------
# RWMutex

rwmutexMaxReaders = 1 << 30


class RWMutex(_LockerContext):
    """A reader/writer mutual exclusion lock (Go's RWMutex).

    Any number of readers (`await rlock()`/`runlock()`, `async with mu.rlocker():`)
    or one writer (`await lock()`/`unlock()`, `async with mu:`). A blocked lock()
    excludes new readers, so a stream of readers cannot starve a writer; it also
    means a goroutine holding a read lock must not rlock again.
    """

    __slots__ = (
        "_lockno",
        "_readerCount",
        "_readerSem",
        "_readerWait",
        "_rlocker",
        "_w",
        "_writerSem",
    )

    def __init__(self) -> None:
        self._w = Mutex()  # held if there are pending writers
        self._writerSem = Sema()  # semaphore for writers to wait for completing readers
        self._readerSem = Sema()  # semaphore for readers to wait for completing writers
        # Number of pending readers, minus rwmutexMaxReaders while a writer is pending.
        self._readerCount = 0
        self._readerWait = 0  # number of departing readers a pending writer waits for
        self._lockno = lockfor(id(self))  # guards _readerCount and _readerWait (Go: atomics)
        self._rlocker = _RLocker(self)

    async def rlock(self) -> None:
        """`await rw.rlock()`: lock for reading, waiting while a writer holds or waits for it."""
        gp = getgfor("RWMutex.rlock")
        lockacquire[self._lockno]()
        # Go: readerCount.Add(1) < 0 means a writer is pending: then wait for it.
        self._readerCount += 1
        pending = self._readerCount < 0
        lockrelease[self._lockno]()
        if pending:
            await semacquire1(self._readerSem, False, WaitReason.SyncRWMutexRLock)
        elif gp.preempt:
            await _PREEMPT

    def runlock(self) -> None:
        """Undo one rlock(); RuntimeError if not locked for reading (Go's RUnlock)."""
        lockacquire[self._lockno]()
        try:
            r = self._readerCount - 1
            if r >= 0:
                self._readerCount = r
                return
            wake = self._rUnlockSlow(r)
        finally:
            lockrelease[self._lockno]()
        if wake:
            # The last reader unblocks the writer.
            semrelease1(self._writerSem, False)

    def _rUnlockSlow(self, r: int) -> bool:
        """runlock while a writer is pending; True if we were the last reader (Go)."""
        if r + 1 == 0 or r + 1 == -rwmutexMaxReaders:
            raise RuntimeError("sync: RUnlock of unlocked RWMutex")
        self._readerCount = r
        self._readerWait -= 1
        return self._readerWait == 0

    async def lock(self) -> None:
        """`await rw.lock()`: lock for writing, waiting for the holders to leave (Go's Lock)."""
        gp = getgfor("RWMutex.lock")
        # First, resolve competition with other writers.
        await self._w.lock()
        # Announce to readers there is a pending writer, and wait for active ones.
        if self._announceWriter():
            await semacquire1(self._writerSem, False, WaitReason.SyncRWMutexLock)
        elif gp.preempt:
            await _PREEMPT

    def _announceWriter(self) -> bool:
        """Tell readers a writer is pending; True if it must wait for active readers."""
        lockacquire[self._lockno]()
        try:
            r = self._readerCount
            self._readerCount = r - rwmutexMaxReaders
            if r == 0:
                return False
            self._readerWait += r
            return self._readerWait != 0
        finally:
            lockrelease[self._lockno]()

    def unlock(self) -> None:
        """Unlock for writing; RuntimeError if not locked for writing (Go's Unlock)."""
        lockacquire[self._lockno]()
        try:
            # Announce to readers there is no active writer.
            r = self._readerCount + rwmutexMaxReaders
            if r >= rwmutexMaxReaders:
                raise RuntimeError("sync: Unlock of unlocked RWMutex")
            self._readerCount = r
        finally:
            lockrelease[self._lockno]()
        # Unblock blocked readers, if any.
        for _ in range(r):
            semrelease1(self._readerSem, False)
        # Allow other writers to proceed.
        self._w.unlock()

    def rlocker(self) -> _RLocker:
        """The read side as a Locker: `async with rw.rlocker():` reads (Go's RLocker)."""
        return self._rlocker

    def __repr__(self) -> str:
        with stripe(self._lockno):
            rc, rw = self._readerCount, self._readerWait
        if rc < 0:
            state = f"writer pending, {rc + rwmutexMaxReaders} readers, {rw} departing"
        else:
            state = f"{rc} readers"
        return f"<RWMutex {state} at {id(self):#x}>"


class _RLocker(_LockerContext):
    """RWMutex.rlocker(): lock is rlock, unlock is runlock."""

    __slots__ = ("_rw",)

    def __init__(self, rw: RWMutex) -> None:
        self._rw = rw

    def lock(self) -> Awaitable[None]:
        """`await rlocker.lock()`: rw.rlock()."""
        return self._rw.rlock()  # the coroutine of rlock(): nothing happens until awaited

    def unlock(self) -> None:
        """rw.runlock()."""
        self._rw.runlock()


# ---------------------------------------------------------------------------
# WaitGroup


class WaitGroup:
    """Waits for a collection of goroutines to finish (Go's WaitGroup).

    add(n) before starting n goroutines, done() in each when it finishes, and
    `await wg.wait()` until the counter is zero. A WaitGroup can be reused once
    every wait() of the previous round has returned.
    """

    __slots__ = ("_lockno", "_sema", "_v", "_w")

    def __init__(self) -> None:
        # Go packs the counter and the waiter count into one 64-bit word so that
        # both change in one atomic operation; here they change under _lock.
        self._v = 0  # the counter
        self._w = 0  # goroutines blocked in wait()
        self._sema = Sema()
        self._lockno = lockfor(id(self))

    def add(self, delta: int) -> None:
        """Add delta to the counter; at zero, release every waiter (Go's Add).

        ValueError if the counter would go negative. Go also detects an add
        racing with the wakeup of waiters ("Add called concurrently with Wait");
        under the lock that interleaving cannot happen, as the counter reaches
        zero and the waiter count is cleared in one step.
        """
        lockacquire[self._lockno]()
        try:
            v = self._v + delta
            if v < 0:
                raise ValueError("sync: negative WaitGroup counter")
            self._v = v
            w = self._w
            if v > 0 or w == 0:
                return
            # This goroutine has set counter to 0 when waiters > 0: reset the
            # waiter count and release them all.
            self._w = 0
        finally:
            lockrelease[self._lockno]()
        for _ in range(w):
            semrelease1(self._sema, False)

    def done(self) -> None:
        """Decrement the counter by one (Go's Done)."""
        self.add(-1)

    async def wait(self) -> None:
        """`await wg.wait()`: wait until the counter is zero (Go's Wait)."""
        gp = getgfor("WaitGroup.wait")
        lockacquire[self._lockno]()
        if self._v == 0:
            lockrelease[self._lockno]()
            if gp.preempt:
                await _PREEMPT
            return
        # Count ourselves as a waiter and park until add() brings the counter to zero.
        self._w += 1
        lockrelease[self._lockno]()
        await semacquire1(self._sema, False, WaitReason.SyncWaitGroupWait)
        with stripe(self._lockno):
            reused = self._v != 0 or self._w != 0
        if reused:
            raise RuntimeError("sync: WaitGroup is reused before previous Wait has returned")

    def __repr__(self) -> str:
        with stripe(self._lockno):
            v, w = self._v, self._w
        return f"<WaitGroup counter={v} waiters={w} at {id(self):#x}>"


# ---------------------------------------------------------------------------
# Once


class Once:
    """Performs exactly one action: `await once.do(fn)` (Go's Once).

    Only the first do() runs fn; every other call waits until it has finished.
    If fn raises, the exception propagates to the caller that ran it and the
    Once counts as done: later calls return without running anything (Go).
    """

    __slots__ = ("_done", "_lockno", "_m")

    def __init__(self) -> None:
        self._done = False  # written under both _m and _lock; read under either
        self._lockno = lockfor(id(self))  # Go reads and sets done atomically
        self._m = Mutex()

    async def do(self, fn: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """`await once.do(fn)`: run the async function fn if no do() of this Once has."""
        check_async(fn, "Once.do")
        gp = getgfor("Once.do")
        lockacquire[self._lockno]()
        done = self._done
        lockrelease[self._lockno]()
        if done:
            if gp.preempt:
                await _PREEMPT
            return
        # Go: doing a CAS on done and then running fn would be wrong: a
        # concurrent caller would return before fn has finished. So the slow
        # path takes a mutex, and done is set after fn returns (Go's doSlow).
        await self._m.lock()
        try:
            if not self._done:
                try:
                    await fn()
                finally:
                    with stripe(self._lockno):
                        self._done = True
        finally:
            self._m.unlock()


# ---------------------------------------------------------------------------
# Cond


class Cond:
    """A condition variable: goroutines wait for an event under a Locker L (Go's Cond).

    Hold L while checking or changing the condition and when calling wait(),
    and wait in a loop, since the condition may have changed again by the time
    a woken waiter has relocked L:

        async with mu:
            while not condition():
                await cond.wait()
    """

    __slots__ = ("L", "_notify")

    def __init__(self, L: Locker) -> None:
        if not (callable(getattr(L, "lock", None)) and callable(getattr(L, "unlock", None))):
            raise TypeError(
                f"Cond(L) needs a Locker such as a Mutex, an RWMutex or rw.rlocker(), got {L!r}"
            )
        self.L = L  # held while observing or changing the condition
        self._notify = notifyList()

    async def wait(self) -> None:
        """Unlock L, wait for signal() or broadcast(), lock L again (Go's Wait).

        The ticket is taken before L is unlocked, so a signal sent between the
        unlock and the park is not lost.
        """
        t = notifyListAdd(self._notify)
        # If this raises (L was not locked: fatal in Go), ticket t is never
        # waited for and absorbs one later signal().
        self.L.unlock()
        await notifyListWait(self._notify, t)
        await self.L.lock()

    def signal(self) -> None:
        """Wake one goroutine waiting on the Cond, if there is any (Go's Signal)."""
        notifyListNotifyOne(self._notify)

    def broadcast(self) -> None:
        """Wake every goroutine waiting on the Cond (Go's Broadcast)."""
        notifyListNotifyAll(self._notify)


# ---------------------------------------------------------------------------
# Semaphore


class Semaphore:
    """A counting semaphore of n permits: `await acquire()`, `release()`, `async with`.

    Go's sync has no such type (golang.org/x/sync/semaphore is the closest); it
    is a Mutex that n goroutines can hold at once. Waiters are served in FIFO
    order: a release() with waiters hands its permit straight to the first of
    them (semrelease1 with handoff), so an arriving goroutine cannot take it
    first. Like Python's threading.BoundedSemaphore, a release() with no permit
    acquired raises ValueError: it is almost always a bug, and the count of
    permits is the point of the type.
    """

    __slots__ = ("_cur", "_lockno", "_n", "_sema", "_waiters")

    def __init__(self, n: int = 1) -> None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"sync: Semaphore(n) needs an int number of permits, got {n!r}")
        if n < 0:
            raise ValueError(f"sync: Semaphore({n}): initial value must be >= 0")
        self._n = n  # the number of permits
        self._cur = 0  # permits held
        self._waiters = 0  # goroutines counted as waiting for a permit
        self._sema = Sema()  # waiters park here; release() hands permits through it
        self._lockno = lockfor(id(self))  # guards _cur and _waiters

    async def acquire(self) -> None:
        """`await sem.acquire()`: take a permit, waiting until one is free."""
        gp = getgfor("Semaphore.acquire")
        lockacquire[self._lockno]()
        # _waiters > 0 only while every permit is held, so a free permit
        # means nobody is queued before us.
        if self._cur < self._n:
            self._cur += 1
            lockrelease[self._lockno]()
            if gp.preempt:
                await _PREEMPT
            return
        # Queue for a permit; the release() that wakes us passes its permit on.
        self._waiters += 1
        lockrelease[self._lockno]()
        await semacquire1(self._sema, False, WaitReason.Semacquire)

    def release(self) -> None:
        """Give a permit back, to the first waiter if any; ValueError if none is held."""
        lockacquire[self._lockno]()
        try:
            if self._cur == 0:
                raise ValueError(
                    f"sync: Semaphore released too many times: all {self._n} permits are free"
                )
            if self._waiters == 0:
                self._cur -= 1
                return
            self._waiters -= 1  # the permit passes to a waiter: _cur stays
        finally:
            lockrelease[self._lockno]()
        semrelease1(self._sema, True)

    def __aenter__(self) -> Awaitable[None]:
        return self.acquire()  # `async with` awaits it at once

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        with stripe(self._lockno):
            cur, waiters = self._cur, self._waiters
        return f"<Semaphore {cur}/{self._n} held, {waiters} waiting at {id(self):#x}>"


__all__ = ["Cond", "Locker", "Mutex", "Once", "RWMutex", "Semaphore", "WaitGroup"]
