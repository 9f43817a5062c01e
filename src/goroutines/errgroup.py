"""Package errgroup: goroutines working on subtasks of one task (golang.org/x/sync/errgroup).

A Group is a WaitGroup that also keeps the first exception of its goroutines:

    g, ctx = errgroup.with_context(parent)
    for url in urls:
        g.go(fetch, ctx, url)          # an exception here is recorded, not a panic
    await g.wait()                     # raises the first one, once all have ended

`wait` re-raises the first exception as it was (the same object, its traceback
from the goroutine intact) with a note naming the goroutine; the others are
dropped, as Go drops all but the first error. The context of `with_context` is
cancelled, with that exception as its cause, as soon as a goroutine fails, so
that its siblings can stop early; it is cancelled anyway when `wait` returns.
Only Exceptions are recorded: a BaseException (Goexit, KeyboardInterrupt, the
GeneratorExit of a goroutine closed at program exit) passes through.

With `set_limit(n)` at most n goroutines of the group are active at once. The
limit is a channel of n tokens, as Go's: `go` sends a token (blocking while all
n are out) and the goroutine receives it back when it ends. So with a limit
`go` may block and is `await g.go(...)`: it does nothing until awaited. Without
a limit it starts the goroutine at once and returns an awaitable that is
already done, so both `g.go(...)` and `await g.go(...)` work and neither warns.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from . import context
from .chan import Chan
from .runtime.proc import acquire_g, check_async, newproc
from .runtime.runtime2 import M
from .sync import WaitGroup

__all__ = ["Group", "with_context"]

Fn = Callable[..., Coroutine[Any, Any, Any]]


class _Started:
    """What go() returns when it started the goroutine at once: awaiting it is a no-op.

    Not a coroutine, so that not awaiting it does not warn either.
    """

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]


_started = _Started()


class Group:
    """A collection of goroutines working on subtasks of the same task (Go's errgroup.Group).

    A Group should not be reused for different tasks.
    """

    __slots__ = ("_cancel", "_err", "_lock", "_sem", "_wg")

    def __init__(self) -> None:
        self._cancel: context.CancelCauseFunc | None = None
        self._wg = WaitGroup()
        self._sem: Chan[None] | None = None  # the limit: a token per active goroutine
        self._err: Exception | None = None  # the first exception (Go's err + errOnce)
        self._lock = threading.Lock()

    def go(self, fn: Fn, *args: Any) -> Any:
        """Start fn(*args) as a goroutine of the group (Go's Group.Go).

        Without a limit it starts now, and the result may be awaited or not;
        with one, `await g.go(...)` waits for a free slot and starts it then.
        """
        check_async(fn, "errgroup.Group.go")
        mp, _ = acquire_g("errgroup.Group.go")
        f = sys._getframe(1)
        sem = self._sem
        if sem is None:
            self._start(mp, fn, args, None, f.f_code, f.f_lasti)
            return _started
        return self._goLimited(sem, fn, args, f.f_code, f.f_lasti)

    async def _goLimited(
        self, sem: Chan[None], fn: Fn, args: tuple[Any, ...], code: types.CodeType, pc: int
    ) -> None:
        """Take a token of the limit, waiting for one, then start the goroutine."""
        await sem.send(None)
        mp, _ = acquire_g("errgroup.Group.go")
        self._start(mp, fn, args, sem, code, pc)

    def try_go(self, fn: Fn, *args: Any) -> bool:
        """Start fn(*args) only if the limit allows it now; True if it started (Go's TryGo)."""
        check_async(fn, "errgroup.Group.try_go")
        mp, _ = acquire_g("errgroup.Group.try_go")
        sem = self._sem
        if sem is not None and not sem.try_send(None):
            return False
        f = sys._getframe(1)
        self._start(mp, fn, args, sem, f.f_code, f.f_lasti)
        return True

    def _start(
        self,
        mp: M,
        fn: Fn,
        args: tuple[Any, ...],
        sem: Chan[None] | None,
        code: types.CodeType,
        pc: int,
    ) -> None:
        """wg.add(1) and start the goroutine, created by the caller of go/try_go."""
        self._wg.add(1)
        try:
            coro = fn(*args)
        except BaseException:
            self._finish(sem)
            raise
        newproc(mp, self._run(coro, sem), fn, code, pc)

    async def _run(self, coro: Coroutine[Any, Any, Any], sem: Chan[None] | None) -> None:
        """The goroutine: run fn, record its exception, give the token back (Go's closure)."""
        try:
            await coro
        except Exception as e:
            self._record(e)
        finally:
            self._finish(sem)

    def _record(self, e: Exception) -> None:
        """Keep e if it is the first, and cancel the context with it as the cause."""
        with self._lock:
            if self._err is not None:
                return
            self._err = e
            cancel = self._cancel
        gp = acquire_g("errgroup")[1]
        e.add_note(f"raised in goroutine {gp.goid} (errgroup)")
        if cancel is not None:
            cancel(e)

    def _finish(self, sem: Chan[None] | None) -> None:
        """The goroutine has ended: its token back to the limit it was taken from (Go's done)."""
        if sem is not None:
            sem.try_recv()  # never blocks: our token is in there
        self._wg.done()

    async def wait(self) -> None:
        """Wait for every goroutine of the group; raise the first exception, if any (Go's Wait)."""
        await self._wg.wait()
        with self._lock:
            err, cancel = self._err, self._cancel
        if cancel is not None:
            cancel(err)
        if err is not None:
            raise err

    def set_limit(self, n: int) -> None:
        """At most n goroutines active at once; n < 0 removes the limit (Go's SetLimit).

        A limit of 0 lets no goroutine start. Changing the limit while
        goroutines of the group are active is a RuntimeError (Go panics).
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"errgroup: set_limit needs an int, got {n!r}")
        sem = self._sem
        active = 0 if sem is None else len(sem)
        if active:
            raise RuntimeError(
                f"errgroup: modify limit while {active} goroutines in the group are still active"
            )
        self._sem = None if n < 0 else Chan(n)

    def __repr__(self) -> str:
        sem = self._sem
        limit = "" if sem is None else f" limit={sem.cap} active={len(sem)}"
        return f"<errgroup.Group{limit} at {id(self):#x}>"


def with_context(ctx: context.Context) -> tuple[Group, context.Context]:
    """A Group and a child of ctx that is cancelled when a goroutine fails or wait returns.

    The child's cause (context.cause) is the first exception, if any.
    """
    derived, cancel = context.with_cancel_cause(ctx)
    g = Group()
    g._cancel = cancel
    return g, derived
