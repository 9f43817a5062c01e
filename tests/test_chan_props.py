"""Property test: a buffered channel used from one goroutine behaves like a deque + closed flag.

Hypothesis draws a capacity and a sequence of operations that can never block
(try_send, try_recv, close, len, and the awaited send/recv/recv_ok only where
the model says they complete at once); every result, error and length must
match the sequential model.
"""

from __future__ import annotations

from collections import deque
from functools import partial
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import goroutines as g
from goroutines import Chan, ChannelClosed

ops = st.lists(
    st.one_of(
        st.tuples(st.just("try_send"), st.integers(0, 1000)),
        st.tuples(st.just("send"), st.integers(0, 1000)),
        st.tuples(st.sampled_from(["try_recv", "recv", "recv_ok", "close", "len"])),
    ),
    max_size=40,
)


class Model:
    """The sequential specification of a buffered channel."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.buf: deque[int] = deque()
        self.closed = False

    def can_send(self) -> bool:
        """True if a send completes at once (or raises because the channel is closed)."""
        return self.closed or len(self.buf) < self.cap

    def send(self, v: int) -> bool:
        if self.closed:
            raise ChannelClosed("send on closed channel")
        if len(self.buf) == self.cap:
            return False
        self.buf.append(v)
        return True

    def can_recv(self) -> bool:
        return self.closed or bool(self.buf)

    def recv(self) -> tuple[int | None, bool]:
        return (self.buf.popleft(), True) if self.buf else (None, False)

    def close(self) -> None:
        if self.closed:
            raise ChannelClosed("close of closed channel")
        self.closed = True


def outcome(f: Any, *args: Any) -> tuple[str, Any]:
    """("ok", result) or ("raises", the exception's first words), to compare two sides."""
    try:
        return "ok", f(*args)
    except ChannelClosed as e:
        return "raises", " ".join(str(e).split()[:3])


async def awaited(op: Any) -> tuple[str, Any]:
    """outcome() for an operation that returns an awaitable (send may raise at the call)."""
    try:
        return "ok", await op()
    except ChannelClosed as e:
        return "raises", " ".join(str(e).split()[:3])


@settings(max_examples=150, deadline=None)
@given(cap=st.integers(1, 5), program=ops)
def test_buffered_channel_matches_the_sequential_model(cap: int, program: list[Any]) -> None:
    async def main() -> None:
        c, m = Chan[int](cap), Model(cap)
        for step, op in enumerate(program):
            await g.checkpoint()  # never hog the P, even on a slow machine
            name = op[0]
            if name == "try_send":
                got, want = outcome(c.try_send, op[1]), outcome(m.send, op[1])
            elif name == "send":
                if not m.can_send():
                    continue  # would block: not a single-goroutine operation
                got, want = await awaited(partial(c.send, op[1])), outcome(m.send, op[1])
                want = (want[0], None) if want[0] == "ok" else want
            elif name == "try_recv":
                got, want = outcome(c.try_recv), outcome(m.recv)
            elif name in ("recv", "recv_ok"):
                if not m.can_recv():
                    continue
                got = await awaited(c.recv if name == "recv" else c.recv_ok)
                want = outcome(m.recv)
                want = ("ok", want[1][0]) if name == "recv" else want
            elif name == "close":
                got, want = outcome(c.close), outcome(m.close)
            else:
                got, want = ("ok", len(c)), ("ok", len(m.buf))
            assert got == want, f"step {step} {op}: channel {got}, model {want}"
            assert (len(c), c.cap) == (len(m.buf), cap)
        if not m.closed:
            c.close()
        assert [v async for v in c] == list(m.buf), "async for drains what is left"

    g.run(main, gomaxprocs=1)
