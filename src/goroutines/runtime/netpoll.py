"""The network poller (Go's netpoll.go and netpoll_epoll.go).

Each `run()` has one poller: an epoll instance (a `selectors` selector where
there is no epoll) plus a pipe whose read end is registered too, so that
`netpollBreak` can wake an M blocked in `netpoll(delay)`. Sockets are registered
once, edge-triggered, when they are opened (`poll_open`); readiness is latched
in the pollDesc (`rg`/`wg` become `pdReady`) so that no edge is lost between a
goroutine's EAGAIN and its park.

The scheduler calls `netpoll(0)` from `find_runnable` before stealing; an M with
nothing to do blocks in `netpoll(delay)` until I/O or the next timer (only one M
at a time: `sched.lastpoll` is 0 while one does), and sysmon polls when nobody
did for 10 ms. Ready goroutines are handed back as a list for `injectglist`.
A wait with a timeout selects on the epoll fd itself (readable when an event is
pending) because epoll_wait counts whole milliseconds and timers would be late.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import threading
from collections.abc import Callable
from typing import Any, Final

from . import proc  # a cycle (proc imports us): only used at call time
from .osapi import Mutex, lockacquire, lockfor, lockrelease, stripe
from .runtime2 import G, WaitReason, schedt
from .timers import addtimer, deltimer, timer
from .timers import now as timers_now

_FD_SETSIZE: Final = 1024  # select() takes only fds below this

pdReady: Final = "pdReady"  # rg/wg: I/O readiness arrived while nobody waited

Closer = Callable[[], Callable[[], None] | None]  # a weakref.WeakMethod of a close()

# Errors netpollcheckerr reports (Go's pollErr*).
pollNoError: Final = 0
pollErrClosing: Final = 1
pollErrTimeout: Final = 2


class pollDesc:
    """What the poller knows of one fd: who waits to read/write, deadlines (Go's pollDesc)."""

    __slots__ = (
        "closer",
        "closing",
        "fd",
        "hup",
        "lockno",
        "poller",
        "rd",
        "rempty",
        "rg",
        "rseq",
        "rt",
        "wd",
        "wg",
        "wseq",
        "wt",
    )

    def __init__(self, fd: int, poller: Poller, closer: Closer) -> None:
        self.fd = fd
        # Weak, so that a socket dropped without close() is still collected;
        # run() closes the sockets still open when the program ends.
        self.closer = closer
        # Kept so that closing works outside goroutine context too: from a finally
        # block that run() closes at exit, or after run() has returned.
        self.poller = poller
        self.lockno = lockfor(id(self))  # its lock: one of osapi's striped ones
        self.closing = False
        self.rg: G | str | None = None  # None, pdReady, or the G parked to read
        # The reader's last recv found the receive queue empty (EAGAIN or a short
        # read) after rg was last cleared, so any data since has latched rg or
        # will wake a parked reader: the next read parks before its recv, which
        # saves a recv failing with EAGAIN (an exception in Python). Cleared
        # whenever the reader takes a latched pdReady; only the reader, holding
        # the fd's read lock, touches it. See poll_reset.
        self.rempty = False
        # Sticky: epoll reported EOF, an error or urgent data, after which a
        # recv returns at once with no further edge to expect: rempty is never
        # set again (Go's pollDesc records EPOLLERR likewise).
        self.hup = False
        self.wg: G | str | None = None
        self.rd = 0  # read deadline (nanotime), 0 for none, -1 once expired
        self.wd = 0
        self.rt: Any = None  # deadline timers
        self.wt: Any = None
        # Bumped by every set_deadline, so that a timer that fired for an older
        # deadline does nothing (Go's rseq/wseq).
        self.rseq = 0
        self.wseq = 0

    @property
    def lock(self) -> Mutex:
        """Its lock, for `with` and goparkunlock."""
        return stripe(self.lockno)


class Poller:
    """One epoll (or selector) plus the wakeup pipe."""

    def __init__(self) -> None:
        self.rfd, self.wfd = os.pipe()
        os.set_blocking(self.rfd, False)
        os.set_blocking(self.wfd, False)
        self.lock = threading.Lock()
        self.wakeupSig = False  # a break is pending (Go's netpollWakeSig)
        self.waiters = 0  # goroutines parked on I/O (Go's netpollWaiters)
        self.pds: dict[int, pollDesc] = {}
        self.closed = False
        self.ep: Any
        self.sel: selectors.BaseSelector | None
        if hasattr(select, "epoll"):
            self.ep = select.epoll()
            self.ep.register(self.rfd, select.EPOLLIN)
            self.epfd = self.ep.fileno()
            self.sel = None
        else:  # pragma: no cover - off Linux
            self.ep = None
            self.epfd = -1
            self.sel = selectors.DefaultSelector()
            self.sel.register(self.rfd, selectors.EVENT_READ)

    def close(self) -> None:
        with self.lock:
            self.closed = True
        if self.ep is not None:
            self.ep.close()
        if self.sel is not None:  # pragma: no cover
            self.sel.close()
        os.close(self.rfd)
        os.close(self.wfd)


def netpollinit(sched: schedt) -> None:
    """Create the poller of a run()."""
    sched.netpoll = Poller()


def netpollinited(sched: schedt) -> bool:
    return sched.netpoll is not None


def netpollclose(sched: schedt) -> None:
    """At the end of run(): close the sockets still open, as a Go program's exit
    does (goroutines that held them are gone, or hold them in a reference
    cycle only the collector would free), then the poller's own fds."""
    poller: Poller | None = sched.netpoll
    if poller is None:
        return
    with poller.lock:
        # From here on poll_open refuses: a goroutine stranded on its thread
        # may still be registering a socket, which this loop would not see.
        poller.closed = True
        pds = list(poller.pds.values())
    for pd in pds:
        close = pd.closer()
        if close is not None:
            close()
    poller.close()
    sched.netpoll = None


def netpollWaiters(sched: schedt) -> int:
    poller: Poller | None = sched.netpoll
    return poller.waiters if poller is not None else 0


def netpollWaitersLocked(sched: schedt) -> int:
    """netpollWaiters, read under the lock its writers hold: ordered after them."""
    poller: Poller | None = sched.netpoll
    if poller is None:
        return 0
    with poller.lock:
        return poller.waiters


def swapLastpoll(sched: schedt) -> bool:
    """Claim the right to block in netpoll: lastpoll 0 means an M is blocked in it.

    Refused once the program exits: startTheExit breaks the poller once, and the
    M blocked in it then drains that wakeup, so an M that blocked after it would
    sleep forever and run() would wait for it. (Only the claimant drains, so a
    break sent after a claim always reaches the claimant.)
    """
    with sched.lock:
        if sched.lastpoll == 0 or sched.exiting:
            return False
        sched.lastpoll = 0
        return True


def netpollBreak(sched: schedt) -> None:
    """Wake an M blocked in netpoll (Go's netpollBreak)."""
    poller: Poller | None = sched.netpoll
    if poller is None:
        return
    with poller.lock:
        if poller.wakeupSig or poller.closed:
            return
        poller.wakeupSig = True
        # A full pipe means a wakeup is pending anyway.
        with contextlib.suppress(BlockingIOError):
            os.write(poller.wfd, b"\0")


def wakeNetPoller(sched: schedt, when: int) -> None:
    """Make sure someone will run a timer due at `when` (Go's wakeNetPoller)."""
    if sched.lastpoll == 0:
        # An M is blocked in netpoll: wake it if it would sleep past `when`.
        pollerPollUntil = sched.pollUntil
        if pollerPollUntil == 0 or pollerPollUntil > when:
            netpollBreak(sched)
    else:
        proc.wakep(sched)


def netpoll(sched: schedt, delay: int) -> list[G]:
    """Poll for ready I/O: delay < 0 blocks, 0 does not, > 0 waits up to delay ns (Go)."""
    poller: Poller | None = sched.netpoll
    if poller is None:
        return []
    timeout = -1.0 if delay < 0 else delay / 1e9
    ready: list[tuple[int, int]]
    if poller.ep is not None:
        if delay > 0 and poller.epfd < _FD_SETSIZE:
            # epoll_wait counts whole milliseconds (CPython rounds up), which
            # makes every short timer late; the epoll fd is readable when an
            # event is pending, and select() waits with microsecond precision.
            if not select.select((poller.epfd,), (), (), timeout)[0]:
                return []
            timeout = 0.0
        ready = poller.ep.poll(timeout)
    else:  # pragma: no cover - off Linux
        assert poller.sel is not None
        sevents = poller.sel.select(None if delay < 0 else delay / 1e9)
        ready = [(key.fd, ev) for key, ev in sevents]
    glist: list[G] = []
    pds = poller.pds
    for fd, ev in ready:
        if fd == poller.rfd:
            if delay != 0:
                # A blocking netpoll consumed the break; a non-blocking one
                # leaves it for the M that blocks.
                drainWakeup(poller)
            continue
        pd = pds.get(fd)
        if pd is not None:
            netpollready(glist, pd, ev)
    if glist:
        netpollAdjustWaiters(poller, -len(glist))
    return glist


# The events that make a reader / a writer runnable (Go's netpoll_epoll.go),
# and those after which a read may succeed with no edge to follow (EOF, an
# error, urgent data: a recv stops short at its mark). Without epoll, a
# selector's events, level-triggered: no edge is missed. Final, so that a
# compiled core reads them as constants, not by name.
_EPOLL: Final = hasattr(select, "epoll")
_POLLHUP: Final = (
    select.EPOLLRDHUP | select.EPOLLERR | select.EPOLLHUP | select.EPOLLPRI if _EPOLL else 0
)
_POLLRD: Final = select.EPOLLIN | _POLLHUP if _EPOLL else selectors.EVENT_READ
_POLLWR: Final = (
    select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP if _EPOLL else selectors.EVENT_WRITE
)


def drainWakeup(poller: Poller) -> None:
    with poller.lock:
        with contextlib.suppress(BlockingIOError):
            while os.read(poller.rfd, 64):
                pass
        poller.wakeupSig = False


def netpollAdjustWaiters(poller: Poller, delta: int) -> None:
    """Count goroutines parked on I/O up or down (Go's netpollAdjustWaiters)."""
    poller.lock.acquire()
    try:
        poller.waiters += delta
    finally:
        poller.lock.release()


def netpollready(glist: list[G], pd: pollDesc, ev: int) -> None:
    """Record the events on pd and collect the goroutines they unblock (Go's netpollready).

    netpollunblock with ioready, inlined: this runs for every event. The
    caller takes the collected goroutines off the waiter count.
    """
    n = pd.lockno
    lockacquire[n]()
    try:
        if ev & _POLLHUP:
            pd.hup = True  # before rg: whoever sees the latch sees this too
        if ev & _POLLRD:
            old = pd.rg
            if old is not pdReady:
                pd.rg = pdReady
                if old is not None:
                    glist.append(old)  # type: ignore[arg-type]
        if ev & _POLLWR:
            old = pd.wg
            if old is not pdReady:
                pd.wg = pdReady
                if old is not None:
                    glist.append(old)  # type: ignore[arg-type]
    finally:
        lockrelease[n]()


def netpollunblock(glist: list[G], pd: pollDesc, attr: str, ioready: bool) -> None:
    """Take the G waiting on pd.rg/pd.wg into glist; latch readiness if ioready (pd.lock held).

    The caller takes the collected goroutines off the waiter count.
    """
    old = getattr(pd, attr)
    if old is pdReady or (old is None and not ioready):
        return
    setattr(pd, attr, pdReady if ioready else None)
    if old is not None:
        glist.append(old)


def swapg(pd: pollDesc, reading: bool, new: G | str | None) -> G | str | None:
    """Store `new` in pd.rg (reading) or pd.wg and return what was there (pd.lock held)."""
    if reading:
        old, pd.rg = pd.rg, new
    else:
        old, pd.wg = pd.wg, new
    return old


def netpollcheckerr(pd: pollDesc, reading: bool) -> int:
    """Why a wait on pd cannot start: closing, deadline passed, or pollNoError (pd.lock held)."""
    if pd.closing:
        return pollErrClosing
    if (pd.rd if reading else pd.wd) < 0:
        return pollErrTimeout
    return pollNoError


def poll_open(fd: int, closer: Closer) -> pollDesc:
    """Register fd with the current run's poller, edge-triggered (Go's poll_runtime_pollOpen).

    closer, a weak reference to what closes the fd's owner, lets run() close
    it at the end.
    """
    poller = _poller()
    pd = pollDesc(fd, poller, closer)
    with poller.lock:
        if poller.closed:
            raise errPollerClosed()
        stale = poller.pds.get(fd)
        poller.pds[fd] = pd
    if stale is not None:
        # The kernel handed out this fd number again, so the fd the old pollDesc
        # describes was closed behind the poller's back (a socket collected
        # without close()); the kernel has dropped it from the epoll set already.
        _evict(stale)
    if poller.ep is not None:
        poller.ep.register(
            fd,
            select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP | select.EPOLLPRI | select.EPOLLET,
        )
    else:  # pragma: no cover - off Linux (level-triggered; the latch keeps it correct)
        assert poller.sel is not None
        poller.sel.register(fd, selectors.EVENT_READ | selectors.EVENT_WRITE)
    return pd


def poll_close(pd: pollDesc) -> None:
    """Unblock every waiter with pollErrClosing and unregister fd (Go's evict + close).

    Works outside goroutine context too, and after run() has closed the poller.
    """
    poller = pd.poller
    _evict(pd)
    with poller.lock:
        if poller.pds.get(pd.fd) is pd:
            del poller.pds[pd.fd]
            if not poller.closed:
                if poller.ep is not None:
                    poller.ep.unregister(pd.fd)
                else:  # pragma: no cover
                    assert poller.sel is not None
                    poller.sel.unregister(pd.fd)


def _evict(pd: pollDesc) -> None:
    """Mark pd closing, stop its deadline timers and wake its waiters (Go's pollUnblock)."""
    glist: list[G] = []
    with pd.lock:
        pd.closing = True
        netpollunblock(glist, pd, "rg", False)
        netpollunblock(glist, pd, "wg", False)
        timers = [t for t in (pd.rt, pd.wt) if t is not None]
        pd.rt = pd.wt = None
    for t in timers:
        deltimer(t)
    _readyall(pd.poller, glist)


def poll_reset(pd: pollDesc, mode: str) -> int:
    """Get pd ready for a new read or write: a pollErr* code (Go's poll_runtime_pollReset).

    An operation fails at once once its deadline has passed, even with data
    ready, as in Go. A readiness latched for an earlier operation is dropped:
    the caller tries the syscall next anyway, and a stale pdReady would only
    cost a second failing syscall before it parks. A reader whose last recv
    found the queue empty (pd.rempty) keeps rg as it is and parks first:
    dropping a latch it has not seen could drop the edge of new data that
    another M has just reported, and nothing would wake it.
    """
    if pd.closing:
        return pollErrClosing
    if mode == "r":
        if pd.rd < 0:
            return pollErrTimeout
        if pd.rg is pdReady:
            # No pd.lock, as Go's atomic store: besides netpoll, which only
            # stores pdReady, only this reader (holding the fd's read lock) does.
            pd.rg = None
            pd.rempty = False  # what the latch announced is for recv to take
    else:
        if pd.wd < 0:
            return pollErrTimeout
        if pd.wg is pdReady:
            pd.wg = None
    return pollNoError


def _readyall(poller: Poller, glist: list[G]) -> None:
    """Make the goroutines taken off pd runnable, and off the waiter count."""
    if glist:
        netpollAdjustWaiters(poller, -len(glist))
    for gp in glist:
        proc.goready(gp)


def _poller() -> Poller:
    mp, _ = proc.acquire_g("the network poller")
    poller: Poller | None = mp.sched.netpoll
    if poller is None:
        raise errPollerClosed()
    return poller


def errPollerClosed() -> RuntimeError:
    """The error of registering a socket once run() has begun to close the poller."""
    return RuntimeError("the network poller is closed: the program is exiting")


async def netpollblock(pd: pollDesc, mode: str) -> int:
    """Park until pd is ready for mode ("r" or "w"); returns a pollErr* code (Go's netpollblock).

    pollNoError after a wakeup that was not I/O readiness (a deadline that fired
    and was then extended) is Go's "pretend it has not happened": the caller
    retries its syscall and parks again.
    """
    _, gp = proc.acquire_g("netpollblock")
    reading = mode == "r"
    lock = pd.lock
    lock.acquire()
    old = pd.rg if reading else pd.wg
    if old is not None and old is not pdReady:
        lock.release()
        what = "read" if reading else "write"
        raise RuntimeError(f"fd {pd.fd}: two goroutines wait to {what} at once")
    # Readiness that came first is taken instead of waiting; else we wait, if we may.
    err = pollNoError if old is pdReady else netpollcheckerr(pd, reading)
    waiter = gp if old is None and err == pollNoError else None
    swapg(pd, reading, waiter)
    if waiter is None:
        lock.release()
        return err
    poller = pd.poller
    netpollAdjustWaiters(poller, 1)
    try:
        await proc.goparkunlock(lock, WaitReason.IOWait, gp)
    except BaseException:
        # The coroutine was closed while parked (run() abandons goroutines at
        # exit): a later close or readiness must not goready a dead G.
        with lock:
            if (pd.rg if reading else pd.wg) is gp:
                swapg(pd, reading, None)
                netpollAdjustWaiters(poller, -1)
        raise
    lock.acquire()
    old = swapg(pd, reading, None)
    err = pollNoError if old is pdReady else netpollcheckerr(pd, reading)
    lock.release()
    return err


def set_deadline(pd: pollDesc, deadline: float | None, mode: str) -> None:
    """Set the read ("r"), write ("w") or both ("rw") deadline, seconds from now.

    None clears it; a deadline <= 0 has passed already and wakes the waiters.
    A closing pd is left alone (Go's poll_runtime_pollSetDeadline).
    """
    when = 0 if deadline is None else timers_now() + max(0, int(deadline * 1e9))
    if deadline is not None and deadline <= 0:
        when = -1
    for attr, dattr, tattr, sattr in (("rg", "rd", "rt", "rseq"), ("wg", "wd", "wt", "wseq")):
        if attr[0] not in mode:
            continue
        glist: list[G] = []
        with pd.lock:
            if pd.closing:
                return
            old = getattr(pd, tattr)
            seq = getattr(pd, sattr) + 1
            setattr(pd, sattr, seq)
            setattr(pd, dattr, when)
            t = timer(netpolldeadline, (pd, attr, dattr, sattr), seq) if when > 0 else None
            setattr(pd, tattr, t)
            if when < 0:
                netpollunblock(glist, pd, attr, False)
        if old is not None:
            deltimer(old)
        if t is not None:
            addtimer(t, when)
        _readyall(pd.poller, glist)


def netpolldeadline(arg: Any, seq: int, delay: int) -> None:
    """A deadline timer fired: mark it expired and wake the waiter (Go's netpolldeadlineimpl)."""
    pd, attr, dattr, sattr = arg
    glist: list[G] = []
    with pd.lock:
        if getattr(pd, sattr) != seq:
            return  # the deadline was changed after this timer had been started
        setattr(pd, dattr, -1)
        netpollunblock(glist, pd, attr, False)
    _readyall(pd.poller, glist)
