"""WaitGroups

To wait for several goroutines to finish, use a WaitGroup.

Port of https://gobyexample.com/waitgroups; durations are Go's divided by
10. The order in which the workers start and finish varies from run to run
(in Go too).
"""

import sys

from goroutines import WaitGroup, go, run, sleep


def println(line: str) -> None:
    """Write a whole line in one call, as Go's fmt.Println does.

    print() writes its text and its newline in two calls: goroutines printing
    at the same moment on several Ps could mix up their lines.
    """
    sys.stdout.write(line + "\n")


async def worker(id: int) -> None:
    """The function every goroutine runs. The sleep stands for expensive work."""
    println(f"Worker {id} starting")
    await sleep(0.1)
    println(f"Worker {id} done")


async def main() -> None:
    # This WaitGroup waits for all the goroutines started here to finish.
    wg = WaitGroup()

    # Go by Example writes wg.Go(func() { worker(i) }): Go 1.25's shorthand
    # for wg.Add(1) before starting the goroutine and a deferred wg.Done()
    # in it, which is what this does.
    async def work(i: int) -> None:
        try:
            await worker(i)
        finally:
            wg.done()

    for i in range(1, 6):
        wg.add(1)
        go(work, i)

    # Block until the WaitGroup's counter goes back to 0: every worker has
    # said it is done.
    await wg.wait()

    # This way of waiting does not carry the workers' errors: an exception
    # in a goroutine stops the whole program (a panic, in Go's words). The
    # errgroup package is the tool for collecting errors.


if __name__ == "__main__":
    run(main)
