"""GODEBUG=schedcheck=1: check the scheduler's invariants at every transition.

`run(..., schedcheck=True)` (or GODEBUG=schedcheck=1) registers a `Checker`
for the run (trace.startcheck). The execution tracer's hooks, each behind the
scheduler's `if sched.tracing:` branch, then call the checker's method of the
same name, so a program that neither traces nor checks pays nothing more.
Each method checks what must hold at that point of the scheduler without a
GIL, given what its caller has already changed and which locks it holds. A
violation stops the program with the runtime's fatal error, which run() raises:

    SystemError: goroutines runtime: fatal error: schedcheck: GoSched: a G in
    transition is on no run queue: it is on the global run queue (goroutine 1
    running, P 0, M 0)

What each hook checks (gp, pp, mp: the hook's goroutine, P and M):

    GoCreate   gp has a goid never handed out before and no M; it is runnable
               (made on a P) or not yet (idle or dead); it is off the global
               free list and the global run queue
    GoStart    gp is _Grunning, gp.m is mp and mp.curg is gp; mp holds pp
               (mp.p, pp.m, _Prunning) and does not spin; gp is locked to no
               other M
    GoPark     gp is _Gwaiting and still mp's curg (park_m drops it after the hook)
    GoUnblock  gp is _Gwaiting, or _Grunnable where the poller hands it to the M
               that runs it next (runpolled), and has no M
    GoSched    gp is _Grunning and its M's curg (it is queued after the hook)
    GoEnd      gp is _Gdead with no M, and on no free list yet
    GoSysCall  gp is _Grunning and its M's curg
    GoSysExit  gp is _Gsyscall, gp.m is mp, mp.curg is gp, and mp holds no P
    Steal      the stealer is a spinning M holding its P; it stole from another P
    ProcSteal  the P sysmon took is _Pidle with no M, off the idle list, and
               counted in nhandoff
    ProcStart  mp holds pp; a spinning M's P has no local work
    ProcStop   mp holds pp and runs no goroutine
    MStart     mp has no P and is off the idle list; it was handed a P (or the
               program exits) that is _Pidle with no M, off the idle list and,
               for a spinning M, without local work
    MStop      mp has no P and runs nothing; it is on the idle list, or startm
               has already taken it off and handed it a P

Every hook but GoCreate, ProcStart and ProcStop then checks the run queues:

  * each P's, under that P's lock: 0 to 256 Gs in the ring, no G twice (ring
    and runnext), gp not there; a _Prunning P and its M point at each other,
    a P that is idle or in a syscall has no M;
  * under sched.lock: gp is not on the global queue, whose Gs are _Grunnable
    and there once; npidle == len(pidle); idle Ps are _Pidle with no M and no
    local work, each once; idle Ms (midle, mlockedidle) hold no P, were handed
    none, run nothing and do not spin, each on one list once, and none on
    midle has a locked G; 0 <= nmspinning <= the Ms not idle + 1 (wakep and
    handoffp reserve a spinning M while none spins, before startm takes it off
    the idle list or creates it); allm <= maxmcount.

At those hooks no other thread may put gp on a queue (it is running, parked,
dead, or being readied by the caller), so seeing it on one is a bug. Other Gs
are compared within one queue only: the queues are read one after the other,
and a G moving between them (stolen, or spilled to the global queue) could be
seen on two. Nor are the Gs of a local queue checked to be _Grunnable:
gomaxprocs() moves the queue of a P it drops under sched.lock alone
(destroyp), so a G read under the P's lock may already run elsewhere; every
change to the global queue is made under sched.lock, so its Gs are checked.

Locks. Checks take one P lock at a time and take sched.lock with no P lock
held: another thread's P lock must not be held while waiting for sched.lock,
since find_runnable takes its own P's lock (releasep) with sched.lock held.
GoCreate's caller (newproc) may hold its own P's lock, so it skips the local
queues and takes sched.lock after it, as newproc1 does. ProcStart and ProcStop
may run with sched.lock held (procresize, find_runnable): they take no lock,
read only fields no other thread changes at that point, and raise their error
where acquirep and releasep raise theirs. The other hooks' callers do not
hold sched.lock, and a violation there goes to `fatal`, as a panic does: the
caller completes its transition (GoPark, for one, runs before park_m releases
the wait lock, which must not stay held) and every M leaves its loop. Checks
stop once the program exits: teardown marks goroutines dead that queues still
hold.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection
from operator import attrgetter
from typing import Concatenate, ParamSpec, TypeAlias, TypeVar

from .proc import fatal, runqempty, throw
from .runtime2 import (
    RUNQ_SIZE,
    G,
    M,
    P,
    _Gdead,
    _Gidle,
    _Grunnable,
    _Grunning,
    _Gsyscall,
    _Gwaiting,
    _Pidle,
    _Prunning,
    _Psyscall,
    gStatusStrings,
    schedt,
)

Args = ParamSpec("Args")
T = TypeVar("T")
HookChecks: TypeAlias = Callable[Concatenate["Checker", Args], None]

# Invariants that several hooks check.
RUNNING = "a running G and its M point at each other (g.m, m.curg)"
HOLDS = "an M holds its P (m.p, p.m, _Prunning)"
SPINNING = "a spinning M holds no local work"

_status = attrgetter("status")  # for map(): G statuses at C speed


class Violation(Exception):
    """A broken invariant and the goroutine, P and M it was seen on."""

    def __init__(self, invariant: str, gp: G | None, pp: P | None, mp: M | None) -> None:
        where = []
        if gp is not None:
            where.append(f"goroutine {gp.goid} {gStatusStrings.get(gp.status, gp.status)}")
        if pp is not None:
            where.append(f"P {pp.id}")
        if mp is not None:
            where.append(f"M {mp.id}")
        super().__init__(f"{invariant} ({', '.join(where)})" if where else invariant)


def need(
    ok: bool, invariant: str, gp: G | None = None, pp: P | None = None, mp: M | None = None
) -> None:
    """Raise Violation unless ok."""
    if not ok:
        raise Violation(invariant, gp, pp, mp)


def holds(mp: M | None, pp: P | None) -> bool:
    """mp holds pp: each points at the other and pp is _Prunning."""
    return (
        mp is not None and pp is not None and mp.p is pp and pp.m is mp and pp.status == _Prunning
    )


def running_m(gp: G, pp: P | None) -> M:
    """The M running gp, which must be its curg."""
    mp = gp.m
    if mp is None or mp.curg is not gp:
        raise Violation(RUNNING, gp, pp, mp)
    return mp


def queued(gp: G | None, gs: Collection[G], where: str) -> None:
    """Raise Violation if gp, a G in transition, is among gs, the Gs of run queue `where`."""
    if gp is not None and gp in gs:
        mp = gp.m
        invariant = f"a G in transition is on no run queue: it is on {where}"
        raise Violation(invariant, gp, None if mp is None else mp.p, mp)


def twice(xs: Collection[T]) -> T | None:
    """The first object that occurs a second time in xs, or None."""
    if len(set(map(id, xs))) == len(xs):  # the common case, at C speed
        return None
    seen: set[int] = set()
    for x in xs:
        if id(x) in seen:
            return x
        seen.add(id(x))
    return None


def checks(raising: bool) -> Callable[[HookChecks[Args]], HookChecks[Args]]:
    """Make a method a hook's checks: skipped once the program exits, violations reported."""

    def decorate(hook: HookChecks[Args]) -> HookChecks[Args]:
        @functools.wraps(hook)
        def checked(self: Checker, /, *args: Args.args, **kwargs: Args.kwargs) -> None:
            if self.sched.exiting:
                return
            try:
                hook(self, *args, **kwargs)
            except Violation as v:
                self.report(hook.__name__, v, raising)

        return checked

    return decorate


class Checker:
    """The checks of one run: trace.py's hooks call the method of their name."""

    def __init__(self, sched: schedt) -> None:
        self.sched = sched
        self.lock = threading.Lock()  # guards goids; no other lock is taken while held
        # Every goid handed out, one bit each (goids are dense: 1, 2, 3, ...).
        self.goids = bytearray()

    def report(self, hook: str, v: Violation, raising: bool) -> None:
        """Stop the program with a runtime fatal error naming the hook and the invariant.

        Raised where the caller may hold sched.lock (which fatal takes), else
        handed to fatal so that the caller completes its transition.
        """
        try:
            throw(f"schedcheck: {hook}: {v}")
        except SystemError as e:
            if raising:
                raise
            fatal(self.sched, e)

    # -- the hooks ----------------------------------------------------------

    @checks(raising=False)
    def GoCreate(self, newg: G) -> None:
        need(newg.goid > 0 and newg.m is None, "a new G has a goid and no M", newg)
        need(newg.status in (_Grunnable, _Gidle, _Gdead), "a new G is runnable or not yet", newg)
        i, bit = divmod(newg.goid, 8)
        with self.lock:
            if i >= len(self.goids):
                self.goids.extend(bytes(i + 1 - len(self.goids) + len(self.goids) // 2))
            fresh = not self.goids[i] & 1 << bit
            self.goids[i] |= 1 << bit
        need(fresh, "a goid is handed out once", newg)
        with self.sched.lock:
            need(newg not in self.sched.gFree, "a new G is off the free list", newg)
            self.global_locked(newg)

    @checks(raising=False)
    def GoStart(self, pp: P, gp: G) -> None:
        mp = running_m(gp, pp)
        need(gp.status == _Grunning, "a G that starts is _Grunning", gp, pp, mp)
        need(holds(mp, pp), HOLDS, gp, pp, mp)
        need(not mp.spinning, "a spinning M runs no goroutine", gp, pp, mp)
        need(gp.lockedm in (None, mp), "a locked G runs on its own M", gp, pp, mp)
        self.queues(gp)

    @checks(raising=False)
    def GoPark(self, pp: P | None, gp: G) -> None:
        mp = running_m(gp, pp)
        need(gp.status == _Gwaiting, "a G that parks is _Gwaiting", gp, pp, mp)
        self.queues(gp)

    @checks(raising=False)
    def GoUnblock(self, gp: G, mp: M | None) -> None:
        need(gp.status in (_Gwaiting, _Grunnable), "a G readied was _Gwaiting", gp)
        need(gp.m is None, "a parked G has no M", gp)
        self.queues(gp)

    @checks(raising=False)
    def GoSched(self, pp: P | None, gp: G, preempted: bool) -> None:
        mp = running_m(gp, pp)
        need(gp.status == _Grunning, "a G that yields is _Grunning", gp, pp, mp)
        self.queues(gp)

    @checks(raising=False)
    def GoEnd(self, pp: P | None, gp: G) -> None:
        need(gp.status == _Gdead and gp.m is None, "a G that exits is _Gdead with no M", gp, pp)
        # pp is this M's (goexit0 passes it only then): only this thread changes its list.
        need(pp is None or gp not in pp.gFree, "an exiting G is not yet on a free list", gp, pp)
        self.local(gp)
        with self.sched.lock:
            need(gp not in self.sched.gFree, "an exiting G is not yet on a free list", gp, pp)
            self.global_locked(gp)

    @checks(raising=False)
    def GoSysCall(self, pp: P | None, gp: G) -> None:
        mp = running_m(gp, pp)
        need(gp.status == _Grunning, "a G that enters a syscall is _Grunning", gp, pp, mp)
        self.queues(gp)

    @checks(raising=False)
    def GoSysExit(self, mp: M, gp: G) -> None:
        need(gp.m is mp and mp.curg is gp, RUNNING, gp, mp.p, mp)
        need(gp.status == _Gsyscall, "a G in a syscall is _Gsyscall", gp, mp.p, mp)
        need(mp.p is None, "an M in a syscall holds no P", gp, mp.p, mp)
        self.queues(gp)

    @checks(raising=False)
    def Steal(self, pp: P, p2: P, n: int) -> None:
        mp = pp.m  # pp is the stealer's: no other thread changes pp.m now
        ok = mp is not None and mp.spinning and holds(mp, pp)
        need(ok, "only a spinning M steals, into the P it holds", None, pp, mp)
        need(p2 is not pp and n > 0, "a P steals Gs from another P", None, pp, mp)
        self.queues(None)

    @checks(raising=False)
    def ProcSteal(self, pp: P) -> None:
        with pp.lock:
            status, mp = pp.status, pp.m
        need(status == _Pidle and mp is None, "a P sysmon took is _Pidle with no M", None, pp, mp)
        self.local(None)
        with self.sched.lock:
            need(pp not in self.sched.pidle, "a P handed off is off the idle list", None, pp)
            need(self.sched.nhandoff > 0, "a P handed off counts in nhandoff", None, pp)
            self.global_locked(None)

    @checks(raising=True)
    def ProcStart(self, mp: M, pp: P) -> None:
        # Read without pp.lock (sched.lock may be held). Only mp changes these
        # now: sysmon retakes a running P only while its goroutine runs (odd
        # gstep), and acquirep has just made it even.
        need(holds(mp, pp), HOLDS, mp.curg, pp, mp)
        need(not mp.spinning or runqempty(pp), SPINNING, None, pp, mp)

    @checks(raising=True)
    def ProcStop(self, mp: M, pp: P) -> None:
        # As in ProcStart: mp is between goroutines (even gstep), pp is its own.
        need(holds(mp, pp), HOLDS, mp.curg, pp, mp)
        need(mp.curg is None, "an M drops its P only between goroutines", mp.curg, pp, mp)

    @checks(raising=False)
    def MStart(self, mp: M) -> None:
        need(mp.p is None, "an M starts or wakes without a P", None, mp.p, mp)
        self.local(None)
        sched = self.sched
        with sched.lock:
            pp = mp.nextp  # set under sched.lock by startm
            need(mp not in sched.midle, "a woken M is off the idle list", None, pp, mp)
            need(pp is not None or sched.exiting, "an M is woken with a P or to exit", None, pp, mp)
            if pp is not None:
                # No other thread changes a P handed to an M until the M acquires it.
                ok = pp.status == _Pidle and pp.m is None and pp not in sched.pidle
                need(ok, "a P handed to an M is _Pidle with no M, off the idle list", None, pp, mp)
                need(not mp.spinning or runqempty(pp), SPINNING, None, pp, mp)
            self.global_locked(None)

    @checks(raising=False)
    def MStop(self, mp: M) -> None:
        need(mp.p is None and mp.curg is None, "a stopping M has no P and no G", mp.curg, mp.p, mp)
        self.local(None)
        sched = self.sched
        with sched.lock:
            ok = mp in sched.midle or mp.nextp is not None or sched.exiting
            need(ok, "a stopping M is on the idle list until startm takes it", None, None, mp)
            self.global_locked(None)

    # -- the run queues and the scheduler's lists -----------------------------

    def queues(self, gp: G | None) -> None:
        """Every run queue (see the module doc); gp, if given, is on none of them."""
        self.local(gp)
        with self.sched.lock:
            self.global_locked(gp)

    def local(self, gp: G | None) -> None:
        """Each P's run queue and owner, read under its lock alone."""
        for pp in list(self.sched.allp):
            with pp.lock:
                h, t = pp.runqhead, pp.runqtail
                need(0 <= t - h <= RUNQ_SIZE, "a local run queue holds 0 to 256 Gs", None, pp)
                gs = [g for g in (pp.runq[i % RUNQ_SIZE] for i in range(h, t)) if g is not None]
                nxt = pp.runnext
                status, mp = pp.status, pp.m
                mpp = None if mp is None else mp.p  # set under pp.lock with pp.m
            need(len(gs) == t - h, "a used slot of a local run queue holds a G", None, pp)
            if nxt is not None:
                gs.append(nxt)
            if status == _Prunning:
                need(mpp is pp, "a running P and its M point at each other", None, pp, mp)
            elif status in (_Pidle, _Psyscall):
                need(mp is None, "a P idle or in a syscall has no M", None, pp, mp)
            queued(gp, gs, f"P {pp.id}'s run queue")
            dup = twice(gs)
            need(dup is None, "a G is on a local run queue once", dup, pp)

    def global_locked(self, gp: G | None) -> None:
        """The global run queue, the idle lists and the counts; sched.lock held."""
        sched = self.sched
        runq = list(sched.runq)
        queued(gp, runq, "the global run queue")
        if any(s != _Grunnable for s in set(map(_status, runq))):  # set(map(...)) at C speed
            bad = next(g for g in runq if g.status != _Grunnable)
            raise Violation("a G on the global run queue is _Grunnable", bad, None, None)
        dup = twice(runq)
        need(dup is None, "a G is on the global run queue once", dup)
        need(sched.npidle == len(sched.pidle), f"npidle == len(pidle) (npidle={sched.npidle})")
        dupp = twice(sched.pidle)
        need(dupp is None, "a P is on the idle list once", None, dupp)
        for pp in sched.pidle:
            ok = pp.status == _Pidle and pp.m is None and runqempty(pp)
            need(ok, "an idle P is _Pidle with no M and no local work", None, pp, pp.m)
        dupm = twice([*sched.midle, *sched.mlockedidle])
        need(dupm is None, "an M is on the idle lists once", None, None, dupm)
        for mp in sched.midle:
            need(mp.lockedg is None, "an M on the idle list has no locked G", mp.lockedg, None, mp)
        for mp in (*sched.midle, *sched.mlockedidle):
            ok = mp.p is None and mp.nextp is None and mp.curg is None and not mp.spinning
            need(ok, "an idle M has no P, runs nothing and does not spin", mp.curg, mp.p, mp)
        busy = len(sched.allm) - len(sched.midle) - len(sched.mlockedidle)
        spinning = f"nmspinning={sched.nmspinning}, {busy} Ms not idle"
        need(0 <= sched.nmspinning <= busy + 1, f"0 <= nmspinning <= Ms not idle + 1 ({spinning})")
        need(len(sched.allm) <= sched.maxmcount, "the Ms are at most maxmcount")
