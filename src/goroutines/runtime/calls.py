"""What goroutine code calls of the runtime: go, gosched, syscall, gomaxprocs... (Go's runtime API).

Plain Python in every build, for three reasons. The awaitable operations are
Python's own coroutines, so that one called and never awaited does nothing and
warns "coroutine ... was never awaited", in a compiled build too (mypyc's
coroutines do not warn). go() reads its caller's frame, for the "created by"
line of dumps: a compiled function has none of its own. And bad arguments get
the runtime's own errors, where a compiled function would first reject them
with mypyc's ("int or None object expected").
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

from .errors import Goexit
from .osapi import NOGIL
from .proc import (
    acquire_g,
    check_gomaxprocs,
    default_gomaxprocs,
    entersyscall,
    exitsyscall,
    getgfor,
    gostart,
    startTheWorld,
    stopTheWorld,
)
from .requests import _EXITSYSCALL, _GOSCHED, _PREEMPT
from .runtime2 import M, _Gdead
from .tls import _tls

T = TypeVar("T")

__all__ = [
    "checkpoint",
    "go",
    "goexit",
    "goid",
    "gomaxprocs",
    "gosched",
    "lock_os_thread",
    "num_goroutine",
    "syscall",
    "unlock_os_thread",
]


def go(fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, **kwargs: Any) -> None:
    """Start fn(*args, **kwargs) as a new goroutine on the current P's runnext (Go's newproc)."""
    gostart(fn, args, kwargs, sys._getframe(1))


async def gosched() -> None:
    """`await gosched()`: yield the processor; the goroutine goes to the global queue."""
    mp: M | None = _tls.__dict__.get("m")  # getgfor inlined: a call less
    if mp is None or mp.curg is None:
        acquire_g("gosched")  # raises
    await _GOSCHED


async def checkpoint() -> None:
    """`await checkpoint()`: yield only if sysmon asked this goroutine to (it ran > 10 ms)."""
    if getgfor("checkpoint").preempt:
        await _PREEMPT


async def syscall(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`await syscall(fn, ...)`: run a blocking call with entersyscall/exitsyscall around it."""
    mp, gp = acquire_g("syscall")
    if not callable(fn):
        raise TypeError(f"syscall() needs a callable, got {fn!r}")
    if NOGIL:
        mp.syscallframe = sys._getframe()  # where a dump without the GIL reads our stack from
    entersyscall(mp, gp)
    try:
        result = fn(*args, **kwargs)
    finally:
        if not exitsyscall(mp, gp):
            if mp.sched.exiting:
                # The program ended during the call: this goroutine never runs
                # again, and must not keep what the call returned (an accepted
                # socket) alive for good.
                result = None  # type: ignore[assignment]  # it is never returned
            await _EXITSYSCALL
    return result


def goexit() -> NoReturn:
    """End the calling goroutine after its finally blocks run (runtime.Goexit)."""
    acquire_g("goexit")
    raise Goexit()


def goid() -> int:
    """The current goroutine's id."""
    return acquire_g("goid")[1].goid


def num_goroutine() -> int:
    """The number of goroutines that exist (runtime.NumGoroutine)."""
    sched = acquire_g("num_goroutine")[0].sched
    with sched.lock:
        return sum(1 for gp in sched.allgs if gp.status != _Gdead and gp.status != 0)


def lock_os_thread() -> None:
    """Wire the calling goroutine to its current thread (runtime.LockOSThread)."""
    mp, gp = acquire_g("lock_os_thread")
    mp.lockedg = gp
    gp.lockedm = mp


def unlock_os_thread() -> None:
    """Undo lock_os_thread: the goroutine may run on any thread again."""
    mp, gp = acquire_g("unlock_os_thread")
    mp.lockedg = None
    gp.lockedm = None


def gomaxprocs(n: int | None = None) -> int:
    """The number of Ps; with n >= 1, resize them at run time; returns the old value (Go).

    As Go's runtime.GOMAXPROCS, n < 1 (0 included) only asks for the current value.
    """
    resize = n is not None and check_gomaxprocs(n, allow0=True) >= 1
    mp: M | None = _tls.__dict__.get("m")
    if mp is None or mp.curg is None:
        if resize:
            raise RuntimeError(
                "gomaxprocs(n) called outside a goroutine: pass gomaxprocs= to goroutines.run"
            )
        return default_gomaxprocs()
    sched = mp.sched
    ret = sched.gomaxprocs
    if resize and n != ret:
        with sched.worldsema:
            if stopTheWorld(mp):
                startTheWorld(mp, n)  # type: ignore[arg-type]  # resize: n is an int
    return ret
