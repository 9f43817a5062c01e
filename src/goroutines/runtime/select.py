"""The select statement's runtime (Go's runtime/select.go); goroutines/select.py is its face.

`selectgo` runs a select in three passes, all with every channel of the select
locked (in one global order, so two selects can never deadlock each other):

  pass 1  visit the cases in a random order (pollorder) and take the first one
          that can proceed now; with `default`, give up if none can.
  pass 2  enqueue a sudog on every channel (in lock order) and park; the unlock
          callback (selparkcommit) releases the channels after the goroutine
          has stopped.
  pass 3  once woken, lock everything again and unlink the sudogs of the cases
          that did not fire, so that they do not stack up on quiet channels.

A parked select is woken by exactly one case: a waker that dequeues one of its
sudogs must first win the `selectdone` test-and-set (waitq.dequeue does it), so
when two channels fire at once on different Ms, the loser skips this goroutine.
The winner leaves its sudog in `gp.param`; pass 3 finds the case by it.

A nil channel (`recv(None)`, `send(None, v)`) is never ready; a select with no
cases at all and no default blocks forever.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

from . import requests
from .chan import bufget, bufput, closed_error, hchan, sudog
from .chan import recv as chanrecvsg
from .chan import send as chansendsg
from .osapi import lockacquire, lockrelease
from .proc import acquire_g, gopark, goready
from .runtime2 import G, WaitReason

_PREEMPT: Final = requests._PREEMPT  # Final: a compiled core reads it as a constant

caseRecv: Final = 1
caseSend: Final = 2


class scase:
    """One case of a select: receive from or send to `c` (Go's scase)."""

    __slots__ = ("c", "elem", "kind")

    def __init__(self, kind: int, c: hchan | None, elem: Any) -> None:
        self.kind = kind
        self.c = c
        self.elem = elem  # the value to send

    def __repr__(self) -> str:
        if self.kind == caseRecv:
            return f"recv({self.c!r})"
        return f"send({self.c!r}, {self.elem!r})"


async def blockforever(gp: G) -> NoReturn:
    """An empty select: park forever (Go's block)."""
    await gopark(None, None, WaitReason.SelectNoCases, gp)
    raise SystemError("goroutines runtime: fatal error: select (no cases) woke up")


def selectgo(cases: tuple[scase, ...], block: bool, preemptible: bool) -> Any:
    """A select's start: its (index, value, ok), or what to await (Go's selectgo).

    _PREEMPT, only if preemptible: sysmon asked the goroutine to yield, and
    nothing ran yet (await it, then call again, not preemptible). A coroutine
    (not a tuple): the park, whose result is the select's.
    """
    mp, gp = acquire_g("select")
    if preemptible and gp.preempt:
        return _PREEMPT
    if not cases:
        return blockforever(gp) if block else (-1, None, False)
    pollorder, lockorder, locked = orders(cases, mp.rand.random)
    sellock(locked)
    res = selectnb(cases, pollorder, locked)
    if res is not None:
        return res
    if block:
        return selectpark(cases, lockorder, locked, gp)
    selunlock(locked)
    return -1, None, False


def sellock(locked: list[int]) -> None:
    """Lock the select's channels: their locks (chan.lockno), in lock order."""
    for n in locked:
        lockacquire[n]()


def selunlock(locked: list[int]) -> None:
    """Unlock the select's channels."""
    for n in reversed(locked):
        lockrelease[n]()


def selparkcommit(gp: G, locked: list[int]) -> bool:
    """The unlockf of a parked select: release every channel once gp has stopped."""
    selunlock(locked)
    return True


def orders(cases: tuple[scase, ...], rand: Any) -> tuple[list[int], list[int], list[int]]:
    """(pollorder, lockorder, locked): the live cases shuffled, sorted by lock, the locks.

    Nil channels are left out (Go turns them into caseNil). The lock order is
    by the number of the channel's lock (chan.lockno: channels share locks),
    and the sort is stable, so cases on one lock keep their random poll order.
    Each lock is taken once.
    """
    pollorder: list[int] = []
    for i, cas in enumerate(cases):
        if cas.c is not None:
            # Inside-out Fisher-Yates: i goes to a random position j < n.
            n = len(pollorder)
            j = int(rand() * (n + 1))
            pollorder.append(i if j == n else pollorder[j])
            pollorder[j] = i
    if len(pollorder) < 2:
        return pollorder, pollorder, [cases[i].c.lockno for i in pollorder]  # type: ignore[union-attr]
    lockorder = sorted(pollorder, key=lambda i: cases[i].c.lockno)  # type: ignore[union-attr]
    locked: list[int] = []
    for i in lockorder:
        n = cases[i].c.lockno  # type: ignore[union-attr]  # live cases only
        if not locked or locked[-1] != n:
            locked.append(n)
    return pollorder, lockorder, locked


def selectnb(
    cases: tuple[scase, ...], pollorder: list[int], locked: list[int]
) -> tuple[int, Any, bool] | None:
    """Pass 1, with every channel locked: run the first ready case in poll order.

    Returns its (index, value, ok) with the channels unlocked, or None, still
    locked, when no case is ready.
    """
    for casi in pollorder:
        cas = cases[casi]
        c: hchan = cas.c  # type: ignore[assignment]
        if cas.kind == caseRecv:
            sg = c.sendq.dequeue()
            if sg is not None:
                ep = chanrecvsg(c, sg)
                selunlock(locked)
                goready(sg.g)
                return casi, ep, True
            if c.qcount > 0:
                ep = bufget(c)
                selunlock(locked)
                return casi, ep, True
            if c.closed:
                selunlock(locked)
                return casi, None, False
        else:
            if c.closed:
                selunlock(locked)
                raise closed_error("send on", c)
            sg = c.recvq.dequeue()
            if sg is not None:
                chansendsg(sg, cas.elem)
                selunlock(locked)
                goready(sg.g)
                return casi, None, True
            if c.qcount < c.dataqsiz:
                bufput(c, cas.elem)
                selunlock(locked)
                return casi, None, True
    return None


async def selectpark(
    cases: tuple[scase, ...], lockorder: list[int], locked: list[int], gp: G
) -> tuple[int, Any, bool]:
    """Passes 2 and 3: enqueue on every channel, park, then unlink from the losers."""
    waiting = []
    for casi in lockorder:
        cas = cases[casi]
        c: hchan = cas.c  # type: ignore[assignment]
        sg = sudog(gp, cas.elem, c, True)
        waiting.append(sg)
        if cas.kind == caseRecv:
            c.recvq.enqueue(sg)
        else:
            c.sendq.enqueue(sg)
    gp.waiting = waiting
    gp.param = None
    try:
        await gopark(selparkcommit, locked, WaitReason.Select, gp)
    except GeneratorExit:
        # Abandoned at program exit: unlink every sudog (pass 3 with no winner).
        sellock(locked)
        dequeue_losers(cases, lockorder, waiting, None)
        selunlock(locked)
        raise

    sellock(locked)
    gp.selectdone = False
    sg = gp.param
    gp.param = None
    gp.waiting = None
    casi = dequeue_losers(cases, lockorder, waiting, sg)
    selunlock(locked)
    if cases[casi].kind == caseSend:
        if not sg.success:
            raise closed_error("send on", sg.c)
        return casi, None, True
    return casi, sg.elem, sg.success


def dequeue_losers(
    cases: tuple[scase, ...], lockorder: list[int], waiting: list[sudog], won: sudog | None
) -> int:
    """Unlink every sudog but `won` from its channel; the index of won's case, or -1."""
    casi = -1
    for i, sglist in zip(lockorder, waiting, strict=True):
        if sglist is won:
            casi = i  # already dequeued by the goroutine that woke us
            continue
        c = sglist.c
        if cases[i].kind == caseSend:
            c.sendq.dequeueSudoG(sglist)
        else:
            c.recvq.dequeueSudoG(sglist)
    return casi
