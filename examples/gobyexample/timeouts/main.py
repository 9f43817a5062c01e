"""Timeouts

Timeouts matter for programs that connect to outside resources or otherwise
need to bound their execution time. With channels and select they are easy.

Port of https://gobyexample.com/timeouts; durations are Go's divided by 10.
"""

from goroutines import Chan, after, go, recv, run, select, sleep


async def main() -> None:
    # Say we call something that returns its result on c1 after 0.2 s.
    # The channel is buffered, so the send in the goroutine does not block:
    # this keeps the goroutine from leaking if the channel is never read.
    c1 = Chan[str](1)

    async def call1() -> None:
        await sleep(0.2)
        await c1.send("result 1")

    go(call1)

    # The select implementing the timeout: recv(c1) waits for the result,
    # recv(after(0.1)) for a value sent after the 0.1 s timeout. select
    # goes on with the first receive that is ready: the timeout here.
    i, res, _ = await select(recv(c1), recv(after(0.1)))
    match i:
        case 0:
            print(res)
        case 1:
            print("timeout 1")

    # With a longer timeout of 0.3 s the receive from c2 succeeds.
    c2 = Chan[str](1)

    async def call2() -> None:
        await sleep(0.2)
        await c2.send("result 2")

    go(call2)
    i, res, _ = await select(recv(c2), recv(after(0.3)))
    match i:
        case 0:
            print(res)
        case 1:
            print("timeout 2")


if __name__ == "__main__":
    run(main)
