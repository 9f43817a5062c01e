"""asyncio on an M: a goroutine that awaits an asyncio awaitable is told to use aio.wait.

A goroutine runs on an M, a thread with no asyncio event loop. Awaiting an
asyncio awaitable there has asyncio look up the running loop first
(`asyncio.sleep(1)` calls get_running_loop()), and its "no running event loop"
says nothing about what to do instead. So an M marks its thread with a
stand-in loop, `NotALoop`, whose every use raises a TypeError naming
aio.wait, the bridge that runs asyncio code on a real loop for a goroutine.
An asyncio awaitable that yields without asking for the loop (a Future) gets
the same TypeError from the M (proc.execute).

The mark is set only where asyncio is already imported (importing it for every
program would cost ~10 ms), and taken off around a syscall(): the blocking
call is plain Python code, which may run its own loop (asyncio.run).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

MESSAGE = (
    "asyncio awaitables cannot be awaited in a goroutine, which runs on no event loop:"
    " wait for them with 'await aio.wait(x)' (from goroutines import aio)"
)


class NotALoop:
    """The running loop of an M's thread: using it is the error that names aio.wait."""

    __slots__ = ()

    def __getattr__(self, name: str) -> NoReturn:
        raise TypeError(f"{MESSAGE} (asyncio asked for loop.{name})")

    def __repr__(self) -> str:
        return "<goroutines M: no asyncio event loop here, use aio.wait>"


_notaloop = NotALoop()


def mark() -> bool:
    """Mark this thread as an M's, if asyncio is in use; True if it was marked."""
    events: Any = sys.modules.get("asyncio.events")
    if events is None or events._get_running_loop() is not None:
        return False
    events._set_running_loop(_notaloop)
    return True


def unmark() -> None:
    """Take the mark off (around a syscall, and when the M ends)."""
    events: Any = sys.modules.get("asyncio.events")
    if events is not None and events._get_running_loop() is _notaloop:
        events._set_running_loop(None)
