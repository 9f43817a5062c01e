"""Bytecodes per operation: a speed measure that a noisy machine cannot move.

Timings on a shared VM move 10-30% from run to run; the number of bytecode
instructions the interpreter executes per operation does not (within ~1%: only
sysmon's timing changes it). This runs each workload twice, at two sizes, on
every thread (sys.settrace with opcode events), and divides the difference by
the difference in operations, which cancels run()'s fixed costs. It prints the
total per operation and the functions it goes to, so a change to a hot path
can be judged by what it removes. C code (locks, deques, asyncio's C Task)
counts zero here: compare goroutines with itself, not with asyncio.

    PYTHONPATH=src python benchmarks/opcount.py [WORKLOAD ...] [--top N]
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any

import bench_chan  # benchmarks/ is sys.path[0] when this file runs as a script
import bench_core
import bench_net

# name -> (run n operations, operations per unit of n)
WORKLOADS: dict[str, tuple[Callable[[int], Any], int]] = {
    "gosched": (bench_core.gosched_goroutines, 2),  # two goroutines, n goscheds each
    "spawn+finish": (bench_core.spawn_goroutines, 1),
    "ping-pong round trip": (lambda n: bench_chan.gr_run(bench_chan.gr_pingpong, n), 1),
    "prodcons buf=100 item": (lambda n: bench_chan.gr_run(bench_chan.gr_prodcons, n, 100), 1),
    "tcp echo round trip": (lambda n: bench_net.bench_goroutines(10, n // 10), 1),
}


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", help=f"some of: {', '.join(WORKLOADS)} (all)")
    ap.add_argument("--top", type=int, default=8, help="functions to list per workload")
    ap.add_argument("-n", type=int, default=2000, help="operations in the smaller run")
    args = ap.parse_args()
    for name in args.workloads:
        if name not in WORKLOADS:
            ap.error(f"unknown workload {name!r}: choose from {', '.join(WORKLOADS)}")
    for name in args.workloads or WORKLOADS:
        run, unit = WORKLOADS[name]
        total, per = per_op(run, unit, args.n)
        top = ", ".join(f"{f} {v:g}" for f, v in per.most_common(args.top) if v > 0)
        print(f"{name:22} {total:7.0f} bytecodes/op   {top}")


if __name__ == "__main__":
    main()
