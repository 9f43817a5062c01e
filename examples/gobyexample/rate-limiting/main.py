"""Rate Limiting

Rate limiting controls resource use and quality of service. Goroutines,
channels and tickers make it simple, bursts included.

Port of https://gobyexample.com/rate-limiting; durations are Go's divided by
4. Go prints the time of day of each request; this prints the time since the
program started.
"""

from goroutines import Chan, Ticker, go, now, run, since

start = now()  # the runtime's clock (Go: time.Now())


def elapsed() -> str:
    return f"{since(start):.2f}s"


async def main() -> None:
    # First, basic rate limiting. Say we want to limit the handling of
    # incoming requests: serve them from a channel.
    requests = Chan[int](5)
    for i in range(1, 6):
        await requests.send(i)
    requests.close()

    # The limiter channel receives a value every 50 ms: the regulator of
    # the rate limiting scheme (Go: time.Tick).
    limiter = Ticker(0.05).c

    # Blocking on a receive from limiter before serving each request limits
    # us to 1 request every 50 ms.
    async for req in requests:
        await limiter.recv()
        print("request", req, elapsed())

    # To allow short bursts of requests while keeping the overall rate
    # limit, buffer the limiter channel: bursty_limiter allows bursts of up
    # to 3 events.
    bursty_limiter = Chan[float](3)

    # Fill the channel to represent the allowed burst.
    for _ in range(3):
        await bursty_limiter.send(now())

    # Every 50 ms, try to add a new value to bursty_limiter, up to its limit of 3.
    async def refill() -> None:
        async for t in Ticker(0.05).c:
            await bursty_limiter.send(t)

    go(refill)

    # Now simulate 5 more incoming requests. The first 3 of them benefit
    # from the burst capability of bursty_limiter.
    bursty_requests = Chan[int](5)
    for i in range(1, 6):
        await bursty_requests.send(i)
    bursty_requests.close()
    async for req in bursty_requests:
        await bursty_limiter.recv()
        print("request", req, elapsed())


if __name__ == "__main__":
    run(main)
