"""The runtime's exceptions (Go: runtime/error.go and the panics of chan.go)."""

from __future__ import annotations


class ChannelClosed(RuntimeError):
    """A send on a closed channel, or a close of a closed channel (a panic in Go)."""


class Deadlock(RuntimeError):
    """Every goroutine is asleep and nothing can wake one."""


class Goexit(BaseException):
    """Raised by goexit(): ends the calling goroutine after its finally blocks."""
