"""Mutexes

For state more complex than a counter, a mutex safely accesses data across
several goroutines.

Port of https://gobyexample.com/mutexes.

Why a lock at all, in Python? `self.counters[name] += 1` is a read, an add
and a write. With several Ps (the default on free-threaded CPython) the
goroutines run on several threads at the same time, and two of them can read
the same old value: an update is lost. Even with a single P, code between two
awaits is not protected against the others: a goroutine that runs 10 ms
without awaiting has its P handed to another thread.
"""

from goroutines import Mutex, WaitGroup, go, run


class Container:
    """A map of counters, updated concurrently from several goroutines.

    The Mutex is added to synchronize access to the map.
    """

    def __init__(self) -> None:
        self.mu = Mutex()
        self.counters = {"a": 0, "b": 0}

    async def inc(self, name: str) -> None:
        # Lock the mutex before accessing counters; `async with` unlocks it
        # at the end of the block, as Go's `defer c.mu.Unlock()`.
        async with self.mu:
            self.counters[name] += 1


async def main() -> None:
    # The zero value of Go's Mutex is usable as is; here Container() makes one.
    c = Container()

    wg = WaitGroup()

    # This function increments a named counter in a loop.
    async def do_increment(name: str, n: int) -> None:
        try:
            for _ in range(n):
                await c.inc(name)
        finally:
            wg.done()

    # Run several goroutines concurrently; they all access the same
    # Container, and two of them the same counter.
    for name in ("a", "a", "b"):
        wg.add(1)
        go(do_increment, name, 10000)

    # Wait for the goroutines to finish.
    await wg.wait()
    print(c.counters)


if __name__ == "__main__":
    run(main)
