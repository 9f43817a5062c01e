"""A TCP server that shuts down gracefully on SIGINT or SIGTERM.

    python examples/shutdown_server.py      # prints: listening on 127.0.0.1:PORT
    goroutines run examples/shutdown_server.py

then talk to it (`nc 127.0.0.1 PORT`) and stop it with Ctrl-C or `kill -TERM`.
The protocol is a line at a time: the server answers each line with the line
in capitals; `slow SECONDS TEXT` stands for a request that takes a while: it
answers `working` at once and TEXT in capitals SECONDS later.

The shutdown is Go's http.Server.Shutdown, in goroutines:

  * signal.notify_context gives a context cancelled by the first SIGINT or
    SIGTERM, and errgroup.with_context a child of it, which the accept loop and
    one goroutine per connection share. The child is cancelled by the signal,
    or by the first goroutine of the group that fails (a bug: the server then
    shuts down the same way, and the program ends with that exception).
  * Once it is cancelled, the listener (set_context) stops accepting and is
    closed; then every connection finishes the request it is working on,
    answers `bye` and closes; an idle connection does so at once.
  * A connection still working GRACE seconds later is cancelled: its own
    context, given to the connection with conn.set_context, is cancelled by a
    time.after_func timer, which ends its reads, writes and work at once.
  * Then main prints a summary and the program exits with status 0.

main calls the signal context's stop() as soon as the shutdown begins, so a
second Ctrl-C ends the program at once, with a KeyboardInterrupt, as a second
Ctrl-C ends a Go server that calls stop() early.

tests/test_shutdown_server.py runs it as its own process, with clients, and
checks what they receive, what it prints and how it exits.
"""

from __future__ import annotations

import sys
from signal import SIGINT, SIGTERM

from goroutines import (
    Chan,
    after,
    after_func,
    atomic,
    context,
    errgroup,
    go,
    net,
    recv,
    run,
    select,
    send,
)
from goroutines import signal as gsignal

GRACE = 1.0  # seconds the connections in flight get to finish once the shutdown begins


def println(line: str) -> None:
    """Write a whole line and flush it: a server's log, read as it is written."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Stats:
    """What the server did, counted by the goroutines of every connection at once."""

    def __init__(self) -> None:
        self.connections = atomic.Int()
        self.requests = atomic.Int()
        self.cancelled = atomic.Int()

    def summary(self) -> str:
        def count(n: int, what: str) -> str:
            return f"{n} {what}{'' if n == 1 else 's'}"

        return (
            f"{count(self.connections.load(), 'connection')}, "
            f"{count(self.requests.load(), 'request')}, {self.cancelled.load()} cancelled"
        )


async def read_lines(ctx: context.Context, conn: net.Conn, lines: Chan[bytes]) -> None:
    """Send each line the client sends on lines, and close lines at its end.

    A goroutine of its own, so that the connection's handler can wait for
    the next line and for the shutdown at once, in a select.
    """
    buf = b""
    try:
        while True:
            while b"\n" not in buf:
                data = await conn.read(4096)
                if not data:
                    return  # the client has closed the connection
                buf += data
            line, buf = buf.split(b"\n", 1)
            i, _, _ = await select(send(lines, line.rstrip(b"\r")), recv(ctx.done()))
            if i == 1:
                return  # the handler has returned
    except (context.Canceled, OSError):
        pass  # the handler has returned (its ctx is cancelled, conn closed), or a reset
    finally:
        lines.close()


async def answer(ctx: context.Context, conn: net.Conn, line: bytes) -> None:
    """Answer one request; raises ctx's error if ctx is cancelled meanwhile."""
    match line.split(b" ", 2):
        case [b"slow", seconds, text] if seconds.replace(b".", b"", 1).isdigit():
            await conn.write(b"working\n")
            i, _, _ = await select(recv(after(float(seconds))), recv(ctx.done()))
            if i == 1:
                raise ctx.err() or context.Canceled()
            await conn.write(text.upper() + b"\n")
        case _:
            await conn.write(line.upper() + b"\n")


async def handle(
    drain: context.Context, hard: context.Context, conn: net.Conn, stats: Stats
) -> None:
    """Serve one connection until the client leaves or the server shuts down.

    Between requests it waits for the next line or for `drain` (the listener
    is closed); during one, only `hard` (the end of the grace period) stops it.
    """
    stats.connections.add(1)
    ctx, cancel = context.with_cancel(hard)
    conn.set_context(ctx)  # reads and writes raise Canceled once ctx is cancelled
    lines = Chan[bytes]()
    go(read_lines, ctx, conn, lines)
    try:
        while True:
            i, line, ok = await select(recv(lines), recv(drain.done()))
            if i == 1:
                await conn.write(b"bye\n")  # the server is shutting down
                return
            if not ok:
                return  # the client has gone
            assert line is not None
            stats.requests.add(1)
            await answer(ctx, conn, line)
    except context.Canceled:
        stats.cancelled.add(1)  # still working at the end of the grace period
    except OSError:
        pass  # the client went away in the middle of a request
    finally:
        cancel()  # ends read_lines
        conn.close()


async def serve(
    ctx: context.Context, g: errgroup.Group, ln: net.Listener, hard: context.Context, stats: Stats
) -> None:
    """Accept connections until ctx is cancelled; each is served by a goroutine of g.

    Once the listener is closed, the connections are told to finish (Go's
    Shutdown closes the listeners first, then the idle connections).
    """
    drain, start_draining = context.with_cancel(context.background())
    ln.set_context(ctx)  # accept() raises Canceled once ctx is cancelled
    try:
        while True:
            conn = await ln.accept()
            g.go(handle, drain, hard, conn, stats)
    except context.Canceled:
        pass
    finally:
        ln.close()  # new clients are refused from here on
        start_draining()


async def main() -> None:
    ctx, stop = gsignal.notify_context(context.background(), SIGINT, SIGTERM)
    try:
        ln = await net.listen("127.0.0.1", 0)
        host, port = ln.addr
        println(f"listening on {host}:{port}")

        # The connections' contexts hang off `hard`, which only the end of the
        # grace period cancels: the signal must not interrupt their work.
        hard, cancel_hard = context.with_cancel(context.background())
        stats = Stats()
        g, gctx = errgroup.with_context(ctx)
        g.go(serve, gctx, g, ln, hard, stats)

        # Wait for a signal (or for a goroutine of the group to fail).
        done = gctx.done()
        assert done is not None  # None only for a context that cannot be cancelled
        await done.recv()
        stop()  # a second Ctrl-C now raises KeyboardInterrupt: the impatient way out
        println("shutting down")

        async def end_grace() -> None:
            cancel_hard()

        timer = after_func(GRACE, end_grace)
        try:
            await g.wait()  # every connection has finished, or has been cancelled
        finally:
            timer.stop()
            cancel_hard()
        println(f"shutdown complete: {stats.summary()}")
    finally:
        stop()


if __name__ == "__main__":
    run(main)
