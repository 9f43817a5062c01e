"""Execution traces: the events a known program must produce, the Chrome JSON,
the model, the summary, the HTML page (in headless Chromium when installed).
"""

from __future__ import annotations

import html
import itertools
import json
import re
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from goroutines import Deadlock, go, gosched, run, syscall
from goroutines.runtime import trace, tracehtml, tracetools
from goroutines.runtime.runtime2 import WaitReason
from tests.test_debug import Parker  # goroutines parked on one lock, readied by unpark_all


@pytest.fixture(autouse=True)
def no_thread_leak() -> Iterator[None]:
    """After each test no runtime thread (M or sysmon) may be alive, nor tracing on."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("goroutines-")]
    assert not left, f"runtime threads still alive after the test: {left}"
    assert not trace.enabled


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


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The known program traced with 2 Ps: the file and its parsed JSON."""
    path = tmp_path_factory.mktemp("trace") / "known.json"
    run(known_program(), gomaxprocs=2, trace=str(path))
    return path, json.loads(path.read_text())


def raw_events(data: dict[str, Any]) -> list[list[Any]]:
    events: list[list[Any]] = data["goroutines"]["events"]
    return events


def test_trace_file_is_chrome_json_with_events_first(traced: tuple[Path, dict[str, Any]]) -> None:
    path, data = traced
    text = path.read_text()
    assert text.startswith('{"displayTimeUnit":"ns","traceEvents":[')
    assert text.index('"traceEvents"') < text.index('"goroutines"'), "Perfetto stops at it"
    assert "\\u" not in text, "Perfetto's JSON reader does not decode \\u escapes"
    phases = Counter(e["ph"] for e in data["traceEvents"])
    assert set(phases) <= {"M", "X", "i", "s", "f", "C"}
    assert phases["X"] > 0 and phases["C"] > 0 and phases["s"] == phases["f"] > 0
    for e in data["traceEvents"]:
        assert {"ph", "name", "pid"} <= set(e), e
        if e["ph"] != "M":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
        assert not any(isinstance(v, list) for v in e.values()), "no arrays in an event"
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in data["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    assert sorted(v for (pid, _), v in names.items() if pid == 1) == ["P0", "P1"]
    assert all(v.startswith("M") for (pid, _), v in names.items() if pid == 2)
    assert len({tid for _, tid in names}) == len(names), "tids are unique across processes"
    assert 0 not in {tid for _, tid in names}, "tid 0 is Perfetto's idle thread"
    counters = [e for e in data["traceEvents"] if e["ph"] == "C"]
    assert {e["name"] for e in counters} == {"runqueue", "goroutines"}
    for e in counters:
        keys = (
            {"global", "P0", "P1"}
            if e["name"] == "runqueue"
            else {"running", "runnable", "blocked"}
        )
        assert set(e["args"]) == keys and all(v >= 0 for v in e["args"].values()), e


def test_every_goroutine_created_starts_and_ends(traced: tuple[Path, dict[str, Any]]) -> None:
    events = raw_events(traced[1])
    created = {e[2]: e for e in events if e[0] == "GoCreate"}
    assert len(created) == 1 + NWORKERS + NPARKED + 1
    fns = Counter(name.rsplit(".", 1)[-1] for _, _, _, _, name, _ in created.values())
    assert fns == {"main": 1, "worker": NWORKERS, "sleeper": NPARKED, "sysg": 1}
    for goid, create in created.items():
        mine = [e for e in events if e[0].startswith("Go") and e[2] == goid]
        kinds = [e[0] for e in mine]
        assert kinds[0] == "GoCreate" and kinds[1] == "GoStart", kinds
        assert kinds[-1] == "GoEnd" and kinds.count("GoEnd") == 1, kinds
        assert [e[1] for e in mine] == sorted(e[1] for e in mine)
        assert create[3] == (0 if goid == 1 else 1), "parent goid"


def test_every_block_has_an_unblock_by_main(traced: tuple[Path, dict[str, Any]]) -> None:
    events = raw_events(traced[1])
    parks = [e for e in events if e[0] == "GoPark"]
    assert len(parks) == NPARKED
    for park in parks:
        assert park[4] == "chan receive"
        unblocks = [e for e in events if e[0] == "GoUnblock" and e[2] == park[2]]
        assert len(unblocks) == 1 and unblocks[0][1] >= park[1]
        assert unblocks[0][3] == 1, "readied by main"
    syscalls = [e for e in events if e[0] in ("GoSysCall", "GoSysExit")]
    assert [e[0] for e in syscalls] == ["GoSysCall", "GoSysExit"]
    assert syscalls[0][2] == syscalls[1][2]


def test_timestamps_are_monotonic_and_p_slices_never_overlap(
    traced: tuple[Path, dict[str, Any]],
) -> None:
    data = traced[1]
    ts = [e[1] for e in raw_events(data)]
    assert ts == sorted(ts)
    tracks: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for e in data["traceEvents"]:
        if e["ph"] == "X":
            tracks.setdefault((e["pid"], e["tid"]), []).append(e)
    assert 1 <= len([t for t in tracks if t[0] == 1]) <= 2, "slices are on P tracks"
    for track, slices in tracks.items():
        starts = [s["ts"] for s in slices]
        assert starts == sorted(starts), track
        for a, b in itertools.pairwise(slices):
            assert a["ts"] + a["dur"] <= b["ts"] + 0.001, (track, a, b)


def test_slices_are_named_by_goid_and_function(traced: tuple[Path, dict[str, Any]]) -> None:
    data = traced[1]
    fn = {e[2]: e[4] for e in raw_events(data) if e[0] == "GoCreate"}
    xs = [e for e in data["traceEvents"] if e["ph"] == "X" and e["pid"] == 1]
    assert {e["args"]["goid"] for e in xs} == set(fn), "every goroutine ran"
    for e in xs:
        m = re.fullmatch(r"G(\d+) (.+)", e["name"])
        assert m and int(m[1]) == e["args"]["goid"], e
        assert m[2] == fn[int(m[1])].replace("<locals>.", ""), e


def test_unblocks_are_flow_arrows(traced: tuple[Path, dict[str, Any]]) -> None:
    data = traced[1]
    flows: dict[int, dict[str, dict[str, Any]]] = {}
    for e in data["traceEvents"]:
        if e["ph"] in "sf":
            flows.setdefault(e["id"], {})[e["ph"]] = e
    kinds = Counter(f["s"]["cat"] for f in flows.values())
    assert kinds["unblock"] == NPARKED
    assert kinds["go"] >= 1
    for f in flows.values():
        assert f["s"]["ts"] <= f["f"]["ts"] and f["f"]["bp"] == "e"


def test_model_accounts_for_every_nanosecond(traced: tuple[Path, dict[str, Any]]) -> None:
    model = tracetools.Model(traced[1]["goroutines"])
    for g in model.gs.values():
        assert g.state == "dead" and g.created is not None and g.ended is not None
        assert sum(g.time.values()) == g.ended - g.created, g
        assert len(g.latencies) >= 1
    sleepers = [g for g in model.gs.values() if g.fn.endswith("sleeper")]
    assert all(g.time["blocked"] > 0 and g.unblockers == {"G1": 1} for g in sleepers)
    assert sum(g.time["syscall"] for g in model.gs.values()) > 0


def test_summary_reports_goroutines_latency_and_ps(traced: tuple[Path, dict[str, Any]]) -> None:
    text = tracetools.summary(tracetools.Model(traced[1]["goroutines"]))
    assert re.search(r"scheduling latency \(runnable -> running\), \d+ samples:\n  p50=\S+ ", text)
    assert re.search(r"\nP0 +\d+\.\d% ", text) and re.search(r"\nP1 +\d+\.\d% ", text)
    assert re.search(r"\nG1 known_program\.main +\S+ +\S+ ", text)
    assert len(re.findall(r"\nG\d+ known_program\.worker ", text)) == NWORKERS
    assert re.search(r"sleeper .* chan receive \S+ / G1x1", text)


# ---------------------------------------------------------------------------
# The model on synthetic events (deterministic)


def model(*events: list[Any], nprocs: int = 2) -> tracetools.Model:
    duration = max(e[1] for e in events)
    return tracetools.Model({"nprocs": nprocs, "duration": duration, "events": list(events)})


def test_model_hog_loses_its_p_to_sysmon() -> None:
    m = model(
        ["GoCreate", 0, 2, 1, "hog", ""],
        ["GoCreate", 0, 3, 1, "other", ""],
        ["GoStart", 10, 2, 0, 1, 0, 0],
        ["ProcSteal", 20, 0],
        ["ProcStart", 21, 0, 2],
        ["GoStart", 22, 3, 0, 2, 0, 0],
        ["GoSched", 30, 2, -1, True],
        ["GoEnd", 40, 3, 0],
        ["GoStart", 41, 2, 1, 3, 0, 0],
        ["GoEnd", 45, 2, 1],
    )
    assert [(s.p, s.goid, s.start, s.end, s.why) for s in m.slices] == [
        (0, 2, 10, 20, "P retaken by sysmon"),
        (0, 3, 22, 40, "exit"),
        (1, 2, 41, 45, "exit"),
    ]
    hog = m.gs[2]
    assert dict(hog.time) == {"runnable": 10 + 11, "running": 20 + 4}
    assert hog.latencies == [10, 11]
    assert len(m.handoffs) == 1


def test_model_syscall_without_p_resumes_where_its_m_gets_one() -> None:
    m = model(
        ["GoCreate", 0, 2, 1, "io", ""],
        ["GoStart", 10, 2, 0, 1, 0, 0],
        ["GoSysCall", 12, 2, 0],
        ["ProcSteal", 15, 0],
        ["GoSysExit", 40, 2, 1],
        ["ProcStart", 45, 1, 1],
        ["GoEnd", 50, 2, 1],
    )
    assert [(s.p, s.start, s.end) for s in m.slices] == [(0, 10, 15), (1, 45, 50)]
    assert dict(m.gs[2].time) == {"runnable": 10 + 5, "running": 2 + 5, "syscall": 28}
    assert m.gs[2].latencies == [10, 5]


def test_summary_percentiles_steals_and_handoffs() -> None:
    events: list[list[Any]] = []
    for i in range(100):  # goroutine i waits i+1 ns to run, then runs 1 ns
        t = 1000 * i
        events += [
            ["GoCreate", t, 10 + i, 1, "w", "f.py:1"],
            ["GoStart", t + i + 1, 10 + i, i % 2, 0, 0, 0],
            ["GoEnd", t + i + 2, 10 + i, i % 2],
        ]
    events += [["Steal", 200_000, 1, 0, 3], ["Steal", 200_001, 1, 0, 1], ["ProcSteal", 200_002, 0]]
    text = tracetools.summary(model(*events))
    assert "100 samples:\n  p50=50ns p90=90ns p99=99ns max=100ns\n" in text
    assert "steals: 2 (4 goroutines moved)" in text
    assert "): 1\n" in text, "one handoff"
    p0 = re.search(r"\nP0 .*", text)
    p1 = re.search(r"\nP1 .*", text)
    assert p0 and p0[0].split()[-4:] == ["50", "0", "2", "1"]
    assert p1 and p1[0].split()[-4:] == ["50", "2", "0", "0"]


# ---------------------------------------------------------------------------
# Starting and stopping traces


def test_trace_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    monkeypatch.setenv("GOROUTINES_TRACE", str(path))

    async def main() -> int:
        return 7

    assert run(main) == 7
    events = tracetools.load(str(path))["events"]
    assert [e[0] for e in events if e[0].startswith("Go")] == ["GoCreate", "GoStart", "GoEnd"]


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

    threads = [
        threading.Thread(target=runner, args=(n, None if n == "untraced" else str(tmp_path / n)))
        for n in ("alpha", "beta", "untraced")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name in ("alpha", "beta"):
        fns = Counter(
            e[4] for e in tracetools.load(str(tmp_path / name))["events"] if e[0] == "GoCreate"
        )
        assert fns == {
            "test_concurrent_runs_trace_only_their_own_goroutines.<locals>"
            ".program.<locals>.main": 1,
            name: 20,
        }


def test_trace_is_written_when_the_run_deadlocks(tmp_path: Path) -> None:
    path = tmp_path / "dead.json"
    parker = Parker()

    async def main() -> None:
        await parker.park(WaitReason.Select)

    with pytest.raises(Deadlock):
        run(main, trace=str(path))
    m = tracetools.Model(tracetools.load(str(path)))
    assert m.gs[1].state == "blocked" and m.gs[1].reason == "select"


def test_bad_trace_path_fails_before_main_runs(tmp_path: Path) -> None:
    ran = []

    async def main() -> None:
        ran.append(1)

    with pytest.raises(FileNotFoundError):
        run(main, trace=str(tmp_path / "no" / "such" / "dir.json"))
    assert not ran


def test_load_rejects_a_file_that_is_not_a_trace(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"traceEvents": []}')
    with pytest.raises(ValueError, match="not a goroutines trace"):
        tracetools.load(str(path))


# ---------------------------------------------------------------------------
# The HTML page


def test_html_page_is_self_contained(traced: tuple[Path, dict[str, Any]]) -> None:
    page = tracehtml.render(tracetools.Model(traced[1]["goroutines"]), "known.json")
    assert page.startswith("<!doctype html>")
    assert "http" not in page and "<link" not in page and "src=" not in page
    assert page.count("<script") == 2


CHROMIUM = next(
    (
        p
        for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
        if p is not None
    ),
    None,
)


def chromium(tmp_path: Path, *args: str) -> str:
    """Run headless Chromium with a fresh profile; its stdout."""
    res = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.timeout(90)
def test_html_page_draws_every_p_and_slice_in_chromium(
    traced: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    m = tracetools.Model(traced[1]["goroutines"])
    page = tmp_path / "known.html"
    page.write_text(tracehtml.render(m, "known.json"))
    dom = chromium(tmp_path, "--window-size=1400,600", "--dump-dom", page.as_uri())
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', body[1]))
    assert attrs["ready"] == "1"
    assert attrs["prows"] == "2"
    assert attrs["slices"] == attrs["drawn"] == str(len(m.slices))
    assert attrs["goroutines"] == str(len(m.gs))
    legend = {html.unescape(x) for x in re.findall(r'<li data-fn="([^"]+)"', dom)}
    assert legend == {f"known_program.{fn}" for fn in ("main", "worker", "sleeper", "sysg")}
    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1400,600", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
