"""Reading a trace file, in either format, into its raw events.

A trace is one of:

  * the compact stream runtime/trace.py writes to a path not ending in `.json`
    (its docstring has the layout): frames of per-thread batches of records,
    byte-shuffled and deflated. `parse_compact` inflates each batch, puts its
    records' bytes back in place, adds up their time deltas, names each
    record's kind, resolves its indexes (a GoCreate's function and where it
    was created, a GoPark's wait reason) and fills in what the record left to
    its thread (the P and M of a GoStart: the thread's latest ProcStart's; the
    goroutine of a GoPark, and of most GoStarts, GoUnblocks and GoScheds: one
    the thread ran or readied), then merges the threads' records by time, as
    Go's internal/trace does with its per-M batches;
  * the Perfetto JSON that a `.json` path gets (convert.write_json), which
    carries the same raw events in its "goroutines" section.

Both give the same `RawTrace`, the input of model.Model:

    {"version": trace.VERSION, "nprocs": Ps, "duration": ns,
     "events": [[kind name, ns since the trace started, arguments...], ...]}

Anything else is a ValueError with a one-line message naming the file.
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from operator import itemgetter
from typing import Any

from ..runtime.trace import (
    CODES,
    EVENTS,
    FORMAT,
    FRAME_BATCH,
    FRAME_END,
    FRAME_HEADER,
    FRAME_STRINGS,
    IMPLIED,
    LONGTICKS,
    MAGIC,
    NARGS,
    PARK0,
    REASONS,
    STORED,
    TICKSHIFT,
    VERSION,
    EvGC,
    EvGoCreate,
    EvGoPark,
    EvGoSched,
    EvGoStart,
    EvGoSysExit,
    EvGoUnblock,
    EvProcStart,
    EvProcStop,
)

RawTrace = dict[str, Any]
_KINDS = {name: kind for kind, name in enumerate(EVENTS)}
# A raw GoCreate has the function and where it was created for its string index.
RAW_NARGS = tuple(n + (k == EvGoCreate) for k, n in enumerate(NARGS))


def load(path: str) -> RawTrace:
    """The raw events of a trace file; OSError if it cannot be read, ValueError if garbled."""
    with open(path, "rb") as f:
        data = f.read()
    return parse(data, path)


def parse(data: bytes, name: str) -> RawTrace:
    """The raw events of a trace file's contents, either format; `name` for errors."""
    if data.startswith(MAGIC):
        return parse_compact(data, name)
    return parse_json(data, name)


def garbled(name: str, why: str) -> ValueError:
    """The error for a file that is not a trace this version reads."""
    return ValueError(f"{name}: not a goroutines trace ({why})")


def parse_json(data: bytes, name: str) -> RawTrace:
    """The raw events of a JSON trace: its "goroutines" section, checked."""
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise garbled(name, f"neither the compact format nor JSON: {e}") from None
    raw = obj.get("goroutines") if isinstance(obj, dict) else None
    if not isinstance(raw, dict) or raw.get("version") != VERSION:
        raise garbled(
            name,
            f"no 'goroutines' section of version {VERSION}; write one with run(..., trace=PATH)",
        )
    events = raw.get("events")
    if not isinstance(events, list):
        raise garbled(name, "no list of events")
    for ev in events:
        check_event(ev, name)
    if not isinstance(raw.get("nprocs"), int) or not isinstance(raw.get("duration"), int):
        raise garbled(name, "no nprocs or duration")
    return raw


def check_event(ev: Any, name: str) -> None:
    """A ValueError unless ev is a raw event: a known kind, its arguments, an int time."""
    kind = _KINDS.get(ev[0]) if isinstance(ev, list) and ev else None
    if kind is None or len(ev) != 2 + RAW_NARGS[kind] or not isinstance(ev[1], int):
        raise garbled(name, f"bad event {json.dumps(ev)[:80]}")


def parse_compact(data: bytes, name: str) -> RawTrace:
    """The raw events of a compact stream, merged by time."""
    if data[len(MAGIC) : len(MAGIC) + 1] != bytes([FORMAT]):
        raise garbled(name, f"compact format of another version than {FORMAT}")
    reader = _Reader(name)
    pos = len(MAGIC) + 1
    try:
        while pos < len(data):
            kind = data[pos : pos + 1]
            n, pos = read_uvarint(data, pos + 1)
            if pos + n > len(data):
                raise ValueError("truncated")
            reader.frame(kind, data[pos : pos + n])
            pos += n
    except (ValueError, IndexError, KeyError, TypeError, zlib.error) as e:
        raise garbled(name, f"bad frame at byte {pos}: {e}") from None
    return reader.result()


def read_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    """The uvarint at data[pos:] and the position after it (Go's binary.Uvarint)."""
    n = shift = 0
    while True:
        b = data[pos]  # an IndexError past the end: truncated
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, pos
        shift += 7


_CODES = {1 << k: code for k, code in enumerate(CODES)}


def batch(payload: bytes) -> tuple[int, int, bytes, bytes, list[int]]:
    """A batch frame's buffer id, base tick and lists: kinds, ticks and args."""
    bid, pos = read_uvarint(payload, 0)
    base, pos = read_uvarint(payload, pos)
    n, pos = read_uvarint(payload, pos)
    if pos + n > len(payload):
        raise ValueError("truncated")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, flushed in full
    kinds, args = columns(inflater.decompress(payload[pos : pos + n]))
    ticks = payload[pos + n :]
    if len(ticks) != len(kinds):
        raise ValueError("its ticks do not match its records")
    return bid, base, kinds, ticks, args


def columns(data: bytes) -> tuple[bytes, list[int]]:
    """A batch's kinds and arguments, from what trace.columns made of them."""
    n, pos = read_uvarint(data, 0)
    kinds = data[pos : pos + n]
    pos += n
    width = data[pos]  # an IndexError past the end: truncated
    if width not in _CODES:
        raise ValueError(f"bad width {width}")
    n, pos = read_uvarint(data, pos + 1)
    if pos + width * n != len(data):
        raise ValueError("its lists' sizes do not add up")
    values = bytearray(n * width)
    for i in range(width):  # byte i of every value
        values[i::width] = data[pos : pos + n]
        pos += n
    packed = array(_CODES[width], values)
    if sys.byteorder == "big":
        packed.byteswap()
    return kinds, packed.tolist()


class _Reader:
    """The state of reading one compact stream: header, strings per buffer, events."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.start: int | None = None
        self.end: int | None = None
        self.gomaxprocs = 1
        self.strings: dict[int, list[list[str]]] = {}  # buffer id -> its (fn, where) pairs
        # buffer id -> P and M of its thread's latest ProcStart, the goroutine it
        # runs (its latest GoStart's), the one it ran before, the one it readied
        # last (trace.IMPLIED)
        self.threads: dict[int, tuple[int, int, int, int, int]] = {}
        self.events: list[list[Any]] = []

    def frame(self, kind: bytes, payload: bytes) -> None:
        """Take in one frame."""
        if kind == FRAME_HEADER:
            info = json.loads(payload)
            self.start, self.gomaxprocs = int(info["start"]), int(info["gomaxprocs"])
        elif self.start is None:
            raise ValueError("no header frame first")
        elif kind == FRAME_STRINGS:
            bid, pos = read_uvarint(payload, 0)
            self.strings.setdefault(bid, []).extend(json.loads(payload[pos:]))
        elif kind == FRAME_BATCH:
            self.batch(*batch(payload))
        elif kind == FRAME_END:
            info = json.loads(payload)
            self.end = int(info["end"])
            self.gomaxprocs = max(self.gomaxprocs, int(info["gomaxprocs"]))
        else:
            raise ValueError(f"unknown frame kind {kind!r}")

    def batch(self, bid: int, base: int, kinds: bytes, ticks: bytes, args: list[int]) -> None:
        """Cut one batch of buffer `bid` into raw events."""
        assert self.start is not None
        strings = self.strings.get(bid, [])
        p, m, g, prevg, readied = self.threads.get(bid, (-1, -1, -1, -1, -1))
        tick = base
        start = self.start
        out = self.events
        i = 0
        for kind, dt in zip(kinds, ticks, strict=True):
            if dt == LONGTICKS:
                dt = args[i]  # an IndexError past the end: fewer arguments than needed
                i += 1
            tick += dt
            ts = (tick << TICKSHIFT) - start
            if kind >= PARK0:  # a GoPark of the thread's goroutine, its reason in the kind
                if kind - PARK0 >= len(REASONS):
                    raise ValueError(f"unknown wait reason {kind - PARK0}")
                out.append(["GoPark", ts, g, REASONS[kind - PARK0].value])
                continue
            ev: list[Any]
            if kind == EvGoStart + IMPLIED:
                kind, ev = EvGoStart, ["GoStart", ts, readied]
            elif kind == EvGoUnblock + IMPLIED:
                kind, ev = EvGoUnblock, ["GoUnblock", ts, prevg << 1]
            elif kind == EvGoSched + IMPLIED:
                kind, ev = EvGoSched, ["GoSched", ts, g << 1]
            elif kind >= len(EVENTS) or kind == EvGoPark:
                raise ValueError(f"unknown event kind {kind}")
            else:
                n = STORED[kind]
                if i + n > len(args):
                    raise ValueError("fewer arguments than its records need")
                ev = [EVENTS[kind], ts, *args[i : i + n]]
                i += n
            a = ev[2]
            if kind == EvGoStart:
                ev += (p, m)
                prevg, g = g, a
            elif kind == EvGoUnblock:
                ev[2:] = a >> 1, -1 if a & 1 else m
                readied = a >> 1
            elif kind == EvGoSched:
                ev[2:] = a >> 1, bool(a & 1)
            elif kind == EvGoSysExit:
                ev.append(m)
            elif kind == EvProcStart:
                p, m = ev[2:]
            elif kind == EvProcStop:
                p, m = -1, ev[3]
            elif kind == EvGC:
                ev[1] -= a  # recorded when the pause ended
            elif kind == EvGoCreate:
                ev[4:] = strings[ev[4]]
            out.append(ev)
        if i != len(args):
            raise ValueError("more arguments than its records have")
        self.threads[bid] = p, m, g, prevg, readied

    def result(self) -> RawTrace:
        """The raw trace read: events by time, how many Ps, how long."""
        if self.start is None:
            raise garbled(self.name, "no header frame")
        events = self.events
        events.sort(key=itemgetter(1))  # stable: one thread's events keep their order
        last = events[-1][1] if events else 0
        duration = last if self.end is None else max(last, self.end - self.start)
        started = [e[2] + 1 for e in events if e[0] == "ProcStart"]
        return {
            "version": VERSION,
            "nprocs": max([self.gomaxprocs, *started]),
            "duration": duration,
            "events": events,
        }
