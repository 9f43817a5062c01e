"""Channel Synchronization

A channel can synchronize execution across goroutines: here a blocking
receive waits for a goroutine to finish. To wait for several goroutines,
a WaitGroup may suit better (see waitgroups).

Port of https://gobyexample.com/channel-synchronization; durations are Go's
divided by 10.
"""

from goroutines import Chan, go, run, sleep


async def worker(done: Chan[bool]) -> None:
    """Work, then send a value on `done` to say it has finished."""
    print("working...", end="", flush=True)
    await sleep(0.1)
    print("done")

    await done.send(True)


async def main() -> None:
    # Start a worker goroutine, giving it the channel to notify on.
    done = Chan[bool](1)
    go(worker, done)

    # Block until the worker says it has finished. Without this line the
    # program would end before the worker even started: like a Go program,
    # it ends when main returns.
    await done.recv()


if __name__ == "__main__":
    run(main)
