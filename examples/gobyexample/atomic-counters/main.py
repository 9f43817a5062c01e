"""Atomic Counters

The primary way to manage state in Go is communication over channels (see
worker-pools). There are a few other options though: here, an atomic counter
that many goroutines add to at once.

Port of https://gobyexample.com/atomic-counters.

Why atomics, in Python? `n += 1` is a load, an add and a store. With several
Ps (the default on free-threaded CPython) the goroutines run on several
threads at the same time, and two of them can load the same old value: an
update is lost. With the GIL the interpreter can switch threads between the
load and the store too. `atomic.Int.add` is one indivisible step.
"""

from goroutines import WaitGroup, atomic, go, run


async def main() -> None:
    # An atomic integer (Go: atomic.Uint64) represents our counter.
    ops = atomic.Int()

    # A WaitGroup waits for all the goroutines to finish their work.
    wg = WaitGroup()

    # Start 50 goroutines that each increment the counter exactly 1000 times.
    async def worker() -> None:
        for _ in range(1000):
            # add() increments the counter atomically; it needs no await.
            ops.add(1)
        wg.done()

    for _ in range(50):
        wg.add(1)
        go(worker)

    # Wait until all the goroutines are done.
    await wg.wait()

    # Here no goroutine is writing to ops any more, but load() is the way to
    # read a value others may be updating at the same time. We expect exactly
    # 50,000 operations. Had we used a plain int and `n += 1`, we would likely
    # get a different number, changing between runs, as the goroutines
    # interfere with each other.
    print("ops:", ops.load())


if __name__ == "__main__":
    run(main)
