"""Execution tracing (Go's trace.go): what the scheduler did, event by event.

The scheduler calls a hook at every transition worth seeing, each guarded by
`if sched.tracing:` (a field of the run, so that a compiled core reads it with
no lookup), so a program that does not trace pays one branch per site:

    GoCreate   newproc1: a goroutine was created (by whom, where)
    GoStart    execute: a P starts running a goroutine
    GoPark     park_m: the goroutine blocks (its wait reason)
    GoUnblock  goready/injectglist/netpoll: a blocked goroutine is runnable again (by whom)
    GoSched    gosched_m: it yielded, or was preempted by sysmon
    GoEnd      goexit0: it finished
    GoSysCall, GoSysExit   entersyscall/exitsyscall
    Steal      runqsteal: a P stole goroutines from another P's run queue
    ProcSteal  sysmon retook a P from an M in a syscall or from a hog (a P handoff)
    ProcStart, ProcStop    acquirep/releasep: an M takes or drops a P
    MStart, MStop          newm, stopm: an M thread starts, parks, wakes
    GC         a pause of the cyclic garbage collector (gc.callbacks), which
               stops every thread of the process

As in Go, a record does not repeat what the reader can work out: the P a
goroutine parks, yields or ends on is the one it was started on, and the
goroutine that readies another is the one running on the readying M.

`run(..., trace=PATH)` (or GOROUTINES_TRACE=PATH) starts a `Tracer` for that
run's scheduler; several runs may trace at once, each into its own file.
`run(..., schedcheck=True)` (or GODEBUG=schedcheck=1) registers a
schedcheck.Checker for the run with `startcheck`: each hook then also calls the
checker's method of the same name, which checks the scheduler's invariants at
that transition. A run may be traced, checked, both or neither; its
`sched.tracing` is on while it is either, and each hook finds its run's tracer
and checker.

Recording must be cheap, and safe without a GIL: a busy program records a
million events a second. As in Go, every thread (M) appends to its own
`Buffer`, so no two threads ever write the same one. A hook that knows the M
it runs on (the running goroutine's, or goready's) finds the buffer in a dict
keyed by that M; the others (and threads that are not Ms) through a
thread-local (tls.py's: this module is compiled with the core, and a compiled
class cannot extend threading.local), which costs about twice as much. A
record is five int64 words, packed by one struct call and appended to the
buffer's bytearray: its kind, its time (nanotime) and up to three arguments
(NARGS; unused ones are 0).
Go encodes each record with varints as it goes; in Python a loop per value
would cost more than the rest of the hook, so the squeezing is left to C:
a full buffer (FLUSH_BYTES) is byte-shuffled (as HDF5's and Blosc's shuffle
filter: byte k of every record together, by extended slicing) and deflated
(zlib, which releases the GIL) by the thread that filled it, then written
out. After the shuffle the high bytes of small numbers are long runs of zeros
and times share their high bytes, so deflate removes what Go's varints and
time deltas do, quickly: about 2 bytes per event. Memory stays bounded and the
cost of writing is spread over the run. (A writer thread, as Go's trace
reader, measured slower: under the GIL it waits up to a switch interval for
every step, and falls behind.) The few values that are not ints (a new
goroutine's function and where it was created) are interned per buffer, and
the GoCreate record holds the index.

The file (any PATH not ending in `.json`; Go's habit is `trace.out`) is that
compact stream, read by the tools in goroutines.tracetools:

    MAGIC                      b"goroutines trace\\x00" and the VERSION byte
    frames, each               a kind byte, its payload's length (uvarint), the payload:
      FRAME_HEADER  b"H"       JSON {"start": nanotime at start, "gomaxprocs": N}
      FRAME_STRINGS b"S"       uvarint buffer id, JSON list of [function, created-at]
                               pairs, which that buffer's GoCreate records number on
                               from the ones its earlier S frames listed
      FRAME_BATCH   b"B"       uvarint buffer id, raw deflate data (RFC 1951, ending in
                               a full flush): that buffer's next n records
                               (RECORD: 5 little-endian int64s, kind, time (nanotime)
                               and three arguments), byte-shuffled: byte 0 of every
                               record, then byte 1 of every record, ... byte 39
      FRAME_END     b"E"       JSON {"end": nanotime at stop, "gomaxprocs": N}

A buffer's records are in time order but for GC pauses (recorded when they
end); merging the buffers by time is the reader's job, as in Go. A PATH
ending in `.json` gets Perfetto / Chrome JSON instead: the same stream is kept
in memory and converted when run() returns (tracetools.convert, the one use
of the tools by the runtime).
"""

from __future__ import annotations

import gc
import io
import json
import struct
import threading
import zlib
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Final

from . import tls
from .osapi import nanotime
from .runtime2 import G, M, P, WaitReason, funcline, schedt

if TYPE_CHECKING:
    from .schedcheck import Checker


# Event kinds: the position is the code stored first in a record.
EVENTS = (
    "GoCreate",  # goid, parentgoid, string index of (function, created-at)
    "GoStart",  # goid, p, m
    "GoPark",  # goid, wait reason (its index in REASONS)
    "GoUnblock",  # goid, m whose goroutine readied it (-1: none)
    "GoSched",  # goid, preempted
    "GoEnd",  # goid
    "GoSysCall",  # goid
    "GoSysExit",  # goid, m
    "Steal",  # p, victim p, how many
    "ProcSteal",  # p
    "ProcStart",  # p, m
    "ProcStop",  # p, m
    "MStart",  # m
    "MStop",  # m
    "GC",  # duration, generation (the record's time is when the pause began)
)
# Final, so that a compiled core reads these as constants, not from the module's dict.
EvGoCreate: Final = 0
EvGoStart: Final = 1
EvGoPark: Final = 2
EvGoUnblock: Final = 3
EvGoSched: Final = 4
EvGoEnd: Final = 5
EvGoSysCall: Final = 6
EvGoSysExit: Final = 7
EvSteal: Final = 8
EvProcSteal: Final = 9
EvProcStart: Final = 10
EvProcStop: Final = 11
EvMStart: Final = 12
EvMStop: Final = 13
EvGC: Final = 14
NARGS = (3, 3, 2, 2, 2, 1, 1, 2, 3, 1, 2, 2, 1, 1, 2)  # arguments of each kind, as listed above
REASONS = tuple(WaitReason)
# By _value_, not by member: an Enum member's hash is a Python-level call.
_reason_index: Final = {r._value_: i for i, r in enumerate(REASONS)}

MAGIC = b"goroutines trace\x00"
VERSION = 2  # of the event vocabulary above, in both the stream and the JSON
FRAME_HEADER, FRAME_STRINGS, FRAME_BATCH, FRAME_END = b"H", b"S", b"B", b"E"
RECORD: Final = struct.Struct("<5q")  # kind, time, three arguments
WORDS, SIZE = 5, RECORD.size
_pack: Final = RECORD.pack
# A buffer is flushed at this size (6,553 records; about 1 ms to deflate).
FLUSH_BYTES: Final = 1 << 18
_ZLEVEL: Final = 1  # deflate's fastest level: the higher ones take 2-3 times as long


def uvarint(n: int) -> bytes:
    """n >= 0 as an unsigned LEB128 varint (Go's binary.AppendUvarint)."""
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def frame(kind: bytes, payload: bytes) -> bytes:
    """One frame of the stream: kind, length, payload."""
    return kind + uvarint(len(payload)) + payload


def funcname(fn: Any) -> str:
    """A goroutine function's qualified name."""
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or fn)


class Buffer:
    """One thread's records for one run (Go's traceBuf), and its interned strings."""

    __slots__ = ("deflater", "id", "pending", "recs", "sched", "strings")

    def __init__(self, sched: schedt | None, id: int) -> None:
        self.sched = sched
        self.id = id
        self.recs = bytearray()
        self.strings: dict[Any, int] = {}  # (code or name, createdat, pc) -> index
        self.pending: list[tuple[str, str]] = []  # strings not yet written
        self.deflater: Any = None  # zlib's, made at the thread's first flush and kept

    def intern(self, newg: G, fn: Callable[..., Any]) -> int:
        """The index of newg's (function, created-at) pair (Go's traceString)."""
        at, pc = newg.createdat, newg.createdpc
        # Key by code, not function: a closure made per call is a new function each time.
        key = (getattr(fn, "__code__", None) or funcname(fn), at, pc)
        i = self.strings.get(key)
        if i is None:
            i = self.strings[key] = len(self.strings)
            where = "" if at is None else f"{at.co_filename}:{funcline(at, pc)}"
            self.pending.append((funcname(fn), where))
        return i

    def flushed(self, deflater: Any) -> bytes:
        """Its new strings and its records as frames; it starts afresh (Go's traceFlush).

        The records are byte-shuffled, then deflated and flushed in full, so
        that every frame inflates on its own.
        """
        recs, strings = self.recs, self.pending
        self.recs, self.pending = bytearray(), []
        bid = uvarint(self.id)
        out = []
        if strings:
            out.append(frame(FRAME_STRINGS, bid + json.dumps(strings).encode()))
        if recs:
            planes = b"".join(recs[i::SIZE] for i in range(SIZE))  # byte i of every record
            data = deflater.compress(planes) + deflater.flush(zlib.Z_FULL_FLUSH)
            out.append(frame(FRAME_BATCH, bid + data))
        return b"".join(out)


class Tracer:
    """The trace of one run: every thread's buffer, and the file they are flushed to."""

    def __init__(self, sched: schedt, path: str) -> None:
        self.sched = sched
        self.path = path
        self.json = path.endswith(".json")
        # Open the file now, so that a bad path fails before the run.
        self.file: IO[bytes] = open(path, "wb")  # noqa: SIM115 - open until stop()
        self.stream: IO[bytes] = io.BytesIO() if self.json else self.file
        self.lock = threading.Lock()  # guards stream, bufs, closed and error
        self.bufs: dict[int, Buffer] = {}  # by thread ident
        self.closed = False
        self.error: OSError | None = None  # a failed write, raised by stop()
        self.start = nanotime()
        header = {"start": self.start, "gomaxprocs": sched.gomaxprocs}
        self.stream.write(MAGIC + bytes([VERSION]) + frame(FRAME_HEADER, _jsonb(header)))

    def buffer(self, ident: int) -> Buffer | None:
        """The buffer of thread `ident`, new if it has none; None once stopped."""
        with self.lock:
            if self.closed:
                return None
            buf = self.bufs.get(ident)
            if buf is None:
                buf = self.bufs[ident] = Buffer(self.sched, len(self.bufs))
            return buf

    def flush(self, buf: Buffer) -> bool:
        """Write out the calling thread's full buffer; False once stopped.

        Deflated outside the lock (zlib releases the GIL too): other threads
        record and flush meanwhile. The thread keeps its deflater from batch to
        batch: making one costs as much as deflating a thousand records.
        """
        if buf.deflater is None:
            buf.deflater = deflater()
        data = buf.flushed(buf.deflater)
        with self.lock:
            if self.closed:
                return False
            self.write(data)
        return True

    def write(self, data: bytes) -> None:
        """Write to the stream, with the lock held; the first error is kept for stop()."""
        if self.error is None:
            try:
                self.stream.write(data)
            except OSError as e:
                self.error = e

    def close(self) -> None:
        """Write what every buffer holds and the end frame; raise a write's error.

        Called once the run's threads have stopped: a thread that still records
        (a straggler outside the run) loses what it records from now on.
        """
        with self.lock:
            self.closed = True
            for buf in self.bufs.values():  # a deflater of its own: no thread shares it
                self.write(buf.flushed(deflater()))
            self.bufs.clear()
            end = {"end": nanotime(), "gomaxprocs": self.sched.gomaxprocs}
            self.write(frame(FRAME_END, _jsonb(end)))
        if self.error is not None:
            raise self.error


def _jsonb(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def deflater() -> Any:
    """A zlib compressor of raw deflate data (no header: frames have their own)."""
    return zlib.compressobj(_ZLEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)


_local: Final = tls._tracelocal
# Each M of a traced run that recorded -> its thread's buffer.
_mbufs: Final[dict[M | None, Buffer]] = {}
_tracers: Final[dict[schedt, Tracer]] = {}
_checkers: Final[dict[schedt, Checker]] = {}
_lock: Final = threading.Lock()  # guards _tracers, _checkers, sched.tracing and gc.callbacks


def start(sched: schedt, path: str) -> Tracer:
    """Trace `sched` into `path` (opened now, so that a bad path fails before the run)."""
    tracer = Tracer(sched, path)
    with _lock:
        if not _tracers:
            gc.callbacks.append(gccallback)
        _tracers[sched] = tracer
        sched.tracing = True
    # Record the state the trace starts from (Ms and Ps that run already).
    buf = _buf(sched)
    for mp in list(sched.allm):
        buf.recs += _pack(EvMStart, tracer.start, mp.id, 0, 0)
    for pp in list(sched.allp):
        if pp.m is not None:
            buf.recs += _pack(EvProcStart, tracer.start, pp.id, pp.m.id, 0)
    return tracer


def stop(tracer: Tracer) -> None:
    """Stop recording for the tracer's run and finish its file."""
    sched = tracer.sched
    with _lock:
        _tracers.pop(sched, None)
        sched.tracing = sched in _checkers
        if not _tracers:
            gc.callbacks.remove(gccallback)
        # A copy to iterate: other runs' threads add their Ms meanwhile.
        for mp, buf in dict(_mbufs).items():
            if buf.sched is sched:
                del _mbufs[mp]
    own = _local.buf
    if own is not None and own.sched is sched:
        _local.buf = None
    with tracer.file:
        tracer.close()
        if tracer.json:
            from ..tracetools.convert import write_json  # the runtime's one use of the tools

            assert isinstance(tracer.stream, io.BytesIO)
            with io.TextIOWrapper(tracer.file, encoding="utf-8") as f:
                write_json(f, tracer.stream.getvalue(), tracer.path)


def startcheck(checker: Checker) -> None:
    """Send the hooks of `checker.sched` to `checker` as well, until stopcheck."""
    with _lock:
        _checkers[checker.sched] = checker
        checker.sched.tracing = True


def stopcheck(checker: Checker) -> None:
    """Stop checking the checker's run."""
    with _lock:
        _checkers.pop(checker.sched, None)
        checker.sched.tracing = checker.sched in _tracers


def _mbuf(mp: M | None, sched: schedt) -> Buffer:
    """The buffer of the calling thread, which runs M mp, for `sched`, with room for a record.

    Go's traceAcquire. mp None (a thread that is not an M) goes through the thread-local.
    """
    try:  # a subscript: dict.get costs twice as much here
        buf = _mbufs[mp]
    except KeyError:  # the thread's first record for sched, or sched is not traced
        return _refill(mp, sched)
    return buf if len(buf.recs) < FLUSH_BYTES else _refill(mp, sched)


def _buf(sched: schedt) -> Buffer:
    """_mbuf for the hooks that do not know which M the calling thread is."""
    buf = _local.buf
    if buf is None or buf.sched is not sched or len(buf.recs) >= FLUSH_BYTES:
        buf = _refill(None, sched)
    return buf


def _refill(mp: M | None, sched: schedt) -> Buffer:
    """The slow path: flush the thread's full buffer, or bind the thread to sched's tracer.

    An untraced run's (only checked) records go to a buffer that is thrown away.
    """
    loc = _local
    tracer = _tracers.get(sched)
    if tracer is None:
        return Buffer(sched, -1)
    buf = loc.buf
    if buf is None or buf.sched is not sched:
        buf = tracer.buffer(threading.get_ident()) or Buffer(sched, -1)
        loc.buf = buf
    if len(buf.recs) >= FLUSH_BYTES and not tracer.flush(buf):
        buf = loc.buf = Buffer(sched, -1)  # stopped meanwhile
    if mp is not None and buf.id >= 0:
        _mbufs[mp] = buf
    return buf


def _runof(pp: P, runs: dict[schedt, Any]) -> schedt | None:
    """Of `runs`, the one whose Ps include `pp` (for the hooks without a G or M)."""
    for sched in list(runs):
        if pp in sched.allp:
            return sched
    return None


def _pbuf(pp: P) -> Buffer:
    """_buf for the run that owns P `pp`."""
    sched = _runof(pp, _tracers)
    return Buffer(None, -1) if sched is None else _buf(sched)


def _pchecker(pp: P) -> Checker | None:
    """The checker of the run that owns P `pp`, if that run is checked."""
    sched = _runof(pp, _checkers)
    return None if sched is None else _checkers.get(sched)


def gccallback(phase: str, info: dict[str, int]) -> None:
    """gc.callbacks: a collection's pause, for the run this thread records for.

    A collection stops every thread, so it shows in every run's timeline; it is
    recorded once, by the run whose thread triggered it (untraced threads'
    collections are not seen). It may begin inside a hook, or inside a flush:
    so it never flushes (the next hook does).
    """
    loc = _local
    if phase == "start":
        loc.gcstart = nanotime()
    elif loc.gcstart and (buf := loc.buf) is not None and buf.sched in _tracers:
        start, loc.gcstart = loc.gcstart, 0
        buf.recs += _pack(EvGC, start, nanotime() - start, info["generation"], 0)


def GoCreate(newg: G, fn: Callable[..., Any]) -> None:
    """traceGoCreate: newg was created, to run fn, by the running goroutine (or by run())."""
    buf = _buf(newg.sched)
    buf.recs += _pack(EvGoCreate, nanotime(), newg.goid, newg.parentgoid, buf.intern(newg, fn))
    if _checkers and (chk := _checkers.get(newg.sched)):
        chk.GoCreate(newg)


def GoStart(pp: P, gp: G) -> None:
    """traceGoStart: pp starts running gp."""
    mp = gp.m
    try:  # _mbuf, inlined in the hottest hooks
        buf = _mbufs[mp]
    except KeyError:
        buf = _refill(mp, gp.sched)
    if len(buf.recs) >= FLUSH_BYTES:
        buf = _refill(mp, gp.sched)
    buf.recs += _pack(EvGoStart, nanotime(), gp.goid, pp.id, -1 if mp is None else mp.id)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoStart(pp, gp)


def GoPark(pp: P | None, gp: G) -> None:
    """traceGoPark: gp blocks with its wait reason."""
    try:  # _mbuf, inlined in the hottest hooks
        buf = _mbufs[gp.m]
    except KeyError:
        buf = _refill(gp.m, gp.sched)
    if len(buf.recs) >= FLUSH_BYTES:
        buf = _refill(gp.m, gp.sched)
    buf.recs += _pack(EvGoPark, nanotime(), gp.goid, _reason_index[gp.waitreason._value_], 0)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoPark(pp, gp)


def GoUnblock(gp: G, mp: M | None) -> None:
    """traceGoUnpark: gp is runnable again, made so by mp's goroutine (or the runtime)."""
    try:  # _mbuf, inlined in the hottest hooks
        buf = _mbufs[mp]
    except KeyError:
        buf = _refill(mp, gp.sched)
    if len(buf.recs) >= FLUSH_BYTES:
        buf = _refill(mp, gp.sched)
    buf.recs += _pack(EvGoUnblock, nanotime(), gp.goid, -1 if mp is None else mp.id, 0)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoUnblock(gp, mp)


def GoSched(pp: P | None, gp: G, preempted: bool) -> None:
    """traceGoSched/traceGoPreempt: gp went to the global run queue."""
    try:  # _mbuf, inlined in the hottest hooks
        buf = _mbufs[gp.m]
    except KeyError:
        buf = _refill(gp.m, gp.sched)
    if len(buf.recs) >= FLUSH_BYTES:
        buf = _refill(gp.m, gp.sched)
    buf.recs += _pack(EvGoSched, nanotime(), gp.goid, preempted, 0)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoSched(pp, gp, preempted)


def GoEnd(pp: P | None, gp: G) -> None:
    """traceGoEnd: gp finished."""
    _buf(gp.sched).recs += _pack(EvGoEnd, nanotime(), gp.goid, 0, 0)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoEnd(pp, gp)


def GoSysCall(pp: P | None, gp: G) -> None:
    """traceGoSysCall: gp enters a blocking call."""
    _mbuf(gp.m, gp.sched).recs += _pack(EvGoSysCall, nanotime(), gp.goid, 0, 0)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoSysCall(pp, gp)


def GoSysExit(mp: M, gp: G) -> None:
    """traceGoSysExit: gp's blocking call returned on mp."""
    _mbuf(mp, gp.sched).recs += _pack(EvGoSysExit, nanotime(), gp.goid, mp.id, 0)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoSysExit(mp, gp)


def Steal(pp: P, p2: P, n: int) -> None:
    """pp stole n goroutines from p2's run queue."""
    _pbuf(pp).recs += _pack(EvSteal, nanotime(), pp.id, p2.id, n)
    if _checkers and (chk := _pchecker(pp)):
        chk.Steal(pp, p2, n)


def ProcSteal(pp: P) -> None:
    """traceProcSteal: sysmon took pp from its M (a syscall or a hog) to hand it off."""
    _pbuf(pp).recs += _pack(EvProcSteal, nanotime(), pp.id, 0, 0)
    if _checkers and (chk := _pchecker(pp)):
        chk.ProcSteal(pp)


def ProcStart(mp: M, pp: P) -> None:
    """traceProcStart: mp acquired pp."""
    _buf(mp.sched).recs += _pack(EvProcStart, nanotime(), pp.id, mp.id, 0)
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.ProcStart(mp, pp)


def ProcStop(mp: M, pp: P) -> None:
    """traceProcStop: mp is about to release pp."""
    _buf(mp.sched).recs += _pack(EvProcStop, nanotime(), pp.id, mp.id, 0)
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.ProcStop(mp, pp)


def MStart(mp: M) -> None:
    """mp's thread starts (recorded by newm's caller), or wakes from stopm."""
    _buf(mp.sched).recs += _pack(EvMStart, nanotime(), mp.id, 0, 0)
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.MStart(mp)


def MStop(mp: M) -> None:
    """mp parks in stopm."""
    _buf(mp.sched).recs += _pack(EvMStop, nanotime(), mp.id, 0, 0)
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.MStop(mp)
