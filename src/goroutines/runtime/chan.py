"""Channels (Go's runtime/chan.go).

A channel is an `hchan`: a ring buffer of `cap` slots (`buf`, `sendx`, `recvx`,
`qcount`), a queue of parked receivers (`recvq`) and one of parked senders
(`sendq`), a `closed` flag and one lock that guards all of it. The waiters are
`sudog`s: a parked goroutine plus the value it sends or the slot it receives into.

Invariants (Go's, kept here):
  * At least one of sendq and recvq is empty, except for an unbuffered channel
    with one goroutine blocked sending and receiving on it in a select.
  * For a buffered channel: qcount > 0 implies recvq is empty, and
    qcount < cap implies sendq is empty.

A send to a channel with a parked receiver hands the value straight to that
receiver's sudog and readies it; it never goes through the buffer. A receive
from a full buffered channel with a parked sender takes the head of the buffer
and moves the sender's value into the freed tail slot (the same slot), so the
FIFO order holds.

Blocking: the goroutine enqueues its sudog while it holds the channel lock and
then parks with `chanparkcommit` as the unlock callback, which the M runs after
the coroutine has stopped. A waker can only find the sudog under the lock, so it
can never ready a goroutine that is still running. Wakers fill in the sudog
(`elem`, `success`) and `gp.param` under the lock, release it and only then
call goready.

Where Python shapes the code: the user's `Chan` (goroutines/chan.py) is a
Python class whose awaitable operations are Python coroutines, so that one
never awaited warns, in a compiled build too; each holds an hchan and starts
with one call here. `chansend` and `chanrecv` try the fast path (a waiting
partner, or the buffer) and give the caller one answer to test besides
success: a coroutine to await (chansend), or _EMPTY, for which chanrecvwait
makes one. That coroutine parks (the lock is then still held, and
chansendpark / chanrecvpark take it over), yields first when sysmon asked the
goroutine to (honoured before the operation, as Go checks at a function's
entry), or, for a receive from a closed channel, gives (None, False). Python has no
CAS: the `selectdone` flag that decides which case of a parked select wins is
tested and set under `_selectDoneLock`.

The lock. Go gives each hchan a lock word; here the fast lock is a POSIX
semaphore (osapi.mutex), which costs a page of memory, so channels (and
sockets) share osapi's NLOCKS striped locks by address: Go's `lock(&c.lock)`
is `lockacquire[c.lockno]()` here. Nothing takes a channel's lock while
holding another's but select, which takes its channels' locks in their order,
each once.
"""

from __future__ import annotations

import threading
from collections.abc import Coroutine
from typing import Any, Final

from . import requests, tls
from .errors import ChannelClosed
from .osapi import lockacquire, lockfor, lockrelease
from .proc import acquire_g, gopark, goready, readym
from .runtime2 import G, M, WaitReason

# Final, so that a compiled core reads them as constants, not from the module's dict.
_tls: Final = tls._tls
_PREEMPT: Final = requests._PREEMPT

# chanrecvnb's and chanrecv's answer besides a received value: none to take
# now (c.lock still held), as the channel is empty or closed and drained.
_EMPTY: Final[Any] = object()

# Go flips g.selectDone with a CAS under the lock of one channel, while another
# M may be doing the same under another channel's lock. Without a CAS, this one
# lock makes the test-and-set atomic; it is held for a few bytecodes only.
_selectDoneLock = threading.Lock()


def remakelocks() -> None:
    """In a forked child: a new _selectDoneLock (program.forked; the channels' are osapi's).

    A thread of the parent may have held it at the fork, and it would stay
    held in the child.
    """
    global _selectDoneLock
    _selectDoneLock = threading.Lock()


class sudog:
    """A goroutine waiting on a channel, in its recvq or sendq (Go's sudog)."""

    __slots__ = ("c", "elem", "g", "isSelect", "next", "prev", "success")

    def __init__(self, gp: G, elem: Any, c: hchan, isSelect: bool) -> None:
        self.g = gp
        self.elem = elem  # the value to send, or the value received
        self.c = c
        self.isSelect = isSelect  # part of a select: the first case to fire wins
        self.success = False  # True: woken by a communication; False: by close
        self.next: sudog | None = None
        self.prev: sudog | None = None


class waitq:
    """A FIFO of sudogs, doubly linked so that select can unlink any one (Go's waitq)."""

    __slots__ = ("first", "last")

    def __init__(self) -> None:
        self.first: sudog | None = None
        self.last: sudog | None = None

    def enqueue(self, sgp: sudog) -> None:
        """Append sgp."""
        x = self.last
        sgp.prev = x
        if x is None:
            self.first = sgp
        else:
            x.next = sgp
        self.last = sgp

    def dequeue(self) -> sudog | None:
        """Pop the first sudog that may still be woken; skip selects already won elsewhere."""
        while True:
            sgp = self.first
            if sgp is None:
                return None
            y = sgp.next
            if y is None:
                self.first = self.last = None
            else:
                y.prev = None
                self.first = y
                sgp.next = None  # mark as removed (see dequeueSudoG)
            # A select parks on several channels: claim the right to wake it. If
            # another case won already, it will unlink itself once it runs.
            if sgp.isSelect and not cas_selectdone(sgp.g):
                continue
            return sgp

    def dequeueSudoG(self, sgp: sudog) -> None:
        """Unlink sgp if it is still queued (a select's losing case, or an abandoned waiter)."""
        x = sgp.prev
        y = sgp.next
        if x is not None:
            x.next = y
            if y is None:
                self.last = x
            else:
                y.prev = x
            sgp.prev = sgp.next = None
        elif y is not None:
            y.prev = None
            self.first = y
            sgp.next = None
        elif self.first is sgp:  # the only element; else already dequeued
            self.first = self.last = None


def cas_selectdone(gp: G) -> bool:
    """Go's gp.selectDone.CompareAndSwap(0, 1): True for the one waker that wins."""
    _selectDoneLock.acquire()  # not `with`: that costs twice as much, and nothing here raises
    won = not gp.selectdone
    gp.selectdone = True
    _selectDoneLock.release()
    return won


# ---------------------------------------------------------------------------
# The helpers shared with select: each runs with c.lock held and never unlocks.


def send(sg: sudog, ep: Any) -> None:
    """Hand ep to the parked receiver sg; the caller unlocks, then goready(sg.g) (Go's send)."""
    sg.elem = ep
    sg.success = True
    sg.g.param = sg


def recv(c: hchan, sg: sudog) -> Any:
    """Receive from the parked sender sg; the caller unlocks, then goready(sg.g) (Go's recv).

    Unbuffered: the value comes straight from the sender. Buffered (then the
    buffer is full): take the head and put the sender's value in the freed slot,
    which is also the tail.
    """
    if c.dataqsiz == 0:
        ep = sg.elem
    else:
        i = c.recvx
        ep = c.buf[i]
        c.buf[i] = sg.elem
        i += 1
        c.recvx = c.sendx = 0 if i == c.dataqsiz else i
    sg.elem = None
    sg.success = True
    sg.g.param = sg
    return ep


def bufput(c: hchan, ep: Any) -> None:
    """Append ep to the ring buffer, which has room."""
    i = c.sendx
    c.buf[i] = ep
    i += 1
    c.sendx = 0 if i == c.dataqsiz else i
    c.qcount += 1


def bufget(c: hchan) -> Any:
    """Take the head of the ring buffer, which is not empty."""
    i = c.recvx
    buf = c.buf
    ep = buf[i]
    buf[i] = None  # drop the reference (Go: typedmemclr)
    i += 1
    c.recvx = 0 if i == c.dataqsiz else i
    c.qcount -= 1
    return ep


def chanparkcommit(gp: G, c: hchan) -> bool:
    """The unlockf of a parked channel operation: release c.lock once gp has stopped."""
    lockrelease[c.lockno]()
    return True


def closed_error(what: str, c: hchan) -> ChannelClosed:
    """Go's panic message for `what` ("send on", "close of"), naming the channel."""
    return ChannelClosed(f"{what} closed channel {c!r}")


# ---------------------------------------------------------------------------
# Send


def chansendnb(c: hchan, ep: Any, mp: M | None) -> bool:
    """The non-blocking part of Go's chansend, c.lock held.

    True: sent, and the lock is released. False: it would block, the lock is
    still held. A closed channel releases the lock and raises ChannelClosed.
    """
    if c.closed:
        lockrelease[c.lockno]()
        raise closed_error("send on", c)
    q = c.recvq
    if q.first is not None and (sg := q.dequeue()) is not None:
        send(sg, ep)
        lockrelease[c.lockno]()
        readym(sg.g, mp)
        return True
    if c.qcount < c.dataqsiz:
        # bufput, inlined: the call would cost ~7% of a send + recv.
        i = c.sendx
        c.buf[i] = ep
        i += 1
        c.sendx = 0 if i == c.dataqsiz else i
        c.qcount += 1
        lockrelease[c.lockno]()
        return True
    return False


async def chansendpark(c: hchan, gp: G, ep: Any) -> None:
    """Park on c.sendq (c.lock held) until a receiver takes ep or c is closed."""
    mysg = sudog(gp, ep, c, False)
    c.sendq.enqueue(mysg)
    try:
        await gopark(chanparkcommit, c, WaitReason.ChanSend, gp)
    except GeneratorExit:
        abandon(c, c.sendq, mysg)
        raise
    gp.param = None
    if not mysg.success:
        raise closed_error("send on", c)


def selectnbsend(c: hchan, ep: Any) -> bool:
    """`ch.try_send(v)`: send if that needs no wait (Go's selectnbsend)."""
    lockacquire[c.lockno]()
    if chansendnb(c, ep, _tls.__dict__.get("m")):
        return True
    lockrelease[c.lockno]()
    return False


def abandon(c: hchan, q: waitq, mysg: sudog) -> None:
    """Unlink the sudog of a goroutine abandoned at program exit while parked.

    Otherwise a waker could find the dead G on a channel that outlives this run.
    """
    lockacquire[c.lockno]()
    try:
        q.dequeueSudoG(mysg)
    finally:
        lockrelease[c.lockno]()


# ---------------------------------------------------------------------------
# Receive


def chanrecvnb(c: hchan, mp: M | None) -> Any:
    """The non-blocking part of Go's chanrecv, c.lock held.

    Returns the value received (lock released, a parked sender readied), or
    _EMPTY when there is none (lock still held): c.closed then says whether c
    is closed and drained, or a receive would block.
    """
    if not c.closed:
        q = c.sendq
        if q.first is not None and (sg := q.dequeue()) is not None:
            ep = recv(c, sg)
            lockrelease[c.lockno]()
            readym(sg.g, mp)
            return ep
    if c.qcount > 0:
        # bufget, inlined: the call would cost ~7% of a send + recv.
        i = c.recvx
        buf = c.buf
        ep = buf[i]
        buf[i] = None
        i += 1
        c.recvx = 0 if i == c.dataqsiz else i
        c.qcount -= 1
        lockrelease[c.lockno]()
        return ep
    return _EMPTY


async def chanrecvpark(c: hchan, gp: G) -> tuple[Any, bool]:
    """Park on c.recvq (c.lock held) until a sender or close wakes us: (value, ok)."""
    mysg = sudog(gp, None, c, False)
    c.recvq.enqueue(mysg)
    try:
        await gopark(chanparkcommit, c, WaitReason.ChanReceive, gp)
    except GeneratorExit:
        abandon(c, c.recvq, mysg)
        raise
    gp.param = None
    return mysg.elem, mysg.success


def selectnbrecv(c: hchan) -> tuple[Any, bool]:
    """`ch.try_recv()`: (value, True) if one was ready, else (None, False) (Go's selectnbrecv)."""
    lockacquire[c.lockno]()
    ep = chanrecvnb(c, _tls.__dict__.get("m"))
    if ep is _EMPTY:
        lockrelease[c.lockno]()
        return None, False
    return ep, True


# ---------------------------------------------------------------------------
# Close


def closechan(c: hchan) -> None:
    """`ch.close()`: wake every receiver with (None, False) and every sender to raise (Go)."""
    lockacquire[c.lockno]()
    if c.closed:
        lockrelease[c.lockno]()
        raise closed_error("close of", c)
    c.closed = True
    glist = []
    # Release all readers, then all writers (they will raise ChannelClosed).
    for q in (c.recvq, c.sendq):
        while (sg := q.dequeue()) is not None:
            sg.elem = None
            sg.success = False
            sg.g.param = sg
            glist.append(sg.g)
    lockrelease[c.lockno]()
    # Ready all Gs now that we've dropped the channel lock.
    for gp in glist:
        goready(gp)


class hchan:
    """The channel itself (Go's hchan): every field is guarded by its lock (lockno).

    len() reads qcount without it, as Go's len(ch) does. `name` and `ident`
    are the user's Chan's, for messages: its type (`Chan[int]`) and id().
    """

    def __init__(self, cap: int, ident: int) -> None:
        self.lockno = lockfor(ident)  # which of the channels' locks is its lock
        self.qcount = 0  # values in buf
        self.dataqsiz = cap  # slots in buf
        self.buf: list[Any] = [None] * cap
        self.sendx = 0  # next slot to fill
        self.recvx = 0  # next slot to take
        self.recvq = waitq()  # parked receivers
        self.sendq = waitq()  # parked senders
        self.closed = False
        self.name = "Chan"
        self.alias: Any = None  # the user's Chan[int], if it was made so
        self.ident = ident

    def __repr__(self) -> str:
        return f"<{self.name} cap={self.dataqsiz} len={self.qcount} at {self.ident:#x}>"


# ---------------------------------------------------------------------------
# The start of each awaitable operation (goroutines/chan.py awaits what it says)


def chansend(c: hchan, ep: Any, preemptible: bool = True) -> Any:
    """`await ch.send(v)`: None once sent; else a coroutine to await (Go's chansend, block=true).

    The coroutine parks until a receiver takes ep (chansendpark), or, if
    sysmon asked the goroutine to yield (and preemptible: as Go checks at a
    function's entry, before anything is sent), yields first (chansendyield).
    """
    mp: M | None = _tls.__dict__.get("m")  # acquire_g inlined: this is the hot path
    gp = None if mp is None else mp.curg
    if gp is None:
        gp = acquire_g("Chan.send")[1]  # raises: not in a goroutine
    if preemptible and gp.preempt:
        return chansendyield(c, ep)
    lockacquire[c.lockno]()
    if chansendnb(c, ep, mp):
        return None
    return chansendpark(c, gp, ep)


async def chansendyield(c: hchan, ep: Any) -> None:
    """A send that sysmon's preemption request met: yield, then send."""
    await _PREEMPT
    aw = chansend(c, ep, False)
    if aw is not None:
        await aw


def chanrecv(c: hchan, what: str = "Chan.__anext__", preemptible: bool = True) -> Any:
    """A receive's start (`what`: the operation, for errors; by default `async
    for`'s, the caller that passes nothing more): the value, or _EMPTY.

    _EMPTY, with c.lock held: `await chanrecvwait(c, what)` gives (value, ok).
    One answer besides a value, so that the common case costs the caller one test.
    """
    mp: M | None = _tls.__dict__.get("m")  # acquire_g inlined: this is the hot path
    gp = None if mp is None else mp.curg
    if gp is None:
        gp = acquire_g(what)[1]  # raises: not in a goroutine
    lockacquire[c.lockno]()
    if preemptible and gp.preempt:
        return _EMPTY  # chanrecvwait yields first
    return chanrecvnb(c, mp)


def chanrecvwait(c: hchan, what: str) -> Coroutine[Any, Any, tuple[Any, bool]]:
    """After chanrecv said _EMPTY (c.lock held): what gives (value, ok).

    If sysmon asked the goroutine to yield: yield, then receive (as Go checks
    at a function's entry, before anything is received). If c is closed and
    drained: (None, False). Else the park until a sender or close wakes us;
    no coroutine of its own: one frame less in each parked receiver's stack.
    """
    gp = acquire_g(what)[1]
    preempt = gp.preempt
    if preempt or c.closed:
        lockrelease[c.lockno]()
        return chanrecvyield(c, what) if preempt else chanrecvclosed()
    return chanrecvpark(c, gp)


async def chanrecvyield(c: hchan, what: str) -> tuple[Any, bool]:
    """A receive that sysmon's preemption request met: yield, then receive."""
    await _PREEMPT
    ep = chanrecv(c, what, False)
    if ep is _EMPTY:
        return await chanrecvwait(c, what)
    return ep, True


async def chanrecvclosed() -> tuple[Any, bool]:
    """A receive from a closed, drained channel."""
    return None, False
