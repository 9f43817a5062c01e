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
