"""Soak the ends of a program (tests/test_chaos.py): main returning mid-game, and Ctrl-C.

    .venv/bin/python scripts/soak_endings.py 200            # seeds 1-200
    .venv/bin/python scripts/soak_endings.py 201 400 --modes sigint

For each seed: the game without blockers in this process, at GOMAXPROCS 1, 2
and 4 ("inproc"); then main returning while goroutines block ("exit") and
Ctrl-C ("sigint"), each in its own interpreter (this one). The same checks as
the tests; a failure prints the seed and the program's whole report (which
threads were alive, which goroutines were left, the blockers' marks, the
traceback). At the end: the failures, the distribution of main's return (or
the SIGINT) -> run() coming back, how many goroutines of the game (not the
blockers) were stranded, which a loaded machine makes happen, and what every
thread was doing during the slowest end of each kind.

One process at a time: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import traceback
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import test_chaos as chaos


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("first", type=int, help="first seed, or the number of seeds from 1")
    ap.add_argument("last", type=int, nargs="?")
    ap.add_argument("--modes", default="inproc,exit,sigint")
    args = ap.parse_args()
    first, last = (1, args.first) if args.last is None else (args.first, args.last)
    modes = args.modes.split(",")
    took: dict[str, list[float]] = {m: [] for m in modes}
    strays: dict[str, int] = {m: 0 for m in modes}  # game goroutines stranded
    runs: dict[str, int] = {m: 0 for m in modes}
    slowest: dict[str, tuple[float, int, dict[str, Any]]] = {}  # mode -> (took, seed, report)
    failures: list[tuple[str, int, str]] = []
    t0 = time.monotonic()
    for seed in range(first, last + 1):
        for mode in modes:
            for procs in [1, 2, 4] if mode == "inproc" else [None]:
                e = chaos.Ending(seed, blockers=mode != "inproc")
                if procs is not None:
                    e.procs = procs
                r: dict[str, Any] = {}
                stderr = ""
                try:
                    if mode == "inproc":
                        r = chaos.end_mid_game(e)
                        chaos.check_main_returned(e, r)
                    else:
                        r, stderr = chaos.run_program(mode, seed)
                        if mode == "exit":
                            chaos.check_main_returned(e, r)
                        else:
                            chaos.check_interrupted(e, r)
                        assert chaos.unexplained(stderr) == "", stderr
                except BaseException as exc:  # pytest.fail is a BaseException
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    what = "".join(traceback.format_exception(exc))
                    failures.append((mode, seed, what))
                    print(f"FAIL {mode} seed={seed} procs={e.procs}\n{what}\n{r}\n", flush=True)
                    continue
                runs[mode] += 1
                took[mode].append(r["took"])
                if r["took"] > slowest.get(mode, (0.0, 0, {}))[0]:
                    slowest[mode] = (r["took"], seed, r)
                strays[mode] += len(r["leftover"]) - r["leftover"].count("blocker")
        if seed % 20 == 0:
            spent = time.monotonic() - t0
            print(f"seed {seed}: {spent:.0f} s, {len(failures)} failures", flush=True)
    print(f"\n{sys.executable} {sys.version.split()[0]}: seeds {first}-{last}")
    for mode in modes:
        ts = sorted(took[mode])
        if not ts:
            continue
        q = statistics.quantiles(ts, n=100, method="inclusive") if len(ts) > 1 else ts * 99
        print(
            f"  {mode:7} {runs[mode]} runs ok: took ms p50 {q[49] * 1e3:.1f}"
            f" p90 {q[89] * 1e3:.1f} p99 {q[98] * 1e3:.1f} max {ts[-1] * 1e3:.1f};"
            f" game goroutines stranded: {strays[mode]}"
        )
    for mode, (t, seed, r) in slowest.items():
        print(f"  slowest {mode}: seed {seed}, {t * 1e3:.0f} ms; the threads then:")
        for name, frames in r.get("slow", {}).items():
            print(f"    {name}: {' < '.join(frames[:6])}")
    print(f"  failures: {len(failures)}")
    for mode, seed, _ in failures:
        print(f"    {mode} seed {seed}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
