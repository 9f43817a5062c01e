"""Bytecodes, or machine instructions, per operation: speed measures that a noisy
machine cannot move.

Timings on a shared VM move 10-30% from run to run (on this one, at times 2x);
counts of executed instructions do not. Each workload runs twice, at two
sizes, and the difference is divided by the difference in operations, which
cancels the fixed costs of starting and stopping.

- Bytecodes (the default): counted on every thread with sys.settrace opcode
  events, within ~1% (only sysmon's timing changes them), listed by the
  function they go to, so a change to a hot path can be judged by what it
  removes. C code (locks, deques, system calls, asyncio's C Task) counts zero
  here: compare goroutines with itself, not with asyncio.
- Machine instructions (`--instructions`): counted by valgrind (cachegrind,
  user space only: the kernel's side of a system call is not counted), for
  goroutines and for the same workload on asyncio, with the ratio. Within
  ~0.5% from run to run; about 50x slower than a plain run.

    PYTHONPATH=src python benchmarks/opcount.py [WORKLOAD ...] [--top N] [--instructions]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any

import bench_chan  # benchmarks/ is sys.path[0] when this file runs as a script
import bench_core
import bench_net

# name -> (goroutines: run n operations, the same on asyncio, operations per unit of n)
WORKLOADS: dict[str, tuple[Callable[[int], Any], Callable[[int], Any], int]] = {
    # two goroutines (tasks), n goscheds (sleep(0)s) each
    "gosched": (bench_core.gosched_goroutines, bench_core.sleep0_asyncio, 2),
    "spawn+finish": (bench_core.spawn_goroutines, bench_core.spawn_asyncio, 1),
    "ping-pong round trip": (
        lambda n: bench_chan.gr_run(bench_chan.gr_pingpong, n),
        lambda n: bench_chan.aio_run(bench_chan.aio_pingpong, n),
        1,
    ),
    "prodcons buf=100 item": (
        lambda n: bench_chan.gr_run(bench_chan.gr_prodcons, n, 100),
        lambda n: bench_chan.aio_run(bench_chan.aio_prodcons, n, 100),
        1,
    ),
    # n goroutines (tasks) sleeping 10 ms at once, waited for with a WaitGroup (gather)
    "sleeper": (bench_core.sleepers_goroutines, bench_core.sleepers_asyncio, 1),
    "tcp echo round trip": (
        lambda n: bench_net.bench_goroutines(10, n // 10),
        lambda n: bench_net.bench_asyncio(10, n // 10),
        1,
    ),
}
IMPLS = ("goroutines", "asyncio")


def count(fn: Callable[[], Any]) -> Counter[str]:
    """Bytecodes executed by fn() on every thread, per function name."""
    per: Counter[str] = Counter()

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            per[frame.f_code.co_name] += 1
        return tracer

    threading.settrace(tracer)
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
    return per


def per_op(run: Callable[[int], Any], unit: int, n: int) -> tuple[float, Counter[str]]:
    """(bytecodes per operation, per function) from runs of n and 2n."""
    small, big = count(lambda: run(n)), count(lambda: run(2 * n))
    ops = n * unit
    per = Counter({k: round((big[k] - small[k]) / ops, 1) for k in big.keys() | small.keys()})
    return (big.total() - small.total()) / ops, per


def instructions(name: str, impl: str, n: int) -> int:
    """Machine instructions valgrind counts for one run of the workload on impl."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    cmd += [sys.executable, __file__, "--child", impl, str(n), name]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind run of {name} on {impl} failed:\n{out.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def instructions_per_op(name: str, impl: str, n: int) -> float:
    unit = WORKLOADS[name][2]
    return (instructions(name, impl, 2 * n) - instructions(name, impl, n)) / (n * unit)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", help=f"some of: {', '.join(WORKLOADS)} (all)")
    ap.add_argument("--top", type=int, default=8, help="functions to list per workload")
    ap.add_argument("-n", type=int, default=2000, help="operations in the smaller run")
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="count machine instructions with valgrind, beside asyncio",
    )
    ap.add_argument("--child", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    for name in args.workloads:
        if name not in WORKLOADS:
            ap.error(f"unknown workload {name!r}: choose from {', '.join(WORKLOADS)}")
    if args.child:  # one run under valgrind, started by instructions()
        impl, n = args.child
        WORKLOADS[args.workloads[0]][IMPLS.index(impl)](int(n))
        return
    if args.instructions and shutil.which("valgrind") is None:
        ap.error("--instructions needs valgrind (apt-get install valgrind)")
    for name in args.workloads or WORKLOADS:
        if args.instructions:
            gr, aio = (instructions_per_op(name, impl, args.n) for impl in IMPLS)
            print(f"{name:22} {gr:9.0f} instructions/op, asyncio {aio:9.0f}: {gr / aio:.2f}x")
            continue
        run, _, unit = WORKLOADS[name]
        total, per = per_op(run, unit, args.n)
        top = ", ".join(f"{f} {v:g}" for f, v in per.most_common(args.top) if v > 0)
        print(f"{name:22} {total:7.0f} bytecodes/op   {top}")


if __name__ == "__main__":
    main()
