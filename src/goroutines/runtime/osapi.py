"""The runtime's seam to the operating system: the clock and thread sleep/wakeup.

Everything in the scheduler that reads the time or parks and unparks a thread
goes through this module. goroutines.testing's virtual time replaces the
timers' clock of one run with a VirtualClock (as Go's testing/synctest gives a
bubble a fake clock); the scheduler's own timing (sysmon's ticks, preemption)
stays on nanotime.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from types import TracebackType
from typing import Final, Protocol

try:
    from _multiprocessing import SemLock  # type: ignore[import-not-found]  # no stub
except ImportError:  # CPython built without sem_open
    SemLock = None
_SEMAPHORE: Final = 1  # SemLock's kind: a counting semaphore (multiprocessing.synchronize)

nanotime: Final = time.monotonic_ns


def osyield() -> None:
    """Give up the rest of this thread's time slice (Go's osyield)."""
    time.sleep(0)


def usleep(us: int) -> None:
    """Sleep for about `us` microseconds."""
    time.sleep(us / 1e6)


def ncpu() -> int:
    """CPUs this process may run on (Go's ncpu)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Note:
    """A one-shot wakeup for one sleeping thread (Go's note: notesleep/notewakeup).

    A queue that holds the wakeup until the sleeper takes it, so the note is
    clear again afterwards (Go's notesleep followed by noteclear). Two wakeups
    without a sleep between them is a bug, reported as Go reports it.

    Not a threading.Lock held while the note is clear: on free-threaded CPython
    a Lock's acquire() first spins, calling sched_yield() up to 40 times, and
    while other threads run Python on every core each yield gives the core away
    for a whole time slice. A timed wait of 1 ms then took ~57 ms, which left
    sysmon blind for that long (no preemption: 60-90 ms time slices).
    SimpleQueue.get parks at once.
    """

    __slots__ = ("_q",)

    def __init__(self) -> None:
        self._q: queue.SimpleQueue[None] = queue.SimpleQueue()

    def sleep(self) -> None:
        """Block until woken (notesleep + noteclear)."""
        self._q.get()

    def tsleep(self, ns: int) -> bool:
        """Block until woken or `ns` nanoseconds pass; True if woken (notetsleep)."""
        if ns < 0:
            self._q.get()
            return True
        try:
            self._q.get(timeout=ns / 1e9)
        except queue.Empty:
            return False
        return True

    def wakeup(self) -> None:
        """Wake the sleeper, or the next one to sleep (notewakeup).

        The double-wakeup check is racy where Go's is atomic: it can miss two
        wakers that race, never report a wakeup that was not doubled.
        """
        if self._q.qsize():
            raise RuntimeError("notewakeup - double wakeup")
        self._q.put(None)


class Mutex(Protocol):
    """What a runtime lock offers: threading.Lock's acquire(), release() and `with`."""

    def acquire(self) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> bool: ...
    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None, /
    ) -> None: ...


def mutex() -> Mutex:
    """A lock for the scheduler's hottest paths: an OS semaphore where there is one.

    Go's runtime locks are futexes or OS semaphores (lock_futex.go,
    lock_sema.go). threading.Lock.acquire() on CPython 3.11 parses its
    arguments as keywords and reads the clock even when the lock is free, about
    500 machine instructions; multiprocessing's SemLock takes a POSIX semaphore
    with sem_trywait first, in half that. Each one maps a page of shared memory
    (a named semaphore, unlinked at once: no file and no fd remain), so only
    the few locks taken on every scheduling step are made here: the
    scheduler's, each P's, and the 251 the channels share (chan.lockfor).
    threading.Lock where the system has no named semaphores (no /dev/shm) or
    no room for one.

    The page stays shared with a child forked from this process, so a forked
    child gives its copies of the runs locks of its own (program.forked).
    """
    if SemLock is not None:
        for _ in range(3):  # a random name taken by another process: draw again
            name = f"/goroutines-{os.getpid()}-{os.urandom(6).hex()}"
            try:
                lock: Mutex = SemLock(_SEMAPHORE, 1, 1, name, True)
                return lock
            except FileExistsError:
                continue
            except OSError:
                break
    return threading.Lock()


class VirtualClock:
    """A clock that moves only when told to: testing's virtual time (Go's synctest bubble).

    The scheduler moves it to the next timer once every goroutine of the run
    is durably blocked (proc.timeskip_locked); nothing else changes it.
    """

    __slots__ = ("t",)

    def __init__(self, start: int) -> None:
        self.t = start

    def now(self) -> int:
        """The virtual time in nanoseconds."""
        return self.t

    def advance_to(self, t: int) -> None:
        """Move to t, never backwards (the caller holds sched.lock)."""
        if t > self.t:
            self.t = t
