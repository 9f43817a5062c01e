"""Stateful Goroutines

The mutexes example guarded shared state with explicit locking. Another way
is to let one goroutine own the state and have the others send it requests
over channels: Go's "share memory by communicating", where each piece of data
is owned by exactly one goroutine.

Port of https://gobyexample.com/stateful-goroutines; durations are Go's
divided by 10. The operations are counted with atomic counters, as Go's are
(see atomic-counters).
"""

import random
from dataclasses import dataclass

from goroutines import Chan, atomic, go, recv, run, select, sleep


@dataclass
class ReadOp:
    """A request to read `key`; the owner answers on `resp`."""

    key: int
    resp: Chan[int]


@dataclass
class WriteOp:
    """A request to set `key` to `val`; the owner answers True on `resp`."""

    key: int
    val: int
    resp: Chan[bool]


async def main() -> None:
    # As before, count how many operations are performed.
    read_ops = atomic.Int()
    write_ops = atomic.Int()

    # Other goroutines issue read and write requests on these channels.
    reads = Chan[ReadOp]()
    writes = Chan[WriteOp]()

    # The goroutine that owns `state`, a dict private to it. It waits on
    # both channels and answers each request when it arrives: it runs the
    # operation, then sends on the request's `resp` channel to say it is
    # done (with the value read, for a read).
    async def owner() -> None:
        state: dict[int, int] = {}
        while True:
            i, op, _ = await select(recv(reads), recv(writes))
            match i:
                case 0:
                    await op.resp.send(state.get(op.key, 0))
                case 1:
                    state[op.key] = op.val
                    await op.resp.send(True)

    go(owner)

    # 100 goroutines issue reads to the owner: each builds a ReadOp, sends
    # it on `reads` and receives the result on its `resp` channel.
    async def reader() -> None:
        while True:
            read = ReadOp(key=random.randrange(5), resp=Chan[int]())
            await reads.send(read)
            await read.resp.recv()
            read_ops.add(1)
            await sleep(0.001)

    for _ in range(100):
        go(reader)

    # And 10 goroutines issue writes, in the same way.
    async def writer() -> None:
        while True:
            write = WriteOp(key=random.randrange(5), val=random.randrange(100), resp=Chan[bool]())
            await writes.send(write)
            await write.resp.recv()
            write_ops.add(1)
            await sleep(0.001)

    for _ in range(10):
        go(writer)

    # Let the goroutines work for 0.1 s, then report the counts. The other
    # goroutines are still running when main returns: as in Go, the program
    # ends with main.
    await sleep(0.1)
    print("readOps:", read_ops.load())
    print("writeOps:", write_ops.load())


if __name__ == "__main__":
    run(main)
