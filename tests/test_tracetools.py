"""The trace readers: the model on synthetic events (deterministic), the
summary, durations as people write them, and the HTML page, in headless
Chromium when installed (the page's own fmtdur against Python's, the lanes it
draws for a real trace with a syscall and a handoff).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from goroutines import run
from goroutines.tracetools import html as tracehtml
from goroutines.tracetools import read
from goroutines.tracetools.model import Model
from goroutines.tracetools.summary import summary
from goroutines.tracetools.units import fmtdur
from tests.test_trace import handoff_program, known_program

# ---------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (250, "250ns"),
        (999, "999ns"),
        (999.4, "999ns"),
        (999.5, "1µs"),  # half up
        (1000, "1µs"),
        (1001, "1.001µs"),
        (12_345, "12.35µs"),  # 4 significant digits
        (10_125, "10.13µs"),  # a tie rounds up (Python's round() would say 10.12)
        (999_500, "999.5µs"),
        (999_949, "999.9µs"),
        (999_950, "1ms"),  # rounding carries into the next unit: not "1e+03µs"
        (1_200_000, "1.2ms"),
        (1_234_567, "1.235ms"),
        (3_000_000_000, "3s"),
        (59_999_999_999, "60s"),
        (1_234_500_000_000, "1235s"),
        (-1500, "-1.5µs"),
    ],
)
def test_fmtdur_prints_durations_as_people_write_them(ns: float, text: str) -> None:
    assert fmtdur(ns) == text


# ---------------------------------------------------------------------------
# The model on synthetic events


def model(*events: list[Any], nprocs: int = 2) -> Model:
    duration = max(e[1] for e in events)
    return Model({"version": 2, "nprocs": nprocs, "duration": duration, "events": list(events)})


def test_model_hog_loses_its_p_to_sysmon() -> None:
    m = model(
        ["ProcStart", 0, 0, 1],
        ["GoCreate", 0, 2, 1, "hog", ""],
        ["GoCreate", 0, 3, 1, "other", ""],
        ["GoStart", 10, 2, 0, 1],
        ["ProcSteal", 20, 0],
        ["ProcStart", 21, 0, 2],
        ["GoStart", 22, 3, 0, 2],
        ["GoSched", 30, 2, True],
        ["GoEnd", 40, 3],
        ["ProcStart", 41, 1, 1],
        ["GoStart", 41, 2, 1, 1],
        ["GoEnd", 45, 2],
    )
    assert [(s.p, s.goid, s.start, s.end, s.why) for s in m.slices] == [
        (0, 2, 10, 20, "P retaken by sysmon"),
        (0, 3, 22, 40, "exit"),
        (1, 2, 41, 45, "exit"),
    ]
    hog = m.gs[2]
    assert dict(hog.time) == {"runnable": 10 + 11, "running": 20 + 4}
    assert hog.latencies == [10, 11]
    (h,) = m.handoffs
    assert (h.ts, h.p, h.from_m, h.what, h.to_m, h.to_ts) == (20, 0, 1, "running", 2, 21)
    assert (1, 20, 30, "G2, P0 retaken") in m.mslices, "M1 ran the hog on without a P"


def test_model_syscall_without_p_resumes_where_its_m_gets_one() -> None:
    m = model(
        ["ProcStart", 0, 0, 1],
        ["GoCreate", 0, 2, 1, "io", ""],
        ["GoStart", 10, 2, 0, 1],
        ["GoSysCall", 12, 2],
        ["ProcSteal", 15, 0],
        ["ProcStart", 16, 0, 3],
        ["ProcStop", 17, 0, 3],
        ["GoSysExit", 40, 2, 1],
        ["ProcStart", 45, 1, 1],
        ["GoEnd", 50, 2],
    )
    assert [(s.p, s.start, s.end) for s in m.slices] == [(0, 10, 15), (1, 45, 50)]
    assert dict(m.gs[2].time) == {"runnable": 10 + 5, "running": 2 + 5, "syscall": 28}
    assert m.gs[2].latencies == [10, 5]
    (call,) = m.syscalls
    assert (call.goid, call.m, call.p, call.start, call.pend, call.end) == (2, 1, 0, 12, 15, 40)
    (h,) = m.handoffs
    assert (h.from_m, h.what, h.to_m, h.to_ts) == (1, "syscall", 3, 16)
    m1 = [(start, end, label) for mm, start, end, label in m.mslices if mm == 1]
    assert m1 == [(0, 12, "P0"), (12, 40, "syscall G2"), (45, 50, "P1")]


def test_model_syscall_that_keeps_its_p() -> None:
    m = model(
        ["ProcStart", 0, 0, 1],
        ["GoCreate", 0, 2, 0, "io", ""],
        ["GoStart", 10, 2, 0, 1],
        ["GoSysCall", 12, 2],
        ["GoSysExit", 20, 2, 1],
        ["GoEnd", 25, 2],
    )
    assert [(s.p, s.start, s.end) for s in m.slices] == [(0, 10, 25)]
    (call,) = m.syscalls
    assert (call.p, call.start, call.pend, call.end) == (0, 12, 20, 20)
    assert not m.handoffs
    labels = [(start, end, label) for _, start, end, label in m.mslices]
    assert labels == [(0, 12, "P0"), (12, 20, "syscall G2"), (20, 25, "P0")]


def test_model_unblocker_is_the_goroutine_running_on_the_waking_m() -> None:
    m = model(
        ["GoCreate", 0, 1, 0, "main", ""],
        ["GoCreate", 0, 2, 1, "sleeper", ""],
        ["GoStart", 1, 2, 0, 0],
        ["GoPark", 2, 2, "sleep"],
        ["GoStart", 3, 1, 0, 0],
        ["GoUnblock", 4, 2, 0],  # readied by main, running on M0
        ["GoPark", 5, 1, "select"],
        ["GoUnblock", 6, 1, 0],  # by M0 with no goroutine: the runtime
        ["GC", 7, 3, 0],
    )
    assert m.gs[2].unblockers == {"G1": 1}
    assert m.gs[1].unblockers == {"runtime": 1}
    assert m.gcs == [(7, 10, 0)]


def test_summary_percentiles_steals_handoffs_syscalls_and_gc() -> None:
    events: list[list[Any]] = []
    for i in range(100):  # goroutine i waits i+1 ns to run, then runs 1 ns
        t = 1000 * i
        events += [
            ["GoCreate", t, 10 + i, 1, "w", "f.py:1"],
            ["GoStart", t + i + 1, 10 + i, i % 2, 0],
            ["GoEnd", t + i + 2, 10 + i],
        ]
    events += [
        ["Steal", 200_000, 1, 0, 3],
        ["Steal", 200_001, 1, 0, 1],
        ["ProcSteal", 200_002, 0],
        ["GC", 200_003, 999_500, 2],
    ]
    text = summary(model(*events))
    assert "100 samples:\n  p50=50ns p90=90ns p99=99ns max=100ns\n" in text
    assert "steals: 2 (4 goroutines moved)" in text
    assert "handoffs (sysmon retook a P): 1 (0 from a syscall, 1 from a goroutine" in text
    assert "GC pauses: 1, 999.5µs in all" in text
    p0 = re.search(r"\nP0 .*", text)
    p1 = re.search(r"\nP1 .*", text)
    assert p0 and p0[0].split()[-4:] == ["50", "0", "2", "1"]
    assert p1 and p1[0].split()[-4:] == ["50", "2", "0", "0"]
    assert "e+" not in text, "no exponents in durations"


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Model:
    """The model of test_trace's known program, traced with 2 Ps."""
    path = tmp_path_factory.mktemp("tools") / "known.out"
    run(known_program(), gomaxprocs=2, trace=str(path))
    return Model(read.load(str(path)))


@pytest.fixture(scope="module")
def handoff(tmp_path_factory: pytest.TempPathFactory) -> Model:
    """The model of test_trace's handoff program: a syscall, a handoff, two Ms."""
    path = tmp_path_factory.mktemp("tools") / "handoff.out"
    run(handoff_program(), gomaxprocs=1, trace=str(path))
    return Model(read.load(str(path)))


def test_summary_reports_goroutines_latency_and_ps(known: Model) -> None:
    text = summary(known)
    assert re.search(r"scheduling latency \(runnable -> running\), \d+ samples:\n  p50=\S+ ", text)
    assert re.search(r"\nP0 +\d+\.\d% ", text) and re.search(r"\nP1 +\d+\.\d% ", text)
    assert re.search(r"\nG1 known_program\.main +\S+ +\S+ ", text)
    assert len(re.findall(r"\nG\d+ known_program\.worker ", text)) == 6
    assert re.search(r"sleeper .* chan receive \S+ / G1x1", text)
    assert re.search(r"\nsyscalls: 1, \S+ in all", text)


# ---------------------------------------------------------------------------
# The HTML page


def test_html_page_is_self_contained(known: Model) -> None:
    page = tracehtml.render(known, "known.out")
    assert page.startswith("<!doctype html>")
    assert "http" not in page and "<link" not in page and "src=" not in page
    assert page.count("<script") == 2


def test_html_page_holds_the_beginning_of_a_big_trace(
    known: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracehtml, "MAX_SLICES", 5)
    data = tracehtml.pagedata(known, "known.out")
    assert len(data["slices"]) == 5 and data["nslices"] == len(known.slices)
    assert data["end"] < data["duration"] == known.duration
    assert all(s[1] < data["end"] for s in data["slices"])


CHROMIUM = next(
    (
        p
        for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
        if p is not None
    ),
    None,
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
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


def rendered(tmp_path: Path, page: str) -> tuple[dict[str, str], str]:
    """The <body> data attributes and the DOM of a page after its script ran."""
    path = tmp_path / "page.html"
    path.write_text(page)
    dom = chromium(tmp_path, "--window-size=1400,900", "--dump-dom", path.as_uri())
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', body[1])), dom


@needs_chromium
@pytest.mark.timeout(90)
def test_the_page_formats_durations_as_python_does(tmp_path: Path) -> None:
    values = [0, 1, 250, 999, 999.5, 1000, 1001, 12_345, 10_125, 999_500, 999_949, 999_950]
    values += [1_200_000, 1_234_567, 3e9, 59_999_999_999, 1_234_500_000_000, -1500, 7.4]
    values += [10**k + 5 * 10 ** (k - 4) for k in range(4, 13)]  # ties at the 5th digit
    page = (
        f"<!doctype html><html><body><script>{tracehtml.FMTDUR_JS}\n"
        f"document.body.dataset.out = JSON.stringify({json.dumps(values)}.map(fmtdur));"
        "</script></body></html>"
    )
    attrs, _ = rendered(tmp_path, page)
    assert json.loads(html.unescape(attrs["out"])) == [fmtdur(v) for v in values]


@needs_chromium
@pytest.mark.timeout(90)
def test_html_page_draws_every_p_slice_and_goroutine(known: Model, tmp_path: Path) -> None:
    attrs, dom = rendered(tmp_path, tracehtml.render(known, "known.out"))
    assert attrs["ready"] == "1"
    assert attrs["prows"] == "2" and attrs["mrows"] == str(len(known.ms))
    assert attrs["slices"] == attrs["drawn"] == str(len(known.slices))
    assert attrs["goroutines"] == str(len(known.gs))
    assert html.unescape(attrs["duration"]) == fmtdur(known.duration)
    legend = {html.unescape(x) for x in re.findall(r'<li data-fn="([^"]+)"', dom)}
    assert legend == {f"known_program.{fn}" for fn in ("main", "worker", "sleeper", "sysg")}
    shot = tmp_path / "shot.png"
    chromium(
        tmp_path,
        "--window-size=1400,900",
        f"--screenshot={shot}",
        (tmp_path / "page.html").as_uri(),
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_chromium
@pytest.mark.timeout(90)
def test_html_page_draws_syscall_and_handoff_lanes(handoff: Model, tmp_path: Path) -> None:
    assert handoff.syscalls and handoff.handoffs
    attrs, dom = rendered(tmp_path, tracehtml.render(handoff, "handoff.out"))
    lanes = dict(re.findall(r'<div class="lane[^"]*" data-lane="(\w+)" data-kind="(\w+)"', dom))
    assert {k: lanes[k] for k in ("syscalls", "handoffs", "gc", "P0")} == {
        "syscalls": "syscalls",
        "handoffs": "handoffs",
        "gc": "gc",
        "P0": "p",
    }
    assert {f"M{m}" for m in handoff.ms} <= {k for k, v in lanes.items() if v == "m"}
    assert len(handoff.ms) >= 2, "main's M and the one P0 was handed to"
    assert attrs["syscalls-drawn"] == attrs["syscalls"] == str(len(handoff.syscalls))
    assert attrs["handoffs-drawn"] == attrs["handoffs"] == str(len(handoff.handoffs))
    in_p = [c for c in handoff.syscalls if c.p >= 0]
    assert attrs["p-syscalls-drawn"] == str(len(in_p)) != "0", "the P waited for the call"
    assert int(attrs["m-drawn"]) == len(handoff.mslices)
    kinds = set(re.findall(r'<li data-kind="(\w+)"', dom))
    assert {"syscall", "handoff", "gc", "idle"} <= kinds


@needs_chromium
@pytest.mark.timeout(120)
def test_html_page_draws_a_big_trace(tmp_path: Path) -> None:
    """200,000 slices on 2 Ps, each a state change: every lane is drawn, at most a mark a pixel."""
    events: list[list[Any]] = [["ProcStart", 0, 0, 0], ["ProcStart", 0, 1, 1]]
    for goid in (1, 2):
        events.append(["GoCreate", 0, goid, 0, f"g{goid}", ""])
    for i in range(100_000):
        for p, goid in ((0, 1), (1, 2)):
            events += [["GoStart", 10 * i + 1, goid, p, p], ["GoPark", 10 * i + 5, goid, "sleep"]]
            events.append(["GoUnblock", 10 * i + 6, goid, -1])
    m = model(*events)
    assert len(m.slices) == 200_000 and len(m.counts) > 100_000
    attrs, _ = rendered(tmp_path, tracehtml.render(m, "big"))
    assert attrs["ready"] == "1" and attrs["drawn"] == attrs["slices"] == "200000"
