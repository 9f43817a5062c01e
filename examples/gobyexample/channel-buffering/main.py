"""Channel Buffering

By default channels are unbuffered: a send waits for a receiver. A buffered
channel accepts a limited number of values without a receiver for them.

Port of https://gobyexample.com/channel-buffering.
"""

from goroutines import Chan, run


async def main() -> None:
    # A channel of strings buffering up to 2 values (Go: make(chan string, 2)).
    messages = Chan[str](2)

    # The channel is buffered, so these sends do not wait for a receiver.
    await messages.send("buffered")
    await messages.send("channel")

    # Later the two values can be received as usual.
    print(await messages.recv())
    print(await messages.recv())


if __name__ == "__main__":
    run(main)
