"""Run the example programs and check what they print: `make examples`.

    python examples/check_examples.py [--cli] [--gomaxprocs N] [--write] [NAME ...]

Every example is a directory of `examples/gobyexample/` holding `main.py`, a
real program (`python main.py` or `goroutines run main.py`), and `main.out`,
what it prints. Each runs as its own process, as a user would run it, with a
hard timeout; it must exit with status 0, write nothing to stderr, and print
what `main.out` says:

* By default, exactly `main.out`.
* For a program whose output Go by Example itself calls nondeterministic
  (goroutines printing concurrently, times, counts), `main.out` is the output
  of one run, shown in the docs, and a rule in RULES below checks what every
  run must print: each goroutine's own lines in order, the set of lines,
  lower bounds on times...

Adding a chapter is adding its directory: `main.py`, then
`python examples/check_examples.py --write NAME` writes `main.out` from a run
(read it before committing it). Only an example with a nondeterministic output
needs a rule here too, and one that waits for Ctrl-C an entry in INTERRUPT.
tests/test_examples.py runs the same checks in CI.

The programs that race timers against each other (select, timeouts, timers,
tickers, rate-limiting) leave 50 to 100 ms between the events they order: a
machine that stops the program for longer than that can change what it
prints, as it would change a Go program's.

Options: --cli runs each program with `python -m goroutines run` instead of
`python main.py`; --gomaxprocs N runs it with GOMAXPROCS=N in its environment.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent / "gobyexample"
TIMEOUT = 30.0  # seconds per program; each takes well under one


class Mismatch(AssertionError):
    """The output of an example is not what it must be."""


# A rule gets the lines printed and the lines of main.out; it raises Mismatch.
Rule = Callable[[list[str], list[str]], None]


def exact(got: list[str], want: list[str]) -> None:
    """The output is main.out, line for line."""
    if got != want:
        raise Mismatch("output differs from main.out")


def per_goroutine(key: Callable[[str], str], head: int = 0, tail: int = 0) -> Rule:
    """Goroutines print concurrently: their lines may mix in any order.

    The first `head` and last `tail` lines are as in main.out (printed before
    the goroutines start or after they have finished); in between, the lines
    that `key` attributes to one goroutine are the same, in the same order,
    as in main.out.
    """

    def check(got: list[str], want: list[str]) -> None:
        if len(got) != len(want):
            raise Mismatch(f"{len(got)} lines, expected {len(want)}")
        if got[:head] != want[:head]:
            raise Mismatch(f"the first {head} lines differ from main.out")
        if tail and got[-tail:] != want[-tail:]:
            raise Mismatch(f"the last {tail} lines differ from main.out")
        mid_got, mid_want = got[head : len(got) - tail], want[head : len(want) - tail]
        for k in sorted({key(line) for line in mid_got + mid_want}):
            g = [line for line in mid_got if key(line) == k]
            w = [line for line in mid_want if key(line) == k]
            if g != w:
                raise Mismatch(f"the lines of {k!r} are {g}, expected {w}")

    def some(n: int, first_last: str) -> str:
        return f"the {first_last} line" if n == 1 else f"the {first_last} {n} lines"

    fixed = [some(n, which) for n, which in ((head, "first"), (tail, "last")) if n]
    check.__doc__ = (
        "Goroutines print concurrently, so their lines mix in a different order from run to run; "
        + (" and ".join(fixed) + " must be as shown, and " if fixed else "")
        + "the lines of each goroutine must all be there, in the order shown."
    )
    return check


def parse(pattern: str, lines: list[str]) -> list[re.Match[str]]:
    """Every line must match `pattern` (a regular expression)."""
    matches = []
    for line in lines:
        m = re.fullmatch(pattern, line)
        if m is None:
            raise Mismatch(f"line {line!r} does not match {pattern!r}")
        matches.append(m)
    return matches


def worker_pools(got: list[str], want: list[str]) -> None:
    """Each of the 5 jobs is started and then finished by one of the 3 workers.

    Which worker takes which job varies, but a worker finishes its job before
    it starts the next one.
    """
    ms = parse(r"worker ([123]) (started |finished) job ([1-5])", got)
    current: dict[str, str] = {}  # worker -> the job it is working on
    started, finished = [], []
    for m in ms:
        w, what, job = m.groups()
        if what == "started ":
            if w in current:
                raise Mismatch(f"worker {w} started job {job} before finishing job {current[w]}")
            current[w] = job
            started.append(job)
        else:
            if current.pop(w, None) != job:
                raise Mismatch(f"worker {w} finished job {job}, which it had not started")
            finished.append(job)
    if sorted(started) != list("12345") or sorted(finished) != list("12345"):
        raise Mismatch(f"jobs started {started}, finished {finished}: expected 1 to 5 once each")


def tickers(got: list[str], want: list[str]) -> None:
    """Ticks 0.1 s apart (never early), then "Ticker stopped".

    main stops the ticker after 0.32 s, so 3 ticks are expected; a loaded
    machine may wake main late, or let the tick goroutine see `done` before
    a pending tick (select picks at random), so 1 to 5 are accepted.
    """
    if not got or got[-1] != "Ticker stopped":
        raise Mismatch('the last line must be "Ticker stopped"')
    ticks = [float(m[1]) for m in parse(r"Tick at (\d+\.\d)s", got[:-1])]
    if not 1 <= len(ticks) <= 5:
        raise Mismatch(f"{len(ticks)} ticks: expected 3 (1 to 5 accepted)")
    for k, t in enumerate(ticks, 1):
        if t < k * 0.1 - 0.05:  # printed to 0.1 s
            raise Mismatch(f"tick {k} at {t}s: before {k} periods of 0.1 s")


def rate_limiting(got: list[str], want: list[str]) -> None:
    """Five requests at most one per 50 ms, then three at once (the burst) and two more.

    A ticker never ticks early, so request k of the first five comes k * 50 ms
    after the start or later; the first three of the bursty requests come
    within 50 ms of each other, and the last one after them.
    """
    ms = parse(r"request ([1-5]) (\d+\.\d\d)s", got)
    reqs = [int(m[1]) for m in ms]
    if reqs != [1, 2, 3, 4, 5] * 2:
        raise Mismatch(f"requests {reqs}: expected 1 to 5, twice")
    t = [float(m[2]) for m in ms]
    for k in range(5):  # tick k+1 of the limiter comes (k+1) * 50 ms after the start or later
        if t[k] < (k + 1) * 0.05 - 0.005:  # printed to 0.01 s
            raise Mismatch(f"request {k + 1} at {t[k]}s: before {k + 1} ticks of 50 ms")
    burst = t[5:]
    if burst[2] - burst[0] >= 0.05:
        raise Mismatch(f"bursty requests 1-3 at {burst[:3]}: not a burst (50 ms or more)")
    if not burst[2] < burst[4]:
        raise Mismatch(f"bursty requests 4-5 at {burst[3:]}: did not wait for the limiter")


def stateful_goroutines(got: list[str], want: list[str]) -> None:
    """Two counts of operations that add up to more than none.

    How many depends on the machine and its load: the program runs for 0.1 s,
    and on a loaded machine the 10 writers, started after the 100 readers,
    may not get to finish one write in that time.
    """
    ms = parse(r"(readOps|writeOps): (\d+)", got)
    if [m[1] for m in ms] != ["readOps", "writeOps"]:
        raise Mismatch("expected a readOps line, then a writeOps line")
    if sum(int(m[2]) for m in ms) == 0:
        raise Mismatch("no operation at all")


# The examples whose output is not main.out exactly (see the module docstring).
RULES: dict[str, Rule] = {
    # main prints 3 lines, two goroutines print, then main prints "done".
    "goroutines": per_goroutine(lambda line: line.split(" ")[0], head=3, tail=1),
    # main sends ("sent ...") while the worker receives ("received ...").
    "closing-channels": per_goroutine(lambda line: line.split(" ")[0], tail=1),
    "worker-pools": worker_pools,
    # "Worker 3 starting" and "Worker 3 done" come from the goroutine of worker 3.
    "waitgroups": per_goroutine(lambda line: line.split(" ")[1]),
    "tickers": tickers,
    "rate-limiting": rate_limiting,
    "stateful-goroutines": stateful_goroutines,
}


def how_checked(name: str) -> str:
    """How the output of an example is checked, in a few words (for the docs)."""
    rule = RULES.get(name)
    if rule is None:
        how = "the output must be exactly this, with one P and with several."
    else:
        how = " ".join((inspect.getdoc(rule) or "").split())
    trigger = INTERRUPT.get(name)
    if trigger is not None:
        how = f"once it has printed `{trigger}`, it gets SIGINT, as from Ctrl-C; then {how}"
    return how


def names() -> list[str]:
    """Every example, by the name of its directory."""
    return sorted(p.parent.name for p in EXAMPLES.glob("*/main.py"))


@dataclass
class Result:
    """One run of one example."""

    name: str
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float

    def problem_running(self) -> str:
        """What went wrong besides the output, or ''."""
        if self.returncode is None:
            return f"did not finish in {TIMEOUT:g} s"
        if self.returncode != 0:
            return f"exit status {self.returncode}"
        if self.stderr:
            return "wrote to stderr"
        return ""

    def problem(self) -> str | None:
        """What is wrong with this run, or None when it is right."""
        if running := self.problem_running():
            return running
        want = (EXAMPLES / self.name / "main.out").read_text(encoding="utf-8").splitlines()
        try:
            RULES.get(self.name, exact)(self.stdout.splitlines(), want)
        except Mismatch as e:
            return str(e)
        return None


def command(name: str, cli: bool = False) -> list[str]:
    """How a user runs the example: `python main.py` or `python -m goroutines run main.py`."""
    path = str(EXAMPLES / name / "main.py")
    if cli:
        return [sys.executable, "-m", "goroutines", "run", path]
    return [sys.executable, path]


# Examples that wait for a signal, as a user would send one with Ctrl-C: once the program has
# printed this line (and flushed it: its stdout is a pipe), the runner sends it SIGINT. The
# program must be ready for the signal before it prints the line.
INTERRUPT: dict[str, str] = {"signals": "awaiting signal"}


def run_example(name: str, cli: bool = False, gomaxprocs: int | None = None) -> Result:
    """Run one example in its own process, with a hard timeout."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    if gomaxprocs is not None:
        env["GOMAXPROCS"] = str(gomaxprocs)
    t0 = time.monotonic()
    with subprocess.Popen(
        command(name, cli),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=env,
    ) as p:
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            p.kill()

        watchdog = threading.Timer(TIMEOUT, kill)
        watchdog.start()
        try:
            head = ""
            trigger = INTERRUPT.get(name)
            if trigger is not None:
                assert p.stdout is not None
                for line in p.stdout:
                    head += line
                    if line.rstrip("\n") == trigger:
                        p.send_signal(signal.SIGINT)
                        break
            out, err = p.communicate()
        finally:
            watchdog.cancel()
    returncode = None if killed.is_set() else p.returncode
    return Result(name, returncode, head + out, err, time.monotonic() - t0)


def report(r: Result, problem: str) -> str:
    """A failed run: what went wrong, what it printed and what was expected."""
    want = (EXAMPLES / r.name / "main.out").read_text(encoding="utf-8")
    parts = [f"{r.name}: {problem}", "--- stdout:", r.stdout.rstrip("\n")]
    if r.stderr:
        parts += ["--- stderr:", r.stderr.rstrip("\n")]
    parts += ["--- main.out:", want.rstrip("\n")]
    if r.name in RULES:
        parts.append(f"(checked by {RULES[r.name].__name__}, not compared line for line)")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the examples and check their output.")
    ap.add_argument("names", nargs="*", metavar="NAME", help="examples to run (default: all)")
    ap.add_argument("--cli", action="store_true", help="run them with `goroutines run`")
    ap.add_argument("--gomaxprocs", type=int, metavar="N", help="GOMAXPROCS for the programs")
    ap.add_argument("--write", action="store_true", help="write each one's output to main.out")
    args = ap.parse_args(argv)
    todo = args.names or names()
    unknown = sorted(set(todo) - set(names()))
    if unknown:
        ap.error(f"no such example: {', '.join(unknown)} (see {EXAMPLES})")
    failed = []
    for name in todo:
        r = run_example(name, cli=args.cli, gomaxprocs=args.gomaxprocs)
        problem = (r.problem_running() or None) if args.write else r.problem()
        if args.write and problem is None:
            (EXAMPLES / name / "main.out").write_text(r.stdout, encoding="utf-8")
        verdict = "wrote" if args.write and problem is None else "ok" if problem is None else "FAIL"
        print(f"{verdict:5} {name:32} {r.seconds:5.2f}s", flush=True)
        if problem is not None:
            failed.append(report(r, problem))
    for text in failed:
        print("\n" + text)
    print(f"\n{len(todo) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
