"""Semaphores for the sync package, and the notify list of sync.Cond (Go's sema.go).

These are not semaphores for users (goroutines.sync.Semaphore is one). As in Go,
think of them as a way to implement sleep and wakeup such that every sleep is
paired with a single wakeup, even if, due to races, the wakeup happens before the
sleep: `semrelease` adds one to a counter, `semacquire` waits until the counter
is positive and takes one. Mutex, RWMutex and WaitGroup keep their state words
under a small lock of their own and only come here in the contended case, when a
goroutine has to wait or a waiter has to be woken.

The semaphore table. In Go a semaphore is a bare uint32 inside the sync object,
with no room for a wait queue, so waiters are kept in one of 251 `semaRoot`s
chosen by hashing the word's address. Here the word is a `Sema` object and its
address is its id(). A root has a lock and, for each address with waiters, a
FIFO queue of sudogs. Go keeps a treap of the distinct addresses, each heading a
list of sudogs, for O(log n) lookup and O(1) queueing; a dict of deques gives
the same operations in O(1).

No atomics. Go's `cansemacquire` (a CAS loop on the counter) and the atomic add
in `semrelease1` are done here with the root lock held. That makes Go's `nwait`
counter, which lets semrelease skip the lock when nobody waits, pointless: the
release takes the lock anyway to add to the counter and sees the queue under it.

Parking. A waiter queues its sudog and parks with gopark, whose unlockf releases
the root lock only after the goroutine's coroutine has stopped: semrelease needs
that lock to find the sudog, so it can never ready a goroutine that is still
running, and a release that comes before the waiter queued leaves the count up
for the waiter to take instead of sleeping.

Handoff. `semrelease1(addr, handoff=True)` takes the count on behalf of the
waiter it wakes (the sudog's ticket), so no running goroutine can take it first:
Mutex uses this in starvation mode. Go then also yields the releasing goroutine
so that the waiter runs at once on the rest of its time slice; here releases
come from plain functions (`Mutex.unlock()`), which cannot yield, so the waiter
waits on our P's runnext until we next stop.

notifyList is Go's ticket-based list for sync.Cond: a waiter takes a ticket
(`notifyListAdd`) while it still holds the Cond's lock, unlocks, then waits for
its ticket (`notifyListWait`); `notifyListNotifyOne` and `notifyListNotifyAll`
advance `notify` past the tickets they serve, so a notification that comes
between the unlock and the wait is not lost. Tickets are Python ints that never
wrap, so Go's wrap-aware `less(a, b)` is a plain `a < b`.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Final

from .proc import acquire_g, getgfor, goparkunlock, goready
from .runtime2 import G, WaitReason

semTabSize: Final = 251  # prime, so as not to correlate with any user patterns (Go)


class Sema:
    """A semaphore word: the uint32 whose address Go passes to semacquire.

    `value` is guarded by the lock of the word's semaRoot.
    """

    __slots__ = ("value",)

    def __init__(self, value: int = 0) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"<Sema {self.value} at {id(self):#x}>"


class sudog:
    """A goroutine in a wait queue (Go's sudog, with the fields sema.go uses)."""

    __slots__ = ("elem", "g", "next", "ticket")

    def __init__(self, g: G, elem: Sema | None, ticket: int) -> None:
        self.g = g
        self.elem = elem  # the semaphore it waits on (None on a notifyList)
        # semaphores: 1 once a handoff gave it the count; notifyList: its ticket
        self.ticket = ticket
        self.next: sudog | None = None  # the next waiter on a notifyList


class semaRoot:
    """One bucket of the semaphore table: the waiters of the addresses that hash to it."""

    __slots__ = ("lock", "waiters")

    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards waiters and the value of every Sema hashing here
        self.waiters: dict[Sema, deque[sudog]] = {}

    def queue(self, addr: Sema, s: sudog, lifo: bool) -> None:
        """Add s to addr's waiters: at the tail, or with lifo at the head (Go's queue)."""
        q = self.waiters.get(addr)
        if q is None:
            q = self.waiters[addr] = deque()
        if lifo:
            q.appendleft(s)
        else:
            q.append(s)

    def dequeue(self, addr: Sema, s: sudog | None = None) -> sudog | None:
        """Remove and return the first goroutine waiting on addr (Go's dequeue).

        With s: remove that waiter instead, if it is still queued (else None).
        """
        q = self.waiters.get(addr)
        if q is None:
            return None
        if s is None:
            s = q.popleft()
        elif s in q:
            q.remove(s)
        else:
            return None
        if not q:
            del self.waiters[addr]
        return s


semtable: Final = tuple(semaRoot() for _ in range(semTabSize))


def rootFor(addr: Sema) -> semaRoot:
    """The semaRoot that holds addr's waiters (Go's semTable.rootFor)."""
    return semtable[(id(addr) >> 3) % semTabSize]


def cansemacquire(addr: Sema) -> bool:
    """Take one from addr's count if it is positive; its root's lock held (Go: a CAS loop)."""
    v = addr.value
    if v == 0:
        return False
    addr.value = v - 1
    return True


async def semacquire(addr: Sema) -> None:
    """`await semacquire(addr)`: wait until addr's count is positive and take one (Go)."""
    await semacquire1(addr, False, WaitReason.Semacquire)


async def semacquire1(addr: Sema, lifo: bool, reason: WaitReason) -> None:
    """semacquire that queues at the head with lifo and parks with `reason` (Go's semacquire1).

    The easy case takes the count under the root lock; the harder one queues
    a sudog and parks until a semrelease picks it.
    """
    gp = getgfor("semacquire")  # before the lock: outside a goroutine this raises
    root = rootFor(addr)
    root.lock.acquire()
    if cansemacquire(addr):
        root.lock.release()
        return
    s = sudog(gp, addr, 0)
    while True:
        root.queue(addr, s, lifo)
        # Any semrelease from now on finds s under root.lock, which stays held
        # until this goroutine has stopped.
        try:
            await goparkunlock(root.lock, reason, s.g)
        except BaseException:
            # Closed while parked (run() abandons goroutines at exit): leave the
            # queue, or a finally block's release (wg.done(), mu.unlock()) would
            # ready a dead goroutine.
            with root.lock:
                root.dequeue(addr, s)
            raise
        if s.ticket != 0:
            return  # handoff: the releaser took the count for us
        # A running goroutine took the count before we ran: queue again (Go).
        root.lock.acquire()
        # A release since our last look may have left the count for us.
        if cansemacquire(addr):
            root.lock.release()
            return


def semrelease(addr: Sema) -> None:
    """Add one to addr's count and wake its first waiter, if any (Go's semrelease)."""
    semrelease1(addr, False)


def semrelease1(addr: Sema, handoff: bool) -> None:
    """semrelease; with handoff the woken waiter gets the count itself (Go's semrelease1)."""
    root = rootFor(addr)
    root.lock.acquire()
    try:
        addr.value += 1
        s = root.dequeue(addr)
        if s is None:
            return  # easy case: no waiters
        if handoff and cansemacquire(addr):
            s.ticket = 1
    finally:
        root.lock.release()
    goready(s.g)  # outside the lock: it may start an M (wakep)


class notifyList:
    """A ticket-based notification list for sync.Cond (Go's notifyList)."""

    __slots__ = ("head", "lock", "notify", "tail", "wait")

    def __init__(self) -> None:
        # Go increments `wait` atomically outside the lock and reads `notify`
        # without it; here both change and are read under `lock`.
        self.wait = 0  # the ticket of the next waiter
        self.notify = 0  # the ticket of the next waiter to be notified
        self.lock = threading.Lock()
        self.head: sudog | None = None  # parked waiters, roughly in ticket order
        self.tail: sudog | None = None


def notifyListAdd(nl: notifyList) -> int:
    """Take a ticket that a later notifyListWait waits for (Go's notifyListAdd)."""
    nl.lock.acquire()
    try:
        t = nl.wait
        nl.wait = t + 1
    finally:
        nl.lock.release()
    return t


async def notifyListWait(nl: notifyList, t: int) -> None:
    """Wait for ticket t to be notified; return at once if it was already (Go)."""
    gp = acquire_g("notifyListWait")[1]
    nl.lock.acquire()
    # Return right away if this ticket has already been notified.
    if t < nl.notify:
        nl.lock.release()
        return
    s = sudog(gp, None, t)
    if nl.tail is None:
        nl.head = s
    else:
        nl.tail.next = s
    nl.tail = s
    try:
        await goparkunlock(nl.lock, WaitReason.SyncCondWait, gp)
    except BaseException:
        # Closed while parked (run() abandons goroutines at exit): leave the
        # list, or a finally block's signal() would ready a dead goroutine.
        with nl.lock:
            unlinkTicket(nl, t)
        raise


def notifyListNotifyAll(nl: notifyList) -> None:
    """Notify every ticket taken so far (Go's notifyListNotifyAll)."""
    nl.lock.acquire()
    try:
        if nl.wait == nl.notify:
            return  # no new waiters since the last notification
        s = nl.head
        nl.head = nl.tail = None
        # Any waiter with an older ticket is on the list or will see that it
        # has been notified when it tries to add itself.
        nl.notify = nl.wait
    finally:
        nl.lock.release()
    while s is not None:
        nxt = s.next
        s.next = None
        goready(s.g)
        s = nxt


def notifyListNotifyOne(nl: notifyList) -> None:
    """Notify the oldest ticket not yet notified (Go's notifyListNotifyOne)."""
    nl.lock.acquire()
    try:
        t = nl.notify
        if t == nl.wait:
            return  # no waiter since the last notification
        nl.notify = t + 1
        # The waiter with ticket t may not have parked yet: then it will see
        # the new notify number and not park.
        s = unlinkTicket(nl, t)
    finally:
        nl.lock.release()
    if s is not None:
        goready(s.g)


def unlinkTicket(nl: notifyList, t: int) -> sudog | None:
    """Take the waiter with ticket t off the list, if it is there; nl.lock held.

    Goroutines take tickets before they queue, so the list is only roughly
    ordered, but the oldest tickets are near the head.
    """
    p: sudog | None = None
    s = nl.head
    while s is not None:
        if s.ticket == t:
            n = s.next
            if p is None:
                nl.head = n
            else:
                p.next = n
            if n is None:
                nl.tail = p
            s.next = None
            return s
        p, s = s, s.next
    return None


__all__ = [
    "Sema",
    "notifyList",
    "notifyListAdd",
    "notifyListNotifyAll",
    "notifyListNotifyOne",
    "notifyListWait",
    "rootFor",
    "semaRoot",
    "semacquire",
    "semacquire1",
    "semrelease",
    "semrelease1",
    "semtable",
]
