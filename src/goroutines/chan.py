"""Channels: `Chan(cap=0)`, `Chan[T](cap)` (Go's chan; the runtime's part is runtime/chan.py).

    ch = Chan[int](10)
    await ch.send(1)            # blocks while the buffer is full (or, cap 0, until received)
    v = await ch.recv()         # None once closed and drained
    v, ok = await ch.recv_ok()  # (None, False) once closed and drained
    async for v in ch: ...      # until closed and drained
    ch.try_send(2), ch.try_recv(), ch.close(), len(ch), ch.cap

The channel itself, with Go's algorithms, is runtime.chan.hchan (compiled with
the scheduler's core where the build compiles it). This class is what a user
holds: its awaitable operations are Python's own coroutines in every build, so
that an operation called without `await` does nothing and Python warns
"coroutine ... was never awaited". Each one makes one call into the runtime,
which does the work or says what to await: the park (which yields first when
sysmon asked the goroutine to), and, for a receive, what answers once the
channel is closed.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from .runtime.chan import (
    _EMPTY,
    chanrecv,
    chanrecvwait,
    chansend,
    closechan,
    hchan,
    selectnbrecv,
    selectnbsend,
)

T = TypeVar("T")

__all__ = ["Chan"]


class Chan(Generic[T]):
    """A Go channel: `Chan(cap=0)` or `Chan[T](cap)`."""

    __slots__ = ("_c",)

    def __init__(self, cap: int = 0) -> None:
        if isinstance(cap, bool) or not isinstance(cap, int):
            raise TypeError(f"Chan capacity must be an int, not {type(cap).__name__}")
        if cap < 0:
            raise ValueError(f"Chan capacity must be >= 0, got {cap}")
        self._c = hchan(cap, id(self))

    async def send(self, v: T) -> None:
        """`await ch.send(v)`: block until received (cap 0) or buffered; ChannelClosed if closed."""
        aw = chansend(self._c, v)
        if aw is not None:
            await aw  # parked until a receiver takes v (or yields first: preempted)

    async def recv(self) -> T | None:
        """`await ch.recv()`: the next value; None once the channel is closed and drained."""
        ep = chanrecv(self._c, "Chan.recv")
        if ep is _EMPTY:
            ep = (await chanrecvwait(self._c, "Chan.recv"))[0]
        return ep  # type: ignore[no-any-return]

    async def recv_ok(self) -> tuple[T | None, bool]:
        """`await ch.recv_ok()`: (value, True), or (None, False) once closed and drained."""
        ep = chanrecv(self._c, "Chan.recv_ok")
        if ep is _EMPTY:
            return await chanrecvwait(self._c, "Chan.recv_ok")
        return ep, True

    async def __anext__(self) -> T:
        """One step of `async for v in ch`: StopAsyncIteration once closed and drained."""
        ep = chanrecv(self._c)
        if ep is _EMPTY:
            ep, ok = await chanrecvwait(self._c, "Chan.__anext__")
            if not ok:
                raise StopAsyncIteration
        return ep  # type: ignore[no-any-return]

    def try_send(self, v: T) -> bool:
        """Send v if that needs no wait; True if it did (a select with default)."""
        return selectnbsend(self._c, v)

    def try_recv(self) -> tuple[T | None, bool]:
        """(value, True) if one was ready, else (None, False) (a select with default)."""
        return selectnbrecv(self._c)

    def close(self) -> None:
        """Wake every receiver with (None, False) and every sender to raise ChannelClosed."""
        closechan(self._c)

    @property
    def cap(self) -> int:
        """The buffer's capacity (Go's cap(ch))."""
        return self._c.dataqsiz

    def __len__(self) -> int:
        """Values buffered now (Go's len(ch))."""
        return self._c.qcount

    def __bool__(self) -> bool:
        """Always true, even when empty: `if ch:` tells a channel from None (Go's nil)."""
        return True

    def __aiter__(self) -> Chan[T]:
        """`async for v in ch` receives until ch is closed and drained."""
        return self

    @property
    def __orig_class__(self) -> Any:
        """Chan[int](...) stores its alias here: it names the channel in messages."""
        return self._c.alias

    @__orig_class__.setter
    def __orig_class__(self, alias: Any) -> None:
        c = self._c
        c.alias = alias
        c.name = "Chan[" + ", ".join(getattr(a, "__name__", repr(a)) for a in alias.__args__) + "]"

    def __repr__(self) -> str:
        return repr(self._c)
