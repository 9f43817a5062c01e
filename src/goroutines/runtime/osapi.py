"""The runtime's seam to the operating system: the clock, thread sleep/wakeup, locks.

Everything in the scheduler that reads the time or parks and unparks a thread
goes through this module. goroutines.testing's virtual time replaces the
timers' clock of one run with a VirtualClock (as Go's testing/synctest gives a
bubble a fake clock); the scheduler's own timing (sysmon's ticks, preemption)
stays on nanotime.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final, NoReturn, Protocol

try:
    from _multiprocessing import SemLock  # type: ignore[import-not-found]  # no stub
except ImportError:  # CPython built without sem_open
    SemLock = None
_SEMAPHORE: Final = 1  # SemLock's kind: a counting semaphore (multiprocessing.synchronize)

nanotime: Final = time.monotonic_ns


def gil_enabled() -> bool:
    """Whether the interpreter runs with the GIL: always before 3.13; a free-threaded one may."""
    enabled = getattr(sys, "_is_gil_enabled", None)
    return enabled is None or bool(enabled())


# Started without the GIL. A free-threaded interpreter may turn the GIL on later
# (an extension that needs it), never off again: code that only a run without
# the GIL needs may be skipped for good when this is False.
NOGIL: Final = not gil_enabled()


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
    scheduler's, each P's, and the NLOCKS striped ones (lockfor).
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


# The striped locks: what is made by the thousand (channels, each socket's
# fdMutex and pollDesc, sync's primitives, atomic's values) shares NLOCKS of
# them by address, as Go's semaphores share semtable's roots, since each
# mutex() costs a page. Go's `lock(&c.lock)` is `lockacquire[c.lockno]()`. Two
# objects on one lock only wait for each other for a few lines: no code holds
# one of these locks while it takes another, but select, which takes its
# channels' in their order, each once, and no user code runs under one. Objects
# keep the number, not the lock: a forked child makes locks of its own
# (remakelocks).
NLOCKS: Final = 251  # Go's semTabSize
_locks: Final[list[Mutex | None]] = [None] * NLOCKS  # each made when first needed
_makelock = threading.Lock()  # guards the making


def unmade() -> NoReturn:
    """What stands in a lock's place until it is made (never called: lockfor makes it first)."""
    raise RuntimeError("goroutines: a striped lock was used before it was made")


# The locks' methods, bound once.
lockacquire: Final[list[Callable[[], object]]] = [unmade] * NLOCKS
lockrelease: Final[list[Callable[[], object]]] = [unmade] * NLOCKS


def lockfor(ident: int) -> int:
    """The number of the striped lock of the object at id `ident` (made if need be)."""
    n = (ident >> 4) % NLOCKS  # ids are multiples of 16
    if _locks[n] is None:
        with _makelock:
            if _locks[n] is None:
                setlock(n, mutex())
    return n


def stripe(n: int) -> Mutex:
    """Striped lock n itself, made already (for `with` and goparkunlock)."""
    lk = _locks[n]
    if lk is None:
        unmade()
    return lk


def setlock(n: int, lk: Mutex) -> None:
    """Install lock n, its methods first: _locks[n] says it is ready."""
    lockacquire[n] = lk.__enter__
    lockrelease[n] = lk.release
    _locks[n] = lk


def remakelocks() -> None:
    """In a forked child: new striped locks for the ones made so far (program.forked).

    A thread of the parent may have held one at the fork (the making lock too),
    and it would stay held in the child; the semaphores' pages are shared with
    the parent besides.
    """
    global _makelock
    _makelock = threading.Lock()
    for n, lk in enumerate(_locks):
        if lk is not None:
            setlock(n, mutex())


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
