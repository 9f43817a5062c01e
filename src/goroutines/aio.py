"""Package aio: goroutines waiting for asyncio, and for futures of other threads.

    from goroutines import aio

    async def fetch(url):                       # a goroutine
        return await aio.wait(session.get(url))  # an asyncio coroutine, on a loop

`await aio.wait(x)` waits for an asyncio coroutine, Task or Future, or a
concurrent.futures.Future, and returns its result or raises its exception (the
same object, its traceback intact). The goroutine parks as it would on the
network poller: its M goes on running other goroutines, and no thread waits for
it. The future's done-callback, on whichever thread finishes it (the loop's, a
pool's), readies the goroutine (goready through the global run queue).

Where asyncio code runs: a Task or Future on the loop it belongs to; a
coroutine on the runtime's own event loop, one thread started the first time
it is needed and stopped with the runtime, or, once a goroutine has called
`aio.use_loop(loop)`, on that running loop of the program's (for the rest of
the runtime's life: how a goroutine program embedded in an asyncio app, through
Runtime.call, reaches the app's own loop).

Deadlock detection: while a goroutine waits here, something outside the
runtime may still wake it, so the wait is counted as an external waker
(sched.nexternal, as an open Runtime is) from before it parks until after it
has been readied: were the count dropped first, an M going idle in between
would find every goroutine blocked and nothing counted, and report a false
deadlock on a free-threaded build. A goroutine abandoned while it waits (the
program ended) cancels what it waited for: the asyncio task, or the future.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

from .runtime.proc import acquire_g, checkdead, gopark, goready
from .runtime.runtime2 import G, WaitReason, schedt

__all__ = ["use_loop", "wait"]

T = TypeVar("T")


class _Loops:
    """The event loops of one runtime: its own (started on first use) and the program's."""

    __slots__ = ("lock", "own", "thread", "user")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.own: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.user: asyncio.AbstractEventLoop | None = None


def _loops(sched: schedt) -> _Loops:
    """The runtime's _Loops, made on first use (sched.lock guards the making)."""
    loops: _Loops | None = sched.aio
    if loops is None:
        with sched.lock:
            if sched.aio is None:
                sched.aio = _Loops()
                sched.closers.append(lambda: _stop(sched.aio))
            loops = sched.aio
    return loops


def use_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Run the asyncio coroutines of aio.wait on `loop`, a running loop of the program's."""
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise TypeError(f"aio.use_loop needs an asyncio event loop, got {loop!r}")
    if loop.is_closed():
        raise ValueError(f"aio.use_loop: {loop!r} is closed")
    mp, _ = acquire_g("aio.use_loop")
    _loops(mp.sched).user = loop


def _loop_for(sched: schedt) -> asyncio.AbstractEventLoop:
    """The loop a coroutine runs on: the program's, else the runtime's own (started now)."""
    loops = _loops(sched)
    if loops.user is not None:
        return loops.user
    with loops.lock:
        if loops.own is None:
            if sched.exiting:
                raise RuntimeError("aio.wait: the program is exiting")
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            t = threading.Thread(
                target=_serve, args=(loop, ready), name="goroutines-aio", daemon=True
            )
            t.start()
            ready.wait()
            loops.own, loops.thread = loop, t
        return loops.own


def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    """The runtime's loop thread: run until stopped, then cancel what is left and close."""
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    try:
        loop.run_forever()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _stop(loops: _Loops | None) -> None:
    """At teardown, after the goroutines are abandoned: stop the runtime's own loop."""
    if loops is None:
        return
    with loops.lock:
        loop, t = loops.own, loops.thread
        loops.own = loops.thread = None
        loops.user = None
    if loop is not None and t is not None:
        loop.call_soon_threadsafe(loop.stop)
        t.join()


def _future(sched: schedt, x: object) -> concurrent.futures.Future[Any]:
    """A thread-safe future of x: x itself, or of x run on its loop (or ours)."""
    if isinstance(x, concurrent.futures.Future):
        return x
    if isinstance(x, asyncio.Future):  # a Task too: it runs on the loop it belongs to
        return asyncio.run_coroutine_threadsafe(_awaited(x), x.get_loop())
    if asyncio.iscoroutine(x):
        return asyncio.run_coroutine_threadsafe(x, _loop_for(sched))
    if isinstance(x, Awaitable):
        return asyncio.run_coroutine_threadsafe(_awaited(x), _loop_for(sched))
    raise TypeError(
        "aio.wait needs an asyncio coroutine, Task or Future, or a concurrent.futures.Future,"
        f" got {x!r}"
    )


async def _awaited(x: Awaitable[T]) -> T:
    """x awaited on its loop (cancelling this cancels the future x awaits)."""
    return await x


class _Waiter:
    """One goroutine waiting for one future: readies it once, unless it was abandoned."""

    __slots__ = ("fut", "gone", "gp", "lock")

    def __init__(self, gp: G, fut: concurrent.futures.Future[Any]) -> None:
        self.gp = gp
        self.fut = fut
        self.lock = threading.Lock()
        self.gone = False  # abandoned at program exit: nobody to ready

    def done(self, _: Any) -> None:
        """The future's done-callback: ready the goroutine, then drop the external count."""
        with self.lock:
            gone = self.gone
        sched = self.gp.sched
        if not gone:
            goready(self.gp)
        with sched.lock:
            sched.nexternal -= 1
            checkdead(sched)  # the last M may have gone idle while we were counted


def _aiopark(gp: G, w: _Waiter) -> bool:
    """The unlockf of aio.wait: hook the goroutine, which has stopped, to the future."""
    w.fut.add_done_callback(w.done)  # at once if it is done already: readies gp now
    return True


async def wait(x: Awaitable[T] | concurrent.futures.Future[T]) -> T:
    """`await aio.wait(x)`: x's result, parking the goroutine (never its M) until it is done."""
    mp, gp = acquire_g("aio.wait")
    sched = mp.sched
    fut = _future(sched, x)
    if not fut.done():
        w = _Waiter(gp, fut)
        with sched.lock:
            sched.nexternal += 1  # until done() has readied us (see the module doc)
        try:
            await gopark(_aiopark, w, WaitReason.AioWait, gp)
        except BaseException:
            # Abandoned at program exit: nobody is left to ready, and what it
            # waited for is cancelled (an asyncio task, through its future).
            with w.lock:
                w.gone = True
            fut.cancel()
            raise
    result: T = fut.result()
    return result
