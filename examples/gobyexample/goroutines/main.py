"""Goroutines

A goroutine is a lightweight thread of execution. Here it is an `async def`
function started with `go(fn, *args)`; the runtime runs goroutines on its Ms
(OS threads), on several cores at once when there are several Ps.

Port of https://gobyexample.com/goroutines; durations are Go's divided by 10.
"""

import sys

from goroutines import go, run, sleep


def println(line: str) -> None:
    """Write a whole line in one call, as Go's fmt.Println does.

    print() writes its text and its newline in two calls: goroutines printing
    at the same moment on several Ps could mix up their lines.
    """
    sys.stdout.write(line + "\n")


async def f(source: str) -> None:
    for i in range(3):
        println(f"{source} : {i}")


async def main() -> None:
    # Calling f the usual way runs it synchronously, in this goroutine.
    await f("direct")

    # go(f, ...) runs it in a new goroutine, concurrently with this one.
    go(f, "goroutine")

    # A goroutine can run a function defined on the spot, as Go's
    # `go func(msg string) { ... }("going")`.
    async def announce(msg: str) -> None:
        println(msg)

    go(announce, "going")

    # The two goroutines now run on their own. Give them time to finish
    # (a WaitGroup is the robust way: see waitgroups).
    await sleep(0.1)
    println("done")


if __name__ == "__main__":
    run(main)
