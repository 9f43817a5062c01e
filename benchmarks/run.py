"""Run every benchmark module (benchmarks/bench_*.py) on both builds and print one table.

Each module's `run(quick)` returns rows (workload, implementation, value); the
value is ns/op unless the workload name says otherwise. Every module runs in a
process of its own on the installed build (its core compiled where setup.py
could compile it), and, when that build is compiled, again on the pure source
(PYTHONPATH=src), from which only the goroutines rows are kept: so the table
shows both builds beside asyncio, trio, gevent, uvloop and threads, measured in
the same run. For each workload the ratio column divides every value by
asyncio's (from the first process). `--quick` is the smoke run CI does; `--only
NAME` runs one module.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

Row = tuple[str, str, float]


def machine() -> str:
    """CPU model, core count, Python version and GIL state, for the README."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    build = "GIL" if gil else "free-threaded, no GIL"
    return f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()} ({build})"


def rows_of(name: str, quick: bool, pure: bool) -> tuple[bool, list[Row]]:
    """Run benchmarks/NAME.py in a fresh process: (whether its core was compiled, its rows)."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import goroutines, importlib; "
        "rows = importlib.import_module(sys.argv[2]).run(quick=sys.argv[3] == '1'); "
        "print(json.dumps([goroutines.COMPILED, rows]))"
    )
    env = dict(os.environ)
    if pure:
        env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", code, str(HERE), name, "1" if quick else "0"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    compiled, rows = json.loads(out.stdout.strip().splitlines()[-1])
    return compiled, [(w, i, v) for w, i, v in rows]


def label(impl: str, compiled: bool) -> str:
    """A goroutines row's implementation, with its build."""
    if not impl.startswith("goroutines"):
        return impl
    return impl.replace("goroutines", "goroutines compiled" if compiled else "goroutines pure", 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--only", help="run benchmarks/bench_ONLY.py alone")
    args = ap.parse_args()
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n == f"bench_{args.only}"]
        if not names:
            print(f"no benchmarks/bench_{args.only}.py", file=sys.stderr)
            return 2
    print(f"# {machine()}\n")
    print(f"| {'workload':42} | {'implementation':34} | {'value':>12} | {'vs asyncio':>10} |")
    print(f"|{'-' * 44}|{'-' * 36}|{'-' * 14}|{'-' * 12}|")
    for name in names:
        compiled, rows = rows_of(name, args.quick, pure=False)
        rows = [(w, label(i, compiled), v) for w, i, v in rows]
        if compiled:  # the pure build too, its goroutines rows only
            _, pure = rows_of(name, args.quick, pure=True)
            extra = [(w, label(i, False), v) for w, i, v in pure if i.startswith("goroutines")]
            order = {w: k for k, (w, _, _) in enumerate(rows)}
            rows = sorted(rows + extra, key=lambda r: order.get(r[0], len(order)))
        base = {w: v for w, impl, v in rows if impl == "asyncio"}
        for workload, impl, value in rows:
            ratio = f"{value / base[workload]:.2f}x" if base.get(workload) else ""
            print(f"| {workload:42} | {impl:34} | {value:12.1f} | {ratio:>10} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
