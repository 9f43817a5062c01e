"""The timeline of a run, rebuilt by replaying its raw events in time order.

Go's internal/trace does the same: the recorder only notes transitions
(a goroutine started on a P, parked, entered a syscall; sysmon took a P), and
the reader replays them to know, at every instant, which goroutine each P ran,
what each M (thread) did and what state each goroutine was in. `Model` keeps:

  * `slices`: per P, each stretch of time a goroutine ran there (Go's trace
    viewer's P rows), and why it ended;
  * `syscalls`: each blocking call, on its M, with the part of it during which
    the goroutine's P still waited for it (until sysmon retook the P);
  * `handoffs`: each P that sysmon retook from a syscall or from a goroutine
    that would not yield, from which M to which M it went next;
  * `mslices`: per M, one state after another: holding a P, in a syscall,
    running a goroutine whose P sysmon took, idle;
  * `gcs`: the cyclic garbage collector's pauses;
  * `flows`: from where a goroutine was created or unblocked to where it next ran;
  * `counts`: how many goroutines were in each state;
  * per goroutine (`gs`): its time in each state, what it blocked on, who
    woke it, its scheduling latencies (runnable -> running).

summary.py reports on it, html.py draws it, convert.py writes it as Perfetto JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..runtime.trace import EVENTS
from .read import RawTrace

STATES = ("running", "runnable", "blocked", "syscall", "dead")
LIVE = STATES[:-1]  # the states whose goroutines `counts` counts


def shortname(fn: str) -> str:
    """A function name for display: `outer.<locals>.inner` as `outer.inner` (Go: main.func1)."""
    return fn.replace("<locals>.", "")


def thin(samples: list[tuple[int, ...]], ns: int) -> Iterator[tuple[int, ...]]:
    """Of (ts, values...) samples, the last of each `ns` window, skipping repeated values.

    For drawing counts over a long trace: at most one sample per window.
    """
    last: tuple[int, ...] = ()  # the values emitted last
    window: tuple[int, ...] | None = None  # the latest sample, stamped when its window started
    for sample in samples:
        if window is not None and sample[0] >= window[0] + ns:
            if window[1:] != last:
                yield window
                last = window[1:]
            window = None
        window = sample if window is None else (window[0], *sample[1:])
    if window is not None and window[1:] != last:
        yield window


@dataclass
class Slice:
    """A stretch of time goroutine `goid` ran on P `p`; `why` it stopped."""

    p: int
    goid: int
    start: int
    end: int
    why: str


@dataclass
class Syscall:
    """A blocking call of goroutine `goid` on M `m`, entered while holding P `p` (or -1).

    The P waited for the call until `pend`: its end, or when sysmon retook the P.
    """

    goid: int
    m: int
    p: int
    start: int
    end: int = -1
    pend: int = -1


@dataclass
class Handoff:
    """sysmon took P `p` from M `from_m` at `ts` (its goroutine was `what`: in a
    syscall or running without yielding); M `to_m` acquired it at `to_ts` (-1: none)."""

    ts: int
    p: int
    from_m: int
    what: str
    to_m: int = -1
    to_ts: int = -1


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
    state: str = "runnable"  # one of STATES
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
    syscall: Syscall | None = None  # the call it is in
    syscalls: int = 0
    slices: int = 0

    @property
    def name(self) -> str:
        """Its label: `G7 worker`."""
        return f"G{self.goid} {shortname(self.fn)}"


class Model:
    """The run rebuilt from raw events (see the module docstring for what it keeps)."""

    def __init__(self, raw: RawTrace) -> None:
        self.nprocs: int = raw["nprocs"]
        self.duration: int = raw["duration"]
        self.gs: dict[int, Goroutine] = {}
        self.slices: list[Slice] = []
        self.syscalls: list[Syscall] = []
        self.handoffs: list[Handoff] = []
        self.flows: list[Flow] = []
        self.gcs: list[tuple[int, int, int]] = []  # start, end, generation
        self.steals: list[tuple[int, int, int, int]] = []  # ts, thief, victim, n
        self.counts: list[tuple[int, ...]] = []  # ts, then how many are in each of LIVE
        self.mslices: list[tuple[int, int, int, str]] = []  # m, start, end, label
        self.ms: set[int] = set()
        self._pslice: dict[int, tuple[int, int]] = {}  # p -> (goid, start)
        self._mslice: dict[int, tuple[int, str]] = {}  # m -> (start, label)
        self._pm: dict[int, int] = {}  # p -> m holding it
        self._mp: dict[int, int] = {}  # m -> p it holds
        self._mg: dict[int, int] = {}  # m -> goid it runs
        self._handing: dict[int, Handoff] = {}  # p -> its handoff, until an M takes it
        self._nstate = dict.fromkeys(STATES, 0)
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
        sample = (ts, n["running"], n["runnable"], n["blocked"], n["syscall"])  # LIVE
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
        if self._mslice.get(g.m, (0, ""))[1].startswith(f"G{goid},"):
            self.closem(g.m, ts)  # it ran on after its P was retaken: now it stopped
        g.m = -1
        g.resumable = False
        return g

    def endsyscall(self, g: Goroutine, ts: int) -> None:
        """g's blocking call returned (or the trace ended)."""
        sc = g.syscall
        if sc is not None:
            sc.end = max(ts, sc.start)
            if sc.pend < 0:
                sc.pend = sc.end if sc.p >= 0 else sc.start
            self.syscalls.append(sc)
            g.syscall = None

    def finish(self, end: int) -> None:
        """Close everything still open at the end of the trace."""
        for p in list(self._pslice):
            self.closep(p, end, "trace end")
        for m in list(self._mslice):
            self.closem(m, end)
        for g in self.gs.values():
            self.endsyscall(g, end)
            if g.state != "dead":
                self.setstate(g, end, g.state)
        self.slices.sort(key=lambda s: (s.p, s.start))
        self.syscalls.sort(key=lambda s: s.start)

    # One method per event kind (trace.EVENTS)

    def evGoCreate(self, ts: int, goid: int, parent: int, fn: str, at: str) -> None:
        g = self.g(goid, ts)
        g.fn, g.parent, g.createdat, g.created, g.since = fn, parent, at, ts, ts
        pg = self.gs.get(parent)
        if pg is not None and pg.p >= 0:
            g.flow = ("go", ts, pg.p)

    def evGoStart(self, ts: int, goid: int, p: int, m: int) -> None:
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

    def evGoPark(self, ts: int, goid: int, reason: str) -> None:
        self.stopg(ts, goid, "blocked", reason or "blocked").reason = reason or "blocked"

    def evGoUnblock(self, ts: int, goid: int, m: int) -> None:
        g = self.g(goid, ts)
        waker = self._mg.get(m, 0)  # the goroutine running on the readying M
        if waker:
            by = f"G{waker}"
        else:
            by = {"sleep": "timer", "IO wait": "netpoll"}.get(g.reason, "runtime")
        g.unblockers[by] += 1
        if g.state == "blocked":
            self.setstate(g, ts, "runnable")
        wg = self.gs.get(waker)
        if wg is not None and wg.p >= 0:
            g.flow = ("unblock", ts, wg.p)

    def evGoSched(self, ts: int, goid: int, preempted: bool) -> None:
        self.stopg(ts, goid, "runnable", "preempted" if preempted else "gosched")

    def evGoEnd(self, ts: int, goid: int) -> None:
        self.stopg(ts, goid, "dead", "exit").ended = ts

    def evGoSysCall(self, ts: int, goid: int) -> None:
        g = self.g(goid, ts)
        g.syscalls += 1
        self.endsyscall(g, ts)
        g.syscall = Syscall(goid, g.m, g.p, ts)
        self.setstate(g, ts, "syscall")
        if g.m >= 0:
            self.openm(g.m, ts, f"syscall G{goid}")

    def evGoSysExit(self, ts: int, goid: int, m: int) -> None:
        g = self.g(goid, ts)
        if g.syscall is not None and g.syscall.m < 0:
            g.syscall.m = m
        self.endsyscall(g, ts)
        p = self._mp.get(m)
        if p is not None:  # it kept its P: back to running goroutines there
            self.openm(m, ts, f"P{p}")
        else:
            self.closem(m, ts)
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
        cur = self._pslice.get(p)
        g = None if cur is None else self.gs[cur[0]]
        insyscall = g is not None and g.state == "syscall"
        if g is not None and g.syscall is not None:
            g.syscall.pend = ts
        m = self._pm.pop(p, -1)
        self._handing[p] = h = Handoff(ts, p, m, "syscall" if insyscall else "running")
        self.handoffs.append(h)
        self.closep(p, ts, "P retaken by sysmon")
        if m >= 0 and self._mp.get(m) == p:
            del self._mp[m]
            if not insyscall:  # its goroutine runs on, without a P, until it yields
                self.openm(m, ts, f"P{p} retaken" if g is None else f"G{g.goid}, P{p} retaken")

    def evProcStart(self, ts: int, p: int, m: int) -> None:
        self.closep(p, ts, "P handed over")
        self._pm[p], self._mp[m] = m, p
        self.openm(m, ts, f"P{p}")
        h = self._handing.pop(p, None)
        if h is not None:
            h.to_m, h.to_ts = m, ts
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
        if self._mp.get(m) == p:
            del self._mp[m]
        self.closem(m, ts)

    def evMStart(self, ts: int, m: int) -> None:
        self.ms.add(m)
        if self._mslice.get(m, (0, ""))[1] == "idle":
            self.closem(m, ts)

    def evMStop(self, ts: int, m: int) -> None:
        self._mg.pop(m, None)
        self.openm(m, ts, "idle")

    def evGC(self, ts: int, duration: int, generation: int) -> None:
        self.gcs.append((ts, ts + duration, generation))
