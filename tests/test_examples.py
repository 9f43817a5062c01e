"""The example programs of examples/gobyexample/ print what their main.out says.

Each example runs twice, as its own process with a hard timeout: as
`python main.py` with the interpreter's default GOMAXPROCS (1 with the GIL, the
CPU count without it), and as `python -m goroutines run main.py` with the other
setting (2 Ps with the GIL, 1 without), so that every program is checked with
one P and with several. The checks are examples/check_examples.py's, which
`make examples` runs too; the tests below them show that each rule for a
nondeterministic output rejects a wrong one.

The runs are made two at a time, all before the first test that checks one,
so that no process is running while another test looks for leaked fds.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest


def load_checker() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "examples" / "check_examples.py"
    spec = importlib.util.spec_from_file_location("check_examples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def default_gomaxprocs() -> int:
    """The Ps of run() without an argument: GOMAXPROCS, else the CPUs without the GIL, else 1."""
    env = os.environ.get("GOMAXPROCS", "")
    if env.isdigit() and int(env) >= 1:
        return int(env)
    if getattr(sys, "_is_gil_enabled", lambda: True)():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


ce = load_checker()
NAMES = ce.names()
OTHER_GOMAXPROCS = 2 if default_gomaxprocs() == 1 else 1


def check(result: object) -> None:
    problem = result.problem()  # type: ignore[attr-defined]
    assert problem is None, ce.report(result, problem)


def run_both_ways(name: str, cli: bool) -> object:
    if cli:
        return ce.run_example(name, cli=True, gomaxprocs=OTHER_GOMAXPROCS)
    return ce.run_example(name)


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> dict[tuple[str, bool], object]:
    """The runs of the selected example tests, (name, cli) -> Result."""
    wanted = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and item.name.startswith("test_example_"):
            wanted.append((callspec.params["name"], "goroutines_run" in item.name))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(run_both_ways, *key) for key in wanted}
        return {key: f.result() for key, f in futures.items()}


@pytest.mark.parametrize("name", NAMES)
def test_example_as_script(name: str, runs: dict[tuple[str, bool], object]) -> None:
    check(runs[name, False])


@pytest.mark.parametrize("name", NAMES)
def test_example_with_goroutines_run(name: str, runs: dict[tuple[str, bool], object]) -> None:
    check(runs[name, True])


def test_every_chapter_is_here() -> None:
    """The concurrency chapters of Go by Example, every one of them."""
    chapters = {
        "goroutines", "channels", "channel-buffering", "channel-synchronization",
        "channel-directions", "select", "timeouts", "non-blocking-channel-operations",
        "closing-channels", "range-over-channels", "timers", "tickers", "worker-pools",
        "waitgroups", "rate-limiting", "atomic-counters", "mutexes", "stateful-goroutines",
        "context", "signals",
    }  # fmt: skip
    assert chapters <= set(NAMES)
    assert set(NAMES) <= chapters, "a new example: add it to this list"


@pytest.mark.parametrize("name", NAMES)
def test_example_layout(name: str) -> None:
    """main.py has a docstring, an async def main() and the `python main.py` entry."""
    d = ce.EXAMPLES / name
    assert (d / "main.out").read_text(encoding="utf-8").endswith("\n")
    source = (d / "main.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    doc = ast.get_docstring(tree)
    assert doc and doc.splitlines()[0], "the first line of the docstring is the title"
    assert f"https://gobyexample.com/{name}" in doc
    mains = [n for n in tree.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "main"]
    assert mains, "no async def main()"
    assert source.rstrip().endswith('if __name__ == "__main__":\n    run(main)')


def test_rules_name_examples() -> None:
    assert set(ce.RULES) <= set(NAMES)
    assert set(ce.INTERRUPT) <= set(NAMES)


def test_how_checked_says_what_ci_does() -> None:
    """The docs' "How CI checks it" for each kind of example."""
    assert (
        ce.how_checked("channels")
        == "the output must be exactly this, with one P and with several."
    )
    assert ce.how_checked("tickers").startswith("Ticks 0.1 s apart")
    assert ce.how_checked("signals").startswith(
        "once it has printed `awaiting signal`, it gets SIGINT"
    )


def lines(name: str) -> list[str]:
    """The main.out of an example."""
    out: str = (ce.EXAMPLES / name / "main.out").read_text(encoding="utf-8")
    return out.splitlines()


@pytest.mark.parametrize("name", sorted(ce.RULES))
def test_rule_accepts_main_out(name: str) -> None:
    ce.RULES[name](lines(name), lines(name))


def rejects(name: str, got: list[str], match: str) -> None:
    with pytest.raises(ce.Mismatch, match=match):
        ce.RULES[name](got, lines(name))


def test_exact_rejects_a_difference() -> None:
    ce.exact(["ping"], ["ping"])
    with pytest.raises(ce.Mismatch):
        ce.exact(["pong"], ["ping"])


def test_goroutines_rule() -> None:
    want = lines("goroutines")
    mixed = [*want[:3], "going", "goroutine : 0", "goroutine : 1", "goroutine : 2", *want[-1:]]
    ce.RULES["goroutines"](mixed, want)
    mixed[4], mixed[5] = mixed[5], mixed[4]  # goroutine : 1 before goroutine : 0
    rejects("goroutines", mixed, "lines of 'goroutine'")
    rejects("goroutines", want[1:] + want[:1], "first 3 lines")
    rejects("goroutines", want[:-1], "lines")


def test_closing_channels_rule() -> None:
    want = lines("closing-channels")
    sent = [line for line in want[:-1] if line.startswith("sent")]
    received = [line for line in want[:-1] if line.startswith("received")]
    ce.RULES["closing-channels"](received[:2] + sent + received[2:] + want[-1:], want)
    rejects("closing-channels", sent[::-1] + received + want[-1:], "lines of 'sent'")


def test_worker_pools_rule() -> None:
    got = lines("worker-pools")
    rejects("worker-pools", got[:-1], "jobs started")
    rejects("worker-pools", [*got[:-1], got[-1].replace("finished", "started ")], "before")
    first = got.index(next(line for line in got if "finished" in line))
    rejects("worker-pools", [got[first], *got[:first], *got[first + 1 :]], "had not started")
    rejects("worker-pools", [*got[:-1], "worker 4 finished job 5"], "does not match")


def test_waitgroups_rule() -> None:
    want = lines("waitgroups")
    ce.RULES["waitgroups"](sorted(want, key=lambda line: "done" in line), want)
    rejects("waitgroups", sorted(want, key=lambda line: "starting" in line), "lines of")


def test_tickers_rule() -> None:
    ce.RULES["tickers"](["Tick at 0.1s", "Tick at 0.3s", "Ticker stopped"], [])
    rejects("tickers", ["Tick at 0.1s", "Tick at 0.1s", "Ticker stopped"], "before 2 periods")
    rejects("tickers", ["Tick at 0.1s"], "last line")
    rejects("tickers", ["Ticker stopped"], "0 ticks")


def test_rate_limiting_rule() -> None:
    good = [f"request {k} {0.05 * k:.2f}s" for k in range(1, 6)]
    burst = (0.3, 0.3, 0.3, 0.35, 0.4)
    good += [f"request {k} {t:.2f}s" for k, t in zip(range(1, 6), burst, strict=True)]
    ce.RULES["rate-limiting"](good, [])
    too_fast = [line.replace("0.20s", "0.12s") for line in good]
    rejects("rate-limiting", too_fast, "before 4 ticks")
    no_burst = [*good[:6], "request 2 0.35s", "request 3 0.40s", *good[8:]]
    rejects("rate-limiting", no_burst, "not a burst")
    rejects("rate-limiting", good[:9], "expected 1 to 5, twice")


def test_stateful_goroutines_rule() -> None:
    ce.RULES["stateful-goroutines"](["readOps: 7", "writeOps: 1"], [])
    ce.RULES["stateful-goroutines"](["readOps: 7", "writeOps: 0"], [])
    rejects("stateful-goroutines", ["readOps: 0", "writeOps: 0"], "no operation")
    rejects("stateful-goroutines", ["writeOps: 1", "readOps: 7"], "readOps line, then")


def test_runner_interrupts_and_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A program listed in INTERRUPT gets SIGINT after its line; one that hangs is killed."""
    d = tmp_path / "signals"
    d.mkdir()
    (d / "main.py").write_text(
        "import signal, time\n"
        # Python's own Ctrl-C handling even if started with SIGINT ignored (as a
        # background job of a shell without job control is, and its children).
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "try:\n"  # ready for the signal before saying so
        "    print('awaiting signal', flush=True)\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupt')\n"
    )
    (d / "main.out").write_text("awaiting signal\ninterrupt\n")
    monkeypatch.setattr(ce, "EXAMPLES", tmp_path)
    monkeypatch.setitem(ce.INTERRUPT, "signals", "awaiting signal")
    check(ce.run_example("signals"))
    monkeypatch.delitem(ce.INTERRUPT, "signals")
    monkeypatch.setattr(ce, "TIMEOUT", 0.5)
    r = ce.run_example("signals")
    assert r.returncode is None
    assert r.problem() == "did not finish in 0.5 s"


# The offline link check of the built docs (docs/check_links.py, `make docs-linkcheck`): the docs
# are built by `make docs`, not here, but the checker itself is plain Python.


def load_link_checker() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "docs" / "check_links.py"
    spec = importlib.util.spec_from_file_location("check_links", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_link_checker(tmp_path: Path) -> None:
    cl = load_link_checker()
    (tmp_path / "api").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="api/page.html#run">run</a> <a href="https://example.org/x#y">web</a>'
        '<a href="#top" id="top">top</a> <img src="logo.png">'
    )
    (tmp_path / "logo.png").write_bytes(b"")
    (tmp_path / "api" / "page.html").write_text(
        '<dt id="run">run</dt><a href="../index.html">home</a> <a name="old"></a>'
        '<a href="page.html#old">old</a>'
    )
    assert cl.check(tmp_path) == []
    (tmp_path / "api" / "page.html").write_text(
        '<dt id="go">go</dt><a href="../missing.html">gone</a> <a href="../../out.html">out</a>'
    )
    assert sorted(cl.check(tmp_path)) == [
        "api/page.html: ../../out.html (leaves the site)",
        "api/page.html: ../missing.html (no such file)",
        "index.html: api/page.html#run (no #run in api/page.html)",
    ]
