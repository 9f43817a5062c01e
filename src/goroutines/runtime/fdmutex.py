"""The fd mutex of a network connection (Go's internal/poll/fd_mutex.go).

Every read and write of a `goroutines.net` connection takes a side of its
fdMutex first and gives it back after: one reader and one writer at a time,
and a reference that keeps the socket open until the operation returns. Go
packs all of it into one atomic word; here a lock guards the fields, one of
osapi's striped locks (lockfor), as a channel's.

Compiled with the scheduler's core: a TCP round trip takes and gives back a
side four times. The wait for a held side is fd.rwlockslow, a coroutine, as
the operations that await it are.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable

from .osapi import Mutex, lockacquire, lockfor, lockrelease, stripe
from .proc import goready
from .runtime2 import G


def errClosing() -> OSError:
    """The error of an operation on a closed Conn or Listener (Go's ErrNetClosing)."""
    return OSError(errno.EBADF, "use of closed network connection")


class rwsema:
    """One side of an fdMutex: whether it is held and who waits for it."""

    __slots__ = ("held", "waitq")

    def __init__(self) -> None:
        self.held = False
        self.waitq: deque[G] = deque()


class fdMutex:
    """Serialises reads, serialises writes, and guards the fd's lifetime (Go's fdMutex).

    `ref` counts the operations in progress, and close() while it wakes them;
    `destroy` (closing the socket) runs when the last one is gone after close,
    so that the fd number is never reused under a system call in flight. Go's
    Close waits for that; ours cannot (close() is not async), so netFD.close
    shuts a busy socket down at once instead. Lock waiters are handed a side
    in FIFO order.
    """

    __slots__ = ("closed", "destroy", "lockno", "r", "ref", "w")

    def __init__(self, destroy: Callable[[], None]) -> None:
        self.lockno = lockfor(id(self))  # its lock: one of osapi's striped ones
        self.closed = False
        self.ref = 0
        self.destroy: Callable[[], None] | None = destroy  # None once it has run
        self.r = rwsema()
        self.w = rwsema()

    @property
    def lock(self) -> Mutex:
        """Its lock, for `with` and goparkunlock."""
        return stripe(self.lockno)

    def rwlock(self, side: rwsema) -> bool:
        """Take a free side and a reference; False: held, await fd.rwlockslow (Go)."""
        n = self.lockno
        lockacquire[n]()  # not `with`: this and rwunlock run for every operation
        if self.closed or side.held:
            lockrelease[n]()
            if self.closed:
                raise errClosing()
            return False
        side.held = True
        self.ref += 1
        lockrelease[n]()
        return True

    def rwunlock(self, side: rwsema) -> None:
        """Release a side: hand it and our reference to the next waiter, or drop both (Go)."""
        n = self.lockno
        lockacquire[n]()
        if side.waitq:
            gp = side.waitq.popleft()
            gp.param = True
            lockrelease[n]()
            goready(gp)
            return
        side.held = False
        self.ref -= 1
        destroy = self.lastref() if self.closed else None
        lockrelease[n]()
        if destroy is not None:
            destroy()

    def incref(self) -> None:
        """Take a reference for an operation that needs no lock (Go's incref)."""
        with self.lock:
            if self.closed:
                raise errClosing()
            self.ref += 1

    def decref(self) -> None:
        """Drop a reference; the last one after close destroys the fd (Go's decref)."""
        with self.lock:
            self.ref -= 1
            destroy = self.lastref()
        if destroy is not None:
            destroy()

    def increfAndClose(self) -> tuple[list[G], bool] | None:
        """Mark closed, holding a reference: (lock waiters to wake, operations in progress?).

        None if it was closed already (Go's increfAndClose).
        """
        with self.lock:
            if self.closed:
                return None
            self.closed = True
            busy = self.ref > 0
            self.ref += 1
            waiters = [*self.r.waitq, *self.w.waitq]
            self.r.waitq.clear()
            self.w.waitq.clear()
            for gp in waiters:
                gp.param = False
        return waiters, busy

    def lastref(self) -> Callable[[], None] | None:
        """destroy, the first time no reference is left after close (lock held)."""
        if self.ref != 0 or not self.closed:
            return None
        destroy, self.destroy = self.destroy, None
        return destroy
