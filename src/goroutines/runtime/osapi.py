"""The runtime's seam to the operating system: the clock and thread sleep/wakeup.

Everything in the scheduler that reads the time or parks and unparks a thread
goes through this module, so that a deterministic mode can later replace it (as
Go's faketime and testing/synctest replace nanotime and notesleep).
"""

from __future__ import annotations

import os
import threading
import time

nanotime = time.monotonic_ns


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

    A lock held while the note is clear: `sleep` blocks until `wakeup` releases
    it and consumes the wakeup, so the note is clear again afterwards (Go's
    notesleep followed by noteclear). Two wakeups without a sleep between them is
    a bug, reported as Go reports it.
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def sleep(self) -> None:
        """Block until woken (notesleep + noteclear)."""
        self._lock.acquire()

    def tsleep(self, ns: int) -> bool:
        """Block until woken or `ns` nanoseconds pass; True if woken (notetsleep)."""
        if ns < 0:
            self._lock.acquire()
            return True
        return self._lock.acquire(timeout=ns / 1e9)

    def wakeup(self) -> None:
        """Wake the sleeper, or the next one to sleep (notewakeup)."""
        try:
            self._lock.release()
        except RuntimeError:
            raise RuntimeError("notewakeup - double wakeup") from None
