"""Execution traces as recorded: the events a known program must produce, the
compact stream and its round trip to JSON, the Perfetto JSON, GC pauses,
syscalls and handoffs, flushing as buffers fill, concurrent runs, failures.

The readers' own tests (model on synthetic events, summary, durations, the HTML
page in headless Chromium) are in test_tracetools.py.
"""

from __future__ import annotations

import gc
import io
import itertools
import json
import os
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goroutines import Deadlock, go, gosched, run, syscall
from goroutines.runtime import trace
from goroutines.runtime.proc import getg
from goroutines.runtime.runtime2 import G, M, P, WaitReason, schedt
from goroutines.tracetools import convert, read
from goroutines.tracetools.model import Model
from tests.test_debug import Parker  # goroutines parked on one lock, readied by unpark_all

Events = list[list[Any]]


@pytest.fixture(autouse=True)
def tracing_off() -> Iterator[None]:
    """After each test no run is traced or checked any more."""
    yield
    assert not trace._tracers and not trace._checkers


NWORKERS, NPARKED = 6, 4


def known_program() -> Callable[[], Coroutine[Any, Any, None]]:
    """main starts workers (gosched 3 times), sleepers (park until main readies them)
    and one goroutine in a syscall, and returns once all of them have finished."""
    parker = Parker()
    done: list[int] = []
    total = NWORKERS + NPARKED + 1

    async def worker() -> None:
        for _ in range(3):
            await gosched()
        done.append(1)

    async def sleeper() -> None:
        await parker.park(WaitReason.ChanReceive)
        done.append(1)

    async def sysg() -> None:
        await syscall(sum, [1, 2])
        done.append(1)

    async def main() -> None:
        for _ in range(NWORKERS):
            go(worker)
        for _ in range(NPARKED):
            go(sleeper)
        go(sysg)
        await parker.wait_parked(NPARKED)
        parker.unpark_all()
        while len(done) < total:
            await gosched()

    return main


def handoff_program() -> Callable[[], Coroutine[Any, Any, None]]:
    """With one P, main waits in a syscall for an event that only `setter` sets: setter
    can run only once sysmon has taken main's P from its M and handed it to another."""
    event = threading.Event()

    async def setter() -> None:
        event.set()

    async def main() -> None:
        go(setter)
        assert await syscall(event.wait, 30), "sysmon never handed main's P over"

    return main


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The known program traced with 2 Ps into the compact stream: the file, its raw events."""
    path = tmp_path_factory.mktemp("trace") / "known.out"
    run(known_program(), gomaxprocs=2, trace=str(path))
    return path, read.load(str(path))


@pytest.fixture(scope="module")
def traced_json(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The known program traced with 2 Ps to a .json path: the file and its parsed JSON."""
    path = tmp_path_factory.mktemp("trace") / "known.json"
    run(known_program(), gomaxprocs=2, trace=str(path))
    return path, json.loads(path.read_text())


@pytest.fixture(scope="module")
def handed_off(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The raw events of handoff_program, traced."""
    path = tmp_path_factory.mktemp("trace") / "handoff.out"
    run(handoff_program(), gomaxprocs=1, trace=str(path))
    return read.load(str(path))


def named(raw: dict[str, Any], kind: str) -> Events:
    return [e for e in raw["events"] if e[0] == kind]


# ---------------------------------------------------------------------------
# What a known program records


def test_every_goroutine_created_starts_and_ends(traced: tuple[Path, dict[str, Any]]) -> None:
    raw = traced[1]
    created = {e[2]: e for e in named(raw, "GoCreate")}
    assert len(created) == 1 + NWORKERS + NPARKED + 1
    fns = Counter(e[4].rsplit(".", 1)[-1] for e in created.values())
    assert fns == {"main": 1, "worker": NWORKERS, "sleeper": NPARKED, "sysg": 1}
    for goid, create in created.items():
        mine = [e for e in raw["events"] if e[0].startswith("Go") and e[2] == goid]
        kinds = [e[0] for e in mine]
        assert kinds[0] == "GoCreate" and kinds[1] == "GoStart", kinds
        assert kinds[-1] == "GoEnd" and kinds.count("GoEnd") == 1, kinds
        assert [e[1] for e in mine] == sorted(e[1] for e in mine)
        assert create[3] == (0 if goid == 1 else 1), "parent goid"
        assert goid == 1 or re.fullmatch(r".*test_trace\.py:\d+", create[5]), create


def test_every_block_has_an_unblock_by_main(traced: tuple[Path, dict[str, Any]]) -> None:
    raw = traced[1]
    parks = named(raw, "GoPark")
    assert len(parks) == NPARKED
    for park in parks:
        assert park[3] == "chan receive"
        unblocks = [e for e in named(raw, "GoUnblock") if e[2] == park[2]]
        assert len(unblocks) == 1 and unblocks[0][1] >= park[1]
    sleepers = [g for g in Model(raw).gs.values() if g.fn.endswith("sleeper")]
    assert len(sleepers) == NPARKED and all(g.unblockers == {"G1": 1} for g in sleepers)
    syscalls = [e for e in raw["events"] if e[0] in ("GoSysCall", "GoSysExit")]
    assert [e[0] for e in syscalls] == ["GoSysCall", "GoSysExit"]
    assert syscalls[0][2] == syscalls[1][2]


def busy_program() -> Callable[[], Coroutine[Any, Any, None]]:
    """Three pairs ping-pong over channels, with gosched and syscalls on the way."""
    from goroutines import Chan

    async def pinger(c: Chan[int], back: Chan[int], done: Chan[None]) -> None:
        for i in range(200):
            await c.send(i)
            await back.recv()
            if i % 50 == 0:
                await syscall(sum, [i])
        c.close()
        await done.send(None)

    async def ponger(c: Chan[int], back: Chan[int]) -> None:
        async for v in c:
            await back.send(v)
            if v % 7 == 0:
                await gosched()

    async def main() -> None:
        done: Chan[None] = Chan()
        for _ in range(3):
            c, back = Chan[int](), Chan[int]()
            go(pinger, c, back, done)
            go(ponger, c, back)
        for _ in range(3):
            await done.recv()

    return main


@pytest.mark.parametrize(
    "program, procs", [(busy_program, 3), (handoff_program, 1)], ids=["3 Ps", "handoff"]
)
def test_what_a_record_leaves_to_its_thread_is_what_the_hooks_saw(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    program: Callable[[], Callable[[], Coroutine[Any, Any, None]]],
    procs: int,
) -> None:
    """A GoStart's P and M, a GoUnblock's and a GoSysExit's M are read from the recording
    thread's latest ProcStart, a GoPark's goroutine and most GoStarts', GoUnblocks' and
    GoScheds' from the goroutines the thread ran and readied: they equal what the hooks
    were called with, goroutine by goroutine, on several Ps, and across a P handed off
    from a syscall."""
    from goroutines.runtime import schedcheck

    seen: dict[str, list[tuple[Any, ...]]] = {
        "GoStart": [],
        "GoUnblock": [],
        "GoSysExit": [],
        "GoPark": [],
        "GoSched": [],
    }

    class Recorder(schedcheck.Checker):  # every hook reaches the run's checker too
        def GoStart(self, pp: Any, gp: Any) -> None:
            seen["GoStart"].append((gp.goid, pp.id, gp.m.id))
            super().GoStart(pp, gp)

        def GoPark(self, pp: Any, gp: Any) -> None:
            seen["GoPark"].append((gp.goid, gp.waitreason.value))
            super().GoPark(pp, gp)

        def GoSched(self, pp: Any, gp: Any, preempted: bool) -> None:
            seen["GoSched"].append((gp.goid, preempted))
            super().GoSched(pp, gp, preempted)

        def GoUnblock(self, gp: Any, mp: Any) -> None:
            seen["GoUnblock"].append((gp.goid, -1 if mp is None else mp.id))
            super().GoUnblock(gp, mp)

        def GoSysExit(self, mp: Any, gp: Any) -> None:
            seen["GoSysExit"].append((gp.goid, mp.id))
            super().GoSysExit(mp, gp)

    monkeypatch.setattr(schedcheck, "Checker", Recorder)
    path = tmp_path / "derived.out"
    run(program(), gomaxprocs=procs, trace=str(path), schedcheck=True)
    raw = read.load(str(path))
    assert procs > 1 or named(raw, "ProcSteal"), "sysmon handed main's P over"
    for kind, hooked in seen.items():
        recorded = [tuple(e[2:]) for e in named(raw, kind)]
        assert sorted(recorded) == sorted(hooked), kind
        for goid in {ev[0] for ev in hooked}:  # each goroutine's in the order the hooks ran
            mine = [ev for ev in recorded if ev[0] == goid]
            assert mine == [ev for ev in hooked if ev[0] == goid], (kind, goid)
    assert seen["GoStart"] and seen["GoSysExit"]


def test_timestamps_are_monotonic_and_within_the_duration(
    traced: tuple[Path, dict[str, Any]],
) -> None:
    raw = traced[1]
    ts = [e[1] for e in raw["events"]]
    assert ts == sorted(ts) and ts[0] >= 0 and ts[-1] <= raw["duration"]
    assert raw["nprocs"] == 2


def test_the_model_accounts_for_every_nanosecond(traced: tuple[Path, dict[str, Any]]) -> None:
    model = Model(traced[1])
    for g in model.gs.values():
        assert g.state == "dead" and g.created is not None and g.ended is not None
        assert sum(g.time.values()) == g.ended - g.created, g
        assert len(g.latencies) >= 1
    assert sum(g.time["syscall"] for g in model.gs.values()) > 0
    assert len(model.syscalls) == 1 and model.syscalls[0].end >= model.syscalls[0].start


def test_a_syscall_that_outlasts_sysmons_patience_is_a_handoff(
    handed_off: dict[str, Any],
) -> None:
    steals = named(handed_off, "ProcSteal")
    assert steals, "sysmon retook P0 from main's M"
    model = Model(handed_off)
    h = model.handoffs[0]
    main_m = named(handed_off, "GoSysExit")[0][3]
    assert (h.p, h.what, h.from_m) == (0, "syscall", main_m)
    assert h.to_m >= 0 and h.to_m != h.from_m and h.to_ts >= h.ts
    (call,) = [c for c in model.syscalls if c.goid == 1]
    assert call.m == main_m and call.p == 0
    assert call.start < call.pend == h.ts < call.end, "P0 waited for the call until sysmon took it"
    setter = next(g for g in model.gs.values() if g.fn.endswith("setter"))
    assert any(s.goid == setter.goid and s.start >= h.to_ts for s in model.slices)
    labels = [label for m, _, _, label in model.mslices if m == main_m]
    assert "syscall G1" in labels


def test_gc_pauses_are_recorded(tmp_path: Path) -> None:
    path = tmp_path / "gc.out"

    async def main() -> None:
        gc.collect()

    run(main, trace=str(path))
    pauses = named(read.load(str(path)), "GC")
    assert any(gen == 2 and duration > 0 for _, _, duration, gen in pauses), pauses


# ---------------------------------------------------------------------------
# The compact stream


def frames(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (kind, payload) frames of a compact stream."""
    pos = len(trace.MAGIC) + 1
    while pos < len(data):
        n, start = read.read_uvarint(data, pos + 1)
        yield data[pos : pos + 1], data[start : start + n]
        pos = start + n


def records(payload: bytes) -> tuple[bytes, bytes, list[int]]:
    """The records of a batch frame: kinds, ticks, args."""
    return read.batch(payload)[2:]


def stored(kind: int) -> int:
    """How many ints a record of kind byte `kind` stores (trace.IMPLIED, trace.PARK0)."""
    if kind >= trace.PARK0:
        assert kind - trace.PARK0 < len(trace.REASONS)
        return 0
    if kind - trace.IMPLIED in (trace.EvGoStart, trace.EvGoUnblock, trace.EvGoSched):
        return 0
    assert kind < len(trace.EVENTS) and kind != trace.EvGoPark
    return trace.STORED[kind]


def test_event_numbers_are_their_places_in_EVENTS() -> None:
    """Each EvX constant (what the hooks record) is X's index in EVENTS (what readers name)."""
    assert len(trace.NARGS) == len(trace.STORED) == len(trace.EVENTS) <= trace.IMPLIED
    assert trace.IMPLIED + len(trace.EVENTS) <= trace.PARK0
    assert trace.PARK0 + len(trace.REASONS) <= trace.KINDS <= 256  # a kind: a byte
    for kind, name in enumerate(trace.EVENTS):
        assert getattr(trace, f"Ev{name}") == kind, name
    assert {n for n in dir(trace) if n.startswith("Ev")} == {f"Ev{n}" for n in trace.EVENTS}


def test_records_read_back_with_what_their_thread_implies(tmp_path: Path) -> None:
    """Each kind's stored ints and what its thread implies give the raw event back: a
    GoStart's P and M (its thread's latest ProcStart's), a GoPark's goroutine (its
    thread's), an implied GoStart's goroutine (the one its thread readied last), an
    implied GoUnblock's (the one its thread ran before) and an implied GoSched's (its
    thread's); times in whole ticks, a gap of LONGTICKS or more among the arguments."""
    path = tmp_path / "hand.out"
    tracer = trace.Tracer(schedt(), str(path))
    buf = tracer.buffer(threading.get_ident())
    assert buf is not None
    buf.putn(trace.EvProcStart, (2, 5))
    t, tick = buf.last << trace.TICKSHIFT, trace.TICK
    buf.put(t + tick, trace.EvGoStart, 7)
    buf.put(t + 2 * tick, trace.EvGoUnblock, 8 << 1 | True)  # readied by no M
    buf.put(t + 3 * tick, trace.EvGoUnblock, 9 << 1 | False)
    buf.stamp(t + 4 * tick, trace.PARK0 + trace.REASONS.index(WaitReason.Select))
    buf.stamp(t + 5 * tick, trace.EvGoStart + trace.IMPLIED)
    buf.stamp(t + 6 * tick, trace.EvGoUnblock + trace.IMPLIED)
    buf.put(t + 7 * tick, trace.EvGoSched, 9 << 1 | True)
    buf.put(t + 8 * tick + tick - 1, trace.EvGoSysExit, 9)  # within its tick
    buf.stamp(t + 9 * tick, trace.PARK0 + trace.REASONS.index(WaitReason.ChanReceive))
    buf.put(t + 2000 * tick, trace.EvGoSched, 7 << 1 | False)  # 1991 ticks later
    buf.stamp(t + 2001 * tick, trace.EvGoSched + trace.IMPLIED)
    buf.putn(trace.EvProcStop, (2, 5))
    buf.put(t + 5, trace.EvGoStart, 9)  # an earlier time: kept in order, at the last one's
    tracer.close()
    tracer.file.close()
    raw = read.load(str(path))["events"]
    times = [e[1] - raw[0][1] for e in raw]
    assert times[:12] == [k * tick for k in range(10)] + [2000 * tick, 2001 * tick]
    assert times[13] == times[12] >= times[11]  # ProcStop: now, or 2001 ticks on if later
    events = [e[:1] + e[2:] for e in raw]
    assert events == [
        ["ProcStart", 2, 5],
        ["GoStart", 7, 2, 5],
        ["GoUnblock", 8, -1],
        ["GoUnblock", 9, 5],
        ["GoPark", 7, "select"],  # the thread's goroutine
        ["GoStart", 9, 2, 5],  # the one the thread readied last
        ["GoUnblock", 7, 5],  # the one the thread ran before
        ["GoSched", 9, True],
        ["GoSysExit", 9, 5],
        ["GoPark", 9, "chan receive"],
        ["GoSched", 7, False],
        ["GoSched", 9, False],  # the thread's goroutine
        ["ProcStop", 2, 5],
        ["GoStart", 9, -1, 5],
    ]


GOIDS = (1, 2, 3, 300, 70_000)  # ids that fit one byte, two, four
HOOKED = st.one_of(
    st.tuples(st.just("GoStart"), st.sampled_from(GOIDS)),
    st.tuples(st.just("GoUnblock"), st.sampled_from(GOIDS), st.booleans()),
    # waitsince this many ns from now: before the thread's latest record, or far after
    st.tuples(st.just("GoPark"), st.sampled_from(list(WaitReason)), st.integers(-(10**6), 10**8)),
    st.tuples(st.just("GoSched"), st.booleans()),
    st.tuples(st.just("GoSysExit")),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(HOOKED, max_size=60))
def test_any_hooks_on_one_thread_read_back_as_called(calls: list[tuple[Any, ...]]) -> None:
    """Whatever the hooks of one M record (goroutines started, readied by the M or by no
    M, parked with any reason at any time, yielding, back from syscalls), the trace
    reads back as those calls: what each record leaves to its thread (IMPLIED, PARK0,
    the P and M) is worked out right, and times only go forward, a park's from its
    waitsince (in whole ticks) unless that is before the thread's latest record."""
    sched = schedt()
    mp, pp = M(sched, 3), P(2, sched)
    gs = {goid: G(sched) for goid in GOIDS}
    for goid, gp in gs.items():
        gp.goid, gp.m = goid, mp
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "hooks.out")
        tracer = trace.start(sched, path)
        collecting = gc.isenabled()
        gc.disable()  # a collection meanwhile would add its GC record (test_gc_pauses...)
        try:
            trace.ProcStart(mp, pp)
            expected: Events = [["ProcStart", 2, 3]]
            parks: dict[int, int] = {}  # event index -> waitsince
            running = GOIDS[0]
            for name, *args in [("GoStart", running), *calls]:
                gp = gs[running]
                if name == "GoStart":
                    running = args[0]
                    trace.GoStart(pp, gs[running])
                    expected.append([name, running, 2, 3])
                elif name == "GoUnblock":
                    trace.GoUnblock(gs[args[0]], mp if args[1] else None)
                    expected.append([name, args[0], 3 if args[1] else -1])
                elif name == "GoPark":
                    gp.waitreason, gp.waitsince = args[0], trace.nanotime() + args[1]
                    trace.GoPark(pp, gp)
                    parks[len(expected)] = gp.waitsince
                    expected.append([name, running, args[0].value])
                elif name == "GoSched":
                    trace.GoSched(pp, gp, args[0])
                    expected.append([name, running, args[0]])
                else:
                    trace.GoSysExit(mp, gp)
                    expected.append([name, running, 3])
        finally:
            if collecting:
                gc.enable()
            trace.stop(tracer)
        raw = read.load(path)
    events = raw["events"]
    assert [e[:1] + e[2:] for e in events] == expected
    times = [e[1] for e in events]
    assert times == sorted(times)
    for i, since in parks.items():
        tick = (since >> trace.TICKSHIFT << trace.TICKSHIFT) - tracer.start
        assert times[i] == max(tick, times[i - 1])


@pytest.mark.parametrize("big", [0, 100, 40_000, 3_000_000_000, -(1 << 62)])
def test_columns_take_the_narrowest_width_and_read_back(big: int) -> None:
    """trace.columns packs the arguments in 1, 2, 4 or 8 bytes; read.columns undoes it."""
    kinds, args = [trace.EvGoStart, trace.PARK0 + 3], [-1, big, 0]
    data = trace.columns(bytes(kinds), args)
    width = next(w for w in (1, 2, 4, 8) if big.bit_length() < 8 * w)  # a sign bit spare
    assert list(data[:5]) == [2, *kinds, width, 3]  # count, kinds, the args' width and count
    assert read.columns(data) == (bytes(kinds), args)
    with pytest.raises(ValueError, match="do not add up"):
        read.columns(data[:-1])


def test_compact_stream_layout(traced: tuple[Path, dict[str, Any]]) -> None:
    data = traced[0].read_bytes()
    assert data.startswith(trace.MAGIC + bytes([trace.FORMAT]))
    kinds = [kind for kind, _ in frames(data)]
    assert kinds[0] == trace.FRAME_HEADER and kinds[-1] == trace.FRAME_END
    assert set(kinds[1:-1]) == {trace.FRAME_STRINGS, trace.FRAME_BATCH}
    for kind, payload in frames(data):
        if kind == trace.FRAME_BATCH:
            kinds, ticks, args = records(payload)
            assert kinds and len(ticks) == len(kinds)
            assert len(args) == sum(map(stored, kinds)) + ticks.count(trace.LONGTICKS)


def test_a_pair_handing_work_over_records_no_ints(tmp_path: Path) -> None:
    """Two goroutines ping-ponging over channels on one P: each GoStart is of the
    goroutine its thread readied last, each GoUnblock of the one it ran before, each
    GoPark of its own: none of those records stores an int (IMPLIED, PARK0)."""
    from goroutines import Chan

    async def ponger(c: Chan[int], back: Chan[int]) -> None:
        async for v in c:
            await back.send(v)

    async def main() -> None:
        c, back = Chan[int](), Chan[int]()
        go(ponger, c, back)
        for i in range(1000):
            await c.send(i)
            await back.recv()
        c.close()

    path = tmp_path / "pingpong.out"
    run(main, gomaxprocs=1, trace=str(path))
    kinds = b"".join(records(p)[0] for k, p in frames(path.read_bytes()) if k == trace.FRAME_BATCH)
    counts = Counter(kinds)
    implied = counts[trace.EvGoStart + trace.IMPLIED] + counts[trace.EvGoUnblock + trace.IMPLIED]
    assert implied >= 3900, counts  # 2 of each a round trip
    assert counts[trace.EvGoStart] + counts[trace.EvGoUnblock] <= 10, counts
    assert sum(n for k, n in counts.items() if k >= trace.PARK0) >= 1950, counts


def test_compact_round_trip_to_json_gives_the_same_model(
    traced: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    raw = traced[1]
    out = io.StringIO()
    convert.write(out, raw)
    path = tmp_path / "known.json"
    path.write_text(out.getvalue())
    again = read.load(str(path))
    assert again == raw
    a, b = Model(raw), Model(again)
    assert a.slices == b.slices and a.gs == b.gs and a.syscalls == b.syscalls
    assert a.mslices == b.mslices and a.flows == b.flows and a.counts == b.counts


def test_a_stopped_trace_leaves_no_buffer_on_the_runs_ms(tmp_path: Path) -> None:
    """Each M records into its own buffer (mp.tracebuf); the end of the trace unbinds them."""
    scheds: list[schedt] = []

    async def main() -> None:
        gp = getg()
        assert gp is not None
        scheds.append(gp.sched)
        for _ in range(100):
            await gosched()

    run(main, gomaxprocs=2, trace=str(tmp_path / "t.out"))
    ms = list(scheds[0].allm)
    assert ms and all(mp.tracebuf is None for mp in ms)
    assert named(read.load(str(tmp_path / "t.out")), "GoSched")


def test_buffers_are_flushed_as_they_fill(tmp_path: Path) -> None:
    """A run that records several buffers' worth writes each out as it fills.

    A buffer flushed because it is full holds FLUSH_RECORDS and at most one
    record more; the ones the end of the run flushes hold less.
    """
    path = tmp_path / "busy.out"
    per_buffer = trace.FLUSH_RECORDS

    async def main() -> None:
        for _ in range(per_buffer):  # each gosched records a GoSched and a GoStart
            await gosched()

    run(main, gomaxprocs=1, trace=str(path))
    batches = [p for kind, p in frames(path.read_bytes()) if kind == trace.FRAME_BATCH]
    sizes = [len(records(p)[0]) for p in batches]
    limit = trace.FLUSH_RECORDS + 1
    assert all(n <= limit for n in sizes), sizes  # no buffer grows past a full one
    assert any(n >= trace.FLUSH_RECORDS for n in sizes), sizes
    assert len(batches) >= 2
    assert len(named(read.load(str(path)), "GoSched")) == per_buffer


def test_a_trace_is_a_few_bytes_per_event(traced: tuple[Path, dict[str, Any]]) -> None:
    path, raw = traced
    assert path.stat().st_size < 400 + 8 * len(raw["events"]), "compact: deflated columns"


# ---------------------------------------------------------------------------
# JSON for Perfetto


def test_a_json_path_gets_perfetto_json_with_the_raw_events_last(
    traced_json: tuple[Path, dict[str, Any]],
) -> None:
    path, data = traced_json
    text = path.read_text()
    assert text.startswith('{"displayTimeUnit":"ns","traceEvents":[')
    assert text.index('"traceEvents"') < text.index('"goroutines"'), "Perfetto stops at it"
    assert "\\u" not in text, "Perfetto's JSON reader does not decode \\u escapes"
    assert read.load(str(path))["events"] == data["goroutines"]["events"]
    check_perfetto(data["traceEvents"], nprocs=2)


def check_perfetto(events: list[dict[str, Any]], nprocs: int) -> None:
    """What Perfetto needs of a Chrome JSON trace, and what this one must show."""
    phases = Counter(e["ph"] for e in events)
    assert set(phases) <= {"M", "X", "i", "s", "f", "C"}
    assert phases["X"] > 0 and phases["C"] > 0 and phases["s"] == phases["f"] > 0
    for e in events:
        assert {"ph", "name", "pid"} <= set(e), e
        if e["ph"] != "M":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
        assert not any(isinstance(v, list) for v in e.values()), "no arrays in an event"
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    ps = sorted(v for (pid, _), v in names.items() if pid == 1 and v.startswith("P"))
    assert ps == [f"P{i}" for i in range(nprocs)] and "GC" in names.values()
    assert all(v.startswith("M") for (pid, _), v in names.items() if pid == 2)
    assert len({tid for _, tid in names}) == len(names), "tids are unique across processes"
    assert 0 not in {tid for _, tid in names}, "tid 0 is Perfetto's idle thread"
    for e in events:
        if e["ph"] == "C":
            assert e["name"] == "goroutines"
            assert set(e["args"]) == {"running", "runnable", "blocked", "syscall"}, e
    tracks: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for e in events:
        if e["ph"] == "X" and e["cat"] in ("goroutine", "thread"):
            tracks.setdefault((e["pid"], e["tid"]), []).append(e)
    for track, slices in tracks.items():
        starts = [s["ts"] for s in slices]
        assert starts == sorted(starts), track
        for a, b in itertools.pairwise(slices):
            assert a["ts"] + a["dur"] <= b["ts"] + 0.001, (track, a, b)
    for e in events:
        if e["ph"] == "X" and e["cat"] == "goroutine":
            m = re.fullmatch(r"G(\d+) (.+)", e["name"])
            assert m and int(m[1]) == e["args"]["goid"], e


def test_slices_unblocks_and_syscalls_in_perfetto(
    traced_json: tuple[Path, dict[str, Any]],
) -> None:
    events = traced_json[1]["traceEvents"]
    fn = {e[2]: e[4] for e in traced_json[1]["goroutines"]["events"] if e[0] == "GoCreate"}
    xs = [e for e in events if e["ph"] == "X" and e["cat"] == "goroutine"]
    assert {e["args"]["goid"] for e in xs} == set(fn), "every goroutine ran"
    for e in xs:
        assert e["name"].split(" ", 1)[1] == fn[e["args"]["goid"]].replace("<locals>.", "")
    flows: dict[int, dict[str, dict[str, Any]]] = {}
    for e in events:
        if e["ph"] in "sf":
            flows.setdefault(e["id"], {})[e["ph"]] = e
    kinds = Counter(f["s"]["cat"] for f in flows.values())
    assert kinds["unblock"] == NPARKED and kinds["go"] >= 1
    for f in flows.values():
        assert f["s"]["ts"] <= f["f"]["ts"] and f["f"]["bp"] == "e"
    calls = [e for e in events if e["ph"] == "X" and e["cat"] == "syscall"]
    threads = [e for e in events if e["ph"] == "X" and e["name"].startswith("syscall G")]
    assert len(calls) == len(threads) == 1


def test_a_handoff_in_perfetto(handed_off: dict[str, Any]) -> None:
    out = io.StringIO()
    convert.write(out, handed_off)
    events = json.loads(out.getvalue())["traceEvents"]
    check_perfetto(events, nprocs=1)
    marks = [e for e in events if e["ph"] == "i" and e["name"] == "P handoff"]
    assert len(marks) >= 1 and marks[0]["args"]["goroutine_was"] == "syscall"
    arrows = [e for e in events if e["ph"] in "sf" and e["cat"] == "handoff"]
    handed = [e for e in marks if e["args"]["to_m"] >= 0]
    assert len(arrows) == 2 * len(handed) >= 2 and {e["pid"] for e in arrows} == {2}


# ---------------------------------------------------------------------------
# Starting and stopping traces


def test_trace_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "trace.out"
    monkeypatch.setenv("GOROUTINES_TRACE", str(path))

    async def main() -> int:
        return 7

    assert run(main) == 7
    events = read.load(str(path))["events"]
    assert [e[0] for e in events if e[0].startswith("Go")] == ["GoCreate", "GoStart", "GoEnd"]


@pytest.mark.timeout(120)
def test_concurrent_runs_trace_only_their_own_goroutines(tmp_path: Path) -> None:
    def program(name: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def child() -> None:
            await gosched()

        child.__qualname__ = name

        async def main() -> None:
            for _ in range(20):
                go(child)
                await gosched()

        return main

    errors: list[BaseException] = []

    def runner(name: str, path: str | None) -> None:
        try:
            run(program(name), gomaxprocs=2, trace=path)
        except BaseException as e:
            errors.append(e)

    paths = {"alpha": "alpha.out", "beta": "beta.json", "untraced": None}
    threads = [
        threading.Thread(target=runner, args=(n, p and str(tmp_path / p))) for n, p in paths.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name in ("alpha", "beta"):
        raw = read.load(str(tmp_path / str(paths[name])))
        fns = Counter(e[4] for e in named(raw, "GoCreate"))
        assert fns == {
            "test_concurrent_runs_trace_only_their_own_goroutines.<locals>"
            ".program.<locals>.main": 1,
            name: 20,
        }


def test_trace_is_written_when_the_run_deadlocks(tmp_path: Path) -> None:
    path = tmp_path / "dead.out"
    parker = Parker()

    async def main() -> None:
        await parker.park(WaitReason.Select)

    with pytest.raises(Deadlock):
        run(main, trace=str(path))
    m = Model(read.load(str(path)))
    assert m.gs[1].state == "blocked" and m.gs[1].reason == "select"


def test_bad_trace_path_fails_before_main_runs(tmp_path: Path) -> None:
    ran = []

    async def main() -> None:
        ran.append(1)

    with pytest.raises(FileNotFoundError):
        run(main, trace=str(tmp_path / "no" / "such" / "dir.out"))
    assert not ran


def test_a_run_that_fails_to_start_after_the_trace_did_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the run's start armed before it failed is undone: the trace ends, whole."""
    from goroutines.runtime import debug

    def fail(sched: schedt) -> None:
        raise RuntimeError("no SIGQUIT today")

    monkeypatch.setattr(debug, "install_sigquit", fail)
    path = tmp_path / "trace.out"

    async def main() -> None:
        pass

    with pytest.raises(RuntimeError, match="no SIGQUIT today"):
        run(main, trace=str(path), schedcheck=True)
    assert not trace._tracers and not trace._checkers
    assert read.load(str(path))["events"] == []  # header and end frame: a whole file


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_failed_write_is_raised_when_the_run_ends() -> None:
    async def main() -> None:
        for _ in range(trace.FLUSH_RECORDS):
            await gosched()

    with pytest.raises(OSError, match="No space left"):
        run(main, trace="/dev/full")


# ---------------------------------------------------------------------------
# Reading what is not a trace


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x00\x01garbage", "neither the compact format nor JSON"),
        (b'{"traceEvents": []}', "no 'goroutines' section of version 2"),
        (
            b'{"goroutines": {"version": 2, "nprocs": 1, "duration": 5, "events": [["GoX", 1]]}}',
            "bad event",
        ),
        (b'{"goroutines": {"version": 2, "nprocs": 1, "duration": 5, "events": [7]}}', "bad event"),
        (b'{"goroutines": {"version": 2, "nprocs": 1, "duration": 5, "events": 7}}', "no list"),
        (trace.MAGIC + b"\x07", "compact format of another version"),
        (trace.MAGIC + bytes([trace.FORMAT]) + b"H\x05{}", "bad frame at byte"),
        (trace.MAGIC + bytes([trace.FORMAT]) + b"B\x03\x00xx", "no header frame first"),
    ],
)
def test_load_rejects_what_is_not_a_trace(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "x"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a goroutines trace") as e:
        read.load(str(path))
    assert why in str(e.value) and "\n" not in str(e.value)


def test_load_rejects_a_truncated_stream(
    traced: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    data = traced[0].read_bytes()
    # Cut within a batch frame: a cut between two frames leaves a shorter stream.
    payload = next(p for kind, p in frames(data) if kind == trace.FRAME_BATCH)
    path = tmp_path / "cut.out"
    path.write_bytes(data[: data.index(payload) + len(payload) // 2])
    with pytest.raises(ValueError, match="truncated"):
        read.load(str(path))
