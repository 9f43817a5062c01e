"""Execution tracing (Go's trace.go): what the scheduler did, event by event.

The scheduler calls a hook at every transition worth seeing, each guarded by
`if trace.enabled:`, so a program that does not trace pays one branch per site:

    GoCreate   newproc1: a goroutine was created (by whom, where)
    GoStart    execute: a P starts running a goroutine
    GoPark     park_m: the goroutine blocks (its wait reason)
    GoUnblock  goready/injectglist/netpoll: a blocked goroutine is runnable again (by whom)
    GoSched    gosched_m: it yielded, or was preempted by sysmon
    GoEnd      goexit0: it finished
    GoSysCall, GoSysExit   entersyscall/exitsyscall
    Steal      runqsteal: a P stole goroutines from another P's run queue
    ProcSteal  sysmon retook a P from an M in a syscall or from a hog
    ProcStart, ProcStop    acquirep/releasep: an M takes or drops a P
    MStart, MStop          newm, stopm: an M thread starts, parks, wakes

`run(..., trace=PATH)` (or GOROUTINES_TRACE=PATH) starts a `Tracer` for that
run's scheduler; several runs may trace at once, each into its own file.
Recording must be cheap and safe without a GIL: every thread appends plain
tuples `(nanotime, event, args...)` to its own buffer (a list only that thread
appends to), found through a thread-local; nothing is formatted while the
program runs. When run() returns, the buffers are merged by time and written
as Chrome trace-event JSON (tracetools.write) that Perfetto and chrome://tracing
open, with the raw events kept alongside for `goroutines trace summary|html`.
"""

from __future__ import annotations

import threading
from typing import Any

from .osapi import nanotime
from .runtime2 import G, M, P, schedt

enabled = False  # some run is being traced; hooks then find out whether it is theirs

Event = tuple[Any, ...]

# Event kinds: the position is the code stored in a buffer tuple's second slot.
EVENTS = (
    "GoCreate",  # goid, parentgoid, fn, createdat
    "GoStart",  # goid, p, m, local runq length, global runq length
    "GoPark",  # goid, p, wait reason
    "GoUnblock",  # goid, waker goid (0: the runtime), waker p (-1: none)
    "GoSched",  # goid, p, preempted
    "GoEnd",  # goid, p
    "GoSysCall",  # goid, p
    "GoSysExit",  # goid, m
    "Steal",  # p, victim p, how many
    "ProcSteal",  # p
    "ProcStart",  # p, m
    "ProcStop",  # p, m
    "MStart",  # m
    "MStop",  # m
)
(
    EvGoCreate,
    EvGoStart,
    EvGoPark,
    EvGoUnblock,
    EvGoSched,
    EvGoEnd,
    EvGoSysCall,
    EvGoSysExit,
    EvSteal,
    EvProcSteal,
    EvProcStart,
    EvProcStop,
    EvMStart,
    EvMStop,
) = range(len(EVENTS))


class Tracer:
    """The trace of one run: the buffers of every thread that recorded an event."""

    def __init__(self, sched: schedt, path: str) -> None:
        self.sched = sched
        self.path = path
        self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - open until stop()
        self.lock = threading.Lock()
        self.bufs: list[list[Event]] = []
        self.start = nanotime()

    def newbuf(self) -> list[Event]:
        """A buffer for the calling thread."""
        buf: list[Event] = []
        with self.lock:
            self.bufs.append(buf)
        return buf

    def events(self) -> list[Event]:
        """Every event so far, by time (each buffer is already in time order)."""
        with self.lock:
            bufs = list(self.bufs)
        merged = [ev for buf in bufs for ev in buf]
        merged.sort(key=lambda ev: ev[0])
        return merged


class _Local(threading.local):
    """This thread's buffer and the scheduler it records for."""

    sched: schedt | None = None
    buf: list[Event]  # set together with sched


_local = _Local()
_tracers: dict[schedt, Tracer] = {}
_tracers_lock = threading.Lock()


def start(sched: schedt, path: str) -> Tracer:
    """Trace `sched` into `path` (opened now, so that a bad path fails before the run)."""
    global enabled
    tracer = Tracer(sched, path)
    with _tracers_lock:
        _tracers[sched] = tracer
        enabled = True
    # schedinit already gave m0 its P: record the state the trace starts from.
    buf = _buf(sched)
    for mp in list(sched.allm):
        buf.append((tracer.start, EvMStart, mp.id))
    for pp in list(sched.allp):
        if pp.m is not None:
            buf.append((tracer.start, EvProcStart, pp.id, pp.m.id))
    return tracer


def stop(tracer: Tracer) -> None:
    """Stop recording for the tracer's run and write its file."""
    global enabled
    from . import tracetools

    with _tracers_lock:
        _tracers.pop(tracer.sched, None)
        enabled = bool(_tracers)
    events = tracer.events()
    with tracer.lock:
        for buf in tracer.bufs:
            buf.clear()
        tracer.bufs.clear()
    with tracer.file as f:
        tracetools.write(f, tracetools.rawtrace(tracer.sched, tracer.start, events))


def _buf(sched: schedt) -> list[Event]:
    """The calling thread's buffer for `sched`, or a throwaway list if it is not traced."""
    loc = _local
    if loc.sched is sched:
        return loc.buf
    tracer = _tracers.get(sched)
    if tracer is None:
        return []
    loc.buf = tracer.newbuf()
    loc.sched = sched
    return loc.buf


def _pbuf(pp: P) -> list[Event]:
    """The calling thread's buffer for the run that owns P `pp` (hooks without a G or M)."""
    for sched in list(_tracers):
        if pp in sched.allp:
            return _buf(sched)
    return []


def _pid(pp: P | None) -> int:
    """A P's id, -1 for none."""
    return -1 if pp is None else pp.id


def GoCreate(newg: G) -> None:
    """traceGoCreate: newg was created by the running goroutine (or by run())."""
    _buf(newg.sched).append(
        (nanotime(), EvGoCreate, newg.goid, newg.parentgoid, newg.startfn, newg.createdat)
    )


def GoStart(pp: P, gp: G) -> None:
    """traceGoStart: pp starts running gp; samples the run queue lengths."""
    mp = gp.m
    _buf(gp.sched).append(
        (
            nanotime(),
            EvGoStart,
            gp.goid,
            pp.id,
            -1 if mp is None else mp.id,
            pp.runqtail - pp.runqhead,
            len(gp.sched.runq),
        )
    )


def GoPark(pp: P | None, gp: G) -> None:
    """traceGoPark: gp blocks with its wait reason."""
    _buf(gp.sched).append((nanotime(), EvGoPark, gp.goid, _pid(pp), gp.waitreason.value))


def GoUnblock(gp: G, mp: M | None) -> None:
    """traceGoUnpark: gp is runnable again, made so by mp's goroutine (or the runtime)."""
    waker = None if mp is None else mp.curg
    _buf(gp.sched).append(
        (
            nanotime(),
            EvGoUnblock,
            gp.goid,
            0 if waker is None else waker.goid,
            -1 if mp is None else _pid(mp.p),
        )
    )


def GoSched(pp: P | None, gp: G, preempted: bool) -> None:
    """traceGoSched/traceGoPreempt: gp went to the global run queue."""
    _buf(gp.sched).append((nanotime(), EvGoSched, gp.goid, _pid(pp), preempted))


def GoEnd(pp: P | None, gp: G) -> None:
    """traceGoEnd: gp finished."""
    _buf(gp.sched).append((nanotime(), EvGoEnd, gp.goid, _pid(pp)))


def GoSysCall(pp: P | None, gp: G) -> None:
    """traceGoSysCall: gp enters a blocking call."""
    _buf(gp.sched).append((nanotime(), EvGoSysCall, gp.goid, _pid(pp)))


def GoSysExit(mp: M, gp: G) -> None:
    """traceGoSysExit: gp's blocking call returned on mp."""
    _buf(gp.sched).append((nanotime(), EvGoSysExit, gp.goid, mp.id))


def Steal(pp: P, p2: P, n: int) -> None:
    """pp stole n goroutines from p2's run queue."""
    _pbuf(pp).append((nanotime(), EvSteal, pp.id, p2.id, n))


def ProcSteal(pp: P) -> None:
    """traceProcSteal: sysmon took pp from its M (a syscall or a hog) to hand it off."""
    _pbuf(pp).append((nanotime(), EvProcSteal, pp.id))


def ProcStart(mp: M, pp: P) -> None:
    """traceProcStart: mp acquired pp."""
    _buf(mp.sched).append((nanotime(), EvProcStart, pp.id, mp.id))


def ProcStop(mp: M, pp: P) -> None:
    """traceProcStop: mp is about to release pp."""
    _buf(mp.sched).append((nanotime(), EvProcStop, pp.id, mp.id))


def MStart(mp: M) -> None:
    """mp's thread starts, or wakes from stopm."""
    _buf(mp.sched).append((nanotime(), EvMStart, mp.id))


def MStop(mp: M) -> None:
    """mp parks in stopm."""
    _buf(mp.sched).append((nanotime(), EvMStop, mp.id))
