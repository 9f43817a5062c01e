"""Virtual time (goroutines.testing): the wall time of one simulated event.

    N sleepers up to 1 h      N goroutines each sleep a random time of up to an hour
                              (seeded), under testing.run(main, virtual_time=True);
                              every wake-up is checked to come at its exact virtual
                              time. Value: wall ns per event, an event being one timer
                              firing (the clock jumping to it) and its goroutine running
                              to its end. Spawning the N goroutines is not counted.

Nothing else runs on a virtual clock, so there is no asyncio row (the same program on
asyncio's real clock takes the hour). Two sizes show how the cost of an event grows
with the number of goroutines.

Run `python benchmarks/bench_testing.py` (with src on PYTHONPATH) to print the rows.
"""

from __future__ import annotations

import random
import time

import goroutines
from goroutines import testing

Row = tuple[str, str, float]

HOUR = 3600.0


def _sleepers(n: int) -> list[Row]:
    async def main() -> int:
        rnd = random.Random(n)
        t0 = goroutines.now()
        wg = goroutines.WaitGroup()
        late: list[float] = []

        async def sleeper(d: float) -> None:
            await goroutines.sleep(d)
            late.append(goroutines.since(t0) - d)
            wg.done()

        wg.add(n)
        for _ in range(n):
            goroutines.go(sleeper, rnd.uniform(0, HOUR))
        # Time stands still while main runs: every timer is armed before the first fires.
        start = time.perf_counter_ns()
        await wg.wait()
        elapsed = time.perf_counter_ns() - start
        assert len(late) == n and max(abs(x) for x in late) < 1e-6, "a sleeper woke off time"
        assert goroutines.since(t0) <= HOUR
        return elapsed

    elapsed = testing.run(main, virtual_time=True)
    return [(f"virtual time, {n} sleepers up to 1 h", "goroutines testing.run", elapsed / n)]


def run(quick: bool = False) -> list[Row]:
    """Rows of (workload, implementation, ns per event); quick takes a second at most."""
    sizes = [1000] if quick else [1000, 10_000]
    return [row for n in sizes for row in _sleepers(n)]


if __name__ == "__main__":
    for workload, impl, ns in run():
        print(f"{workload:50} {impl:24} {ns:12.0f} ns/event")
