"""Timers and package time: ordering, sleep, after, Timer, Ticker, idle cost, blocking tolerance."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

import goroutines as g
from goroutines.runtime import osapi, proc, timers
from goroutines.runtime.runtime2 import P
from tests.helpers import Counter, completes_at_once, wait_until


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


def test_ten_thousand_sleepers_all_wake() -> None:
    woke = Counter()

    async def sleeper(wg: g.WaitGroup) -> None:
        await g.sleep(0.01)
        woke.add(1)
        wg.done()

    async def main() -> None:
        wg = g.WaitGroup()
        wg.add(10_000)
        for _ in range(10_000):
            g.go(sleeper, wg)
        await wg.wait()
        # The last sleeper readies main in wg.done() and exits after it: on
        # another P it may still be alive here (Go's NumGoroutine too). A
        # sleeper that never exits hangs this until the test's timeout.
        await wait_until(lambda: g.num_goroutine() == 1)

    g.run(main)
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


def test_after_delivers_time_once() -> None:
    async def main() -> tuple[float, float, bool]:
        t0 = time.monotonic()
        c = g.after(0.02)
        v = await c.recv()
        assert v is not None
        await g.sleep(0.03)
        return t0, v, c.try_recv()[1]

    t0, v, again = g.run(main)
    assert v >= t0 + 0.019
    assert not again


def test_timer_stop_and_reset_report_activity() -> None:
    async def main() -> list[object]:
        out: list[object] = []
        t = g.Timer(60)  # long enough to be active at every call below
        out.append(t.stop())  # active: stopped in time
        out.append(t.stop())  # already stopped
        out.append(t.reset(0.01))  # was inactive
        await t.c.recv()
        out.append(t.stop())  # fired already
        out.append(t.reset(60))  # inactive -> False
        out.append(t.reset(0.01))  # active -> True
        await t.c.recv()
        # stop() says whether it stopped the timer in time: then it never fires.
        short = g.Timer(0.02)
        stopped = short.stop()
        await g.sleep(0.04)
        out.append(stopped != short.c.try_recv()[1])
        return out

    # One P: no other M runs this P's timers while main stops or resets them.
    assert g.run(main, gomaxprocs=1) == [True, False, False, False, False, True, True]


def test_ticker_ticks_drops_for_slow_reader_and_stops() -> None:
    async def main() -> tuple[list[float], int, bool]:
        tk = g.Ticker(0.005)
        ticks = [await tk.c.recv() for _ in range(5)]
        await g.sleep(0.05)  # ten periods: the channel holds one tick at most
        pending = len(tk.c)
        tk.stop()
        tk.c.try_recv()
        await g.sleep(0.03)
        return ticks, pending, tk.c.try_recv()[1]  # type: ignore[return-value]

    # One P: no other M can be inside a tick's send while main stops the ticker
    # (a timer's function runs without its heap lock, as in Go 1.21).
    ticks, pending, after_stop = g.run(main, gomaxprocs=1)
    assert all(b > a for a, b in itertools.pairwise(ticks))
    assert pending == 1
    assert not after_stop


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


def test_timer_ticker_and_after_send_now() -> None:
    async def main() -> list[tuple[float, float, float]]:
        out = []
        for make in (lambda: g.after(0.001), lambda: g.Timer(0.001).c):
            t0 = g.now()
            v = await make().recv()
            out.append((t0, v or 0.0, g.now()))
        tk = g.Ticker(0.001)
        t0 = g.now()
        v = await tk.c.recv()
        out.append((t0, v or 0.0, g.now()))
        tk.stop()
        return out

    for t0, v, t1 in g.run(main):
        assert t0 + 0.001 <= v <= t1  # read from now()'s clock, after the delay


def test_after_func_runs_fn_as_a_goroutine_in_order() -> None:
    async def main() -> list[tuple[str, bool]]:
        out: g.Chan[tuple[str, bool]] = g.Chan(3)

        async def f(name: str) -> None:
            await out.send((name, g.goid() != 1))

        t0 = g.now()
        g.after_func(0.03, f, "third")
        g.after_func(0.01, f, "first")
        g.after_func(0.02, f, "second")
        got = [await out.recv() for _ in range(3)]
        assert g.since(t0) >= 0.03
        return got  # type: ignore[return-value]

    assert g.run(main) == [("first", True), ("second", True), ("third", True)]


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
