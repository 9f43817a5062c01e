"""aio.wait, aio.use_loop and Runtime.call: goroutines and asyncio side by side (aio.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import traceback
from typing import Any

import pytest

import goroutines as g
from goroutines import aio
from tests.helpers import SEEDS

pytestmark = pytest.mark.timeout(30)


async def double(x: int, delay: float = 0.001) -> int:
    await asyncio.sleep(delay)
    return 2 * x


def test_wait_for_a_coroutine_a_task_a_future_and_a_concurrent_future() -> None:
    async def main() -> list[Any]:
        out: list[Any] = [await aio.wait(double(1))]
        loops: list[asyncio.AbstractEventLoop] = []

        async def make_task() -> asyncio.Task[int]:
            loops.append(asyncio.get_running_loop())
            return asyncio.get_running_loop().create_task(double(2))

        task = await aio.wait(make_task())  # a Task of the runtime's own loop
        out.append(await aio.wait(task))

        async def make_future() -> asyncio.Future[str]:
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            loop.call_later(0.001, fut.set_result, "future")
            return fut

        out.append(await aio.wait(await aio.wait(make_future())))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            out.append(await aio.wait(pool.submit(sum, [1, 2, 3])))
        return out

    assert g.run(main) == [2, 4, "future", 6]


def test_exceptions_cross_unchanged_with_their_traceback() -> None:
    raised: list[BaseException] = []

    async def failing() -> None:
        await asyncio.sleep(0)
        e = KeyError("inside asyncio")
        raised.append(e)
        raise e

    async def main() -> tuple[bool, list[str]]:
        try:
            await aio.wait(failing())
        except KeyError as e:
            names = [f.name for f in traceback.extract_tb(e.__traceback__)]
            return e is raised[0], names
        return False, []

    same, names = g.run(main)
    assert same
    assert names[0] == "main" and names[-1] == "failing"  # from the goroutine into asyncio


def test_the_goroutine_parks_and_its_m_runs_others_with_no_thread_per_wait() -> None:
    async def main() -> tuple[list[int], int, int]:
        done = g.Chan[int](100)

        async def waiter(i: int) -> None:
            await done.send(await aio.wait(double(i, 0.05)))

        for i in range(100):
            g.go(waiter, i)
        spins = 0
        while len(done) < 100:  # one P: this runs while the 100 wait
            spins += 1
            await g.gosched()
        threads = threading.active_count()
        return sorted([await done.recv() for _ in range(100)]), spins, threads

    got, spins, threads = g.run(main, gomaxprocs=1)
    assert got == [2 * i for i in range(100)]
    assert spins > 0
    # The caller, one M, sysmon, the runtime's loop, and maybe an M sysmon
    # started: never a thread per wait.
    assert threads <= 8, threads


def test_an_abandoned_wait_cancels_the_asyncio_task() -> None:
    state: list[str] = []
    started = threading.Event()

    async def slow() -> None:
        try:
            started.set()
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            state.append("cancelled")
            raise

    async def main() -> None:
        async def waiter() -> None:
            await aio.wait(slow())

        g.go(waiter)
        await g.syscall(started.wait, 10)

    g.run(main, gomaxprocs=2)
    assert state == ["cancelled"]  # and the loop thread is gone (conftest checks)


def test_the_runtimes_loop_starts_only_when_needed() -> None:
    async def main() -> list[str]:
        return [t.name for t in threading.enumerate()]

    assert "goroutines-aio" not in g.run(main)


def test_a_wait_is_no_deadlock_but_what_follows_it_may_be() -> None:
    async def main() -> None:
        await aio.wait(double(1, 0.05))  # nothing else runs meanwhile: not a deadlock
        await g.Chan[int]().recv()  # and now, with nothing outside counted, it is

    with pytest.raises(g.Deadlock, match="all goroutines are asleep"):
        g.run(main)


def test_dumps_show_the_aio_wait_reason() -> None:
    async def main() -> str:
        ready = g.Chan[None]()
        hold = threading.Event()

        async def waiter() -> None:
            ready.close()
            await aio.wait(_waitfor(hold))

        g.go(waiter)
        await ready.recv()
        while "[aio.wait]" not in g.dump_goroutines():
            await g.gosched()
        dump = g.dump_goroutines()
        hold.set()
        return dump

    assert "goroutine 2 [aio.wait]:" in g.run(main)


async def _waitfor(ev: threading.Event) -> None:
    await asyncio.get_running_loop().run_in_executor(None, ev.wait, 10)


def test_awaiting_asyncio_directly_is_a_type_error_naming_aio_wait() -> None:
    async def main() -> list[str]:
        msgs = []
        for aw in (asyncio.sleep(0.1), asyncio.sleep(0)):
            with pytest.raises(TypeError, match=r"aio\.wait") as e:
                await aw
            msgs.append(str(e.value))
        return msgs

    msgs = g.run(main)
    assert all("no running event loop" not in m for m in msgs)


def test_a_syscall_may_run_its_own_event_loop() -> None:
    async def main() -> int:
        return await g.syscall(asyncio.run, double(21))

    assert g.run(main) == 42


def test_wait_needs_an_awaitable() -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match=r"aio\.wait needs"):
            await aio.wait(42)  # type: ignore[arg-type]

    g.run(main)


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def run_loop(request: pytest.FixtureRequest) -> Any:
    """asyncio.run, or uvloop.run (a test extra where it has wheels, not on 3.13t)."""
    if request.param == "asyncio":
        return asyncio.run
    uvloop = pytest.importorskip("uvloop")
    # libuv opens a pipe on its first loop and keeps it to the process's end: open it before
    # the fd check of the test takes its first count.
    uvloop.run(asyncio.sleep(0))
    return uvloop.run


def test_runtime_call_from_asyncio_does_not_block_the_loop_and_use_loop_reaches_it(
    run_loop: Any,
) -> None:
    async def app() -> tuple[list[int], int, bool]:
        loop = asyncio.get_running_loop()
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        async def handler(n: int) -> int:
            aio.use_loop(loop)  # the app's own loop, running our coroutines

            async def on_app_loop() -> bool:
                return asyncio.get_running_loop() is loop

            assert await aio.wait(on_app_loop())
            await g.sleep(0.02)  # goroutine time: the app's loop keeps ticking
            return await aio.wait(double(n))

        t = asyncio.create_task(ticker())
        with g.Runtime(gomaxprocs=2) as rt:
            outs = await asyncio.gather(*[rt.call(handler, i) for i in range(10)])
        stop.set()
        await t
        return outs, ticks, "goroutines-aio" in [x.name for x in threading.enumerate()]

    outs, ticks, own_loop = run_loop(app())
    assert outs == [2 * i for i in range(10)]
    assert ticks >= 5
    assert not own_loop  # everything ran on the app's loop


def test_channels_from_a_plain_thread_say_to_use_submit() -> None:
    with g.Runtime() as rt:
        ch = g.Chan[int]()
        errors: list[BaseException] = []

        def plain() -> None:
            try:
                ch.recv().send(None)  # type: ignore[attr-defined]  # what an await does
            except RuntimeError as e:
                errors.append(e)

        t = threading.Thread(target=plain)
        t.start()
        t.join(10)
        rt.submit(g.sleep, 0).result(timeout=10)
    assert len(errors) == 1
    assert "Runtime.submit" in str(errors[0])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("procs", [2, 4])
def test_many_short_waits_never_look_like_a_deadlock(procs: int, seed: int) -> None:
    # Each wait ends on a pool thread: goready, then the external count drops.
    # In the other order an M going idle in between would see every goroutine
    # blocked and nothing counted, a false Deadlock (free-threaded builds).
    async def main() -> int:
        wg = g.WaitGroup()
        total = [0]
        lock = threading.Lock()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:

            async def worker(k: int) -> None:
                for i in range(40):
                    v = await aio.wait(pool.submit(int, seed * k + i))
                    with lock:
                        total[0] += v
                wg.done()

            for k in range(8):
                wg.add(1)
                g.go(worker, k)
            await wg.wait()
        return total[0]

    assert g.run(main, gomaxprocs=procs) == sum(seed * k + i for k in range(8) for i in range(40))


def test_runtime_submit_is_safe_from_many_threads_at_once() -> None:
    async def one(i: int) -> int:
        await g.gosched()
        return i

    with g.Runtime(gomaxprocs=2) as rt:
        barrier = threading.Barrier(8)
        results: list[int] = []
        lock = threading.Lock()

        def feed(k: int) -> None:
            barrier.wait()
            futs = [rt.submit(one, k * 1000 + i) for i in range(100)]
            vals = [f.result(timeout=10) for f in futs]
            with lock:
                results.extend(vals)

        ts = [threading.Thread(target=feed, args=(k,)) for k in range(8)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join(20)
    assert sorted(results) == sorted(k * 1000 + i for k in range(8) for i in range(100))
    assert time.monotonic() - t0 < 20
