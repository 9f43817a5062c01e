"""Channels

Channels are the pipes that connect concurrent goroutines: one goroutine
sends values into a channel and another receives them.

Port of https://gobyexample.com/channels.
"""

from goroutines import Chan, go, run


async def main() -> None:
    # Make a channel with Chan[T](): a channel carries values of one type.
    # Without a capacity it is unbuffered, as Go's make(chan string).
    messages = Chan[str]()

    # Send a value with `await ch.send(v)` (Go: messages <- "ping"),
    # here from a new goroutine.
    async def ping() -> None:
        await messages.send("ping")

    go(ping)

    # `await ch.recv()` receives a value (Go: <-messages).
    msg = await messages.recv()
    print(msg)

    # Sends and receives block until both sides are ready, so main waited
    # for "ping" without any other synchronization.


if __name__ == "__main__":
    run(main)
