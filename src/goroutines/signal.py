"""Package signal: incoming signals as channel values (Go's os/signal).

    c = Chan[int](1)
    signal.notify(c, SIGINT, SIGTERM)   # relay these to c from now on
    await c.recv()                      # the signal's number
    signal.stop(c)                      # relay nothing more; the old behaviour is back

    ctx, stop = signal.notify_context(background(), SIGINT, SIGTERM)
    await ctx.done().recv()             # cancelled by the first such signal

Delivery goes through the runtime's own signal handling (runtime/signals.py):
the handler only records the signal, and the thread that waits in run() sends
it to every notified channel without blocking; a full channel drops it, as Go's
does, so give the channel room for the signals you must not miss. While SIGINT
is notified, Ctrl-C is a value on the channel, not a KeyboardInterrupt; once
the last channel is stopped, Ctrl-C ends the program again.

Python handles signals in the main thread only, so a program that uses notify
runs with goroutines.run() in the main thread (a RuntimeError says so
otherwise). notify may be called from any goroutine: the handler is in place
when it returns. Unlike Go's Notify, at least one signal must be named.
"""

from __future__ import annotations

import signal as _signal
from typing import Any

from . import context
from .chan import Chan
from .runtime import signals
from .runtime.calls import go
from .select import recv, select

__all__ = ["notify", "notify_context", "stop"]


def notify(ch: Chan[int], *signums: int) -> None:
    """Relay each of signums to ch, without blocking, from now on (Go's signal.Notify)."""
    if not isinstance(ch, Chan):
        raise TypeError(f"signal.notify needs a Chan to deliver to, got {ch!r}")
    if not signums:
        raise ValueError("signal.notify: name the signals to relay (e.g. SIGINT, SIGTERM)")
    valid = _signal.valid_signals()
    for s in signums:
        if isinstance(s, bool) or not isinstance(s, int) or s not in valid:
            raise ValueError(f"signal.notify: {s!r} is not a signal number")
        if s in (_signal.SIGKILL, _signal.SIGSTOP):
            raise ValueError(f"signal.notify: {_signal.Signals(s).name} cannot be caught")
    signals.notify(ch, tuple(int(s) for s in signums))


def stop(ch: Chan[int]) -> None:
    """Relay nothing more to ch (Go's signal.Stop); once it returns, ch receives no signal."""
    signals.stop(ch)


def notify_context(
    parent: context.Context, *signums: int
) -> tuple[context.Context, context.CancelFunc]:
    """A context cancelled when one of signums arrives (Go's signal.NotifyContext).

    `stop()` cancels it and stops the relaying, restoring the signals' old
    behaviour (Ctrl-C raising KeyboardInterrupt again).
    """
    ctx, cancel = context.with_cancel(parent)
    ch = Chan[int](1)
    notify(ch, *signums)

    def stop_() -> None:
        cancel()
        stop(ch)

    if ctx.err() is None:
        go(_watch, ctx, ch, cancel)
    return ctx, stop_


async def _watch(ctx: context.Context, ch: Chan[int], cancel: Any) -> None:
    """Cancel ctx at the first signal, or leave once it is done otherwise."""
    i, _, _ = await select(recv(ch), recv(ctx.done()))
    if i == 0:
        cancel()
