"""Package time: sleep, after, Timer and Ticker on the runtime's per-P timers.

`sleep` parks the goroutine and arms its own runtime timer from the park's
unlock callback, once the coroutine has stopped (Go's timeSleep with
resetForSleep), so the timer can never ready a goroutine that still runs.
Timer and Ticker own a channel of capacity 1 that their runtime timer fills
with a non-blocking send (Go's sendTime): a slow reader misses ticks instead
of blocking the M that runs timers. As in Go 1.21, a value sent before a stop
or reset stays in the channel.
"""

from __future__ import annotations

import time as _time

from .chan import Chan
from .runtime.osapi import nanotime
from .runtime.proc import _PREEMPT, acquire_g, getgfor, gopark, goready
from .runtime.runtime2 import G, WaitReason
from .runtime.timers import addtimer, deltimer, modtimer, resettimer, timer

__all__ = ["Ticker", "Timer", "after", "sleep"]


def _duration_ns(seconds: object, what: str) -> int:
    """Seconds as nanoseconds, or a TypeError naming `what`."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} takes seconds as an int or float, not {type(seconds).__name__}")
    if seconds != seconds:  # NaN
        raise ValueError(f"{what}: the duration is NaN")
    return int(seconds * 1e9)


def goroutineReady(gp: G, seq: int, delay: int) -> None:
    """The timer function of sleep: ready the sleeping goroutine."""
    goready(gp)


def resetForSleep(gp: G, when: int) -> bool:
    """Arm the goroutine's timer once it has stopped (Go's resetForSleep)."""
    resettimer(gp.timer, when)
    return True


async def sleep(seconds: float) -> None:
    """`await sleep(seconds)`: park the goroutine on a timer (WaitReason Sleep)."""
    ns = _duration_ns(seconds, "sleep")
    gp = getgfor("sleep")
    if ns <= 0:
        if gp.preempt:
            await _PREEMPT
        return
    if gp.timer is None:
        gp.timer = timer(goroutineReady, gp)
    else:
        gp.timer.arg = gp
    await gopark(resetForSleep, nanotime() + ns, WaitReason.Sleep, gp)


def sendTime(c: Chan[float], seq: int, delay: int) -> None:
    """Send the current time on c without blocking (Go's sendTime)."""
    c.try_send(_time.monotonic())


class Timer:
    """A single event: `.c` receives the time once, after the delay (Go's time.Timer)."""

    def __init__(self, seconds: float) -> None:
        ns = _duration_ns(seconds, "Timer")
        acquire_g("Timer")
        self.c: Chan[float] = Chan(1)
        self._r = timer(sendTime, self.c)
        addtimer(self._r, nanotime() + max(ns, 0))

    def stop(self) -> bool:
        """Prevent the timer from firing; False if it had already fired or been stopped."""
        return deltimer(self._r)

    def reset(self, seconds: float) -> bool:
        """Fire after `seconds` from now; True if the timer had been active (Go 1.21)."""
        ns = _duration_ns(seconds, "Timer.reset")
        return modtimer(self._r, nanotime() + max(ns, 0), 0)


class Ticker:
    """`.c` receives the time every period; ticks are dropped for a slow reader (Go)."""

    def __init__(self, period: float) -> None:
        ns = _duration_ns(period, "Ticker")
        if ns <= 0:
            raise ValueError(f"non-positive interval for Ticker: {period!r}")
        acquire_g("Ticker")
        self.c: Chan[float] = Chan(1)
        self._r = timer(sendTime, self.c)
        addtimer(self._r, nanotime() + ns, ns)

    def stop(self) -> None:
        """Turn the ticker off; no more ticks are sent."""
        deltimer(self._r)

    def reset(self, period: float) -> None:
        """Stop the ticker and restart it with a new period."""
        ns = _duration_ns(period, "Ticker.reset")
        if ns <= 0:
            raise ValueError(f"non-positive interval for Ticker.reset: {period!r}")
        modtimer(self._r, nanotime() + ns, ns)


def after(seconds: float) -> Chan[float]:
    """A channel that receives time.monotonic() once, after the delay (Go's time.After)."""
    return Timer(seconds).c
