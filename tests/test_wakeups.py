"""No lost progress: a preemption request outlives a park, a timer outlives a handoff.

Ports and stress tests of two wakeups the scheduler once lost:

* Go's TestPingPongHog: a pair of goroutines ping-ponging on a channel through
  `runnext` inherits one time slice; once sysmon asks it to end, the P must go
  to another pair, even when the goroutine asked parks before it yields.
* A P handed off with timers (a locked goroutine's M stopping, stoplockedm ->
  handoffp) after the spinning M looked at it: Go's checkTimersNoP.
"""

from __future__ import annotations

import random

import pytest

import goroutines as g
from tests.helpers import SEEDS


async def ping_pong_pair(
    limit: int, counts: dict[str, int], key: str, wake: g.Chan[bool], done: g.Chan[bool]
) -> None:
    """Go's TestPingPongHog's `run`: take the ball, count to limit, hand it back."""
    while True:
        i, _, _ = await g.select(g.recv(done), g.recv(wake))
        if i == 0:
            return
        n = 0
        for _ in range(limit):
            n += 1
        counts[key] += n
        await wake.send(True)


@pytest.mark.timeout(30)
def test_ping_pong_hog_shares_the_p_with_a_light_pair() -> None:
    # Go's test: two hog goroutines (1e6 increments a turn) and two light ones
    # (1e3) on one P. Every send of a pair readies its partner into runnext,
    # and the partner inherits the time slice. Both pairs must get a share of
    # the P: Go fails when the counts differ by more than 20x; a scheduler that
    # lets a pair keep the P shows ~1000x or more. Here a hog's turn (1e5) is a
    # few ms of Python, and its next await is often a send that parks.
    async def main() -> dict[str, int]:
        done = g.Chan[bool]()
        hog, light = g.Chan[bool](), g.Chan[bool]()
        counts = {"hog": 0, "light": 0}
        for _ in range(2):
            g.go(ping_pong_pair, 100_000, counts, "hog", hog, done)
        for _ in range(2):
            g.go(ping_pong_pair, 100, counts, "light", light, done)
        await hog.send(True)
        await light.send(True)
        await g.sleep(0.3)  # a few dozen preemption rounds (forcePreemptNS is 10 ms)
        done.close()
        return counts

    counts = g.run(main, gomaxprocs=1)
    factor = 20
    assert counts["hog"] // factor <= counts["light"], counts
    assert counts["light"] // factor <= counts["hog"], counts


def spin(n: int) -> None:
    """A little CPU work: n rounds of a Python loop."""
    while n:
        n -= 1


def locked_sleepers(seed: int) -> None:
    """Locked goroutines that sleep and compute in turns: each sleep hands their P off."""
    rnd = random.Random(seed)

    async def locked(n: int, wg: g.WaitGroup) -> None:
        g.lock_os_thread()
        for _ in range(n):
            await g.sleep(rnd.random() * 0.0005)
            spin(rnd.randrange(100))
        wg.done()

    async def main() -> None:
        wg = g.WaitGroup()
        for _ in range(3):
            wg.add(1)
            g.go(locked, 50, wg)
        await wg.wait()

    g.run(main, gomaxprocs=4)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", SEEDS)
def test_timers_of_a_p_handed_off_by_a_locked_m_still_fire(seed: int) -> None:
    # A locked goroutine that sleeps arms its timer on its P, and its M then
    # hands the P off (stoplockedm -> handoffp). If a spinning M had already
    # looked at that P, wakep sees it spinning and does nothing; without
    # checkTimersNoP that M then stops, and no M watches the idle P's timer:
    # run() hung in about one game in 20 before the fix (3.11 and 3.13t).
    for game in range(60):
        locked_sleepers(seed * 1000 + game)
