"""Tickers

Timers do something once in the future; tickers do something repeatedly at
regular intervals. A ticker sends the time on its channel `.c` every period,
until it is stopped.

Port of https://gobyexample.com/tickers; durations are Go's divided by 5.
Go prints each tick's time of day; this prints its time since the start.
"""

from goroutines import Chan, Ticker, go, now, recv, run, select, sleep


async def main() -> None:
    start = now()  # the runtime's clock (Go: time.Now()), which the ticks are readings of

    # A ticker works like a timer: a channel that receives values. Here a
    # select on it and on `done` waits for each tick until main says done.
    ticker = Ticker(0.1)
    done = Chan[bool]()

    async def tick() -> None:
        while True:
            i, t, _ = await select(recv(done), recv(ticker.c))
            match i:
                case 0:
                    return
                case 1:
                    print(f"Tick at {t - start:.1f}s")

    go(tick)

    # Stop the ticker like a timer. Once stopped it sends no more values.
    # Stop it after 0.32 s: it should tick 3 times first.
    await sleep(0.32)
    ticker.stop()
    await done.send(True)
    print("Ticker stopped")


if __name__ == "__main__":
    run(main)
