"""Perfetto / chrome://tracing JSON from a trace (`goroutines trace convert`).

A JSON trace is one object:

    {"displayTimeUnit": "ns",
     "traceEvents": [...],      Chrome trace events, for Perfetto / chrome://tracing
     "goroutines": {...}}       the raw events (read.RawTrace), for the other tools

The Chrome events are drawn from the model:

  * process "Ps": one track per P, a complete event ("X") for each stretch of
    time a goroutine ran on it, named "G7 worker", with its syscall (while
    the P waited for it) nested inside; instant events for steals and for
    sysmon retaking the P (a handoff); a "GC" track with the collector's pauses;
  * process "Ms": one track per M (thread): which P it held, its syscalls,
    when it ran a goroutine whose P was retaken, when it was idle;
  * flow events ("s"/"f") from a goroutine that created or unblocked another
    to where that one next started running, and from the M a P was taken
    from to the M it was handed to;
  * a counter ("C"): how many goroutines are running, runnable, blocked and
    in a syscall.

The raw events are written after traceEvents on purpose: Perfetto's JSON reader
stops at the first top-level key it does not know.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from .model import LIVE, Model, thin
from .read import RawTrace, parse

_PID_P, _PID_M = 1, 2
# Perfetto keys threads by tid alone (a tid seen under another pid is a new
# thread) and tid 0 is its idle "swapper": P, M and GC tracks get distinct tids > 0.
_TID_P, _TID_M, _TID_GC = 1, 100_001, 200_001  # + the P's or M's id
# No \\uXXXX escapes: Perfetto's JSON reader does not decode them.
_enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_COUNTER_SAMPLES = 50_000  # at most about this many samples per counter track
_BATCH = 10_000  # events formatted and written at a time


def write_json(f: IO[str], data: bytes, name: str) -> None:
    """Convert a trace file's contents (either format) to a JSON trace in f."""
    write(f, parse(data, name))


def write(f: IO[str], raw: RawTrace) -> None:
    """Write a JSON trace: Chrome events first, then the raw events."""
    f.write('{"displayTimeUnit":"ns","traceEvents":[\n')
    _write_list(f, chrome_json(Model(raw)))
    f.write('\n],\n"goroutines":{')
    f.write(f'"version":{raw["version"]},"nprocs":{raw["nprocs"]},"duration":{raw["duration"]},')
    f.write('"events":[\n')
    events = raw["events"]
    for i in range(0, len(events), _BATCH):  # one encoder call per batch: in C
        f.write(("," if i else "") + _enc(events[i : i + _BATCH])[1:-1])
    f.write("\n]}}\n")


def _write_list(f: IO[str], texts: Iterable[str]) -> None:
    """JSON texts as the items of a list, written a batch at a time."""
    sep = ""
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == _BATCH:
            f.write(sep + ",\n".join(batch))
            sep, batch = ",\n", []
    if batch:
        f.write(sep + ",\n".join(batch))


def _us(ns: int) -> str:
    """A time in Chrome's unit, microseconds, exact to the nanosecond, as JSON text."""
    return f"{ns // 1000}.{ns % 1000:03d}" if ns >= 0 else f"{ns / 1000:.3f}"


def _meta(kind: str, pid: int, tid: int | None, args: dict[str, Any]) -> str:
    """A metadata event: a process's or a track's name or order."""
    ev = {"ph": "M", "name": kind, "pid": pid, "args": args}
    return _enc(ev if tid is None else {**ev, "tid": tid})


def _x(ts: int, end: int, pid: int, tid: int, name: str, cat: str, args: str = "") -> str:
    """A complete event (a slice on a track); `name` already JSON, `args` JSON members."""
    return (
        f'{{"ph":"X","ts":{_us(ts)},"dur":{_us(end - ts)},"pid":{pid},"tid":{tid},'
        f'"name":{name},"cat":"{cat}","args":{{{args}}}}}'
    )


def chrome_json(model: Model) -> Iterator[str]:
    """The model as Chrome trace events, each as JSON text: tracks, slices, flows, counters.

    Formatted directly rather than through dicts: a trace has millions of them.
    """
    yield from _metadata(model)
    gname = {g.goid: _enc(g.name) for g in model.gs.values()}
    why = {w: _enc(w) for w in {s.why for s in model.slices}}
    for s in model.slices:
        args = f'"goid":{s.goid},"end":{why[s.why]}'
        yield _x(s.start, s.end, _PID_P, _TID_P + s.p, gname[s.goid], "goroutine", args)
    for sc in model.syscalls:
        if sc.p >= 0:  # nested in its goroutine's slice on the P
            args = f'"goid":{sc.goid},"m":{sc.m}'
            yield _x(sc.start, sc.pend, _PID_P, _TID_P + sc.p, '"syscall"', "syscall", args)
    for m, start, end, label in model.mslices:
        yield _x(start, end, _PID_M, _TID_M + m, _enc(label), "thread")
    for start, end, gen in model.gcs:
        yield _x(start, end, _PID_P, _TID_GC, '"GC pause"', "gc", f'"generation":{gen}')
    yield from _instants(model)
    yield from _flows(model)
    yield from _counters(model)


def _metadata(model: Model) -> Iterator[str]:
    """Names and order of the processes (Ps, Ms) and their tracks."""
    for pid, pname in ((_PID_P, "Ps (processors)"), (_PID_M, "Ms (threads)")):
        yield _meta("process_name", pid, None, {"name": pname})
        yield _meta("process_sort_index", pid, None, {"sort_index": pid})
    yield _meta("thread_name", _PID_P, _TID_GC, {"name": "GC"})
    yield _meta("thread_sort_index", _PID_P, _TID_GC, {"sort_index": -1})
    tracks = ((_PID_P, _TID_P, "P", range(model.nprocs)), (_PID_M, _TID_M, "M", sorted(model.ms)))
    for pid, tid, prefix, ids in tracks:
        for i in ids:
            yield _meta("thread_name", pid, tid + i, {"name": f"{prefix}{i}"})
            yield _meta("thread_sort_index", pid, tid + i, {"sort_index": i})


def _instants(model: Model) -> Iterator[str]:
    """Steals and handoffs (sysmon retaking a P) as instant events on the P tracks."""

    def instant(ts: int, p: int, name: str, args: str) -> str:
        return (
            f'{{"ph":"i","ts":{_us(ts)},"pid":{_PID_P},"tid":{_TID_P + p},"s":"t",'
            f'"name":"{name}","args":{{{args}}}}}'
        )

    for ts, p, victim, n in model.steals:
        yield instant(ts, p, f"steal {n} from P{victim}", f'"victim":{victim},"goroutines":{n}')
    for h in model.handoffs:
        args = f'"from_m":{h.from_m},"to_m":{h.to_m},"goroutine_was":"{h.what}"'
        yield instant(h.ts, h.p, "P handoff", args)


def _flows(model: Model) -> Iterator[str]:
    """Arrows: go and unblock between P tracks, handoffs between M tracks."""
    arrows = [(f.kind, _TID_P + f.src_p, f.src_ts, _TID_P + f.dst_p, f.dst_ts) for f in model.flows]
    arrows += [
        ("handoff", _TID_M + h.from_m, h.ts, _TID_M + h.to_m, h.to_ts)
        for h in model.handoffs
        if h.from_m >= 0 and h.to_m >= 0
    ]
    for i, (kind, src_tid, src_ts, dst_tid, dst_ts) in enumerate(arrows, 1):
        pid = _PID_P if src_tid < _TID_M else _PID_M
        common = f'"cat":"{kind}","name":"{kind}","id":{i},"pid":{pid}'
        yield f'{{"ph":"s","ts":{_us(src_ts)},"tid":{src_tid},{common}}}'
        # "e": bind to the enclosing slice, 1 ns into the one that starts there.
        yield f'{{"ph":"f","bp":"e","ts":{_us(dst_ts + 1)},"tid":{dst_tid},{common}}}'


def _counters(model: Model) -> Iterator[str]:
    """How many goroutines are in each state, as a counter track.

    Sampled whenever a goroutine changes state, then thinned to one sample per
    window of at least a microsecond.
    """
    ns = max(1000, model.duration // _COUNTER_SAMPLES)
    for ts, *counts in thin(model.counts, ns):
        args = ",".join(f'"{state}":{n}' for state, n in zip(LIVE, counts, strict=True))
        yield f'{{"ph":"C","ts":{_us(ts)},"pid":{_PID_P},"name":"goroutines","args":{{{args}}}}}'
