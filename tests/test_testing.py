"""goroutines.testing: virtual time, seeded schedules, explore, wait_idle, the pytest plugin."""

from __future__ import annotations

import random
import re
import time
from typing import Any

import pytest

import goroutines as g
from goroutines import context, net, testing

pytestmark = pytest.mark.timeout(60)
pytest_plugins = ["pytester"]


# ---------------------------------------------------------------------------
# Virtual time


def test_an_hour_of_sleep_takes_no_time_and_now_moves_exactly() -> None:
    async def main() -> list[float]:
        t0 = g.now()
        seen = []
        for d in (1, 60, 3600 - 61):
            await g.sleep(d)
            seen.append(g.now() - t0)
        return seen

    t = time.monotonic()
    assert testing.run(main, virtual_time=True) == [1.0, 61.0, 3600.0]
    assert time.monotonic() - t < 5


def test_timers_tickers_after_and_contexts_share_the_virtual_clock() -> None:
    async def main() -> dict[str, Any]:
        t0 = g.now()
        out: dict[str, Any] = {}
        at = await g.after(30).recv()
        out["after"] = at - t0 if at is not None else None
        tk = g.Ticker(10)
        out["ticks"] = [await tk.c.recv() for _ in range(3)]
        tk.stop()
        ctx, cancel = context.with_timeout(context.background(), 100)
        await ctx.done().recv()
        out["ctx"] = (type(ctx.err()).__name__, g.since(t0))
        cancel()
        timer = g.Timer(5)
        await timer.c.recv()
        out["timer"] = g.since(t0)
        fired: list[float] = []

        async def later() -> None:
            fired.append(g.since(t0))

        g.after_func(7, later)
        await g.sleep(8)
        out["after_func"] = fired
        out["ticks"] = [t - t0 for t in out["ticks"]]
        return out

    out = testing.run(main, virtual_time=True, gomaxprocs=2)
    assert out["after"] == 30.0
    assert out["ticks"] == [40.0, 50.0, 60.0]
    assert out["ctx"] == ("DeadlineExceeded", 160.0)
    assert out["timer"] == 165.0
    assert out["after_func"] == [172.0]


def test_time_stands_still_while_a_goroutine_runs_or_sits_in_a_syscall() -> None:
    async def main() -> tuple[bool, float, float]:
        woke = []

        async def sleeper() -> None:
            await g.sleep(3600)
            woke.append(g.now())

        t0 = g.now()
        g.go(sleeper)
        await g.syscall(time.sleep, 0.05)  # not durably blocked: no jump meanwhile
        early = bool(woke)
        spent = g.since(t0)
        while not woke:
            await g.sleep(1)
        return early, spent, woke[0] - t0

    early, spent, woke = testing.run(main, virtual_time=True, gomaxprocs=2)
    assert not early
    assert spent == 0.0
    assert woke == 3600.0


def test_time_does_not_jump_while_a_goroutine_waits_on_the_network() -> None:
    async def main() -> tuple[bool, bytes]:
        ln = await net.listen("127.0.0.1", 0)
        c = await net.dial(*ln.addr)
        s = await ln.accept()
        got: list[bytes] = []
        slept: list[bool] = []

        async def reader() -> None:
            got.append(await s.read(10))

        async def sleeper() -> None:
            await g.sleep(60)
            slept.append(True)

        g.go(reader)
        g.go(sleeper)
        await g.syscall(time.sleep, 0.05)
        before = bool(slept)  # the reader waits on the network: no jump
        await c.write(b"hi")
        while not (got and slept):
            await g.sleep(1)
        for x in (c, s, ln):
            x.close()
        return before, got[0]

    assert testing.run(main, virtual_time=True) == (False, b"hi")


def test_deadlock_is_still_found_under_virtual_time() -> None:
    async def main() -> None:
        await g.sleep(10)
        await g.Chan[int]().recv()

    with pytest.raises(g.Deadlock, match="all goroutines are asleep"):
        testing.run(main, virtual_time=True)


def test_wait_idle_returns_once_the_others_are_durably_blocked() -> None:
    async def main() -> list[str]:
        ch = g.Chan[int]()
        log: list[str] = []

        async def worker() -> None:
            for i in range(3):
                await g.gosched()
                log.append(f"step {i}")
            await ch.recv()
            log.append("got")

        g.go(worker)
        await testing.wait_idle()
        log.append("idle")
        await ch.send(1)
        await testing.wait_idle()
        return log

    assert testing.run(main, virtual_time=True, gomaxprocs=2) == [
        "step 0",
        "step 1",
        "step 2",
        "idle",
        "got",
    ]


def test_wait_idle_needs_virtual_time() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="virtual time"):
            await testing.wait_idle()

    g.run(main)


def test_ten_thousand_sleepers_of_up_to_an_hour_wake_in_order() -> None:
    async def main() -> tuple[int, bool]:
        rnd = random.Random(1)
        t0 = g.now()
        woke: list[tuple[float, float]] = []
        wg = g.WaitGroup()

        async def sleeper(d: float) -> None:
            await g.sleep(d)
            woke.append((d, g.since(t0)))
            wg.done()

        for _ in range(10_000):
            wg.add(1)
            g.go(sleeper, rnd.uniform(0, 3600))
        await wg.wait()
        return len(woke), all(abs(d - at) < 1e-6 for d, at in woke)

    t = time.monotonic()
    assert testing.run(main, virtual_time=True) == (10_000, True)
    assert time.monotonic() - t < 30


# ---------------------------------------------------------------------------
# Seeded schedules and explore


async def interleaving() -> list[tuple[int, int]]:
    """Three producers on one channel, with select and timers: the order received."""
    out: list[tuple[int, int]] = []
    ch = g.Chan[tuple[int, int]]()
    quit = g.Chan[None]()

    async def producer(i: int) -> None:
        for j in range(4):
            k, _, _ = await g.select(g.send(ch, (i, j)), g.recv(quit))
            if k == 1:
                return

    for i in range(3):
        g.go(producer, i)
    for _ in range(12):
        v = await ch.recv()
        assert v is not None
        out.append(v)
    quit.close()
    return out


@pytest.mark.parametrize("procs", [1, 3])
def test_the_same_seed_gives_the_same_interleaving(procs: int) -> None:
    runs = {seed: testing.run(interleaving, seed=seed, gomaxprocs=procs) for seed in range(6)}
    again = {seed: testing.run(interleaving, seed=seed, gomaxprocs=procs) for seed in range(6)}
    assert runs == again
    assert len({tuple(r) for r in runs.values()}) > 1  # and the seeds do differ


def test_a_seeded_run_uses_one_m_for_every_p() -> None:
    async def main() -> int:
        threads = set()
        wg = g.WaitGroup()

        async def spin() -> None:
            import threading

            for _ in range(20):
                threads.add(threading.get_ident())
                await g.gosched()
            wg.done()

        for _ in range(8):
            wg.add(1)
            g.go(spin)
        await wg.wait()
        return len(threads)

    assert testing.run(main, seed=1, gomaxprocs=4) == 1


async def lost_update() -> int:
    """Four goroutines add 1 three times each across an await: a race."""
    c = [0]
    wg = g.WaitGroup()

    async def inc() -> None:
        for _ in range(3):
            v = c[0]
            await g.gosched()
            c[0] = v + 1
        wg.done()

    for _ in range(4):
        wg.add(1)
        g.go(inc)
    await wg.wait()
    assert c[0] == 12, f"lost updates: {c[0]}"
    return c[0]


def test_explore_finds_a_lost_update_in_a_handful_of_seeds_and_names_the_seed() -> None:
    with pytest.raises(AssertionError, match="lost updates") as info:
        testing.explore(lost_update, seeds=range(10))
    note = info.value.__notes__[-1]
    m = re.search(
        r"the run with seed=(\d+) failed; testing\.run\(main, seed=(\d+)\) replays it", note
    )
    assert m is not None and m.group(1) == m.group(2), note
    seed = int(m.group(1))
    with pytest.raises(AssertionError, match="lost updates"):  # the seed replays it
        testing.run(lost_update, seed=seed)


async def lock_order() -> None:
    """Two Mutexes taken in opposite orders: a deadlock some interleavings reach."""
    m1, m2 = g.Mutex(), g.Mutex()
    wg = g.WaitGroup()

    async def a() -> None:
        async with m1, m2:
            pass
        wg.done()

    async def b() -> None:
        async with m2, m1:
            pass
        wg.done()

    wg.add(2)
    g.go(a)
    g.go(b)
    await wg.wait()


def test_explore_finds_a_lock_order_deadlock() -> None:
    with pytest.raises(g.Deadlock) as info:
        testing.explore(lock_order, seeds=range(100), gomaxprocs=2)
    assert "explore: the run with seed=" in info.value.__notes__[-1]
    assert "gomaxprocs=2" in info.value.__notes__[-1]


def test_explore_returns_the_number_of_passing_seeds() -> None:
    async def fine() -> None:
        mu = g.Mutex()
        async with mu:
            await g.gosched()

    assert testing.explore(fine, seeds=range(20)) == 20


def test_seed_and_virtual_time_together_are_reproducible() -> None:
    async def main() -> list[tuple[int, float]]:
        t0 = g.now()
        out: list[tuple[int, float]] = []
        wg = g.WaitGroup()

        async def sleeper(i: int) -> None:
            await g.sleep(10)  # all due at once: the seed orders them
            out.append((i, g.since(t0)))
            wg.done()

        for i in range(6):
            wg.add(1)
            g.go(sleeper, i)
        await wg.wait()
        return out

    a = testing.run(main, seed=5, virtual_time=True)
    assert a == testing.run(main, seed=5, virtual_time=True)
    assert [t for _, t in a] == [10.0] * 6
    orders = {tuple(i for i, _ in testing.run(main, seed=s, virtual_time=True)) for s in range(8)}
    assert len(orders) > 1  # timer ties are drawn


def test_bad_options() -> None:
    async def main() -> None:
        pass

    with pytest.raises(TypeError, match="seed must be an int"):
        testing.run(main, seed="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="virtual_time must be a bool"):
        testing.run(main, virtual_time=1)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# The pytest plugin

PLUGIN_TESTS = """
import pytest
import goroutines as g


@pytest.mark.goroutines(virtual_time=True)
async def test_an_hour_of_backoff():
    t0 = g.now()
    for attempt in range(5):
        await g.sleep(min(60 * 2 ** attempt, 3600))
    assert g.since(t0) == 60 + 120 + 240 + 480 + 960


@pytest.mark.goroutines(gomaxprocs=2)
async def test_with_a_fixture(tmp_path):
    assert tmp_path.is_dir()


@pytest.mark.goroutines()
async def test_leaks_a_goroutine():
    async def forever():
        await g.Chan().recv()

    g.go(forever)


@pytest.mark.goroutines(virtual_time=True)
async def test_leaks_a_listener_under_virtual_time():
    from goroutines import net

    ln = await net.listen("127.0.0.1", 0)

    async def serve():
        try:
            await ln.accept()  # the network: no clock jump ends this wait
        finally:
            ln.close()

    g.go(serve)
    await g.gosched()


@pytest.mark.goroutines()
async def test_leaks_an_fd():
    import os
    os.pipe()


def test_plain_tests_are_left_alone():
    assert True
"""


def test_the_plugin_runs_marked_tests_and_names_what_leaked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLUGIN_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=3)
    out = result.stdout.str()
    assert "the test left goroutines running" in out
    assert "forever(...)" in out or "[chan receive]" in out
    assert "serve(...)" in out or "[IO wait]" in out
    assert "the test left file descriptors open" in out
