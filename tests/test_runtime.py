"""Runtime: the scheduler of run(), in the background, fed from outside (program.py)."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any

import pytest

import goroutines as g
from goroutines.runtime import proc
from tests.helpers import pure_only

pytestmark = pytest.mark.timeout(30)


async def square(x: int) -> int:
    await g.gosched()
    return x * x


def test_submit_returns_futures_of_results_from_many_threads() -> None:
    with g.Runtime(gomaxprocs=2) as rt:
        results: list[int] = []
        lock = threading.Lock()

        def feed(base: int) -> None:
            futs = [rt.submit(square, base + i) for i in range(50)]
            with lock:
                results.extend(f.result(timeout=10) for f in futs)

        ts = [threading.Thread(target=feed, args=(k * 100,)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert sorted(results) == sorted((k * 100 + i) ** 2 for k in range(4) for i in range(50))


def test_an_exception_goes_to_the_future_and_the_runtime_keeps_serving() -> None:
    async def boom() -> None:
        raise ValueError("boom")

    with g.Runtime() as rt:
        with pytest.raises(ValueError, match="boom") as info:
            rt.submit(boom).result(timeout=10)
        assert any("started by Runtime.submit" in n for n in info.value.__notes__)
        assert rt.submit(square, 3).result(timeout=10) == 9


def test_all_goroutines_blocked_is_no_deadlock_while_open() -> None:
    # A caller outside may still wake them: here by closing the channel.
    with g.Runtime() as rt:
        ch = g.Chan[int]()

        async def wait() -> tuple[int | None, bool]:
            return await ch.recv_ok()

        fut = rt.submit(wait)
        with pytest.raises(concurrent.futures.TimeoutError):
            fut.result(timeout=0.05)  # parked, and no Deadlock ended the runtime
        ch.close()  # from a plain thread: goready through the global queue
        assert fut.result(timeout=10) == (None, False)


def test_leaving_the_block_abandons_goroutines_and_cancels_their_futures() -> None:
    ran: list[str] = []
    started = threading.Event()

    async def forever() -> None:
        try:
            started.set()
            await g.Chan[int]().recv()
        finally:
            ran.append("finally")

    with g.Runtime() as rt:
        fut = rt.submit(forever)
        assert started.wait(10)  # else it is closed before it starts: no finally to run
    assert fut.cancelled()
    assert ran == ["finally"]
    with pytest.raises(RuntimeError, match="open Runtime"):
        rt.submit(square, 1)


def test_virtual_time_is_for_testing_run_only() -> None:
    with pytest.raises(ValueError, match=r"testing\.run"), g.Runtime(virtual_time=True):
        pass


def test_submit_needs_an_async_function() -> None:
    def plain() -> int:
        return 1

    with g.Runtime() as rt, pytest.raises(TypeError, match="async"):
        rt.submit(plain)  # type: ignore[arg-type]


def test_a_panic_in_a_goroutine_not_submitted_stops_the_runtime_and_is_raised() -> None:
    raising = threading.Event()

    async def child() -> None:
        raising.set()
        raise KeyError("lost")

    async def parent() -> None:
        g.go(child)
        await g.Chan[int]().recv()

    with pytest.raises(KeyError, match="lost"), g.Runtime() as rt:
        waiting = rt.submit(parent)
        assert raising.wait(10)
        # The runtime stops at the panic, not when the block ends: the goroutines
        # it abandons leave their futures cancelled while the caller still waits.
        with pytest.raises(concurrent.futures.CancelledError):
            waiting.result(timeout=10)
        with pytest.raises(RuntimeError, match="stopped") as stopped:
            rt.submit(square, 2)
        assert isinstance(stopped.value.__cause__, KeyError)
    assert "goroutines-runtime" not in [t.name for t in threading.enumerate()]


@pure_only
def test_a_goroutine_readied_from_outside_never_looks_stranded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A plain thread puts the goroutine on the global queue, then calls wakep.
    # If the last M goes idle in between, checkdead once saw every M idle and
    # a runnable goroutine: a false fatal error ("runnable g"), and every call
    # in flight hung. The window, made wide: an M stops late, an outside
    # wakep starts late.
    stopm, wakep = proc.stopm, proc.wakep

    def late_stopm(mp: Any) -> bool:
        time.sleep(0.005)
        return stopm(mp)

    def late_wakep(sched: Any) -> None:
        if proc._tls.__dict__.get("m") is None:
            time.sleep(0.02)
        wakep(sched)

    monkeypatch.setattr(proc, "stopm", late_stopm)
    monkeypatch.setattr(proc, "wakep", late_wakep)

    async def noop() -> int:
        return 1

    with g.Runtime(gomaxprocs=2) as rt:
        assert [rt.submit(noop).result(timeout=10) for _ in range(5)] == [1] * 5
