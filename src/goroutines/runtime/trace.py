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
`run(..., schedcheck=True)` (or GODEBUG=schedcheck=1) registers a
schedcheck.Checker for the run with `startcheck`: each hook then also calls the
checker's method of the same name, which checks the scheduler's invariants at
that transition. A run may be traced, checked, both or neither; `enabled` is
on while any run is either, and each hook finds its run's tracer and checker.

Recording must be cheap and safe without a GIL. Every thread appends to its own
buffer, found through a thread-local, so no two threads ever write the same
buffer. A buffer is a bytearray of fixed-size packed records (time, event, five
int64 arguments: struct.pack, then one extend), not a list of tuples: the
records are bytes that the cyclic garbage collector never visits, where
millions of tuples would make every collection slower as the trace grows
(free-threaded CPython's collector is not generational). The few values that
are not ints (a new goroutine's function and where it was created) go to the
buffer's side list and the record holds their index; a wait reason is stored
as its index in WaitReason.
Nothing is formatted while the program runs: when run() returns, the buffers
are decoded, merged by time and written as Chrome trace-event JSON
(tracetools.write) that Perfetto and chrome://tracing open, with the raw events
kept alongside for `goroutines trace summary|html`.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .osapi import nanotime
from .runtime2 import G, M, P, WaitReason, funcline, schedt

if TYPE_CHECKING:
    from .schedcheck import Checker

enabled = False  # some run is traced or checked; hooks then find out whether it is theirs

Event = tuple[Any, ...]  # a decoded event: (nanotime, event kind, args...)

# Event kinds: the position is the code stored in a record's second slot.
EVENTS = (
    "GoCreate",  # goid, parentgoid, side-list index of (fn, createdat)
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
NARGS = (3, 5, 3, 3, 3, 2, 2, 2, 3, 1, 2, 2, 1, 1)  # arguments of each kind, as listed above
_record = struct.Struct("7q")  # time, kind, up to five arguments (unused ones are 0)
_pack = _record.pack
REASONS = tuple(WaitReason)
_reason_index = {r: i for i, r in enumerate(REASONS)}


class Buffer:
    """One thread's records for one run, and the objects they refer to."""

    __slots__ = ("objs", "recs")

    def __init__(self) -> None:
        self.recs = bytearray()
        self.objs: list[Any] = []

    def decode(self) -> list[Event]:
        """The records as events: arguments cut to their kind's count, indexes resolved."""
        out: list[Event] = []
        for rec in _record.iter_unpack(self.recs):
            ts, kind = rec[0], rec[1]
            args: list[Any] = list(rec[2 : 2 + NARGS[kind]])
            if kind == EvGoCreate:
                args[2:] = self.objs[args[2]]
            elif kind == EvGoPark:
                args[2] = REASONS[args[2]].value
            out.append((ts, kind, *args))
        return out


class Tracer:
    """The trace of one run: the buffers of every thread that recorded an event."""

    def __init__(self, sched: schedt, path: str) -> None:
        self.sched = sched
        self.path = path
        self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - open until stop()
        self.lock = threading.Lock()
        self.bufs: list[Buffer] = []
        self.start = nanotime()

    def newbuf(self) -> Buffer:
        """A buffer for the calling thread."""
        buf = Buffer()
        with self.lock:
            self.bufs.append(buf)
        return buf

    def events(self) -> list[Event]:
        """Every event so far, by time (each buffer is already in time order)."""
        with self.lock:
            bufs = list(self.bufs)
        merged = [ev for buf in bufs for ev in buf.decode()]
        merged.sort(key=lambda ev: ev[0])
        return merged


class _Local(threading.local):
    """This thread's buffer and the scheduler it records for."""

    sched: schedt | None = None
    buf: Buffer  # set together with sched
    recs: bytearray  # buf.recs


_local = _Local()
_tracers: dict[schedt, Tracer] = {}
_checkers: dict[schedt, Checker] = {}
_lock = threading.Lock()  # guards changes to _tracers, _checkers and enabled


def start(sched: schedt, path: str) -> Tracer:
    """Trace `sched` into `path` (opened now, so that a bad path fails before the run)."""
    global enabled
    tracer = Tracer(sched, path)
    with _lock:
        _tracers[sched] = tracer
        enabled = True
    # Record the state the trace starts from (Ms and Ps that run already).
    recs = _recs(sched)
    for mp in list(sched.allm):
        recs.extend(_pack(tracer.start, EvMStart, mp.id, 0, 0, 0, 0))
    for pp in list(sched.allp):
        if pp.m is not None:
            recs.extend(_pack(tracer.start, EvProcStart, pp.id, pp.m.id, 0, 0, 0))
    return tracer


def stop(tracer: Tracer) -> None:
    """Stop recording for the tracer's run and write its file."""
    global enabled
    from . import tracetools

    with _lock:
        _tracers.pop(tracer.sched, None)
        enabled = bool(_tracers or _checkers)
    events = tracer.events()
    with tracer.lock:
        for buf in tracer.bufs:  # threads keep theirs until they record elsewhere
            buf.recs.clear()
            buf.objs.clear()
        tracer.bufs.clear()
    if _local.sched is tracer.sched:
        _local.sched = None
    with tracer.file as f:
        tracetools.write(f, tracetools.rawtrace(tracer.sched, tracer.start, events))


def startcheck(checker: Checker) -> None:
    """Send the hooks of `checker.sched` to `checker` as well, until stopcheck."""
    global enabled
    with _lock:
        _checkers[checker.sched] = checker
        enabled = True


def stopcheck(checker: Checker) -> None:
    """Stop checking the checker's run."""
    global enabled
    with _lock:
        _checkers.pop(checker.sched, None)
        enabled = bool(_tracers or _checkers)


def _bind(sched: schedt) -> Buffer:
    """Give the calling thread a buffer for `sched` (a throwaway one if it is not traced)."""
    tracer = _tracers.get(sched)
    if tracer is None:
        return Buffer()
    loc = _local
    loc.buf = buf = tracer.newbuf()
    loc.recs = buf.recs
    loc.sched = sched
    return buf


def _recs(sched: schedt) -> bytearray:
    """The calling thread's records for `sched`."""
    loc = _local
    return loc.recs if loc.sched is sched else _bind(sched).recs


def _runof(pp: P, runs: Iterable[schedt]) -> schedt | None:
    """Of `runs`, the one whose Ps include `pp` (for the hooks without a G or M)."""
    for sched in list(runs):
        if pp in sched.allp:
            return sched
    return None


def _precs(pp: P) -> bytearray:
    """The calling thread's records for the run that owns P `pp`."""
    sched = _runof(pp, _tracers)
    return bytearray() if sched is None else _recs(sched)


def _pchecker(pp: P) -> Checker | None:
    """The checker of the run that owns P `pp`, if that run is checked."""
    sched = _runof(pp, _checkers)
    return None if sched is None else _checkers.get(sched)


def GoCreate(newg: G) -> None:
    """traceGoCreate: newg was created by the running goroutine (or by run())."""
    loc = _local
    buf = loc.buf if loc.sched is newg.sched else _bind(newg.sched)
    at = (
        None
        if newg.createdat is None
        else (newg.createdat, funcline(newg.createdat, newg.createdpc))
    )
    buf.objs.append((newg.startfn, at))
    buf.recs.extend(
        _pack(nanotime(), EvGoCreate, newg.goid, newg.parentgoid, len(buf.objs) - 1, 0, 0)
    )
    if _checkers and (chk := _checkers.get(newg.sched)):
        chk.GoCreate(newg)


def GoStart(pp: P, gp: G) -> None:
    """traceGoStart: pp starts running gp; samples the run queue lengths."""
    mp = gp.m
    _recs(gp.sched).extend(
        _pack(
            nanotime(),
            EvGoStart,
            gp.goid,
            pp.id,
            -1 if mp is None else mp.id,
            pp.runqtail - pp.runqhead,
            len(gp.sched.runq),
        )
    )
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoStart(pp, gp)


def GoPark(pp: P | None, gp: G) -> None:
    """traceGoPark: gp blocks with its wait reason."""
    p = -1 if pp is None else pp.id
    _recs(gp.sched).extend(
        _pack(nanotime(), EvGoPark, gp.goid, p, _reason_index[gp.waitreason], 0, 0)
    )
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoPark(pp, gp)


def GoUnblock(gp: G, mp: M | None) -> None:
    """traceGoUnpark: gp is runnable again, made so by mp's goroutine (or the runtime)."""
    waker = None if mp is None else mp.curg
    wp = None if mp is None else mp.p
    _recs(gp.sched).extend(
        _pack(
            nanotime(),
            EvGoUnblock,
            gp.goid,
            0 if waker is None else waker.goid,
            -1 if wp is None else wp.id,
            0,
            0,
        )
    )
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoUnblock(gp, mp)


def GoSched(pp: P | None, gp: G, preempted: bool) -> None:
    """traceGoSched/traceGoPreempt: gp went to the global run queue."""
    p = -1 if pp is None else pp.id
    _recs(gp.sched).extend(_pack(nanotime(), EvGoSched, gp.goid, p, preempted, 0, 0))
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoSched(pp, gp, preempted)


def GoEnd(pp: P | None, gp: G) -> None:
    """traceGoEnd: gp finished."""
    p = -1 if pp is None else pp.id
    _recs(gp.sched).extend(_pack(nanotime(), EvGoEnd, gp.goid, p, 0, 0, 0))
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoEnd(pp, gp)


def GoSysCall(pp: P | None, gp: G) -> None:
    """traceGoSysCall: gp enters a blocking call."""
    p = -1 if pp is None else pp.id
    _recs(gp.sched).extend(_pack(nanotime(), EvGoSysCall, gp.goid, p, 0, 0, 0))
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoSysCall(pp, gp)


def GoSysExit(mp: M, gp: G) -> None:
    """traceGoSysExit: gp's blocking call returned on mp."""
    _recs(gp.sched).extend(_pack(nanotime(), EvGoSysExit, gp.goid, mp.id, 0, 0, 0))
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoSysExit(mp, gp)


def Steal(pp: P, p2: P, n: int) -> None:
    """pp stole n goroutines from p2's run queue."""
    _precs(pp).extend(_pack(nanotime(), EvSteal, pp.id, p2.id, n, 0, 0))
    if _checkers and (chk := _pchecker(pp)):
        chk.Steal(pp, p2, n)


def ProcSteal(pp: P) -> None:
    """traceProcSteal: sysmon took pp from its M (a syscall or a hog) to hand it off."""
    _precs(pp).extend(_pack(nanotime(), EvProcSteal, pp.id, 0, 0, 0, 0))
    if _checkers and (chk := _pchecker(pp)):
        chk.ProcSteal(pp)


def ProcStart(mp: M, pp: P) -> None:
    """traceProcStart: mp acquired pp."""
    _recs(mp.sched).extend(_pack(nanotime(), EvProcStart, pp.id, mp.id, 0, 0, 0))
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.ProcStart(mp, pp)


def ProcStop(mp: M, pp: P) -> None:
    """traceProcStop: mp is about to release pp."""
    _recs(mp.sched).extend(_pack(nanotime(), EvProcStop, pp.id, mp.id, 0, 0, 0))
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.ProcStop(mp, pp)


def MStart(mp: M) -> None:
    """mp's thread starts, or wakes from stopm."""
    _recs(mp.sched).extend(_pack(nanotime(), EvMStart, mp.id, 0, 0, 0, 0))
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.MStart(mp)


def MStop(mp: M) -> None:
    """mp parks in stopm."""
    _recs(mp.sched).extend(_pack(nanotime(), EvMStop, mp.id, 0, 0, 0, 0))
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.MStop(mp)
