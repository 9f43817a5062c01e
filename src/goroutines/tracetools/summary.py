"""`goroutines trace summary`: a run's scheduling, in text.

From the model: how long the trace is, how many Ps, Ms and goroutines; the
scheduling latency (how long a runnable goroutine waited for a P) as
percentiles; steals and handoffs (sysmon retaking a P from a syscall or from a
goroutine that would not yield); syscall and GC time; per P, how busy it was;
per goroutine, its time running, runnable, blocked and in syscalls, what it
blocked on and who woke it.
"""

from __future__ import annotations

import math
from collections import Counter

from .model import Model
from .units import fmtdur


def percentile(sorted_values: list[int], q: float) -> int:
    """The nearest-rank q-quantile of a sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def latency_line(values: list[int]) -> str:
    """`p50=... p90=... p99=... max=...` of some latencies."""
    v = sorted(values)
    qs = " ".join(f"p{int(q * 100)}={fmtdur(percentile(v, q))}" for q in (0.5, 0.9, 0.99))
    return f"{qs} max={fmtdur(v[-1] if v else 0)}"


def summary(model: Model, limit: int = 100) -> str:
    """The text report of `goroutines trace summary`."""
    lat = [x for g in model.gs.values() for x in g.latencies]
    sys_time = sum(s.end - s.start for s in model.syscalls)
    gc_time = sum(end - start for start, end, _ in model.gcs)
    handoffs = Counter(h.what for h in model.handoffs)
    lines = [
        f"duration {fmtdur(model.duration)}, {model.nprocs} Ps, {len(model.ms)} Ms, "
        f"{len(model.gs)} goroutines",
        "",
        f"scheduling latency (runnable -> running), {len(lat)} samples:",
        f"  {latency_line(lat)}",
        "",
        f"steals: {len(model.steals)} ({sum(s[3] for s in model.steals)} goroutines moved); "
        f"handoffs (sysmon retook a P): {len(model.handoffs)} "
        f"({handoffs['syscall']} from a syscall, {handoffs['running']} from a goroutine "
        f"that did not yield)",
        f"syscalls: {len(model.syscalls)}, {fmtdur(sys_time)} in all; "
        f"GC pauses: {len(model.gcs)}, {fmtdur(gc_time)} in all",
        "",
        *p_table(model),
        "",
        *goroutine_table(model, limit),
    ]
    return "\n".join(lines)


def p_table(model: Model) -> list[str]:
    """Per P: utilisation, busy time, slices, steals either way, handoffs."""
    dur = max(model.duration, 1)
    lines = ["P    utilisation  busy      slices  stole  stolen-from  handoffs"]
    for p in range(model.nprocs):
        busy = sum(s.end - s.start for s in model.slices if s.p == p)
        lines.append(
            f"P{p:<3d} {100 * busy / dur:10.1f}%  {fmtdur(busy):<9s} "
            f"{sum(1 for s in model.slices if s.p == p):6d}  "
            f"{sum(1 for s in model.steals if s[1] == p):5d}  "
            f"{sum(1 for s in model.steals if s[2] == p):11d}  "
            f"{sum(1 for h in model.handoffs if h.p == p):8d}"
        )
    return lines


def goroutine_table(model: Model, limit: int) -> list[str]:
    """Per-goroutine times, latencies and wakers; the `limit` busiest when there are more."""
    gs = sorted(model.gs.values(), key=lambda g: g.goid)
    if 0 < limit < len(gs):
        gs = sorted(gs, key=lambda g: -g.time["running"])[:limit]
        gs.sort(key=lambda g: g.goid)
    w = min(40, max([9] + [len(g.name) for g in gs]))
    lines = [
        f"{'goroutine':<{w}s} {'running':>9s} {'runnable':>9s} {'blocked':>9s} {'syscall':>9s}"
        f" {'latency p50':>11s} {'max':>9s}  blocked on / unblocked by"
    ]
    for g in gs:
        v = sorted(g.latencies)
        blocked = ", ".join(f"{r} {fmtdur(t)}" for r, t in g.blocked.most_common(3))
        wakers = ", ".join(f"{w}x{n}" for w, n in g.unblockers.most_common(3))
        lines.append(
            f"{g.name:<{w}.{w}s} {fmtdur(g.time['running']):>9s} {fmtdur(g.time['runnable']):>9s}"
            f" {fmtdur(g.time['blocked']):>9s} {fmtdur(g.time['syscall']):>9s}"
            f" {fmtdur(percentile(v, 0.5)):>11s} {fmtdur(v[-1] if v else 0):>9s}"
            f"  {blocked or '-'} / {wakers or '-'}"
        )
    if len(gs) < len(model.gs):
        lines.append(f"... {len(model.gs) - len(gs)} more goroutines (--limit 0 shows all)")
    return lines
