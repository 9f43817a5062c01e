"""The runtime's exceptions (Go: runtime/error.go and the panics of chan.go)."""

from __future__ import annotations

from typing import Any


class ChannelClosed(RuntimeError):
    """A send on a closed channel, or a close of a closed channel (a panic in Go)."""


class Deadlock(RuntimeError):
    """Every goroutine is asleep and nothing can wake one."""


class Goexit(BaseException):
    """Raised by goexit(): ends the calling goroutine after its finally blocks."""


class IncompleteReadError(EOFError):
    """read_exactly met EOF first; `partial` holds the bytes read (as asyncio's).

    goroutines.net's; defined here, in Python, for the compiled runtime/fd.py
    to raise (mypyc cannot compile a subclass of a built-in exception).
    """

    __module__ = "goroutines.net"

    def __init__(self, partial: bytes, expected: int) -> None:
        super().__init__(f"{len(partial)} bytes read on a total of {expected} expected bytes")
        self.partial = partial
        self.expected = expected

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.partial, self.expected)
