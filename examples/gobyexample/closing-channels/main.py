"""Closing Channels

Closing a channel says that no more values will be sent on it, which tells
its receivers that the work is complete.

Port of https://gobyexample.com/closing-channels.

The goroutines print concurrently, so the order in which their lines mix
varies from run to run (in Go too); each goroutine's own lines keep their order.
"""

import sys

from goroutines import Chan, go, run


def println(line: str) -> None:
    """Write a whole line in one call, as Go's fmt.Println does.

    print() writes its text and its newline in two calls: goroutines printing
    at the same moment on several Ps could mix up their lines.
    """
    sys.stdout.write(line + "\n")


async def main() -> None:
    # main sends work to a worker goroutine on `jobs`, and closes `jobs`
    # when it has no more jobs for the worker.
    jobs = Chan[int](5)
    done = Chan[bool]()

    # The worker receives with `j, more = await jobs.recv_ok()` (Go's
    # `j, more := <-jobs`): `more` is False once jobs has been closed and
    # every value in it received. Then it notifies main on `done`.
    async def worker() -> None:
        while True:
            j, more = await jobs.recv_ok()
            if more:
                println(f"received job {j}")
            else:
                println("received all jobs")
                await done.send(True)
                return

    go(worker)

    # Send 3 jobs to the worker over jobs, then close it.
    for j in range(1, 4):
        await jobs.send(j)
        println(f"sent job {j}")
    jobs.close()
    println("sent all jobs")

    # Wait for the worker, using the synchronization approach of
    # channel-synchronization.
    await done.recv()

    # A receive from a closed, empty channel succeeds at once with the zero
    # value (None here) and ok False.
    _, ok = await jobs.recv_ok()
    println(f"received more jobs: {ok}")


if __name__ == "__main__":
    run(main)
