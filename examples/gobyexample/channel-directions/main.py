"""Channel Directions

A Go function can declare that a channel parameter only sends (`chan<- T`) or
only receives (`<-chan T`), and the compiler rejects the other use. Python has
no such channel types, but a type checker can do the same job: the two
Protocols below offer only `send` or only `recv`, so mypy or pyright reports a
`pings.send(...)` inside `pong`. At run time they are plain Chans.

Port of https://gobyexample.com/channel-directions.
"""

from collections.abc import Awaitable
from typing import Protocol, TypeVar

from goroutines import Chan, run

T_contra = TypeVar("T_contra", contravariant=True)
T_co = TypeVar("T_co", covariant=True)


class SendOnly(Protocol[T_contra]):
    """A channel this function only sends on (Go's chan<- T)."""

    def send(self, v: T_contra, /) -> Awaitable[None]: ...


class RecvOnly(Protocol[T_co]):
    """A channel this function only receives from (Go's <-chan T)."""

    def recv(self) -> Awaitable[T_co | None]: ...


async def ping(pings: SendOnly[str], msg: str) -> None:
    """Accepts a channel for sending values only."""
    await pings.send(msg)


async def pong(pings: RecvOnly[str], pongs: SendOnly[str]) -> None:
    """Receives on one channel and sends on another."""
    msg = await pings.recv()
    assert msg is not None  # recv() returns None only once the channel is closed
    await pongs.send(msg)


async def main() -> None:
    pings = Chan[str](1)
    pongs = Chan[str](1)
    await ping(pings, "passed message")
    await pong(pings, pongs)
    print(await pongs.recv())


if __name__ == "__main__":
    run(main)
