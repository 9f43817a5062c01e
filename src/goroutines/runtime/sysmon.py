"""sysmon: the system monitor thread (Go's sysmon and retake in proc.go).

sysmon runs on its own thread without a P. It wakes every 20 us at first,
doubling its sleep after 50 rounds in which it found nothing to do, up to
10 ms; when every P is idle it sleeps deeply until the next timer (an idle
program costs no CPU) and is woken when a P becomes busy again. On each round:

  * it polls the network if no M did for 10 ms;
  * `retake`: a goroutine that has run for 10 ms on one P gets `preempt` set, and
    yields at its next runtime await or `checkpoint()`. A P whose M is in a
    `syscall()` is handed to another M after one sysmon tick when there is
    other work. A goroutine that ignores the preemption request (a CPU loop, or
    a blocking call made without `syscall()`) is treated the same way: its P
    goes to another M, and its own M takes the exitsyscall slow path when the
    goroutine finally stops. Go preempts such a goroutine with a signal;
    Python has no way to stop a running coroutine, so this is the closest;
  * it prints the scheduler trace (GODEBUG=schedtrace).
"""

from __future__ import annotations

import threading
from typing import Final

from .osapi import nanotime, usleep
from .runtime2 import P, _Prunning, _Psyscall, schedt

forcePreemptNS: Final = 10_000_000  # a goroutine may run 10 ms before it is asked to yield
# How long a goroutine may ignore that request before its P goes to another M:
# time for a thread waiting for the GIL to get it back (one switch interval),
# or for a CPU-bound goroutine to reach its next checkpoint().
preemptGraceNS: Final = 5_000_000
_MAX_DEEP_SLEEP_NS: Final = 60_000_000_000  # Go: forcegcperiod / 2


def startsysmon(sched: schedt) -> None:
    """Start sysmon's thread (Go: newm(sysmon, nil, -1) in runtime.main)."""
    t = threading.Thread(target=sysmon, args=(sched,), name="goroutines-sysmon", daemon=True)
    sched.sysmon = t
    with sched.lock:
        sched.nmsys += 1
    t.start()


# sched.sysmonwait: how sysmon sleeps on sched.sysmonnote, and so who wakes it.
_NOWAIT: Final = 0
_BACKOFF: Final = 1  # a sleep of its 1-10 ms back-off: a syscall wakes it, to retake the P soon
_DEEP: Final = 2  # every P idle: anything that gives a P work wakes it


def wakesysmon(sched: schedt, why: str) -> None:
    """Wake sysmon if it sleeps and `why` is reason enough (see wakesysmon_locked)."""
    if sched.sysmonwait == _NOWAIT:
        return
    with sched.lock:
        wakesysmon_locked(sched, why)


def wakesysmon_locked(sched: schedt, why: str) -> None:
    """Wake sysmon, sched.lock held. `why`:

    "exit" or "stw": from any sleep. "syscall": from any sleep, so that the P is
    retaken after one short tick. "work" (a P leaves the idle list): from a deep
    sleep only, and only if sysmon would not wake within forcePreemptNS anyway:
    a program woken by timers then does not wake sysmon, and its thread, on
    every tick.
    """
    w = sched.sysmonwait
    if w == _NOWAIT or (w == _BACKOFF and why == "work"):
        return
    if why == "work" and sched.sysmonwakeat - nanotime() <= forcePreemptNS:
        return
    sched.sysmonwait = _NOWAIT
    sched.sysmonnote.wakeup()


def allidle(sched: schedt) -> bool:
    """Every P is idle (or the world is stopping): sysmon may sleep deeply."""
    return sched.gcwaiting or sched.npidle == sched.gomaxprocs


def sysmonsleep(sched: schedt, how: int, ns: int) -> bool:
    """Sleep up to ns on sysmonnote; True if something woke us (or there was no need).

    The condition for a deep sleep is checked under the lock that wakers take,
    so a P that becomes busy just before cannot be missed.
    """
    with sched.lock:
        if sched.exiting or (how == _DEEP and not allidle(sched)):
            return True
        sched.sysmonwait = how
        sched.sysmonwakeat = nanotime() + ns
    woken = sched.sysmonnote.tsleep(ns)
    with sched.lock:
        if not woken and sched.sysmonwait == _NOWAIT:
            # A waker cleared sysmonwait and is about to wake us: take it.
            sched.sysmonnote.sleep()
            woken = True
        sched.sysmonwait = _NOWAIT
    return woken


def sysmon(sched: schedt) -> None:
    """The monitor loop; runs until the program exits."""
    from .proc import fatal

    try:
        _sysmon(sched)
    except BaseException as e:  # a bug in the runtime: stop the program with it
        fatal(sched, e)


def _sysmon(sched: schedt) -> None:
    from . import debug, netpoll, timers
    from .proc import checkdead, injectglist

    lasttrace = 0
    idle = 0  # how many cycles in succession we had not woken somebody up
    delay = 0
    while not sched.exiting:
        if idle == 0:  # start with 20us sleep...
            delay = 20
        elif idle > 50:  # start doubling the sleep after 1ms...
            delay *= 2
        delay = min(delay, 10_000)  # up to 10ms
        if delay < 1000:
            usleep(delay)
        elif sysmonsleep(sched, _BACKOFF, delay * 1000):
            # Go sleeps here regardless; a goroutine entering a syscall wakes us
            # so that its P is retaken after one short tick, not up to 10 ms.
            idle = 0
        now = nanotime()
        if sched.schedtrace <= 0 and allidle(sched):
            next = timers.timeSleepUntil(sched.allp)
            if next:
                next -= sched.now() - now  # on our clock, if the timers' is virtual
            if next == 0 or next > now:
                # Until forcePreemptNS past the next timer: whatever that timer
                # starts cannot have run too long before then.
                sleep = _MAX_DEEP_SLEEP_NS
                if next:
                    sleep = min(next - now + forcePreemptNS, sleep)
                sysmonsleep(sched, _DEEP, sleep)
                idle = 0
                delay = 20
                now = nanotime()
        if sched.exiting:
            return
        # Poll network if not polled for more than 10ms.
        lastpoll = sched.lastpoll
        if lastpoll != 0 and lastpoll + 10_000_000 < now:
            with sched.lock:
                if sched.lastpoll == lastpoll:
                    sched.lastpoll = now
                # Count as a running M until what we poll is injected (Go's
                # incidlelocked(-1)): netpoll takes the goroutines off the
                # waiter count, so an M going idle before they are runnable
                # would find no M running, nobody waiting on I/O, and report a
                # deadlock.
                sched.nhandoff += 1
            try:
                glist = netpoll.netpoll(sched, 0)
                if glist:
                    injectglist(None, glist)
            finally:
                with sched.lock:
                    sched.nhandoff -= 1
                    checkdead(sched)
        # Retake Ps blocked in syscalls and preempt long running Gs.
        if retake(sched, now) != 0:
            idle = 0
        else:
            idle += 1
        if sched.schedtrace > 0 and lasttrace + sched.schedtrace * 1_000_000 <= now:
            lasttrace = now
            debug.schedtrace(sched, sched.scheddetail)


def retake(sched: schedt, now: int) -> int:
    """Preempt long-running goroutines and take Ps from syscalls and hogs (Go's retake)."""
    n = 0
    for pp in list(sched.allp):
        pd = pp.sysmontick
        s = pp.status
        sysretake = False
        if s in (_Prunning, _Psyscall):
            # Preempt G if it's running for too long.
            t = pp.schedtick
            if pd.schedtick != t or pd.schedwhen == 0:
                # A new slice, or the first look at this P (main's first slice
                # is inherited from runnext and leaves schedtick at 0).
                pd.schedtick = t
                pd.schedwhen = now
                pd.gstep = -1
            elif pd.schedwhen + forcePreemptNS <= now:
                if s == _Prunning:
                    ignored = pp.gstep == pd.gstep and pp.gstep & 1
                    ignored = ignored and now - pd.preemptwhen >= preemptGraceNS
                    if ignored and otherWork(sched, pp, now, pd.schedwhen):
                        # Asked to yield a tick ago and still has not.
                        if retakeRunning(sched, pp, pd.gstep):
                            n += 1
                        continue
                    if pd.gstep != pp.gstep:
                        pd.preemptwhen = now
                    preemptone(pp)
                    pd.gstep = pp.gstep
                # In case of syscall, preemptone() doesn't work, because there is no M wired to P.
                sysretake = True
        if s == _Psyscall:
            # Retake P from syscall if it's there for more than 1 sysmon tick (at least 20us).
            t = pp.syscalltick
            if not sysretake and pd.syscalltick != t:
                pd.syscalltick = t
                pd.syscallwhen = now
                continue
            if not otherWork(sched, pp, now, pd.syscallwhen):
                continue
            with sched.lock:
                sched.nhandoff += 1
            with pp.lock:
                took = pp.status == _Psyscall and pp.syscalltick == t
                if took:
                    pp.status = 0  # _Pidle: exitsyscall can no longer take it back
                    pp.syscalltick += 1
            if not took:
                with sched.lock:
                    sched.nhandoff -= 1
                continue
            n += 1
            handoff(sched, pp)
    return n


def handoff(sched: schedt, pp: P) -> None:
    """Hand a retaken P to another M, counted as running meanwhile (Go's incidlelocked).

    Otherwise the M we took it from could stop, find every M idle and report a
    deadlock while the P, with work, is still on its way to its new M.
    """
    from . import trace
    from .proc import checkdead, handoffp

    if sched.tracing:
        trace.ProcSteal(pp)
    try:
        handoffp(sched, pp)
    finally:
        with sched.lock:
            sched.nhandoff -= 1
            checkdead(sched)


def otherWork(sched: schedt, pp: P, now: int, since: int) -> bool:
    """Whether taking pp from its M helps anyone (Go's test in retake).

    On the one hand we don't want to retake Ps if there is no other work to do,
    but on the other hand we want to retake them eventually because they can
    prevent the sysmon thread from deep sleep.
    """
    return sched.gcwaiting or not (
        pp.runqhead == pp.runqtail
        and pp.runnext is None
        and sched.nmspinning + sched.npidle > 0
        and since + 10_000_000 > now
    )


def retakeRunning(sched: schedt, pp: P, gstep: int) -> bool:
    """Take pp from an M whose goroutine has not yielded since asked to (see module doc)."""
    with sched.lock:
        sched.nhandoff += 1
    with pp.lock:
        mp = pp.m
        took = pp.status == _Prunning and mp is not None and pp.gstep == gstep
        if took:
            pp.m = None
            pp.status = 0  # _Pidle
            mp.p = None  # type: ignore[union-attr]
    if not took:
        with sched.lock:
            sched.nhandoff -= 1
        return False
    handoff(sched, pp)
    return True


def preemptone(pp: P) -> bool:
    """Ask the goroutine running on pp to yield (Go's preemptone)."""
    mp = pp.m
    if mp is None:
        return False
    gp = mp.curg
    if gp is None:
        return False
    gp.preempt = True
    pp.preempt = True
    return True
