"""Package time: sleep, after, Timer and Ticker on the runtime's per-P timers.

`sleep` parks the goroutine and arms its own runtime timer from the park's
unlock callback, once the coroutine has stopped (the runtime's timeSleep), so
the timer can never ready a goroutine that still runs.
Timer and Ticker own a channel of capacity 1 that their runtime timer fills
with a non-blocking send (Go's sendTime): a slow reader misses ticks instead
of blocking the M that runs timers. As in Go 1.21, a value sent before a stop
or reset stays in the channel. `after_func` arms the same kind of timer with a
function that starts a goroutine (Go's goFunc): no goroutine waits meanwhile.

Every clock read goes through the runtime's `nanotime` (runtime/osapi.py):
`now()` is that clock in seconds, and the values Timer, Ticker and after send
are read from it too, so that timers, deadlines and contexts share one clock.
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable, Coroutine
from typing import Any

from .chan import Chan
from .runtime import timers
from .runtime.proc import (
    acquire_g,
    check_async,
    fatal,
    newproc_global,
    timeSleepFor,
)
from .runtime.runtime2 import schedt
from .runtime.timers import addtimer, deltimer, durationns, modtimer, timer

__all__ = ["Ticker", "Timer", "after", "after_func", "now", "since", "sleep", "until"]


async def sleep(seconds: float) -> None:
    """`await sleep(seconds)`: park the goroutine on a timer (WaitReason Sleep)."""
    aw = timeSleepFor(seconds)
    if aw is not None:
        await aw


def sendTime(c: Chan[float], seq: int, delay: int) -> None:
    """Send the current time on c without blocking (Go's sendTime)."""
    c.try_send(timers.now() / 1e9)


class Timer:
    """A single event: `.c` receives the time once, after the delay (Go's time.Timer)."""

    def __init__(self, seconds: float) -> None:
        ns = durationns(seconds, "Timer")
        acquire_g("Timer")
        self.c: Chan[float] = Chan(1)
        self._r = timer(sendTime, self.c)
        addtimer(self._r, timers.now() + max(ns, 0))

    def stop(self) -> bool:
        """Prevent the timer from firing; False if it had already fired or been stopped."""
        return deltimer(self._r)

    def reset(self, seconds: float) -> bool:
        """Fire after `seconds` from now; True if the timer had been active (Go 1.21)."""
        ns = durationns(seconds, "Timer.reset")
        return modtimer(self._r, timers.now() + max(ns, 0), 0)


class Ticker:
    """`.c` receives the time every period; ticks are dropped for a slow reader (Go)."""

    def __init__(self, period: float) -> None:
        ns = durationns(period, "Ticker")
        if ns <= 0:
            raise ValueError(f"non-positive interval for Ticker: {period!r}")
        acquire_g("Ticker")
        self.c: Chan[float] = Chan(1)
        self._r = timer(sendTime, self.c)
        addtimer(self._r, timers.now() + ns, ns)

    def stop(self) -> None:
        """Turn the ticker off; no more ticks are sent."""
        deltimer(self._r)

    def reset(self, period: float) -> None:
        """Stop the ticker and restart it with a new period."""
        ns = durationns(period, "Ticker.reset")
        if ns <= 0:
            raise ValueError(f"non-positive interval for Ticker.reset: {period!r}")
        modtimer(self._r, timers.now() + ns, ns)


def after(seconds: float) -> Chan[float]:
    """A channel that receives now() once, after the delay (Go's time.After)."""
    return Timer(seconds).c


def now() -> float:
    """The runtime's monotonic clock in seconds: the one timers use (virtual under testing)."""
    return timers.now() / 1e9


def since(t: float) -> float:
    """Seconds passed since t, a now() reading (Go's time.Since)."""
    return timers.now() / 1e9 - _instant(t, "since")


def until(t: float) -> float:
    """Seconds left until t, a now() reading; negative once it has passed (Go's time.Until)."""
    return _instant(t, "until") - timers.now() / 1e9


def _instant(t: object, what: str) -> float:
    """t as a float instant, or a TypeError naming `what`."""
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise TypeError(f"{what} takes a now() reading (a float), not {type(t).__name__}")
    return t


class _GoFunc:
    """What an after_func timer starts: fn(*args) as a goroutine of sched (Go's goFunc arg)."""

    __slots__ = ("args", "code", "fn", "parentgoid", "pc", "sched")

    def __init__(
        self, sched: schedt, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...]
    ) -> None:
        check_async(fn, "after_func")
        try:
            inspect.signature(fn).bind(*args)
        except TypeError as e:
            raise TypeError(f"after_func: {fn!r} cannot be called with {args!r}: {e}") from None
        except ValueError:  # no signature to check: the call will tell
            pass
        _, gp = acquire_g("after_func")
        f = sys._getframe(2)  # the user's call of after_func (or context.after_func)
        self.sched = sched
        self.fn = fn
        self.args = args
        self.parentgoid = gp.goid
        self.code: types.CodeType | None = f.f_code
        self.pc = f.f_lasti

    def start(self) -> None:
        """Start the goroutine now; nothing once the program is exiting."""
        startg(self.sched, self.fn, self.args, self.parentgoid, self.code, self.pc)


def startg(
    sched: schedt,
    fn: Callable[..., Coroutine[Any, Any, Any]],
    args: tuple[Any, ...],
    parentgoid: int,
    code: types.CodeType | None,
    pc: int,
) -> None:
    """Start fn(*args) as a new goroutine of sched, from any thread (Go's `go f()` in goFunc).

    The caller may be a timer function on an M that runs no goroutine, or a
    plain thread that cancels a context: neither owns a P's run queue, so the G
    goes to the global queue and wakep finds an M for it, as goready does from
    outside. Once the program is exiting nothing starts (Go's exit kills all).
    """
    if sched.exiting:
        return
    try:
        coro = fn(*args)
    except BaseException as e:  # the call itself failed: a bug of the program's, as a panic
        fatal(sched, e)
        return
    newproc_global(sched, coro, fn, parentgoid, code, pc)


def goFunc(arg: _GoFunc, seq: int, delay: int) -> None:
    """The timer function of after_func: start the goroutine (Go's goFunc)."""
    arg.start()


def after_func(seconds: float, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Timer:
    """Start fn(*args) as its own goroutine after the delay (Go's time.AfterFunc).

    `.stop()` before then cancels it; `.reset(seconds)` starts it (again) after
    the new delay. The Timer's `.c` never receives: Go's is nil.
    """
    ns = durationns(seconds, "after_func")
    mp, _ = acquire_g("after_func")
    t = Timer.__new__(Timer)
    t.c = Chan(1)
    t._r = timer(goFunc, _GoFunc(mp.sched, fn, args))
    addtimer(t._r, timers.now() + max(ns, 0))
    return t
