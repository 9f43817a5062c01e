"""Reading execution traces: the Chrome JSON file, the timeline model, the summary.

trace.py records raw events while a program runs; at the end of run() they are
written here (`write`) as one JSON object:

    {"displayTimeUnit": "ns",
     "traceEvents": [...],      Chrome trace events, for Perfetto / chrome://tracing
     "goroutines": {...}}       the raw events, for `goroutines trace summary|html`

The Chrome events are derived from a `Model` of the run, rebuilt by replaying
the raw events in time order (Go's internal/trace does the same):

  * process "Ps": one track per P; a complete event ("X") for each stretch of
    time a goroutine ran on it, named "G7 worker"; instant events for steals,
    syscalls and sysmon retaking the P;
  * process "Ms": one track per M (thread): which P it held, when it was idle;
  * flow events ("s"/"f") from a goroutine that created or unblocked another
    to where that one next started running;
  * counters ("C"): the global and per-P run queue lengths, sampled whenever a
    goroutine starts, and how many goroutines are running/runnable/blocked.

`summary` prints per-goroutine running/runnable/blocked/syscall time, the
scheduling latency (runnable -> running) percentiles, per-P utilisation,
steals and handoffs; tracehtml.py draws the same model as a web page.

The raw events are written after traceEvents on purpose: Perfetto's JSON reader
stops at the first top-level key it does not know.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .runtime2 import schedt
from .trace import EVENTS, Event, EvGoCreate

FORMAT_VERSION = 1

# ---------------------------------------------------------------------------
# Raw events: from the recorder's tuples to JSON and back


def funcname(fn: Any) -> str:
    """A goroutine function's qualified name."""
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or fn)


def shortname(fn: str) -> str:
    """A function name for display: `outer.<locals>.inner` as `outer.inner` (Go: main.func1)."""
    return fn.replace("<locals>.", "")


def rawtrace(sched: schedt, start: int, events: list[Event]) -> dict[str, Any]:
    """The raw events of a run as JSON-ready lists `[name, ns since start, args...]`."""
    out: list[list[Any]] = []
    for ev in events:
        args = list(ev[2:])
        if ev[1] == EvGoCreate:
            fn, createdat = args[2], args[3]
            where = "" if createdat is None else f"{createdat[0].co_filename}:{createdat[1]}"
            args[2:] = [funcname(fn), where]
        out.append([EVENTS[ev[1]], ev[0] - start, *args])
    end = max((e[1] for e in out), default=0)
    return {
        "version": FORMAT_VERSION,
        "nprocs": max([sched.gomaxprocs] + [e[2] + 1 for e in out if e[0] == "ProcStart"]),
        "duration": end,
        "events": out,
    }


def write(f: IO[str], raw: dict[str, Any]) -> None:
    """Write a trace file: Chrome events first, then the raw events."""
    f.write('{"displayTimeUnit":"ns","traceEvents":[\n')
    f.write(",\n".join(chrome_json(Model(raw))))
    f.write('\n],\n"goroutines":')
    f.write(_enc(raw))
    f.write("}\n")


def load(path: str) -> dict[str, Any]:
    """The raw events of a trace file, or a ValueError saying why it is not one."""
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not a goroutines trace (invalid JSON: {e})") from None
    raw = data.get("goroutines") if isinstance(data, dict) else None
    if not isinstance(raw, dict) or raw.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: not a goroutines trace (no 'goroutines' section of version "
            f"{FORMAT_VERSION}); write one with run(..., trace=PATH)"
        )
    return raw


# ---------------------------------------------------------------------------
# The model: replay the events


@dataclass
class Slice:
    """A stretch of time goroutine `goid` ran on P `p`; `why` it stopped."""

    p: int
    goid: int
    start: int
    end: int
    why: str


@dataclass
class Flow:
    """An arrow from what created/unblocked a goroutine to where it next ran."""

    kind: str  # "go" or "unblock"
    src_ts: int
    src_p: int
    dst_ts: int
    dst_p: int


@dataclass
class Goroutine:
    """What the trace says about one goroutine."""

    goid: int
    fn: str = "?"
    parent: int = 0
    createdat: str = ""
    created: int | None = None
    ended: int | None = None
    state: str = "runnable"  # running, runnable, blocked, syscall, dead
    since: int = 0
    reason: str = ""  # why it is blocked
    p: int = -1  # the P whose open slice it is on
    m: int = -1
    resumable: bool = False  # left a syscall without a P: runs on when its M gets one
    time: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)
    unblockers: Counter[str] = field(default_factory=Counter)
    latencies: list[int] = field(default_factory=list)
    flow: tuple[str, int, int] | None = None  # pending (kind, ts, p) for its next start
    syscalls: int = 0
    slices: int = 0

    @property
    def name(self) -> str:
        """Its label: `G7 worker`."""
        return f"G{self.goid} {shortname(self.fn)}"


class Model:
    """The run rebuilt from raw events: slices per P and M, goroutine states, flows."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.nprocs: int = raw["nprocs"]
        self.duration: int = raw["duration"]
        self.gs: dict[int, Goroutine] = {}
        self.slices: list[Slice] = []
        self.flows: list[Flow] = []
        self.steals: list[tuple[int, int, int, int]] = []  # ts, thief, victim, n
        self.handoffs: list[tuple[int, int]] = []  # ts, p
        self.syscalls: list[tuple[int, int, int]] = []  # ts, p, goid
        self.runq: list[tuple[int, int, int, int]] = []  # ts, p, local, global
        self.counts: list[tuple[int, int, int, int]] = []  # ts, running, runnable, blocked
        self.mslices: list[tuple[int, int, int, str]] = []  # m, start, end, label
        self.ms: set[int] = set()
        self._pslice: dict[int, tuple[int, int]] = {}  # p -> (goid, start)
        self._mslice: dict[int, tuple[int, str]] = {}  # m -> (start, label)
        self._pm: dict[int, int] = {}  # p -> m holding it
        self._mg: dict[int, int] = {}  # m -> goid it runs
        self._nstate = dict.fromkeys(("running", "runnable", "blocked", "syscall", "dead"), 0)
        handlers = {name: getattr(self, "ev" + name) for name in EVENTS}
        for ev in raw["events"]:
            handlers[ev[0]](*ev[1:])
        self.finish(self.duration)

    # Bookkeeping

    def g(self, goid: int, ts: int) -> Goroutine:
        """The goroutine `goid`, made up if the trace never saw it created."""
        g = self.gs.get(goid)
        if g is None:
            g = self.gs[goid] = Goroutine(goid, since=ts)
            self._nstate["runnable"] += 1
        return g

    def setstate(self, g: Goroutine, ts: int, state: str) -> None:
        """Account the time g spent in its state, then enter `state`."""
        d = max(0, ts - g.since)
        g.time[g.state] += d
        if g.state == "blocked":
            g.blocked[g.reason] += d
        n = self._nstate
        n[g.state] -= 1
        n[state] += 1
        g.state, g.since = state, ts
        sample = (ts, n["running"], n["runnable"], n["blocked"] + n["syscall"])
        if self.counts and self.counts[-1][0] == ts:
            self.counts[-1] = sample
        else:
            self.counts.append(sample)

    def openp(self, p: int, g: Goroutine, ts: int) -> None:
        """g starts a slice on p."""
        self._pslice[p] = (g.goid, ts)
        g.p = p
        g.slices += 1

    def closep(self, p: int, ts: int, why: str) -> None:
        """End the slice open on p, if any."""
        open_ = self._pslice.pop(p, None)
        if open_ is None:
            return
        goid, start = open_
        self.slices.append(Slice(p, goid, start, max(ts, start), why))
        g = self.gs[goid]
        if g.p == p:
            g.p = -1

    def openm(self, m: int, ts: int, label: str) -> None:
        """M m enters a state shown on its track (holding a P, idle)."""
        self.closem(m, ts)
        self.ms.add(m)
        self._mslice[m] = (ts, label)

    def closem(self, m: int, ts: int) -> None:
        """End M m's open state."""
        open_ = self._mslice.pop(m, None)
        if open_ is not None:
            self.mslices.append((m, open_[0], max(ts, open_[0]), open_[1]))

    def stopg(self, ts: int, goid: int, state: str, why: str) -> Goroutine:
        """g stops running: its slice ends with `why`, it leaves its M."""
        g = self.g(goid, ts)
        if g.p >= 0:
            self.closep(g.p, ts, why)
        self.setstate(g, ts, state)
        if self._mg.get(g.m) == goid:
            del self._mg[g.m]
        g.m = -1
        g.resumable = False
        return g

    def finish(self, end: int) -> None:
        """Close everything still open at the end of the trace."""
        for p in list(self._pslice):
            self.closep(p, end, "trace end")
        for m in list(self._mslice):
            self.closem(m, end)
        for g in self.gs.values():
            if g.state != "dead":
                self.setstate(g, end, g.state)
        self.slices.sort(key=lambda s: (s.p, s.start))

    # One method per event kind (trace.EVENTS)

    def evGoCreate(self, ts: int, goid: int, parent: int, fn: str, at: str) -> None:
        g = self.g(goid, ts)
        g.fn, g.parent, g.createdat, g.created, g.since = fn, parent, at, ts, ts
        pg = self.gs.get(parent)
        if pg is not None and pg.p >= 0:
            g.flow = ("go", ts, pg.p)

    def evGoStart(self, ts: int, goid: int, p: int, m: int, lq: int, gq: int) -> None:
        g = self.g(goid, ts)
        cur = self._pslice.get(p)
        if cur is not None and cur[0] != goid:
            self.closep(p, ts, "P handed over")
        if g.p >= 0 and g.p != p:
            self.closep(g.p, ts, "moved")
        if g.state == "runnable":
            g.latencies.append(ts - g.since)
        self.setstate(g, ts, "running")
        g.m, g.resumable = m, False
        self._mg[m] = goid
        if g.p != p:
            self.openp(p, g, ts)
        if g.flow is not None:
            kind, src_ts, src_p = g.flow
            self.flows.append(Flow(kind, src_ts, src_p, ts, p))
            g.flow = None
        self.runq.append((ts, p, lq, gq))

    def evGoPark(self, ts: int, goid: int, p: int, reason: str) -> None:
        self.stopg(ts, goid, "blocked", reason or "blocked").reason = reason or "blocked"

    def evGoUnblock(self, ts: int, goid: int, waker: int, wp: int) -> None:
        g = self.g(goid, ts)
        if waker:
            by = f"G{waker}"
        else:
            by = {"sleep": "timer", "IO wait": "netpoll"}.get(g.reason, "runtime")
        g.unblockers[by] += 1
        if g.state == "blocked":
            self.setstate(g, ts, "runnable")
        wg = self.gs.get(waker)
        if wg is not None and wg.p == wp >= 0:
            g.flow = ("unblock", ts, wp)

    def evGoSched(self, ts: int, goid: int, p: int, preempted: bool) -> None:
        self.stopg(ts, goid, "runnable", "preempted" if preempted else "gosched")

    def evGoEnd(self, ts: int, goid: int, p: int) -> None:
        self.stopg(ts, goid, "dead", "exit").ended = ts

    def evGoSysCall(self, ts: int, goid: int, p: int) -> None:
        g = self.g(goid, ts)
        g.syscalls += 1
        self.syscalls.append((ts, g.p if g.p >= 0 else p, goid))
        self.setstate(g, ts, "syscall")

    def evGoSysExit(self, ts: int, goid: int, m: int) -> None:
        g = self.g(goid, ts)
        if g.state != "syscall":
            return
        if g.p >= 0:
            self.setstate(g, ts, "running")
        else:  # sysmon took its P: it needs one again
            self.setstate(g, ts, "runnable")
            g.resumable = True

    def evSteal(self, ts: int, p: int, victim: int, n: int) -> None:
        self.steals.append((ts, p, victim, n))

    def evProcSteal(self, ts: int, p: int) -> None:
        self.handoffs.append((ts, p))
        self.closep(p, ts, "P retaken by sysmon")
        m = self._pm.pop(p, None)
        if m is not None:
            self.closem(m, ts)

    def evProcStart(self, ts: int, p: int, m: int) -> None:
        self.closep(p, ts, "P handed over")
        self._pm[p] = m
        self.openm(m, ts, f"P{p}")
        goid = self._mg.get(m)
        g = self.gs.get(goid) if goid is not None else None
        if g is None or g.p >= 0:
            return
        if g.state in ("running", "syscall") or g.resumable:
            # Its M got a P again for it: after a syscall, or after sysmon took
            # the P of a goroutine that would not yield.
            if g.resumable:
                g.latencies.append(ts - g.since)
                self.setstate(g, ts, "running")
                g.resumable = False
            self.openp(p, g, ts)

    def evProcStop(self, ts: int, p: int, m: int) -> None:
        self.closep(p, ts, "P stopped")
        if self._pm.get(p) == m:
            del self._pm[p]
        self.closem(m, ts)

    def evMStart(self, ts: int, m: int) -> None:
        self.ms.add(m)
        if self._mslice.get(m, (0, ""))[1] == "idle":
            self.closem(m, ts)

    def evMStop(self, ts: int, m: int) -> None:
        self._mg.pop(m, None)
        self.openm(m, ts, "idle")


# ---------------------------------------------------------------------------
# Chrome trace events

_PID_P, _PID_M = 1, 2
# Perfetto keys threads by tid alone (a tid seen under another pid is a new
# thread) and tid 0 is its idle "swapper": P and M tracks get distinct tids > 0.
_TID_P, _TID_M = 1, 100_001  # + the P's or M's id
# No \\uXXXX escapes: Perfetto's JSON reader does not decode them.
_enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_COUNTER_SAMPLES = 50_000  # at most about this many samples per counter track


def _us(ns: int) -> str:
    """A time in Chrome's unit, microseconds, exact to the nanosecond, as JSON text."""
    return f"{ns // 1000}.{ns % 1000:03d}" if ns >= 0 else f"{ns / 1000:.3f}"


def chrome_json(model: Model) -> Iterator[str]:
    """The model as Chrome trace events, each as JSON text: tracks, slices, flows, counters.

    Formatted directly rather than through dicts: a trace has millions of them.
    """
    yield from _metadata(model)
    gname = {g.goid: _enc(g.name) for g in model.gs.values()}
    why = {w: _enc(w) for w in {s.why for s in model.slices}}
    for s in model.slices:
        yield (
            f'{{"ph":"X","ts":{_us(s.start)},"dur":{_us(s.end - s.start)},"pid":{_PID_P},'
            f'"tid":{_TID_P + s.p},"name":{gname[s.goid]},"cat":"goroutine",'
            f'"args":{{"goid":{s.goid},"end":{why[s.why]}}}}}'
        )
    for m, start, end, label in model.mslices:
        yield (
            f'{{"ph":"X","ts":{_us(start)},"dur":{_us(end - start)},"pid":{_PID_M},'
            f'"tid":{_TID_M + m},"name":{_enc(label)},"cat":"thread"}}'
        )
    yield from _instants(model)
    for i, f in enumerate(model.flows, 1):
        common = f'"cat":"{f.kind}","name":"{f.kind}","id":{i},"pid":{_PID_P}'
        yield f'{{"ph":"s","ts":{_us(f.src_ts)},"tid":{_TID_P + f.src_p},{common}}}'
        # "e": bind to the enclosing slice, 1 ns into the one that starts there.
        tid = _TID_P + f.dst_p
        yield f'{{"ph":"f","bp":"e","ts":{_us(f.dst_ts + 1)},"tid":{tid},{common}}}'
    yield from _counters(model)


def _metadata(model: Model) -> Iterator[str]:
    """Names and order of the processes (Ps, Ms) and their tracks."""

    def meta(kind: str, pid: int, tid: int | None, args: dict[str, Any]) -> str:
        ev = {"ph": "M", "name": kind, "pid": pid, "args": args}
        return _enc(ev if tid is None else {**ev, "tid": tid})

    for pid, pname in ((_PID_P, "Ps (processors)"), (_PID_M, "Ms (threads)")):
        yield meta("process_name", pid, None, {"name": pname})
        yield meta("process_sort_index", pid, None, {"sort_index": pid})
    tracks = ((_PID_P, _TID_P, "P", range(model.nprocs)), (_PID_M, _TID_M, "M", sorted(model.ms)))
    for pid, tid, prefix, ids in tracks:
        for i in ids:
            yield meta("thread_name", pid, tid + i, {"name": f"{prefix}{i}"})
            yield meta("thread_sort_index", pid, tid + i, {"sort_index": i})


def _instants(model: Model) -> Iterator[str]:
    """Steals, sysmon's retakes and syscalls as instant events on the P tracks."""

    def instant(ts: int, p: int, name: str, args: str) -> str:
        return (
            f'{{"ph":"i","ts":{_us(ts)},"pid":{_PID_P},"tid":{_TID_P + p},"s":"t",'
            f'"name":"{name}","args":{{{args}}}}}'
        )

    for ts, p, victim, n in model.steals:
        yield instant(ts, p, f"steal {n} from P{victim}", f'"victim":{victim},"goroutines":{n}')
    for ts, p in model.handoffs:
        yield instant(ts, p, "P retaken by sysmon", "")
    for ts, p, goid in model.syscalls:
        if p >= 0:
            yield instant(ts, p, f"syscall G{goid}", f'"goid":{goid}')


def _thin(samples: Iterable[tuple[int, str]], ns: int) -> Iterator[tuple[int, str]]:
    """Of (ts, value) samples, the last value of each `ns` window, skipping repeats."""
    last = None  # the value emitted last
    window: tuple[int, str] | None = None  # (when the window started, its latest value)
    for ts, value in samples:
        if window is not None and ts >= window[0] + ns:
            if window[1] != last:
                yield window
                last = window[1]
            window = None
        window = (ts, value) if window is None else (window[0], value)
    if window is not None and window[1] != last:
        yield window


def _counters(model: Model) -> Iterator[str]:
    """Run queue lengths (global and per P) and goroutine counts as counter tracks.

    Sampled when a goroutine starts (run queues) or changes state (counts), then
    thinned to one sample per window of at least a microsecond.
    """
    ns = max(1000, model.duration // _COUNTER_SAMPLES)
    local = [0] * model.nprocs

    def runq() -> Iterator[tuple[int, str]]:
        for ts, p, lq, gq in model.runq:
            if 0 <= p < len(local):
                local[p] = lq
            yield ts, ",".join([f'"global":{gq}', *(f'"P{i}":{n}' for i, n in enumerate(local))])

    counts = ((ts, f'"running":{r},"runnable":{q},"blocked":{b}') for ts, r, q, b in model.counts)
    for name, samples in (("runqueue", runq()), ("goroutines", counts)):
        for ts, args in _thin(samples, ns):
            yield f'{{"ph":"C","ts":{_us(ts)},"pid":{_PID_P},"name":"{name}","args":{{{args}}}}}'


# ---------------------------------------------------------------------------
# Summary


def fmtdur(ns: float) -> str:
    """A duration as Go's time.Duration prints it, to 3 significant digits."""
    if ns < 1000:
        return f"{ns:.0f}ns"
    for unit, scale in (("µs", 1e3), ("ms", 1e6), ("s", 1e9)):
        if ns < scale * 1000 or unit == "s":
            return f"{ns / scale:.3g}{unit}"
    raise AssertionError("unreachable")


def percentile(sorted_values: list[int], q: float) -> int:
    """The nearest-rank q-quantile of a sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def latency_line(values: list[int]) -> str:
    """`p50=... p90=... p99=... max=...` of some latencies."""
    v = sorted(values)
    qs = " ".join(f"p{int(q * 100)}={fmtdur(percentile(v, q))}" for q in (0.5, 0.9, 0.99))
    return f"{qs} max={fmtdur(v[-1] if v else 0)}"


def summary(model: Model, limit: int = 100) -> str:
    """The text report of `goroutines trace summary`."""
    dur = max(model.duration, 1)
    lat = [x for g in model.gs.values() for x in g.latencies]
    lines = [
        f"duration {fmtdur(model.duration)}, {model.nprocs} Ps, {len(model.ms)} Ms, "
        f"{len(model.gs)} goroutines",
        "",
        f"scheduling latency (runnable -> running), {len(lat)} samples:",
        f"  {latency_line(lat)}",
        "",
        f"steals: {len(model.steals)} ({sum(s[3] for s in model.steals)} goroutines moved); "
        f"handoffs (sysmon retook a P from a syscall or a goroutine that did not yield): "
        f"{len(model.handoffs)}",
        "",
        "P    utilisation  busy      slices  stole  stolen-from  handoffs",
    ]
    for p in range(model.nprocs):
        busy = sum(s.end - s.start for s in model.slices if s.p == p)
        lines.append(
            f"P{p:<3d} {100 * busy / dur:10.1f}%  {fmtdur(busy):<9s} "
            f"{sum(1 for s in model.slices if s.p == p):6d}  "
            f"{sum(1 for s in model.steals if s[1] == p):5d}  "
            f"{sum(1 for s in model.steals if s[2] == p):11d}  "
            f"{sum(1 for h in model.handoffs if h[1] == p):8d}"
        )
    lines += ["", *goroutine_table(model, limit)]
    return "\n".join(lines)


def goroutine_table(model: Model, limit: int) -> list[str]:
    """Per-goroutine times, latencies and wakers; the `limit` busiest when there are more."""
    gs = sorted(model.gs.values(), key=lambda g: g.goid)
    if 0 < limit < len(gs):
        gs = sorted(gs, key=lambda g: -g.time["running"])[:limit]
        gs.sort(key=lambda g: g.goid)
    w = min(40, max([9] + [len(g.name) for g in gs]))
    lines = [
        f"{'goroutine':<{w}s} {'running':>9s} {'runnable':>9s} {'blocked':>9s} {'syscall':>9s}"
        f" {'latency p50':>11s} {'max':>9s}  blocked on / unblocked by"
    ]
    for g in gs:
        v = sorted(g.latencies)
        blocked = ", ".join(f"{r} {fmtdur(t)}" for r, t in g.blocked.most_common(3))
        wakers = ", ".join(f"{w}x{n}" for w, n in g.unblockers.most_common(3))
        lines.append(
            f"{g.name:<{w}.{w}s} {fmtdur(g.time['running']):>9s} {fmtdur(g.time['runnable']):>9s}"
            f" {fmtdur(g.time['blocked']):>9s} {fmtdur(g.time['syscall']):>9s}"
            f" {fmtdur(percentile(v, 0.5)):>11s} {fmtdur(v[-1] if v else 0):>9s}"
            f"  {blocked or '-'} / {wakers or '-'}"
        )
    if len(gs) < len(model.gs):
        lines.append(f"... {len(model.gs) - len(gs)} more goroutines (--limit 0 shows all)")
    return lines
