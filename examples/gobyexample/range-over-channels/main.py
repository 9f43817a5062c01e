"""Range over Channels

Go's `for v := range ch` is `async for v in ch`: it iterates over the values
received from a channel until the channel is closed and drained.

Port of https://gobyexample.com/range-over-channels.
"""

from goroutines import Chan, run


async def main() -> None:
    # Iterate over 2 values in the queue channel.
    queue = Chan[str](2)
    await queue.send("one")
    await queue.send("two")
    queue.close()

    # The loop takes each value in queue. The channel was closed above, so
    # the loop ends after receiving the 2 values. A closed channel that
    # still holds values can still be drained.
    async for elem in queue:
        print(elem)


if __name__ == "__main__":
    run(main)
