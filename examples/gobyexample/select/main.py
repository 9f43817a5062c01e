"""Select

`select` waits on several channel operations at once. Combining goroutines
and channels with select is one of Go's most powerful features.

Port of https://gobyexample.com/select; durations are Go's divided by 10.
"""

from goroutines import Chan, go, recv, run, select, sleep


async def main() -> None:
    # We will select across these two channels.
    c1 = Chan[str]()
    c2 = Chan[str]()

    # Each channel receives a value after some time, to simulate e.g.
    # blocking calls executing in concurrent goroutines.
    async def first() -> None:
        await sleep(0.1)
        await c1.send("one")

    async def second() -> None:
        await sleep(0.2)
        await c2.send("two")

    go(first)
    go(second)

    # Await both of these values at once, printing each one as it arrives.
    # select returns (index of the case that ran, value, ok); a match on the
    # index reads like Go's select statement.
    for _ in range(2):
        i, msg, _ = await select(recv(c1), recv(c2))
        match i:
            case 0:
                print("received", msg)
            case 1:
                print("received", msg)

    # The whole run takes ~0.2 s, not 0.3 s: both sleeps run concurrently.


if __name__ == "__main__":
    run(main)
