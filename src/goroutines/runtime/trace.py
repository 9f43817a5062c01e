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

As in Go, a record does not repeat what the reader can work out from the
thread that recorded it: the goroutine a GoStart starts runs on the P and M
of that thread's latest ProcStart, the goroutine that readies another is the
one running on the readying M, and the goroutine that parks is the thread's
(its latest GoStart's). Nor, mostly, which goroutine a GoStart or GoUnblock
is about: two goroutines that hand work to each other (a channel's sender
and receiver) are the one the thread readied last and the one it ran before
(IMPLIED), so that in a busy program a record stores no int but its time.

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
it runs on (the running goroutine's, or goready's) finds the buffer on that M
(`mp.tracebuf`, as Go's mp.trace); the others (and threads that are not Ms)
through a thread-local, which costs more. A record is a word appended to the
buffer's `words`, its kind byte << 8 | the ticks (TICK ns; Go's trace counts
in 64 ns) since the buffer's previous record (times are deltas, as in Go's
trace, so that they take a byte), and its arguments appended to `args`:
STORED[kind] ints, with a flag in the goroutine id's low bit for some; none
for a GoPark (its wait reason is in its kind byte, PARK0) and for an IMPLIED
GoStart, GoUnblock or GoSched. The word is an int made once (the wordtable),
so most records allocate nothing. Go encodes each record with varints as it
goes; in Python a loop per value would cost more than the rest of the hook,
so the squeezing is left to C, once a buffer is full (FLUSH_RECORDS), by the
thread that filled it: one struct call packs the words and two slices cut
them into kinds and ticks; the arguments are packed by one struct call in the fewest
bytes that hold them all and byte-shuffled (as HDF5's and Blosc's shuffle
filter: byte k of every value together, by extended slicing). The ticks,
nearly random, are written as they are; the rest is deflated (zlib, which
releases the GIL): it is the kinds' repeating pattern and the runs of zeros
of small numbers' high bytes, which deflate removes quickly. About a byte
per event. Memory stays bounded and the cost of writing is spread over the
run. (A writer thread, as Go's trace reader, measured slower when it did all
this: under the GIL it waits up to a switch interval for every step, and
falls behind; and no faster when it only deflated.) The few values that are
not ints (a new goroutine's function and where it was created) are interned
per buffer, and the GoCreate record holds the index.

The file (any PATH not ending in `.json`; Go's habit is `trace.out`) is that
compact stream, read by the tools in goroutines.tracetools:

    MAGIC                      b"goroutines trace\\x00" and the FORMAT byte
    frames, each               a kind byte, its payload's length (uvarint), the payload:
      FRAME_HEADER  b"H"       JSON {"start": nanotime at start, "gomaxprocs": N}
      FRAME_STRINGS b"S"       uvarint buffer id, JSON list of [function, created-at]
                               pairs, which that buffer's GoCreate records number on
                               from the ones its earlier S frames listed
      FRAME_BATCH   b"B"       uvarint buffer id, uvarint tick the batch's first ticks
                               count from (nanotime >> TICKSHIFT), uvarint length of
                               the raw deflate data (RFC 1951, ending in a full flush)
                               that follows, of the `columns` of that buffer's next
                               records, their kinds and arguments; then their ticks,
                               a byte each
      FRAME_END     b"E"       JSON {"end": nanotime at stop, "gomaxprocs": N}

A GC record is written when the pause ends; its arguments say how long the
pause was. Merging the buffers by time is the reader's job, as in Go. A PATH
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

from .osapi import nanotime
from .runtime2 import G, M, P, WaitReason, funcline, schedt

if TYPE_CHECKING:
    from .schedcheck import Checker


# Event kinds: the position is the code in a record's low byte. Each event's
# arguments as the reader gives them; [what a record stores instead].
EVENTS = (
    "GoCreate",  # goid, parentgoid, string index of (function, created-at)
    "GoStart",  # goid, p, m [goid or none (IMPLIED): p and m of the thread's latest ProcStart]
    "GoPark",  # goid, wait reason [none: see PARK0; goid: the thread's running goroutine]
    "GoUnblock",  # goid, m whose goroutine readied it, -1: none [goid << 1 | no m, or none]
    "GoSched",  # goid, preempted [goid << 1 | preempted, or none (IMPLIED)]
    "GoEnd",  # goid
    "GoSysCall",  # goid
    "GoSysExit",  # goid, m [goid: m of the thread's latest ProcStart]
    "Steal",  # p, victim p, how many
    "ProcSteal",  # p
    "ProcStart",  # p, m
    "ProcStop",  # p, m
    "MStart",  # m
    "MStop",  # m
    "GC",  # duration, generation (recorded when the pause ends; read as when it began)
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
STORED = (3, 1, 0, 1, 1, 1, 1, 1, 3, 1, 2, 2, 1, 1, 2)  # ints a record of each kind stores
REASONS = tuple(WaitReason)
# A record of a GoStart, GoUnblock or GoSched whose low byte is its kind plus
# IMPLIED stores no int: its goroutine is the one its thread implies, for a
# GoStart the goroutine the thread readied last, for a GoUnblock (by the
# thread's M) the one the thread ran before its current one, for a GoSched (a
# yield, not a preemption) the thread's. A GoStart and a GoUnblock are so each
# one of a pair of goroutines handing work to each other, the commonest case.
IMPLIED: Final = 16
# A GoPark record's low byte is PARK0 plus its wait reason's index in REASONS
# (not EvGoPark), and stores no int either: its goroutine is the thread's.
PARK0: Final = 32
_parkbyte: Final = {r: PARK0 + i for i, r in enumerate(REASONS)}  # WaitReason hashes by identity

MAGIC: Final = b"goroutines trace\x00"
VERSION = 2  # of the event vocabulary above, in the JSON's "goroutines" section
FORMAT: Final = 5  # of the compact stream's encoding, its byte after MAGIC
FRAME_HEADER: Final = b"H"
FRAME_STRINGS: Final = b"S"
FRAME_BATCH: Final = b"B"
FRAME_END: Final = b"E"
# struct's (and array's) codes of the widths a batch's list may be packed in:
# CODES[k] packs signed values of 1 << k bytes.
CODES: Final = "bhiq"
# Times are recorded in ticks of TICK nanoseconds (Go's traceTimeDiv, 64 there):
# the records' time deltas then take fewer bytes, and those bytes deflate faster.
TICKSHIFT: Final = 4
TICK: Final = 1 << TICKSHIFT
# A record's ticks since the previous one are a byte; LONGTICKS in that byte
# means they are its first argument instead.
LONGTICKS: Final = 255
# Kind bytes are below KINDS (the GoPark ones included), so that a record's
# word, kind << 8 | ticks, is below KINDS << 8: the size of the wordtable.
KINDS: Final = 64
# A buffer is flushed when it holds this many records (~50 us to pack and deflate).
FLUSH_RECORDS: Final = 1 << 12
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

    __slots__ = (
        "args",
        "base",
        "deflater",
        "g",
        "id",
        "last",
        "pending",
        "prevg",
        "readied",
        "sched",
        "strings",
        "words",
        "wordtable",
    )

    def __init__(self, sched: schedt | None, id: int) -> None:
        self.sched = sched
        self.id = id  # -1: a buffer that is thrown away (its run is not traced)
        # A record: a word, its kind << 8 | the ticks since the previous record
        # (up to LONGTICKS), and its arguments, STORED[kind] ints.
        self.words: list[object] = []
        self.args: list[int] = []
        self.wordtable = wordtable()
        # When the batch began and the previous record, in ticks (TICK ns).
        self.base = self.last = nanotime() >> TICKSHIFT
        # What the reader works out from the records so far (see IMPLIED): the
        # goroutine the thread runs (its latest GoStart's; a goroutine back from a
        # syscall is back on the thread that started it), the one it ran before,
        # and the one it readied last; -1: none.
        self.g = self.prevg = self.readied = -1
        self.strings: dict[Any, int] = {}  # (code or name, createdat, pc) -> index
        self.pending: list[tuple[str, str]] = []  # strings not yet written
        self.deflater: Any = None  # zlib's, made at the thread's first flush and kept

    def stamp(self, t: int, kind: int) -> None:
        """Record an event of kind byte `kind` at nanotime t (with no arguments yet).

        t may come from the hook's caller, read before a flush or a GC pause
        that this buffer recorded since: then the record takes the later time,
        so that a thread's records stay in order. The word is taken from the
        wordtable, so that a record allocates nothing; LONGTICKS and more go to
        args.
        """
        ticks = (t >> TICKSHIFT) - self.last
        if ticks <= 0:
            ticks = 0
        else:
            self.last += ticks
            if ticks >= LONGTICKS:
                self.args.append(ticks)
                ticks = LONGTICKS
        self.words.append(self.wordtable[kind << 8 | ticks])

    def put(self, t: int, kind: int, a: int) -> None:
        """Record an event of `kind` at nanotime t, with its one argument."""
        self.stamp(t, kind)
        self.args.append(a)

    def putn(self, kind: int, args: tuple[int, ...]) -> None:
        """Record an event of `kind` now, with its arguments (the rarer kinds)."""
        self.stamp(nanotime(), kind)
        self.args.extend(args)

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

        The words are cut into kinds and ticks; the kinds and the arguments
        are deflated and flushed in full, so that every frame inflates on its
        own; the ticks, nearly random, follow as they are.
        """
        words, args, base, strings = self.words, self.args, self.base, self.pending
        now = nanotime() >> TICKSHIFT
        # One statement with nothing to allocate once it assigns, so that a GC
        # pause recorded meanwhile lands whole in one batch or the other.
        self.words, self.args, self.pending, self.base, self.last = [], [], [], now, now
        bid = uvarint(self.id)
        out = []
        if strings:
            out.append(frame(FRAME_STRINGS, bid + json.dumps(strings).encode()))
        if words:
            packed = struct.Struct(f"<{len(words)}H").pack(*words)  # little-endian: ticks first
            kinds, ticks = packed[1::2], packed[0::2]
            data = deflater.compress(columns(kinds, args)) + deflater.flush(zlib.Z_FULL_FLUSH)
            out.append(frame(FRAME_BATCH, bid + uvarint(base) + uvarint(len(data)) + data + ticks))
        return b"".join(out)


def columns(kinds: bytes, args: list[int]) -> bytes:
    """A batch's kinds and arguments, the arguments in the fewest bytes that hold them.

    A uvarint count of records, their kind bytes; the arguments' width (1, 2,
    4 or 8) and a uvarint count; their bytes, byte-shuffled: byte 0 of every
    value, byte 1 of every value, and so on (little-endian, two's complement).
    Most values fit one or two bytes, and a plane of high bytes is a run that
    deflate squeezes.
    """
    width, packed = narrowest(args)
    head = uvarint(len(kinds)) + kinds + bytes([width]) + uvarint(len(args))
    return head + b"".join([packed[i::width] for i in range(width)])


def narrowest(values: list[int]) -> tuple[int, bytes]:
    """The values packed in the narrowest width that holds them all, and that width.

    Tried from 1 byte up, as struct checks each value's range as it packs
    (min() and max() would cost more: a generic comparison per value).
    """
    k = 0
    t = tuple(values)
    while True:
        try:
            return 1 << k, struct.Struct(f"<{len(t)}{CODES[k]}").pack(*t)
        except struct.error:
            if k == 3:
                raise
            k += 1


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
        self.stream.write(MAGIC + bytes([FORMAT]) + frame(FRAME_HEADER, _jsonb(header)))

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


# This thread's `buf` (its Buffer; buf.sched is the run it records for) and
# `gcstart` (nanotime when its collection began). Plain, read through __dict__, as tls._tls.
_local: Final = threading.local()
_tracers: Final[dict[schedt, Tracer]] = {}
_checkers: Final[dict[schedt, Checker]] = {}
_lock: Final = threading.Lock()  # guards _tracers, _checkers, sched.tracing and gc.callbacks
_wordtables: Final[list[tuple[object, ...]]] = []  # wordtable()'s, once a trace needs it


def wordtable() -> tuple[object, ...]:
    """The ints of every record word, made once: a record appends one instead of
    making an int (and its flush freeing it). Made when a trace first needs it,
    as it takes ~0.6 MB; two threads that race may both make one, either serves."""
    if not _wordtables:
        _wordtables.append(tuple(range(KINDS << 8)))
    return _wordtables[0]


def start(sched: schedt, path: str) -> Tracer:
    """Trace `sched` into `path` (opened now, so that a bad path fails before the run).

    Called before the run starts an M: every M's first record follows.
    """
    tracer = Tracer(sched, path)
    with _lock:
        if not _tracers:
            gc.callbacks.append(gccallback)
        _tracers[sched] = tracer
        sched.tracing = True
    return tracer


def stop(tracer: Tracer) -> None:
    """Stop recording for the tracer's run and finish its file."""
    sched = tracer.sched
    with _lock:
        _tracers.pop(sched, None)
        sched.tracing = sched in _checkers
        if not _tracers:
            gc.callbacks.remove(gccallback)
        for mp in list(sched.allm):
            mp.tracebuf = None
    own: Buffer | None = _local.__dict__.get("buf")
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
    if mp is None:
        return _buf(sched)
    buf = mp.tracebuf
    if buf is None or len(buf.words) >= FLUSH_RECORDS:
        return _refill(mp, sched)
    return buf


def _buf(sched: schedt) -> Buffer:
    """_mbuf for the hooks that do not know which M the calling thread is."""
    buf: Buffer | None = _local.__dict__.get("buf")
    if buf is None or buf.sched is not sched or len(buf.words) >= FLUSH_RECORDS:
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
    buf: Buffer | None = loc.__dict__.get("buf")
    if buf is None or buf.sched is not sched:
        buf = tracer.buffer(threading.get_ident()) or Buffer(sched, -1)
        loc.buf = buf
    if len(buf.words) >= FLUSH_RECORDS and not tracer.flush(buf):
        buf = loc.buf = Buffer(sched, -1)  # stopped meanwhile
    if mp is not None and buf.id >= 0:
        mp.tracebuf = buf
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
        return
    start: int = loc.__dict__.get("gcstart", 0)
    buf: Buffer | None = loc.__dict__.get("buf")
    if start and buf is not None and buf.sched in _tracers:
        loc.gcstart = 0
        buf.putn(EvGC, (nanotime() - start, info["generation"]))


def GoCreate(newg: G, fn: Callable[..., Any]) -> None:
    """traceGoCreate: newg was created, to run fn, by the running goroutine (or by run())."""
    buf = _buf(newg.sched)
    buf.putn(EvGoCreate, (newg.goid, newg.parentgoid, buf.intern(newg, fn)))
    if _checkers and (chk := _checkers.get(newg.sched)):
        chk.GoCreate(newg)


def GoStart(pp: P, gp: G) -> None:
    """traceGoStart: pp starts running gp (on the calling thread's M, which holds pp)."""
    buf = _mbuf(gp.m, gp.sched)
    goid = gp.goid
    if goid == buf.readied:
        buf.stamp(nanotime(), EvGoStart + IMPLIED)
    else:
        buf.put(nanotime(), EvGoStart, goid)
    buf.prevg, buf.g = buf.g, goid
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoStart(pp, gp)


def GoPark(pp: P | None, gp: G) -> None:
    """traceGoPark: gp blocks with its wait reason, at gp.waitsince."""
    _mbuf(gp.m, gp.sched).stamp(gp.waitsince, _parkbyte[gp.waitreason])
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoPark(pp, gp)


def GoUnblock(gp: G, mp: M | None) -> None:
    """traceGoUnpark: gp is runnable again, made so by mp's goroutine (or the runtime).

    mp is the calling thread's M, or None.
    """
    buf = _mbuf(mp, gp.sched)
    goid = gp.goid
    if goid == buf.prevg and mp is not None:
        buf.stamp(nanotime(), EvGoUnblock + IMPLIED)
    else:
        buf.put(nanotime(), EvGoUnblock, goid << 1 | (mp is None))
    buf.readied = goid
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoUnblock(gp, mp)


def GoSched(pp: P | None, gp: G, preempted: bool) -> None:
    """traceGoSched/traceGoPreempt: gp went to the global run queue."""
    buf = _mbuf(gp.m, gp.sched)
    if gp.goid == buf.g and not preempted:
        buf.stamp(nanotime(), EvGoSched + IMPLIED)
    else:
        buf.put(nanotime(), EvGoSched, gp.goid << 1 | preempted)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoSched(pp, gp, preempted)


def GoEnd(pp: P | None, gp: G) -> None:
    """traceGoEnd: gp finished."""
    _buf(gp.sched).put(nanotime(), EvGoEnd, gp.goid)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoEnd(pp, gp)


def GoSysCall(pp: P | None, gp: G) -> None:
    """traceGoSysCall: gp enters a blocking call."""
    _mbuf(gp.m, gp.sched).put(nanotime(), EvGoSysCall, gp.goid)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoSysCall(pp, gp)


def GoSysExit(mp: M, gp: G) -> None:
    """traceGoSysExit: gp's blocking call returned on mp, the calling thread's M."""
    _mbuf(mp, gp.sched).put(nanotime(), EvGoSysExit, gp.goid)
    if _checkers and (chk := _checkers.get(gp.sched)):
        chk.GoSysExit(mp, gp)


def Steal(pp: P, p2: P, n: int) -> None:
    """pp stole n goroutines from p2's run queue."""
    _pbuf(pp).putn(EvSteal, (pp.id, p2.id, n))
    if _checkers and (chk := _pchecker(pp)):
        chk.Steal(pp, p2, n)


def ProcSteal(pp: P) -> None:
    """traceProcSteal: sysmon took pp from its M (a syscall or a hog) to hand it off."""
    _pbuf(pp).put(nanotime(), EvProcSteal, pp.id)
    if _checkers and (chk := _pchecker(pp)):
        chk.ProcSteal(pp)


def ProcStart(mp: M, pp: P) -> None:
    """traceProcStart: mp, the calling thread's M, acquired pp."""
    _buf(mp.sched).putn(EvProcStart, (pp.id, mp.id))
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.ProcStart(mp, pp)


def ProcStop(mp: M, pp: P) -> None:
    """traceProcStop: mp, the calling thread's M, is about to release pp."""
    _buf(mp.sched).putn(EvProcStop, (pp.id, mp.id))
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.ProcStop(mp, pp)


def MStart(mp: M) -> None:
    """mp's thread starts (recorded by newm's caller), or wakes from stopm."""
    _buf(mp.sched).put(nanotime(), EvMStart, mp.id)
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.MStart(mp)


def MStop(mp: M) -> None:
    """mp parks in stopm."""
    _buf(mp.sched).put(nanotime(), EvMStop, mp.id)
    if _checkers and (chk := _checkers.get(mp.sched)):
        chk.MStop(mp)
