"""The goroutine scheduler (Go's proc.go).

The scheduler's job is to distribute ready-to-run goroutines over worker threads.
The main concepts are:

    G - goroutine: a Python coroutine (an `async def` call) and its state.
    M - worker thread, or machine.
    P - processor, a resource that is required to execute goroutine code.
        An M must have an associated P to execute goroutine code, but it can be
        blocked or in a syscall without one.

There are exactly GOMAXPROCS Ps. Each P has a local run queue of 256 slots and a
`runnext` slot; a global run queue takes the overflow and the goroutines that
yield with gosched(). An M runs `schedule()` forever: find a runnable G (local
queue, then global queue, then the network poller, then stealing half of another
P's queue), run it until it stops at an `await` of a runtime operation, carry out
what the goroutine asked for (park, gosched, exit, syscall) on the M's own loop,
the way Go's `mcall` runs `park_m` on g0, and go round again.

Worker thread parking/unparking. We want to keep enough running Ms to use the
available Ps, yet park excessive ones to save CPU. An M is "spinning" while it is
out of local work and looks for work in the global queue, the poller and other
Ps. When a goroutine is readied and there is an idle P but no spinning M, we
unpark an additional M (`wakep`). A spinning M that finds work ends spinning and
calls `wakep` itself, so bursts of work fan out over the Ps while at most half of
the busy Ps have a spinning M. An M that finds nothing releases its P and re-checks
every run queue after having decremented `nmspinning` (the "delicate dance"), so
that a goroutine submitted concurrently is never stranded.

The ends of a program. Go's main thread is m0, and when main.main returns the
process exits, whatever the other goroutines and threads are doing. A Python
run() must instead come back to its caller, so the thread that calls it is not
an M at all (program.py): it starts the scheduler, puts main on the global run
queue for the Ms, and waits for the end. Were it an M, it could be the one left
inside a goroutine's blocking call (`await syscall(sock.accept)`) or a loop
that never awaits, and could never come back. At the end, Ms that leave goroutine
code within a short grace are joined; those that do not are abandoned as daemon
threads that run no goroutine code again (the exit checks below: `runon`,
exitsyscall, the schedule loop). Ctrl-C never unwinds runtime code either: the
handler only records it for the waiting thread (signals.py).

Where Python differs from Go (see DESIGN.md):
  * A goroutine only stops at an `await`: runtime awaitables yield a request
    (`_PARK`, `_GOSCHED`, `_PREEMPT`, `_EXITSYSCALL`, whose tokens the M
    receives) and the M carries it out after the coroutine has stopped, so a
    concurrent `goready` can never resume a goroutine that is still running.
  * No atomics: the fields Go updates atomically are guarded by `P.lock` (run
    queue, and the P ownership handshake with sysmon) or `schedt.lock` (the rest).
    Lock order: no M holds two P locks at once, and only a P's owner nests the
    P's lock and `sched.lock`, in either order (newproc and runqputslow take
    `sched.lock` inside; releasep/acquirep in find_runnable and procresize take
    the P's lock inside `sched.lock`). Everyone else (stealers, sysmon, checks)
    takes a P's lock with no other lock held and nothing nested, so the two
    orders never meet on one P in two threads.
  * A goroutine that never awaits cannot be preempted, so sysmon treats it like a
    goroutine in a syscall and hands its P to another M; the M then takes the
    `exitsyscall` slow path when the goroutine finally stops. Every path that reads
    `m.p` while goroutine code runs tolerates that the P may have been taken.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
import traceback
import types
from collections.abc import Callable, Coroutine, Iterable, Iterator
from math import gcd
from typing import Any, Final, NoReturn, TypeVar

from . import foreign, netpoll, requests, signals, sysmon, timers, tls, trace
from .debug import creation_line, tracebackothers
from .errors import Deadlock, Goexit
from .osapi import NOGIL, gil_enabled, nanotime, ncpu, osyield
from .runtime2 import (
    RUNQ_SIZE,
    G,
    M,
    P,
    WaitReason,
    _Gdead,
    _Grunnable,
    _Grunning,
    _Gsyscall,
    _Gwaiting,
    _Pdead,
    _Pgcstop,
    _Pidle,
    _Prunning,
    _Psyscall,
    schedt,
)

T = TypeVar("T")

# Final, so that a compiled core reads them as constants, not from the module's dict.
_tls: Final = tls._tls
_PARK: Final = requests._PARK  # what a goroutine awaits...
PARK: Final = requests.PARK  # ...and what its M receives
GOSCHED: Final = requests.GOSCHED
PREEMPT: Final = requests.PREEMPT
EXITSYSCALL: Final = requests.EXITSYSCALL

_GFREE_LOCAL_MAX: Final = 64  # gfput moves Gs to the global list past this many (Go)
_GFREE_BATCH: Final = 32  # and gfget/gfput move batches of this size
_GOID_BATCH: Final = 16  # goids a P takes from sched.goidgen at once (Go's _GoidCacheBatch)
_STEAL_TRIES: Final = 4  # rounds over all Ps in stealWork


def getg() -> G | None:
    """The goroutine running on this thread, or None outside goroutine code."""
    mp: M | None = _tls.__dict__.get("m")
    return None if mp is None else mp.curg


def acquire_g(what: str) -> tuple[M, G]:
    """This thread's M and goroutine, or a RuntimeError naming `what` and run()."""
    mp: M | None = _tls.__dict__.get("m")
    if mp is None or mp.curg is None:
        gp: G | None = _tls.__dict__.get("closing")
        if gp is not None:
            raise RuntimeError(
                f"{what} called by goroutine {gp.goid} while run() closes it at program exit:"
                " the scheduler has stopped, so nothing can wait or yield now"
                " (what does not wait, such as wg.done() or ch.try_send(), still works)"
            )
        raise RuntimeError(
            f"{what} called outside a goroutine: start one with goroutines.run(main), or"
            " from a thread outside the runtime with Runtime.submit(fn)"
        )
    return mp, mp.curg


def throw(msg: str) -> NoReturn:
    """A fatal error of the runtime itself: an invariant does not hold."""
    raise SystemError(f"goroutines runtime: fatal error: {msg}")


# ---------------------------------------------------------------------------
# Bootstrap


def default_gomaxprocs(machine: bool = True) -> int:
    """GOMAXPROCS from the environment, else the CPU count without the GIL, else 1.

    As Go's schedinit, an environment value that is not an integer >= 1 is
    ignored. Without `machine`, 1 rather than anything this machine decides
    (a seeded run replays the same on every machine and interpreter).
    """
    try:
        n = int(os.environ.get("GOMAXPROCS", ""))
    except ValueError:
        n = 0
    if n >= 1:
        return n
    if not machine:
        return 1
    return 1 if gil_enabled() else ncpu()


def check_gomaxprocs(n: object, what: str = "gomaxprocs", allow0: bool = False) -> int:
    """`n` as a P count, or a ValueError/TypeError naming what was wrong.

    With allow0, any int passes (gomaxprocs(n) treats n < 1 as a query).
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be an int, not {type(n).__name__}")
    if n < 1 and not allow0:
        raise ValueError(f"{what} must be >= 1, got {n}")
    return n


def check_async(fn: object, caller: str) -> None:
    """A TypeError unless `fn` is an async function (a goroutine body)."""
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_flags & inspect.CO_COROUTINE:
        return
    if not callable(fn):
        raise TypeError(f"{caller}() needs an async function, got {fn!r}, which is not callable")
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(
            f"{caller}() needs an async function (async def), got {fn!r}: a plain callable "
            "would block its thread; wrap blocking calls with 'await syscall(fn, ...)'"
        )


class _RandomOrder:
    """Visit 0..count-1 in a random order: a random start and a random coprime step."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.coprimes = [i for i in range(1, count + 1) if gcd(i, count) == 1]

    def order(self, r: int) -> Iterator[int]:
        count = self.count
        pos = r % count
        inc = self.coprimes[r // count % len(self.coprimes)]
        for _ in range(count):
            yield pos
            pos = (pos + inc) % count


def procresize(sched: schedt, mp: M | None, nprocs: int) -> list[P]:
    """Change the number of Ps to `nprocs`; returns the Ps with local work (Go's procresize).

    sched.lock must be held and the world stopped (every P but ours is _Pgcstop
    or new). `mp` keeps its P if it survives, else takes P 0; without an M (at
    schedinit, where no M exists yet) every P goes idle. The idle Ps go on the
    idle list; the caller starts Ms for the returned ones.
    """
    old = sched.gomaxprocs
    for i in range(old, nprocs):
        sched.allp.append(P(i, sched))
    cur = mp.p if mp is not None else None
    if mp is None:
        pass
    elif cur is not None and cur.id < nprocs:
        cur.status = _Prunning
    else:
        if cur is not None:
            cur.m = None
        mp.p = None
        p0 = sched.allp[0]
        p0.m = None
        p0.status = _Pidle
        acquirep(mp, p0)
    for pp in sched.allp[nprocs:]:
        destroyp(sched, pp)
    del sched.allp[nprocs:]
    sched.gomaxprocs = nprocs
    sched.stealOrder = _RandomOrder(nprocs)
    runnable = []
    for pp in reversed(sched.allp):
        if mp is not None and pp is mp.p:
            continue
        pp.status = _Pidle
        if runqempty(pp):
            pidleput(sched, pp)
        else:
            runnable.append(pp)
    return runnable


def destroyp(sched: schedt, pp: P) -> None:
    """Move everything a P holds elsewhere before it is dropped (Go's p.destroy).

    The world is stopped, so nobody else touches the P: its runnext and local
    queue go to the head of the global queue, in order.
    """
    batch = [pp.runq[i % RUNQ_SIZE] for i in range(pp.runqhead, pp.runqtail)]
    if pp.runnext is not None:
        batch.insert(0, pp.runnext)
    pp.runqhead = pp.runqtail
    pp.runnext = None
    sched.runq.extendleft(reversed(batch))  # type: ignore[arg-type]
    timers.moveTimers(sched.allp[0], pp)
    sched.gFree.extend(pp.gFree)
    pp.gFree.clear()
    pp.status = _Pdead
    pp.m = None


def allocm(sched: schedt) -> M:
    """A new M with the next id (Go's allocm + mReserveID). sched.lock not held."""
    with sched.lock:
        return allocm_locked(sched)


def allocm_locked(sched: schedt) -> M:
    """allocm with sched.lock held: refuses past maxmcount (Go's checkmcount)."""
    if len(sched.allm) >= sched.maxmcount:
        throw(f"thread exhaustion: program exceeds {sched.maxmcount}-thread limit")
    mp = M(sched, sched.mnext)
    sched.mnext += 1
    sched.allm.append(mp)
    return mp


def newm(sched: schedt, pp: P | None, spinning: bool, mp: M) -> None:
    """Start an OS thread for M `mp` that will acquire `pp` (Go's newm/newm1)."""
    mp.nextp = pp
    mp.spinning = spinning
    t = threading.Thread(target=mstart, args=(mp,), name=f"goroutines-M{mp.id}", daemon=True)
    if sched.tracing:
        trace.MStart(mp)
    try:
        t.start()
    except BaseException:
        mp.exiting = True  # never ran: teardown must not wait for it
        raise
    mp.thread = t  # (mstart has set it already, unless it has not begun yet)


def mstart(mp: M) -> None:
    """The body of every M: take the P it was given and schedule forever (Go's mstart)."""
    _tls.m = mp
    # Before any goroutine runs here, not when newm's start() returns: a dump
    # finds a goroutine's stack through its M's thread, and this thread may run
    # goroutines long before its creator gets to run again.
    mp.thread = threading.current_thread()
    sched = mp.sched
    mp.marked = foreign.mark()
    try:
        if mp.nextp is not None:
            pp, mp.nextp = mp.nextp, None
            acquirep(mp, pp)
        if sched.chaos is None:
            schedule(mp)
        else:
            schedule_seeded(mp)
    except BaseException as e:
        fatal(sched, e)
    finally:
        mp.exiting = True
        _tls.m = None
        if mp.marked:
            foreign.unmark()


# ---------------------------------------------------------------------------
# Goroutine creation and exit


def gostart(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], caller: types.FrameType
) -> None:
    """go(fn, *args, **kwargs) from `caller`'s frame, in one call: newproc of fn's coroutine."""
    mp: M | None = _tls.__dict__.get("m")
    if mp is None or mp.curg is None:
        raise RuntimeError("go() called outside a goroutine: start one with goroutines.run(main)")
    check_async(fn, "go")
    newproc(mp, fn(*args, **kwargs), fn, caller.f_code, caller.f_lasti)


def newproc(
    mp: M, coro: Coroutine[Any, Any, Any], fn: Callable[..., Any], code: types.CodeType, pc: int
) -> None:
    """A G running `coro`, from go() at offset pc of code, on runnext; then wakep (Go's newproc)."""
    sched = mp.sched
    if sched.exiting:
        # The program has ended, and we run on past its end (our M was left in a
        # loop or a blocking call): nothing would ever run or close the new G.
        coro.close()
        return
    parentgoid = mp.curg.goid  # type: ignore[union-attr]  # go() checked we are in a goroutine
    pp = mp.p
    newg = None
    if pp is not None:
        pp.lockacquire()
        try:
            # Our P's free list and goid cache are ours only while sysmon has not
            # handed the P to another M (a goroutine that never yields).
            if pp.m is mp:
                newg = newproc1(sched, pp, coro, fn, parentgoid, code, pc)
                runqput_locked(sched, pp, newg, True)
        finally:
            pp.lockrelease()
    if newg is None:
        globrunqput(sched, newproc1(sched, None, coro, fn, parentgoid, code, pc))
    wakep(sched)


def newproc_global(
    sched: schedt,
    coro: Coroutine[Any, Any, Any],
    fn: Callable[..., Any],
    parentgoid: int = 0,
    code: types.CodeType | None = None,
    pc: int = 0,
    fut: Any = None,
    ismain: bool = False,
) -> None:
    """A G for coro started from outside any P: the global queue, then wakep.

    From a plain thread (Runtime.submit, a context cancelled from outside), a
    timer function (after_func) or run() itself, none of which owns a P's run
    queue (Go's newproc from an M without a P). `fut` gets its result
    (Runtime.submit); the main goroutine's return ends the program. Once the
    program has ended, the goroutine is not made (its future is cancelled).
    """
    if sched.exiting:
        coro.close()
        if fut is not None:
            fut.cancel()
        return
    gp = newproc1(sched, None, coro, fn, parentgoid, code, pc)
    gp.fut = fut
    if ismain:
        sched.main = gp  # before it can run, and so finish
    mp: M | None = _tls.__dict__.get("m")
    readyglobal(sched, gp, mp is None or mp.sched is not sched)


def newproc1(
    sched: schedt,
    pp: P | None,
    coro: Coroutine[Any, Any, Any],
    fn: Callable[..., Any],
    parentgoid: int,
    code: types.CodeType | None,
    pc: int,
) -> G:
    """A runnable G for `coro`, reused from a free list when possible (Go's newproc1).

    With `pp` (whose lock is held) the G and its id come from the P's caches;
    without one, from the global ones.
    """
    newg = gfget(sched, pp)
    if newg is None:
        newg = G(sched)
        sched.lockacquire()  # not `with`: a compiled core looks __enter__ and __exit__ up each time
        try:
            sched.allgs.append(newg)
        finally:
            sched.lockrelease()
    newg.coro = coro
    newg.parentgoid = parentgoid
    newg.createdat = code
    newg.createdpc = pc
    newg.waitreason = WaitReason.Zero
    if pp is None:
        sched.lockacquire()
        try:
            sched.goidgen += 1
            newg.goid = sched.goidgen
        finally:
            sched.lockrelease()
    else:
        if pp.goidcache == pp.goidcacheend:
            # Take a batch of 16 ids at once so Ps rarely contend on sched.goidgen.
            sched.lockacquire()
            try:
                pp.goidcache = sched.goidgen + 1
                sched.goidgen += _GOID_BATCH
                pp.goidcacheend = sched.goidgen + 1
            finally:
                sched.lockrelease()
        newg.goid = pp.goidcache
        pp.goidcache += 1
    if pp is not None:  # else globrunqput makes it runnable
        newg.status = _Grunnable
    if sched.tracing:
        trace.GoCreate(newg, fn)
    return newg


def gfget(sched: schedt, pp: P | None) -> G | None:
    """A dead G from the P's free list, refilled from the global one (Go's gfget)."""
    if pp is None:
        with sched.lock:
            return sched.gFree.pop() if sched.gFree else None
    gfree = pp.gFree
    if not gfree and sched.gFree:
        with sched.lock:
            n = min(len(sched.gFree), _GFREE_BATCH)
            gfree.extend(sched.gFree[-n:])
            del sched.gFree[-n:]
    return gfree.pop() if gfree else None


def gfput(sched: schedt, pp: P | None, gp: G) -> None:
    """Put a dead G on the P's free list; spill a batch to the global list (Go's gfput)."""
    if pp is None:
        with sched.lock:
            sched.gFree.append(gp)
        return
    gfree = pp.gFree
    gfree.append(gp)
    if len(gfree) >= _GFREE_LOCAL_MAX:
        n = len(gfree) - _GFREE_BATCH + 1  # keep fewer than a batch, as Go's loop does
        with sched.lock:
            sched.gFree.extend(gfree[-n:])
        del gfree[-n:]


def freegs(sched: schedt) -> None:
    """Let go of the run's goroutines, so that run() frees them, not a later collection.

    Every G is on sched.allgs, the dead ones on free lists too, and each holds
    the run (gp.sched): the whole run is one reference cycle, which only the
    cyclic collector frees, at a time of its choosing, in whatever program
    runs then. A G that slept keeps its timer, whose argument is the G (Go's
    gp.timer): a cycle of its own, broken here for the dead ones. Then the Gs
    go when the last reference does. A stranded goroutine's thread still
    holds its G, and the G its timer.
    """
    with sched.lock:
        gs, sched.allgs, sched.gFree = sched.allgs, [], []
        for pp in sched.allp:
            pp.gFree = []
    for gp in gs:
        if gp.status == _Gdead:
            gp.timer = None


# ---------------------------------------------------------------------------
# Run queues. The local queue of P is guarded by P.lock: its owner adds, anyone steals.


def runqempty(pp: P) -> bool:
    """True if the P has no Gs on its local queue or runnext (a racy read, as in Go)."""
    return pp.runqhead == pp.runqtail and pp.runnext is None


def runqput(sched: schedt, pp: P, gp: G, next: bool) -> None:
    """Put gp on our own P's local queue; with next, in runnext, kicking the old one out."""
    pp.lockacquire()
    try:
        runqput_locked(sched, pp, gp, next)
    finally:
        pp.lockrelease()


def runqput_locked(sched: schedt, pp: P, gp: G, next: bool) -> None:
    """runqput with pp.lock held (Go's runqput)."""
    if next:
        old = pp.runnext
        pp.runnext = gp
        if old is None:
            return
        gp = old  # kick the old runnext to the tail of the regular queue
    t = pp.runqtail
    if t - pp.runqhead < RUNQ_SIZE:
        pp.runq[t % RUNQ_SIZE] = gp
        pp.runqtail = t + 1
        return
    runqputslow(sched, pp, gp)


def runqputslow(sched: schedt, pp: P, gp: G) -> None:
    """Move half of the full local queue plus gp to the global queue in one batch, in order."""
    h = pp.runqhead
    n = (pp.runqtail - h) // 2
    runq = pp.runq
    batch = [runq[(h + i) % RUNQ_SIZE] for i in range(n)]
    batch.append(gp)
    pp.runqhead = h + n
    with sched.lock:
        sched.runq.extend(batch)  # type: ignore[arg-type]


def runqputbatch(sched: schedt, pp: P, batch: list[G], start: int) -> None:
    """Put batch[start:] on the local queue, the part that does not fit on the global one.

    From `start` rather than a slice: this is on gosched's path, every other call.
    """
    pp.lockacquire()
    try:
        t = pp.runqtail
        end = min(len(batch), start + RUNQ_SIZE - (t - pp.runqhead))
        runq = pp.runq
        for i in range(start, end):
            runq[t % RUNQ_SIZE] = batch[i]
            t += 1
        pp.runqtail = t
    finally:
        pp.lockrelease()
    if len(batch) > end:
        with sched.lock:
            sched.runq.extend(batch[end:])


def runqget(pp: P) -> tuple[G | None, bool]:
    """The next G of the P's own queue: runnext first, which inherits the time slice.

    Called by the P's owner. Only the owner adds to its queue (stealers only
    take), so an empty queue seen without the lock stays empty.
    """
    if pp.runnext is None and pp.runqhead == pp.runqtail:
        return None, False
    pp.lockacquire()
    try:
        gp = pp.runnext
        if gp is not None:
            pp.runnext = None
            return gp, True
        h = pp.runqhead
        if h == pp.runqtail:
            return None, False
        pp.runqhead = h + 1
        return pp.runq[h % RUNQ_SIZE], False
    finally:
        pp.lockrelease()


def runqgrab(pp: P, stealRunNextG: bool) -> list[G]:
    """Take half of the P's local queue (at least one G); runnext only if asked (Go's runqgrab)."""
    if (
        stealRunNextG
        and pp.runqhead == pp.runqtail
        and pp.runnext is not None
        and pp.status == _Prunning
    ):
        # The P's M is likely about to run runnext: a goroutine readied by a
        # channel operation whose partner will block soon. Give it the chance
        # instead of stealing it and bouncing it between Ps (Go sleeps 3us here).
        osyield()
    with pp.lock:
        h = pp.runqhead
        n = pp.runqtail - h
        n -= n // 2
        if n == 0:
            gp = pp.runnext
            if stealRunNextG and gp is not None:
                pp.runnext = None
                return [gp]
            return []
        runq = pp.runq
        pp.runqhead = h + n
        return [runq[(h + i) % RUNQ_SIZE] for i in range(n)]  # type: ignore[misc]


def runqsteal(sched: schedt, pp: P, p2: P, stealRunNextG: bool) -> G | None:
    """Steal half of p2's queue into pp's; returns one G to run (Go's runqsteal)."""
    batch = runqgrab(p2, stealRunNextG)
    if not batch:
        return None
    gp = batch.pop()
    if batch:
        with pp.lock:
            t = pp.runqtail
            if t - pp.runqhead + len(batch) >= RUNQ_SIZE:
                throw("runqsteal: runq overflow")
            for g in batch:
                pp.runq[t % RUNQ_SIZE] = g
                t += 1
            pp.runqtail = t
    if sched.tracing:
        trace.Steal(pp, p2, len(batch) + 1)
    return gp


def globrunqput(sched: schedt, gp: G) -> None:
    """Make gp runnable at the tail of the global run queue.

    The status changes under the same lock as the queue, so that a G is never
    seen runnable and on no queue (an M without a P calls this, and
    stop-the-world does not wait for such Ms).
    """
    sched.lockacquire()
    try:
        gp.status = _Grunnable
        sched.runq.append(gp)
    finally:
        sched.lockrelease()


def globrunqget_locked(sched: schedt, pp: P, max: int) -> list[G]:
    """Pop a batch of the global queue for pp; sched.lock held (Go's globrunqget).

    The first G is to run; the caller puts the rest on pp's local queue with
    `take_batch` once it has dropped sched.lock (lock order).
    """
    runq = sched.runq
    size = len(runq)
    if size == 0:
        return []
    n = min(size, size // sched.gomaxprocs + 1, RUNQ_SIZE // 2)
    if max > 0:
        n = min(n, max)
    pop = runq.popleft
    return [pop() for _ in range(n)]


def take_batch(sched: schedt, pp: P, batch: list[G]) -> G | None:
    """Keep the first G of a batch to run and queue the rest locally."""
    if not batch:
        return None
    if len(batch) > 1:
        runqputbatch(sched, pp, batch, 1)
    return batch[0]


def globrunqget(sched: schedt, pp: P, max: int) -> G | None:
    """A G from the global queue, with a batch moved to pp's local queue."""
    sched.lockacquire()
    try:
        runq = sched.runq
        if len(runq) == 1 or max == 1:  # the common case: no batch to build
            return runq.popleft() if runq else None
        batch = globrunqget_locked(sched, pp, max)
    finally:
        sched.lockrelease()
    return take_batch(sched, pp, batch)


# ---------------------------------------------------------------------------
# Idle lists of Ms and Ps (sched.lock held)


def mput(sched: schedt, mp: M) -> None:
    """Put mp on the idle M list and check for deadlock (Go's mput)."""
    sched.midle.append(mp)
    checkdead(sched)


def mget(sched: schedt) -> M | None:
    """An idle M, or None."""
    return sched.midle.pop() if sched.midle else None


def pidleput(sched: schedt, pp: P) -> None:
    """Put pp on the idle P list; it must have no local work."""
    if not runqempty(pp):
        throw("pidleput: P has non-empty run queue")
    sched.pidle.append(pp)
    sched.npidle += 1


def pidleget(sched: schedt) -> P | None:
    """An idle P, or None."""
    if not sched.pidle:
        return None
    sched.npidle -= 1
    # A P goes back to work: sysmon must watch it (it sleeps while all are idle).
    sysmon.wakesysmon_locked(sched, "work")
    return sched.pidle.pop()


def pidlegetSpinning(sched: schedt) -> P | None:
    """pidleget for an M about to spin; records the need when none is free (Go)."""
    pp = pidleget(sched)
    if pp is None:
        sched.needspinning = 1
    return pp


def acquirep(mp: M, pp: P) -> None:
    """Associate P and the current M (Go's acquirep)."""
    with pp.lock:
        if mp.p is not None or pp.m is not None or pp.status != _Pidle:
            throw(f"acquirep: invalid p state: m.p={mp.p} p.m={pp.m} p.status={pp.status}")
        mp.p = pp
        pp.m = mp
        pp.status = _Prunning
        # Even: we are in scheduler code. A P taken from a syscall or from a
        # goroutine that would not yield comes with the odd value of its old
        # M's step, which would look to sysmon like a goroutine not yielding.
        pp.gstep = (pp.gstep + 1) & ~1
    if mp.sched.tracing:
        trace.ProcStart(mp, pp)


def releasep(mp: M) -> P:
    """Disassociate P and the current M (Go's releasep)."""
    pp = mp.p
    if pp is None:
        throw("releasep: invalid arg")
    if mp.sched.tracing:
        trace.ProcStop(mp, pp)
    with pp.lock:
        if pp.m is not mp or pp.status != _Prunning:
            throw(f"releasep: invalid p state: p.m={pp.m} m={mp} p.status={pp.status}")
        pp.m = None
        pp.status = _Pidle
        mp.p = None
    return pp


# ---------------------------------------------------------------------------
# Starting and stopping Ms


def wakep(sched: schedt) -> None:
    """Start a spinning M for an idle P if none is spinning already (Go's wakep)."""
    if sched.nmspinning != 0:  # racy pre-check; Go's CAS(0, 1) follows under the lock
        return
    if sched.npidle == 0:
        # No P to start an M for: record the need without the lock, as
        # pidlegetSpinning would. A racy miss only costs parallelism: the work
        # is on a running P's queue, or on the global queue, which an M checks
        # under sched.lock before its P goes idle. With one P there is nobody
        # to spin for: the M that releases it has just looked at every queue.
        if sched.gomaxprocs > 1:
            sched.needspinning = 1
        return
    with sched.lock:
        if sched.nmspinning != 0 or sched.exiting:
            return
        pp = pidlegetSpinning(sched)
        if pp is None:
            return
        sched.nmspinning += 1
    startm(sched, pp, True)


def startm(sched: schedt, pp: P | None, spinning: bool) -> None:
    """Run pp on an idle M or a new one; without pp, take an idle P or do nothing (Go's startm)."""
    with sched.lock:
        if pp is None:
            if spinning:
                throw("startm: P required for spinning=true")
            pp = pidleget(sched)
            if pp is None:
                return
        if sched.exiting:
            pidleput_unused(sched, pp, spinning)
            return
        nmp = mget(sched)
        if nmp is None:
            if sched.chaos is not None and sched.allm:
                # A seeded schedule has one M, busy now: it drives this P too.
                pidleput_unused(sched, pp, spinning)
                return
            nmp = allocm_locked(sched)
            new = True
        else:
            new = False
            nmp.spinning = spinning
            nmp.nextp = pp
    if new:
        newm(sched, pp, spinning, nmp)
    else:
        nmp.park.wakeup()


def pidleput_unused(sched: schedt, pp: P, spinning: bool) -> None:
    """Give back a P that startm got but has no M for (sched.lock held)."""
    pp.status = _Pidle
    sched.pidle.append(pp)
    sched.npidle += 1
    if spinning:
        sched.nmspinning -= 1


def stopm(mp: M) -> bool:
    """Park the M until startm hands it a P; False once the program is exiting (Go's stopm)."""
    sched = mp.sched
    if mp.p is not None:
        throw("stopm holding p")
    if mp.spinning:
        throw("stopm spinning")
    with sched.lock:
        if sched.exiting:
            return False
        mput(sched, mp)
        if sched.exiting:  # checkdead found a deadlock
            sched.midle.remove(mp)
            return False
    if mp.sched.tracing:
        trace.MStop(mp)
    mp.blocked = True
    mp.park.sleep()
    mp.blocked = False
    if not mp.marked:
        mp.marked = foreign.mark()  # asyncio may have been imported meanwhile
    if mp.sched.tracing:
        trace.MStart(mp)
    pp, mp.nextp = mp.nextp, None
    if pp is None:
        return False  # woken by the exit
    acquirep(mp, pp)
    return True


def handoffp(sched: schedt, pp: P) -> None:
    """Hand off a P from an M in a syscall or blocked (Go's handoffp)."""
    if not runqempty(pp) or sched.runq:
        startm(sched, pp, False)
        return
    # No local work: start a spinning M only if nobody else looks for work.
    with sched.lock:
        if sched.nmspinning + sched.npidle == 0 and not sched.exiting:
            sched.nmspinning += 1
            sched.needspinning = 0
            spin = True
        else:
            spin = False
    if spin:
        startm(sched, pp, True)
        return
    with sched.lock:
        if sched.gcwaiting:
            pp.status = _Pgcstop
            stopwaitdone_locked(sched)
            return
        if sched.runq:
            start = True
        elif sched.npidle == sched.gomaxprocs - 1 and sched.lastpoll != 0:
            # The last running P and nobody is polling the network: an M must
            # poll (and run the timers).
            start = True
        else:
            start = False
            when = timers.nobarrierWakeTime(pp)
            pidleput(sched, pp)
    if start:
        startm(sched, pp, False)
    elif when != 0:
        netpoll.wakeNetPoller(sched, when)


def resetspinning(mp: M) -> None:
    """The M found work: stop spinning and start another spinner if needed (Go)."""
    sched = mp.sched
    mp.spinning = False
    with sched.lock:
        sched.nmspinning -= 1
        if sched.nmspinning < 0:
            throw("findrunnable: negative nmspinning")
    wakep(sched)


def becomeSpinning(mp: M) -> None:
    """Mark the M spinning (Go's m.becomeSpinning)."""
    sched = mp.sched
    mp.spinning = True
    with sched.lock:
        sched.nmspinning += 1
        sched.needspinning = 0


# ---------------------------------------------------------------------------
# The scheduler loop


def schedule(mp: M) -> None:
    """Find a runnable goroutine and execute it, forever (Go's schedule, as a loop)."""
    sched = mp.sched
    while not sched.exiting:
        if mp.lockedg is not None:
            # Before reacquirep: an M that lost its P (a syscall handed off, a
            # hog retaken) waits for its locked goroutine alone, never on the
            # idle list that startm hands Ps from (Go's exitsyscall0).
            gp = stoplockedm(mp)
            if gp is None:
                return
            execute(mp, gp, False)
            continue
        if mp.p is None and not reacquirep(mp):
            return
        pp = mp.p
        assert pp is not None
        gp = None
        if mp.spinning:
            if not runqempty(pp):
                throw("schedule: spinning with local work")
        elif not (sched.gcwaiting or pp.timers or (pp.schedtick % 61 == 0 and sched.runq)):
            # The common case, find_runnable's first looks inlined: our own
            # queue, then the global one (where gosched puts goroutines).
            gp, inherit = runqget(pp)
            if gp is None and sched.runq:
                gp = globrunqget(sched, pp, 0)
        if gp is None:
            gp, inherit = find_runnable(mp)
            if gp is None:
                return
            if mp.spinning:
                resetspinning(mp)
        if gp.lockedm is not None:
            startlockedm(mp, gp)
            continue
        execute(mp, gp, inherit)


def reacquirep(mp: M) -> bool:
    """Get a P back after losing ours (Go's exitsyscall0 tail): an idle one, or wait."""
    sched = mp.sched
    with sched.lock:
        pp = pidleget(sched)
    if pp is not None:
        acquirep(mp, pp)
        return True
    return stopm(mp)


# ---------------------------------------------------------------------------
# Seeded schedules (goroutines.testing)


def schedule_seeded(mp: M) -> None:
    """The scheduler of a seeded run: this one M drives every P (goroutines.testing).

    Every choice Go leaves to timing is drawn from the run's one generator
    (sched.chaos), so that a seed gives one interleaving, the same each time:
    each step takes a P drawn from the generator, finds it work as
    find_runnable does (its timers; a goroutine drawn from its run queue and
    the global one; else a steal, in the generator's order) and executes it.
    Every runtime await of the goroutine is a preemption point, taken or not
    as the generator says (execute). With nothing to run, the M waits as an
    idle M does: in the poller for I/O or a timer, else on the idle list, where
    checkdead finds deadlocks and moves virtual time on.
    """
    sched = mp.sched
    rng = sched.chaos
    assert rng is not None
    mp.rand = rng  # select's case order and the steal order draw from it too
    nospin(mp)
    if mp.p is not None:
        putp(mp)
    while not sched.exiting:
        gp = None
        allp = list(sched.allp)
        for i in rng.sample(range(len(allp)), len(allp)):
            if not takep(mp, allp[i]):
                continue
            gp = runnable_seeded(mp)
            if gp is not None:
                break
            putp(mp)
        if gp is None:
            if not idle_seeded(mp):
                return
            continue
        mp.p.preempt = True  # type: ignore[union-attr]  # every await may preempt: execute draws
        execute(mp, gp, True)
        if mp.p is not None:
            putp(mp)


def takep(mp: M, pp: P) -> bool:
    """Drive pp, if no M holds it (a seeded run); off the idle list if it is on it."""
    sched = mp.sched
    with sched.lock:
        if pp.status != _Pidle:
            return False
        if pp in sched.pidle:
            sched.pidle.remove(pp)
            sched.npidle -= 1
    acquirep(mp, pp)
    return True


def putp(mp: M) -> None:
    """Let go of the M's P between two steps (a seeded run).

    A P with goroutines queued stays off the idle list, with no M: the next
    steps drive it, as they draw it.
    """
    sched = mp.sched
    pp = releasep(mp)
    with sched.lock:
        if runqempty(pp):
            pidleput(sched, pp)


def runnable_seeded(mp: M) -> G | None:
    """A goroutine for the M's P, drawn from all it may run now: its own, the global queue's.

    Go's order (runnext, the local queue, the global queue now and then) is
    the order of a timing race between Ms; here the generator draws it.
    Without any, steal as a spinning M would, in the generator's order.
    """
    sched = mp.sched
    pp: P = mp.p  # type: ignore[assignment]
    rng: Any = sched.chaos
    if pp.timers:
        timers.checkTimers(pp, 0)
    if netpoll.netpollWaiters(sched) > 0 and sched.lastpoll != 0:
        injectglist(None, netpoll.netpoll(sched, 0))
    with pp.lock, sched.lock:
        local = [pp.runq[i % RUNQ_SIZE] for i in range(pp.runqhead, pp.runqtail)]
        if pp.runnext is not None:
            local.insert(0, pp.runnext)
        n = len(local) + len(sched.runq)
        if n:
            k = rng.randrange(n)
            if k >= len(local):
                gp: G = sched.runq[k - len(local)]
                del sched.runq[k - len(local)]
                return gp
            gp = local.pop(k)  # type: ignore[assignment]
            pp.runnext = None
            for i, g in enumerate(local):
                pp.runq[(pp.runqhead + i) % RUNQ_SIZE] = g
            pp.runqtail = pp.runqhead + len(local)
            return gp
    gp2, _, _, _ = stealWork(mp, 0)
    return gp2


def idle_seeded(mp: M) -> bool:
    """Nothing to run on any P: wait for I/O or a timer, else go idle; False once exiting."""
    sched = mp.sched
    next = timers.timeSleepUntil(sched.allp) if sched.vclock is None else 0
    if (netpoll.netpollWaiters(sched) > 0 or next) and netpoll.swapLastpoll(sched):
        delay = -1 if next == 0 else max(0, next - sched.now())
        glist = netpoll.netpoll(sched, delay)
        sched.lastpoll = nanotime()
        injectglist(None, glist)
        return True
    if not stopm(mp):
        return False
    nospin(mp)
    putp(mp)
    return True


def nospin(mp: M) -> None:
    """The one M of a seeded run was started or woken to spin (wakep): it never spins."""
    if mp.spinning:
        mp.spinning = False
        with mp.sched.lock:
            mp.sched.nmspinning -= 1


def find_runnable(mp: M) -> tuple[G | None, bool]:
    """Find a runnable goroutine: timers, local, global, netpoll, steal; else sleep (Go)."""
    sched = mp.sched
    while True:
        if sched.exiting:
            return None, False
        pp = mp.p
        assert pp is not None
        if sched.gcwaiting:
            gcstopm(mp)
            continue
        now = pollUntil = 0
        if pp.timers:
            now, pollUntil, _ = timers.checkTimers(pp, 0)

        # Check the global runnable queue once in a while to ensure fairness.
        if pp.schedtick % 61 == 0 and sched.runq:
            gp = globrunqget(sched, pp, 1)
            if gp is not None:
                return gp, False

        gp, inherit = runqget(pp)
        if gp is not None:
            return gp, inherit

        if sched.runq:
            gp = globrunqget(sched, pp, 0)
            if gp is not None:
                return gp, False

        # Poll network without blocking: an optimization before stealing.
        if netpoll.netpollWaiters(sched) > 0 and sched.lastpoll != 0:
            glist = netpoll.netpoll(sched, 0)
            if glist:
                return runpolled(mp, glist), False

        # Spinning Ms: steal work from other Ps. Limit the number of spinning Ms
        # to half the number of busy Ps, which avoids excessive CPU use when
        # GOMAXPROCS>1 but the program parallelism is low. With one P there is
        # no other P to steal from (Go spins anyway; here it costs locks).
        gomaxprocs = sched.gomaxprocs
        if mp.spinning or (gomaxprocs > 1 and 2 * sched.nmspinning < gomaxprocs - sched.npidle):
            if not mp.spinning:
                becomeSpinning(mp)
            gp, newWork, w, now = stealWork(mp, now)
            if gp is not None:
                return gp, False
            if newWork:
                continue
            if w != 0 and (pollUntil == 0 or w < pollUntil):
                pollUntil = w

        # Before we drop our P, make a snapshot of the allp slice, which can
        # change underfoot once we no longer block safe-points.
        allpSnapshot = list(sched.allp)

        # Return P and block, after one last look at the global queue under the
        # lock that submitters use too.
        batch = []
        with sched.lock:
            if sched.gcwaiting or sched.exiting:
                drop = False
            elif sched.runq:
                batch = globrunqget_locked(sched, pp, 0)
                drop = False
            elif not mp.spinning and sched.needspinning == 1:
                # See "Delicate dance" below: a submitter saw no idle P.
                mp.spinning = True
                sched.nmspinning += 1
                sched.needspinning = 0
                drop = False
            else:
                drop = True
                releasep(mp)
                pidleput(sched, pp)
        if not drop:
            gp = take_batch(sched, pp, batch)
            if gp is not None:
                return gp, False
            continue

        # Delicate dance: thread transitions from spinning to non-spinning
        # state, potentially concurrently with submission of new work. We must
        # drop nmspinning first and then check all sources again; otherwise a
        # submitter that saw nmspinning > 0 and did not wakep would strand its G.
        wasSpinning = mp.spinning
        if mp.spinning:
            mp.spinning = False
            with sched.lock:
                sched.nmspinning -= 1
                if sched.nmspinning < 0:
                    throw("findrunnable: negative nmspinning")
                # Check the global queue again (a submitter may have seen us
                # spinning and not called wakep)...
                batch = []
                if sched.runq:
                    pp2 = pidlegetSpinning(sched)
                    if pp2 is not None:
                        batch = globrunqget_locked(sched, pp2, 0)
            if batch:
                acquirep(mp, pp2)  # type: ignore[arg-type]
                becomeSpinning(mp)
                return take_batch(sched, pp2, batch), False  # type: ignore[arg-type]
            # ...and every P's local queue.
            pp2 = checkRunqsNoP(sched, allpSnapshot)
            if pp2 is not None:
                acquirep(mp, pp2)
                becomeSpinning(mp)
                continue
            # Finally, check for timer creation or expiry concurrently with
            # transitioning from spinning to non-spinning: a P handed off with
            # timers (stoplockedm, a syscall) after we looked at it went idle
            # while wakep saw us spinning, and nobody else watches it.
            pollUntil = checkTimersNoP(allpSnapshot, pollUntil)

        if sched.vclock is not None:
            # Virtual time: no M sleeps until a timer; the clock jumps to it
            # once every M is idle (checkdead, when the last one stops).
            pollUntil = 0
        # Poll network until the next timer.
        if (
            netpoll.netpollinited(sched)
            and (netpoll.netpollWaiters(sched) > 0 or pollUntil != 0)
            and netpoll.swapLastpoll(sched)
        ):
            gp = netpollBlock(mp, pollUntil, wasSpinning)
            if gp is not None:
                return gp, False
            if mp.p is not None:
                continue
        elif pollUntil != 0 and (sched.pollUntil == 0 or sched.pollUntil > pollUntil):
            netpoll.netpollBreak(sched)
        if not stopm(mp):
            return None, False


def netpollBlock(mp: M, pollUntil: int, wasSpinning: bool) -> G | None:
    """Block in the poller until I/O or the next timer, then take a P if one is idle."""
    sched = mp.sched
    sched.pollUntil = pollUntil
    delay = -1
    if pollUntil != 0:
        # A fresh clock (Go reuses find_runnable's `now`): spinning and stealing
        # since then would otherwise make us oversleep, and epoll rounds up to ms.
        delay = max(0, pollUntil - sched.now())
    elif netpoll.netpollWaitersLocked(sched) == 0:
        # The last I/O waiter left (a deadline or a close woke it) after we
        # looked but before we claimed the poller; whoever woke it may have
        # run checkdead before our claim, so none would break us out of a
        # wait forever: look and go on instead (find_runnable then stops us).
        delay = 0
    glist = netpoll.netpoll(sched, delay)
    sched.pollUntil = 0
    sched.lastpoll = nanotime()
    with sched.lock:
        pp = pidleget(sched) if not sched.exiting else None
    if pp is None:
        injectglist(mp, glist)
        return None
    acquirep(mp, pp)
    if glist:
        return runpolled(mp, glist)
    if wasSpinning:
        becomeSpinning(mp)
    return None


def runpolled(mp: M, glist: list[G]) -> G:
    """Of the goroutines the poller readied, keep one to run now and inject the rest."""
    gp = glist.pop()
    injectglist(mp, glist)
    gp.status = _Grunnable
    if mp.sched.tracing:
        trace.GoUnblock(gp, mp)
    return gp


def stealWork(mp: M, now: int) -> tuple[G | None, bool, int, int]:
    """Steal a G or run another P's timers: (gp, newWork, pollUntil, now) (Go's stealWork)."""
    sched = mp.sched
    pp = mp.p
    assert pp is not None
    pollUntil = 0
    ranTimer = False
    allp = sched.allp
    order = sched.stealOrder
    for i in range(_STEAL_TRIES):
        stealTimersOrRunNextG = i == _STEAL_TRIES - 1
        for pos in order.order(mp.rand.getrandbits(32)):
            if sched.gcwaiting or sched.exiting:
                return None, True, pollUntil, now
            if pos >= len(allp):
                continue
            p2 = allp[pos]
            if p2 is pp:
                continue
            if stealTimersOrRunNextG and p2.timers:
                tnow, w, ran = timers.checkTimers(p2, now)
                now = tnow
                if w != 0 and (pollUntil == 0 or w < pollUntil):
                    pollUntil = w
                if ran:
                    # Running p2's timers may have made a G ready on our P.
                    gp, _ = runqget(pp)
                    if gp is not None:
                        return gp, False, pollUntil, now
                    ranTimer = True
            if p2.status != _Pidle:
                gp = runqsteal(sched, pp, p2, stealTimersOrRunNextG)
                if gp is not None:
                    return gp, False, pollUntil, now
    return None, ranTimer, pollUntil, now


def checkRunqsNoP(sched: schedt, allpSnapshot: list[P]) -> P | None:
    """After dropping our P: if any P has work, get an idle P to go back to spinning."""
    for p2 in allpSnapshot:
        # Under the P's lock, not a racy read: a submitter that put work there
        # before we looked must be seen, and one that puts it after will see
        # nmspinning (decremented before this) and call wakep. The lock gives
        # the ordering Go gets from its StoreLoad barrier; without the GIL a
        # plain read could miss the put.
        with p2.lock:
            work = p2.status != _Pidle and not runqempty(p2)
        if work:
            with sched.lock:
                return pidlegetSpinning(sched)
    return None


def checkTimersNoP(allpSnapshot: list[P], pollUntil: int) -> int:
    """The earlier of pollUntil and every P's next timer (Go's checkTimersNoP).

    Called after nmspinning dropped (under sched.lock), so a P idled with
    timers before that is seen here, and one idled after it finds nmspinning
    0 in wakeNetPoller's wakep and starts a spinning M.
    """
    for p2 in allpSnapshot:
        w = timers.nobarrierWakeTime(p2)
        if w != 0 and (pollUntil == 0 or w < pollUntil):
            pollUntil = w
    return pollUntil


def execute(mp: M, gp: G, inheritTime: bool) -> None:
    """Run gp on the current M until it stops at an await, then carry out its request (Go)."""
    pp: P = mp.p  # type: ignore[assignment]  # schedule() made sure we hold one
    mp.curg = gp
    gp.m = mp
    gp.status = _Grunning
    if inheritTime:
        # The time slice goes on, and so does a request to end it: a goroutine
        # asked to yield that parked instead (its next await was a blocking
        # one) must not hand the rest of an expired slice to the partner it
        # readied, or a pair ping-ponging through runnext keeps the P for ever
        # (Go's TestPingPongHog). Go's sysmon preempts the partner at its next
        # tick, since schedtick has not moved; here it yields at its first await.
        gp.preempt = pp.preempt
    else:
        gp.preempt = pp.preempt = False
        pp.schedtick += 1
    if mp.sched.tracing:
        trace.GoStart(pp, gp)
    coro: Coroutine[Any, Any, Any] = gp.coro  # type: ignore[assignment]
    exc = gp.throwexc  # resumed with coro.send(None), or with this raised in it
    gp.throwexc = None
    lockacquire, lockrelease = pp.lockacquire, pp.lockrelease
    while True:
        # From the P's own value, not a count of ours: exitsyscall may have
        # taken this P back through acquirep, which moved it on.
        pp.gstep = (pp.gstep + 1) | 1  # odd: goroutine code runs (see P.gstep)
        try:
            req = coro.send(None) if exc is None else coro.throw(exc)
        except BaseException as e:
            req = e
            # Drop this frame from the traceback: through `req`, the exception
            # would hold the frame that holds it, a cycle that only the cyclic
            # GC frees; every finished goroutine (StopIteration) made one.
            e.__traceback__ = e.__traceback__.tb_next  # type: ignore[union-attr]
        # Back on the scheduler side: is the P still ours, or did sysmon hand it
        # to another M because this goroutine did not yield in time?
        lockacquire()  # (acquire/try/finally: half the cost of `with` on this path)
        try:
            owned = pp.m is mp
            if owned:
                pp.gstep = (pp.gstep + 1) & ~1  # even: back in the scheduler
        finally:
            lockrelease()
        # Run it on (`continue`) only with our P, and never once the program
        # ends: an M back from goroutine code then runs no goroutine code again.
        if req is PARK:
            if park_m(mp, gp):  # waitunlockf said no: run it on (Go: execute(gp, true))
                exc = None
                if owned and not mp.sched.exiting:
                    continue
                gosched_m(mp, gp, False)  # without our P, it waits on the global queue
        elif req is GOSCHED or req is PREEMPT:
            # A seeded schedule makes every await a preemption point, and its
            # generator says which ones are taken (schedule_seeded).
            rng = mp.sched.chaos if req is PREEMPT else None
            if rng is not None and rng.random() < 0.5 and owned and not mp.sched.exiting:
                exc = None
                continue
            gosched_m(mp, gp, req is PREEMPT)
        elif isinstance(req, BaseException):
            goexit0(mp, gp, req, pp if owned else None)
        elif req is EXITSYSCALL:
            exitsyscall0(mp, gp)
        else:
            exc = TypeError(
                f"goroutine {gp.goid} awaited something that is not a goroutines operation"
                f" (it yielded {req!r}): {foreign.MESSAGE}"
            )
            if owned and not mp.sched.exiting:
                continue
            # Our P is gone; let the error surface when the goroutine runs next.
            gp.throwexc = exc
            gosched_m(mp, gp, False)
        # Without `owned`, sysmon handed our P to another M and set mp.p to None
        # (or gomaxprocs() replaced it): schedule() gets a P back first.
        return


def dropg(mp: M, gp: G) -> None:
    """Disassociate the M and its current G (Go's dropg)."""
    mp.curg = None
    gp.m = None


# ---------------------------------------------------------------------------
# Parking and readying


def gopark(
    unlockf: Callable[[G, Any], bool] | None, lock: Any, reason: WaitReason, gp: G | None = None
) -> requests._Request:
    """Park the current goroutine: `await gopark(...)` (Go's gopark).

    After the coroutine has stopped, the M sets the G waiting and calls
    unlockf(gp, lock); if that returns False the G runs on at once. Whoever
    later calls goready(gp) must find gp through a structure guarded by `lock`.
    A caller that has the current G passes it as gp: that saves looking up
    this thread's M, a thread-local (~400 machine instructions).
    """
    if gp is None:
        gp = acquire_g("gopark")[1]
    mp: M = gp.m  # type: ignore[assignment]  # the M running gp, which awaits this
    mp.waitunlockf = unlockf
    mp.waitlock = lock
    gp.waitreason = reason
    return _PARK


def parkunlock_c(gp: G, lock: Any) -> bool:
    """The unlockf that releases a threading lock (Go's parkunlock_c)."""
    lock.release()
    return True


def goparkunlock(lock: Any, reason: WaitReason, gp: G | None = None) -> requests._Request:
    """Park the current goroutine (gp, if given) and release `lock` once it has stopped."""
    return gopark(parkunlock_c, lock, reason, gp)


def timeSleep(gp: G, ns: int) -> requests._Request:
    """Park gp, the current goroutine, for ns > 0: `await timeSleep(gp, ns)` (Go's timeSleep).

    Its timer is armed by the park's unlockf, once the coroutine has stopped,
    so that it can never ready a goroutine that is still running.
    """
    t = gp.timer
    if t is None:
        gp.timer = timers.timer(goroutineReady, gp)
    else:
        t.arg = gp
    return gopark(resetForSleep, gp.sched.now() + ns, WaitReason.Sleep, gp)


def timeSleepFor(seconds: object) -> Any:
    """`await sleep(seconds)`'s start: what to await (timeSleep's park, or a yield that
    sysmon asked for), or None."""
    ns = timers.durationns(seconds, "sleep")
    gp = getgfor("sleep")
    if ns > 0:
        return timeSleep(gp, ns)
    return requests._PREEMPT if gp.preempt else None


def resetForSleep(gp: G, when: Any) -> bool:
    """The unlockf of timeSleep: arm the goroutine's timer (Go's resetForSleep)."""
    timers.resettimer(gp.timer, when)
    return True


def goroutineReady(gp: G, seq: int, delay: int) -> None:
    """The timer function of timeSleep: ready the sleeping goroutine (Go's goroutineReady)."""
    goready(gp)


def park_m(mp: M, gp: G) -> bool:
    """Park gp (on the M, after its coroutine stopped); True if it must run on (Go's park_m)."""
    gp.status = _Gwaiting
    gp.waitsince = nanotime()
    if mp.sched.tracing:
        trace.GoPark(mp.p, gp)
    # Drop gp first: once unlockf releases the lock, another M may ready and run it.
    dropg(mp, gp)
    unlockf = mp.waitunlockf
    if unlockf is not None:
        lock = mp.waitlock
        mp.waitunlockf = None
        mp.waitlock = None
        if not unlockf(gp, lock):
            gp.status = _Grunning
            mp.curg = gp
            gp.m = mp
            return True
    return False


def goready(gp: G) -> None:
    """Make a parked goroutine runnable on this P's runnext (Go's goready/ready).

    From a goroutine the G goes to our P's runnext and may inherit the rest of
    our time slice; from outside any goroutine (or an M without a P) it goes
    through the global queue.
    """
    readym(gp, _tls.__dict__.get("m"))


def readym(gp: G, mp: M | None) -> None:
    """goready from M mp (None: a thread that is no M), which the caller knows already.

    A channel operation looked up its M once, at its start: it need not read
    the thread-local again for every goroutine it readies.
    """
    if gp.status != _Gwaiting:
        if gp.sched.exiting:
            return  # our goroutine ran on past the end, and the end has closed gp meanwhile
        throw(f"goready: bad g status {gp.status} for goroutine {gp.goid}")
    if gp.sched.tracing:
        trace.GoUnblock(gp, mp)
    sched = gp.sched
    if mp is not None and mp.sched is sched and (pp := mp.p) is not None:
        pp.lockacquire()
        try:
            # Only the owner adds to a P's queue; sysmon may have handed ours
            # to another M while this goroutine ran.
            queued = pp.m is mp
            if queued:
                gp.status = _Grunnable
                runqput_locked(sched, pp, gp, True)
        finally:
            pp.lockrelease()
        if queued:
            wakep(sched)
            return
    readyglobal(sched, gp, mp is None or mp.sched is not sched)


def readyglobal(sched: schedt, gp: G, outside: bool) -> None:
    """Put gp on the global run queue and find it an M; from outside, counted meanwhile.

    A thread that is no M of this run (Runtime.submit, a channel closed or a
    context cancelled from a plain thread, aio's callbacks) is not counted as
    running: between its put and its wakep the last M could go idle, and
    checkdead would find a runnable goroutine with no M (a false fatal error,
    and the goroutine stranded). So it counts as an external waker until its
    wakep is done (sched.nexternal, which checkdead respects first).
    """
    if not outside:
        globrunqput(sched, gp)
        wakep(sched)
        return
    with sched.lock:
        sched.nexternal += 1
    try:
        globrunqput(sched, gp)
        wakep(sched)
    finally:
        with sched.lock:
            sched.nexternal -= 1
            checkdead(sched)  # the last M may have gone idle while we were counted


def injectglist(mp: M | None, glist: Iterable[G]) -> None:
    """Make a list of Gs runnable: on our P if we have one, else the global queue (Go)."""
    glist = list(glist)
    if not glist:
        return
    sched = mp.sched if mp is not None else glist[0].sched
    if sched.tracing:
        for gp in glist:
            trace.GoUnblock(gp, mp)
    pp = mp.p if mp is not None else None
    # Without a P all go to the global queue; with one, as many as there are
    # idle Ps to pick them up, and the rest to our own queue.
    sched.lockacquire()
    try:
        npidle = sched.npidle
        n = len(glist) if pp is None else min(npidle, len(glist))
        for gp in glist[:n]:
            gp.status = _Grunnable  # under the queue's lock, as globrunqput does
        sched.runq.extend(glist[:n])
    finally:
        sched.lockrelease()
    for _ in range(min(npidle, n)):
        startm(sched, None, False)
    if pp is not None and len(glist) > n:
        for gp in glist[n:]:
            gp.status = _Grunnable
        runqputbatch(sched, pp, glist, n)


def gosched_m(mp: M, gp: G, preempted: bool) -> None:
    """Put the current G on the global queue (Go's goschedImpl)."""
    if mp.sched.tracing:
        trace.GoSched(mp.p, gp, preempted)
    sched = mp.sched
    sched.lockacquire()
    try:
        # dropg, the status and the queue change together: this M may have no P,
        # and stop-the-world does not wait for such Ms.
        mp.curg = gp.m = None
        gp.status = _Grunnable
        sched.runq.append(gp)
    finally:
        sched.lockrelease()
    if sched.npidle:
        wakep(sched)


def getgfor(what: str) -> G:
    """The current goroutine, or the RuntimeError naming `what` (every operation starts here)."""
    mp: M | None = _tls.__dict__.get("m")  # acquire_g inlined: a call and a tuple less
    gp = None if mp is None else mp.curg
    if gp is None:
        gp = acquire_g(what)[1]  # raises the RuntimeError naming `what`
    return gp


def goexit0(mp: M, gp: G, e: BaseException, pp: P | None) -> None:
    """The goroutine finished: record a result or panic, recycle the G (Go's goexit0)."""
    sched = mp.sched
    gp.status = _Gdead
    dropg(mp, gp)
    if mp.sched.tracing:
        trace.GoEnd(pp, gp)
    if gp.fut is not None:
        settle(gp, e)  # a submitted goroutine: its future, not a panic
    elif type(e) is StopIteration:
        if gp is sched.main:
            sched.result = e.value
            startTheExit(sched)
    elif not isinstance(e, Goexit):
        panic(sched, gp, e)
    if mp.lockedg is gp:
        mp.lockedg = None  # Go ends the thread of a goroutine that exits locked; we unwire it
    gp.coro = None
    gp.lockedm = None
    gp.waiting = None
    gp.fut = None
    if gp is not sched.main:
        gfput(sched, pp, gp)


def settle(gp: G, e: BaseException) -> None:
    """Give a submitted goroutine's result or exception to its future (Runtime.submit)."""
    fut = gp.fut
    if not fut.set_running_or_notify_cancel():
        return  # the caller cancelled the future: nobody waits for the result
    if type(e) is StopIteration:
        fut.set_result(e.value)
    else:
        e.add_note(f"raised in goroutine {gp.goid}, started by Runtime.submit")
        fut.set_exception(e)


def panic(sched: schedt, gp: G, e: BaseException) -> None:
    """An exception escaped goroutine gp: the program dies with it (Go's fatalpanic).

    Once the program has ended, gp is one whose M ran on past the end (a
    blocking call or a loop): in Go it would never have run again. What it
    raises then cannot change how the program ended (main's result, or the
    first panic), and is reported as Python reports an exception it cannot
    raise anywhere.
    """
    e.add_note(f"goroutine {gp.goid} [running]:\n{creation_line(gp)}")
    if sched.exiting:
        print(
            f"Exception ignored in goroutine {gp.goid}, which ran on after the program ended:",
            file=sys.stderr,
        )
        traceback.print_exception(e, file=sys.stderr)
        return
    fatal(sched, e)


def fatal(sched: schedt, e: BaseException) -> None:
    """Stop the program with `e`, which run() re-raises; the first one wins."""
    with sched.lock:
        if sched.fatal is None:
            sched.fatal = e
        startTheExit_locked(sched)


def startTheExit(sched: schedt) -> None:
    """The program ends (main returned, a panic, a deadlock): every M leaves its loop."""
    with sched.lock:
        startTheExit_locked(sched)


def startTheExit_locked(sched: schedt) -> None:
    """startTheExit with sched.lock held."""
    if sched.exiting:
        return
    sched.exiting = True
    idle, sched.midle = sched.midle, []
    for mp in idle:
        mp.nextp = None
        mp.park.wakeup()
    locked, sched.mlockedidle = sched.mlockedidle, set()
    for mp in locked:
        mp.nextp = None
        mp.park.wakeup()
    netpoll.netpollBreak(sched)
    sysmon.wakesysmon_locked(sched, "exit")
    sched.events.put((signals.EXIT, None))  # the thread that hosts the runtime tears it down


# ---------------------------------------------------------------------------
# Deadlock detection


def checkdead(sched: schedt) -> None:
    """Raise Deadlock if no M runs and no goroutine can be woken (Go's checkdead).

    sched.lock must be held. Ms blocked in the poller or in a syscall are
    running, so goroutines waiting for I/O or a syscall never count as dead.
    """
    if sched.exiting or not sched.allgs:
        return  # ended, or not begun: sysmon may look before run() has made main
    run = sum(1 for mp in sched.allm if not mp.exiting) - len(sched.midle) - len(sched.mlockedidle)
    run += sched.nhandoff  # a P sysmon is handing off will get an M (Go: incidlelocked(-1))
    if run > 0:
        if run == 1 and sched.lastpoll == 0 and netpoll.netpollWaiters(sched) == 0:
            # The one M left may be blocked in the poller for I/O that nobody
            # waits for any more (its last waiter was woken by a deadline, not
            # by I/O): wake it, so that it goes idle and this check runs again.
            netpoll.netpollBreak(sched)
        return
    if run < 0:
        throw(f"checkdead: inconsistent counts: run={run} nmidle={len(sched.midle)}")
    if sched.nexternal > 0:
        # Something outside the runtime may still wake a goroutine, or is
        # readying one right now (readyglobal): a runnable G is no fault then.
        return
    if sched.vclock is not None and timeskippable(sched) and timeskip_locked(sched):
        return  # virtual time: every goroutine is durably blocked, time moves on
    grunning = 0
    for gp in sched.allgs:
        s = gp.status
        if s == _Gwaiting:
            grunning += 1
        elif s in (_Grunnable, _Grunning, _Gsyscall):
            throw(f"checkdead: runnable g: goroutine {gp.goid} in status {s}")
    if grunning == 0:
        # Possible if the main goroutine called goexit().
        msg = "no goroutines (main called goexit) - deadlock!"
    else:
        if any(pp.timers for pp in sched.allp):
            return  # a timer will wake someone
        msg = "all goroutines are asleep - deadlock!"
    err = Deadlock(f"{msg}\n\n{tracebackothers(sched)}")
    if sched.fatal is None:
        sched.fatal = err
    startTheExit_locked(sched)


def timeskippable(sched: schedt) -> bool:
    """Virtual time can move: something is due and some goroutine waits for it.

    Checked before checkdead's scan of every goroutine ever made, which each
    jump of the clock would pay for otherwise; any() stops at the first.
    """
    if not sched.idlewaiters and not any(pp.timers for pp in sched.allp):
        return False
    return any(gp.status == _Gwaiting for gp in sched.allgs)


def timeskip_locked(sched: schedt) -> bool:
    """Virtual time, with every goroutine durably blocked: let the next thing happen.

    sched.lock held, no M running (checkdead). The goroutines in wait_idle run
    first; else the clock jumps to the earliest timer (Go's synctest advances
    the bubble's fake clock the same way). Either way an idle M gets an idle P
    to run them. False if nothing is due: then it is a deadlock.
    """
    if sched.idlewaiters:
        for gp in sched.idlewaiters:
            gp.status = _Grunnable
            sched.runq.append(gp)
        sched.idlewaiters.clear()
    else:
        next = timers.timeSleepUntil(sched.allp)
        if next == 0:
            return False
        sched.vclock.advance_to(next)
    pp = pidleget(sched)
    if pp is None:
        throw("timeskip: no idle P with every M idle")
    mp = mget(sched)
    if mp is None:  # only Ms locked to their goroutines are idle
        newm(sched, pp, False, allocm_locked(sched))
        return True
    mp.nextp = pp
    mp.park.wakeup()
    return True


# ---------------------------------------------------------------------------
# Locked goroutines (LockOSThread)


def stoplockedm(mp: M) -> G | None:
    """Stop the M of a locked goroutine until that goroutine is runnable (Go's stoplockedm)."""
    sched = mp.sched
    if mp.p is not None:
        handoffp(sched, releasep(mp))
    with sched.lock:
        if sched.exiting:
            return None
        if mp.nextp is None:  # else startlockedm handed us a P already
            sched.mlockedidle.add(mp)
            checkdead(sched)
            if sched.exiting:
                return None
    mp.blocked = True
    mp.park.sleep()
    mp.blocked = False
    pp, mp.nextp = mp.nextp, None
    if pp is None or sched.exiting:
        return None  # the exit woke us, or came after startlockedm did: run no goroutine
    acquirep(mp, pp)
    return mp.lockedg


def startlockedm(mp: M, gp: G) -> None:
    """Hand our P to the M that gp is locked to, then stop (Go's startlockedm)."""
    lm = gp.lockedm
    assert lm is not None
    if lm is mp:
        throw("startlockedm: locked to me")
    sched = mp.sched
    pp = releasep(mp)
    with sched.lock:
        if sched.exiting:
            return  # startTheExit has woken lm already: a second wakeup would be one too many
        # It counts as running from now on, or our stopm could report a deadlock.
        sched.mlockedidle.discard(lm)
        lm.nextp = pp
        lm.park.wakeup()
    stopm(mp)


# ---------------------------------------------------------------------------
# Stop-the-world and GOMAXPROCS


def preemptall(sched: schedt) -> None:
    """Ask every running goroutine to yield (Go's preemptall)."""
    for pp in sched.allp:
        if pp.status == _Prunning:
            sysmon.preemptone(pp)


def stopTheWorld(mp: M) -> bool:
    """Stop every P but ours: running ones at their next yield, idle and syscall ones now (Go).

    The caller holds sched.worldsema. A goroutine blocked on it keeps its thread
    but not its P for long: sysmon hands the P off, as for any goroutine that
    does not yield, so the stop in progress completes.

    False once the program is exiting: its Ms leave their loops instead of
    stopping, so the world may never stop, and the caller must not change it
    (a resize would destroy Ps that Ms still hold).
    """
    sched = mp.sched
    if sched.exiting:
        return False
    pp = mp.p
    if pp is not None:
        with pp.lock:
            # _Pgcstop under the P's lock keeps sysmon from handing our P off
            # (it only retakes _Prunning Ps); we keep running on it.
            if pp.m is mp:
                pp.status = _Pgcstop
            else:
                pp = None  # sysmon took it already: then every P must stop
    with sched.lock:
        if sched.exiting:
            return False
        if sched.gcwaiting:
            throw("stopTheWorld: already stopping")
        sched.stopwait = sched.gomaxprocs
        sched.gcwaiting = True
        preemptall(sched)
        if pp is not None:
            sched.stopwait -= 1
        while (p2 := pidleget(sched)) is not None:
            p2.status = _Pgcstop
            sched.stopwait -= 1
        stopped = sched.stopwait == 0
    # Take the Ps of Ms in syscalls. Their locks are taken one at a time and
    # without sched.lock (lock order); an M leaving its syscall first keeps its
    # P and stops in gcstopm instead. From here on, whoever brings stopwait to
    # 0 wakes stopnote, so the wakeup we wait for is never a stale one.
    for p2 in sched.allp:
        with p2.lock:
            took = p2.status == _Psyscall
            if took:
                p2.status = _Pgcstop
                p2.syscalltick += 1
        if took:
            stopwaitdone(sched)
    while not stopped:
        # Wait for 100us, then try to re-preempt in case of any races.
        if sched.stopnote.tsleep(100_000):
            break
        preemptall(sched)
        if sched.exiting:
            return False
    return True


def stopwaitdone(sched: schedt) -> None:
    """One more P has stopped for stop-the-world; wake the stopper after the last."""
    with sched.lock:
        stopwaitdone_locked(sched)


def stopwaitdone_locked(sched: schedt) -> None:
    """stopwaitdone with sched.lock held."""
    sched.stopwait -= 1
    if sched.stopwait == 0:
        sched.stopnote.wakeup()


def gcstopm(mp: M) -> None:
    """Stop the current M for stop-the-world, then wait to be restarted (Go's gcstopm)."""
    sched = mp.sched
    if mp.spinning:
        mp.spinning = False
        with sched.lock:
            sched.nmspinning -= 1
    pp = releasep(mp)
    with sched.lock:
        pp.status = _Pgcstop
        stopwaitdone_locked(sched)
    stopm(mp)


def startTheWorld(mp: M, nprocs: int) -> None:
    """Resize to nprocs Ps and restart the stopped ones with Ms (Go's startTheWorldWithSema)."""
    sched = mp.sched
    with sched.lock:
        runnable = procresize(sched, mp, nprocs)
        sched.gcwaiting = False
        sysmon.wakesysmon_locked(sched, "stw")
    for pp in runnable:
        startm(sched, pp, False)
    # Wake up an additional proc in case we have excessive runnable goroutines
    # in local queues or in the global queue.
    wakep(sched)


# ---------------------------------------------------------------------------
# Syscalls


def entersyscall(mp: M, gp: G) -> None:
    """The goroutine is about to block in a call: its P becomes retakeable (Go)."""
    pp = mp.p
    if mp.sched.tracing:
        trace.GoSysCall(pp, gp)
    gp.status = _Gsyscall
    if mp.marked:
        foreign.unmark()  # the call is plain code: it may run an event loop of its own
    if pp is None:
        return
    with pp.lock:
        if pp.m is not mp:
            mp.p = None
            return
        pp.m = None
        mp.p = None
        mp.oldp = pp
        mp.syscalltick = pp.syscalltick
        pp.status = _Psyscall
    if mp.sched.sysmonwait:
        sysmon.wakesysmon(mp.sched, "syscall")


def exitsyscall(mp: M, gp: G) -> bool:
    """The call returned: get our P back, or an idle one; False means the M must stop (Go)."""
    if NOGIL:
        with mp.scanlock:  # a dump reading gp's frames from syscallframe ends first (debug)
            mp.syscallframe = None
    pp = mp.oldp
    mp.oldp = None
    if mp.marked:
        foreign.mark()
    if mp.sched.exiting:
        return False  # back to the scheduler loop, which ends: nothing more to record
    if mp.sched.tracing:
        trace.GoSysExit(mp, gp)
    if pp is not None:
        with pp.lock:
            if pp.status == _Psyscall and pp.m is None:
                pp.status = _Prunning
                pp.m = mp
                mp.p = pp
                pp.syscalltick += 1  # tells sysmon the syscall it watched has ended
                gp.status = _Grunning
                return True
    sched = mp.sched
    with sched.lock:
        p2 = pidleget(sched)
    if p2 is not None:
        acquirep(mp, p2)
        gp.status = _Grunning
        return True
    return False


def exitsyscall0(mp: M, gp: G) -> None:
    """No P after a syscall: queue the G globally; the M waits for a P (Go's exitsyscall0)."""
    sched = mp.sched
    with sched.lock:
        dropg(mp, gp)
        gp.status = _Grunnable
        p2 = pidleget(sched)
        if p2 is None:
            sched.runq.append(gp)
    if p2 is not None:
        acquirep(mp, p2)
        runqput(sched, p2, gp, True)  # a P came free after all: run it next


__all__ = [
    "acquire_g",
    "check_async",
    "getg",
    "getgfor",
    "gopark",
    "goparkunlock",
    "goready",
]
