"""Run every benchmark module (benchmarks/bench_*.py) and print one table.

Each module's `run(quick)` returns rows (workload, implementation, value); the
value is ns/op unless the workload name says otherwise. For each workload the
ratio column divides every implementation's value by asyncio's, measured in the
same run. `--quick` is the smoke run CI does; `--only NAME` runs one module.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
from pathlib import Path


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
    import os

    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    build = "GIL" if gil else "free-threaded, no GIL"
    return f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()} ({build})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--only", help="run benchmarks/bench_ONLY.py alone")
    args = ap.parse_args()
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    names = sorted(p.stem for p in here.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n == f"bench_{args.only}"]
        if not names:
            print(f"no benchmarks/bench_{args.only}.py", file=sys.stderr)
            return 2
    print(f"# {machine()}\n")
    print(f"| {'workload':42} | {'implementation':26} | {'value':>12} | {'vs asyncio':>10} |")
    print(f"|{'-' * 44}|{'-' * 28}|{'-' * 14}|{'-' * 12}|")
    for name in names:
        rows = importlib.import_module(name).run(quick=args.quick)
        base = {w: v for w, impl, v in rows if impl == "asyncio"}
        for workload, impl, value in rows:
            ratio = f"{value / base[workload]:.2f}x" if base.get(workload) else ""
            print(f"| {workload:42} | {impl:26} | {value:12.1f} | {ratio:>10} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
