"""Timers and package time: ordering, sleep, after, Timer, Ticker, idle cost, blocking tolerance."""

from __future__ import annotations

import threading
import time

import pytest

import goroutines as g
from goroutines.runtime import osapi, proc, timers
from goroutines.runtime.runtime2 import P
from tests.helpers import Counter, completes_at_once


def test_timer_heap_runs_due_timers_in_order() -> None:
    pp = P(0)
    fired: list[str] = []

    def f(arg: str, seq: int, delay: int) -> None:
        fired.append(arg)

    ts = {name: timers.timer(f, name) for name in "abcde"}
    for name, when in zip("abcde", [50, 10, 30, 20, 40], strict=True):
        t = ts[name]
        with pp.timersLock:
            t.when, t.pp, t.gen = when, pp, t.gen + 1
            __import__("heapq").heappush(pp.timers, (when, t.gen, t))
    _, next_, ran = timers.checkTimers(pp, 25)
    assert (fired, next_, ran) == (["b", "d"], 30, True)
    assert timers.deltimer(ts["c"]) is True  # pending: stopping it prevents it
    assert timers.deltimer(ts["c"]) is False
    _, next_, ran = timers.checkTimers(pp, 100)
    assert fired == ["b", "d", "e", "a"]
    assert next_ == 0 and timers.nobarrierWakeTime(pp) == 0


def test_periodic_timer_skips_missed_periods() -> None:
    pp = P(0)
    fired: list[int] = []
    t = timers.timer(lambda a, s, d: fired.append(d), None)
    with pp.timersLock:
        t.when, t.period, t.pp, t.gen = 10, 10, pp, 1
        __import__("heapq").heappush(pp.timers, (10, 1, t))
    timers.checkTimers(pp, 35)  # due at 10; 20 and 30 are missed, next is 40
    assert fired == [25]
    assert t.when == 40


def test_sleep_never_wakes_early() -> None:
    async def sleeper(d: float, out: list[float], wg: g.WaitGroup) -> None:
        t0 = time.monotonic()
        await g.sleep(d)
        out.append(time.monotonic() - t0 - d)
        wg.done()

    async def main() -> list[float]:
        out: list[float] = []
        wg = g.WaitGroup()
        for i in range(50):
            wg.add(1)
            g.go(sleeper, 0.001 * (i % 7), out, wg)
        await wg.wait()
        return out

    late = g.run(main, gomaxprocs=2)
    assert len(late) == 50 and min(late) >= -0.0005  # monotonic vs nanotime rounding


@pytest.mark.goroutines()
async def test_ten_thousand_sleepers_all_wake() -> None:
    # Real timers, spread over the Ps' heaps. The last sleeper readies main in
    # wg.done() and exits after it: on another P it may still be alive when main
    # returns (Go's NumGoroutine too). The plugin fails the test, with a dump,
    # if a sleeper is still alive once they had a moment to end.
    woke = Counter()

    async def sleeper(wg: g.WaitGroup) -> None:
        await g.sleep(0.01)
        woke.add(1)
        wg.done()

    wg = g.WaitGroup()
    wg.add(10_000)
    for _ in range(10_000):
        g.go(sleeper, wg)
    await wg.wait()
    assert woke.value == 10_000


def test_sleep_zero_does_not_park() -> None:
    async def main() -> bool:
        gp = proc.getg()
        assert gp is not None
        gp.preempt = False
        return completes_at_once(g.sleep(0)) and completes_at_once(g.sleep(-1))

    assert g.run(main)


@pytest.mark.parametrize(
    ("arg", "exc"), [("1", TypeError), (None, TypeError), (float("nan"), ValueError)]
)
def test_sleep_bad_input(arg: object, exc: type[Exception]) -> None:
    async def main() -> None:
        await g.sleep(arg)  # type: ignore[arg-type]

    with pytest.raises(exc, match="sleep"):
        g.run(main)


@pytest.mark.goroutines(virtual_time=True)
async def test_after_delivers_time_once() -> None:
    t0 = g.now()
    c = g.after(20)
    assert await c.recv() == t0 + 20  # the time it fired, exactly (virtual time)
    assert g.since(t0) == 20
    await g.sleep(30)
    assert c.try_recv() == (None, False)  # once only


# One P in the tests below: no other M runs this P's timers while main stops or
# resets them (a timer's function runs without its heap lock, as in Go 1.21).


@pytest.mark.goroutines(virtual_time=True, gomaxprocs=1)
async def test_timer_stop_and_reset_report_activity() -> None:
    t0 = g.now()
    t = g.Timer(60)
    assert t.stop() is True  # active: stopped in time
    assert t.stop() is False  # already stopped
    assert t.reset(10) is False  # was inactive
    assert await t.c.recv() == t0 + 10  # the reset's delay, not the first one
    assert t.stop() is False  # fired already
    assert t.reset(60) is False  # inactive -> False
    assert t.reset(20) is True  # active -> True: the new delay replaces 60
    assert await t.c.recv() == t0 + 30
    # stop() says whether it stopped the timer in time: then it never fires.
    short = g.Timer(20)
    assert short.stop() is True
    await g.sleep(40)
    assert short.c.try_recv() == (None, False)
    assert g.since(t0) == 70


@pytest.mark.goroutines(virtual_time=True, gomaxprocs=1)
async def test_ticker_ticks_drops_for_slow_reader_and_stops() -> None:
    t0 = g.now()
    tk = g.Ticker(5)
    ticks = [await tk.c.recv() for _ in range(5)]
    assert [t - t0 for t in ticks] == [5, 10, 15, 20, 25]  # every period, exactly
    await g.sleep(50)  # ten periods: the channel holds one tick at most
    assert len(tk.c) == 1
    assert tk.c.try_recv() == (t0 + 30, True)  # the first one: the later nine were dropped
    tk.stop()
    await g.sleep(30)
    assert tk.c.try_recv() == (None, False)  # no tick after stop
    assert g.since(t0) == 105


def test_ticker_bad_period() -> None:
    async def main() -> None:
        g.Ticker(0)

    with pytest.raises(ValueError, match="non-positive interval"):
        g.run(main)


def test_timer_outside_goroutine() -> None:
    with pytest.raises(RuntimeError, match=r"goroutines\.run"):
        g.Timer(1)


def test_idle_program_costs_almost_no_cpu() -> None:
    async def sleeper(wg: g.WaitGroup) -> None:
        await g.sleep(1.0)
        wg.done()

    async def main() -> float:
        wg = g.WaitGroup()
        wg.add(10)
        for _ in range(10):
            g.go(sleeper, wg)
        c0 = time.process_time()
        await wg.wait()
        return time.process_time() - c0

    cpu = g.run(main, gomaxprocs=2)
    assert cpu < 0.1, f"an idle second cost {cpu * 1000:.0f} ms of CPU"


@pytest.mark.parametrize("kind", ["time.sleep", "busy loop"])
def test_ticker_keeps_ticking_beside_a_hog(kind: str) -> None:
    """GOMAXPROCS=1: a goroutine that blocks its thread (time.sleep called
    directly) or spins in pure Python loses its P to another M, so a ticking
    goroutine goes on."""
    started = threading.Event()

    async def hog(done: g.Chan[None]) -> None:
        started.set()
        if kind == "time.sleep":
            time.sleep(0.5)
        else:
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                pass
        done.close()

    async def main() -> int:
        done = g.Chan[None]()
        g.go(hog, done)
        while not started.is_set():
            await g.gosched()
        ticks = 0
        end = time.monotonic() + 0.45
        while time.monotonic() < end:
            await g.sleep(0.005)
            ticks += 1
        await done.recv()  # else the program would end with the hog still on its thread
        return ticks

    ticks = g.run(main, gomaxprocs=1)
    # 90 is ideal; without the handoff the ticker would not run at all until the hog ends.
    assert ticks >= 10, ticks


# ---------------------------------------------------------------------------
# now, since, until, after_func


def test_now_is_the_runtime_clock() -> None:
    a = g.now()
    b = osapi.nanotime() / 1e9
    c = g.now()
    assert a <= b <= c  # one clock: nanotime, in seconds
    assert g.since(a) >= 0 and g.until(a) <= 0
    assert g.until(c + 10) > 9
    for bad in ("1", None, True):
        with pytest.raises(TypeError, match="since takes a now"):
            g.since(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="until takes a now"):
            g.until(bad)  # type: ignore[arg-type]


@pytest.mark.goroutines(virtual_time=True)
async def test_timer_ticker_and_after_send_now() -> None:
    tickers: list[g.Ticker] = []

    def ticker(d: float) -> g.Chan[float]:
        tickers.append(g.Ticker(d))
        return tickers[-1].c

    for delay, make in ((1, g.after), (2, lambda d: g.Timer(d).c), (3, ticker)):
        t0 = g.now()
        v = await make(delay).recv()
        # now()'s clock when the timer fired: exactly the delay after t0, and still now().
        assert (v, g.now()) == (t0 + delay, t0 + delay)
    tickers[0].stop()


@pytest.mark.goroutines(virtual_time=True)
async def test_after_func_runs_fn_as_a_goroutine_in_order() -> None:
    out: g.Chan[tuple[str, bool, float]] = g.Chan(3)
    t0 = g.now()

    async def f(name: str) -> None:
        await out.send((name, g.goid() != 1, g.since(t0)))

    g.after_func(3, f, "third")
    g.after_func(1, f, "first")
    g.after_func(2, f, "second")
    got = [await out.recv() for _ in range(3)]
    assert got == [("first", True, 1), ("second", True, 2), ("third", True, 3)]


def test_after_func_stop_and_reset() -> None:
    ran = Counter()

    async def f() -> None:
        ran.add(1)

    async def main() -> tuple[bool, bool]:
        t = g.after_func(60, f)
        stopped = t.stop()
        again = t.stop()
        assert g.num_goroutine() == 1  # no goroutine waits for a pending after_func
        done: g.Chan[None] = g.Chan()

        async def signal() -> None:
            done.close()

        t2 = g.after_func(60, signal)
        assert t2.reset(0.001) is True  # was pending: it runs after the new delay
        await done.recv()
        assert t2.stop() is False  # it has fired
        return stopped, again

    # One P: no other M runs this P's timers while main stops them.
    assert g.run(main, gomaxprocs=1) == (True, False)
    assert ran.value == 0


def test_after_func_bad_arguments() -> None:
    def plain() -> None:
        pass

    async def one(x: int) -> None:
        pass

    async def main() -> None:
        with pytest.raises(TypeError, match="async def"):
            g.after_func(0, plain)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="cannot be called with"):
            g.after_func(0, one)
        with pytest.raises(TypeError, match="after_func takes seconds"):
            g.after_func("1", one, 1)  # type: ignore[arg-type]

    g.run(main)
    with pytest.raises(RuntimeError, match="after_func called outside a goroutine"):
        g.after_func(1, one, 1)


def test_after_func_raising_is_a_panic_of_its_goroutine() -> None:
    class Boom(Exception):
        pass

    async def f() -> None:
        raise Boom("in after_func")

    async def main() -> None:
        g.after_func(0.001, f)
        await g.sleep(60)

    with pytest.raises(Boom) as info:
        g.run(main)
    assert any("created by test_after_func_raising" in n for n in info.value.__notes__)
