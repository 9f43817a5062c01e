"""Timers

A timer is one event in the future: it sends on its channel `.c` when it
fires. Unlike a sleep, it can be stopped before it fires.

Port of https://gobyexample.com/timers; durations are Go's divided by 10.
"""

from goroutines import Timer, go, run, sleep


async def main() -> None:
    # Tell the timer how long to wait; it provides a channel that will
    # receive a value at that time. This one waits 0.2 s.
    timer1 = Timer(0.2)

    # Receiving from the timer's channel blocks until it fires.
    await timer1.c.recv()
    print("Timer 1 fired")

    # To just wait, sleep() would do. A timer can be stopped before it
    # fires, though:
    timer2 = Timer(0.1)

    async def wait_for_timer2() -> None:
        await timer2.c.recv()
        print("Timer 2 fired")

    go(wait_for_timer2)
    stop2 = timer2.stop()
    if stop2:
        print("Timer 2 stopped")

    # Give timer2 enough time to fire, if it ever was going to, to show that
    # it is stopped. (When main returns, the goroutine still waiting for
    # timer2 is abandoned, as in Go.)
    await sleep(0.2)


if __name__ == "__main__":
    run(main)
