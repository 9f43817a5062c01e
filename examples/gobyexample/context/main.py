"""Context

A context carries deadlines, cancellation signals and other request-scoped
values across API boundaries and goroutines. Go's chapter shows it in an HTTP
server, whose handler stops working for a client that has gone away.

Port of https://gobyexample.com/context, with a small HTTP-like server on
goroutines.net (this runtime has no net/http) and, in place of the user who
runs curl and presses Ctrl-C, a client in the same program that hangs up
early. Durations are Go's divided by 10.
"""

import contextlib
import sys

from goroutines import Chan, after, context, go, net, recv, run, select

CLIENT_PATIENCE = 0.3  # the client hangs up after this; the handler needs 1 s


def println(line: str) -> None:
    """Write a whole line in one call, as Go's fmt.Println does (see goroutines)."""
    sys.stdout.write(line + "\n")


async def hello(ctx: context.Context, conn: net.Conn) -> None:
    """The handler of GET /hello; ctx is cancelled when the client goes away."""
    println("server: hello handler started")
    try:
        # Wait a second before sending a reply to the client: that
        # simulates some work the server is doing. Meanwhile, watch ctx's
        # done() channel for a signal to cancel the work and return as soon
        # as possible.
        i, _, _ = await select(recv(after(1.0)), recv(ctx.done()))
        if i == 0:
            await conn.write(b"HTTP/1.0 200 OK\r\n\r\nhello\n")
        else:
            # ctx.err() says why the context was cancelled.
            err = ctx.err()
            println(f"server: {err}")
            # Go answers with an internal server error, which nobody reads.
            await conn.write(f"HTTP/1.0 500 Internal Server Error\r\n\r\n{err}\n".encode())
    except OSError:
        pass  # the client is gone: the reply has nowhere to go
    finally:
        println("server: hello handler ended")


async def watch_client(conn: net.Conn, cancel: context.CancelFunc) -> None:
    """Cancel the request's context once the client hangs up.

    Go's net/http does this for every request: a background read on the
    connection ends with EOF when the client closes it, and cancels the
    context of the request being served.
    """
    with contextlib.suppress(OSError):  # OSError: the handler is done, conn closed
        await conn.read(1)
    cancel()


async def serve_conn(server_ctx: context.Context, conn: net.Conn, served: Chan[None]) -> None:
    """Read one request and hand it to its handler, with a context of its own."""
    ctx, cancel = context.with_cancel(server_ctx)
    try:
        request = b""
        while b"\r\n\r\n" not in request:  # the request line and the headers
            data = await conn.read(1024)
            if not data:
                return
            request += data
        go(watch_client, conn, cancel)
        if request.startswith(b"GET /hello "):
            await hello(ctx, conn)
        else:
            await conn.write(b"HTTP/1.0 404 Not Found\r\n\r\n")
    except OSError:
        pass
    finally:
        cancel()
        conn.close()
        await served.send(None)


async def serve(ctx: context.Context, ln: net.Listener, served: Chan[None]) -> None:
    """Accept connections until ctx is cancelled; served gets a value per request."""
    ln.set_context(ctx)  # accept() raises Canceled once ctx is done
    try:
        while True:
            conn = await ln.accept()
            go(serve_conn, ctx, conn, served)
    except context.Canceled:
        pass
    finally:
        ln.close()


async def main() -> None:
    # The server, on a free port of this machine (Go's example: :8090).
    server_ctx, stop_server = context.with_cancel(context.background())
    ln = await net.listen("127.0.0.1", 0)
    served = Chan[None](1)
    go(serve, server_ctx, ln, served)

    # The client: curl localhost:8090/hello, then Ctrl-C before the answer.
    # Its patience is a context too: a read past the deadline raises
    # DeadlineExceeded, and the client closes the connection.
    ctx, cancel = context.with_timeout(context.background(), CLIENT_PATIENCE)
    try:
        async with await net.dial(*ln.addr, ctx=ctx) as conn:
            conn.set_context(ctx)
            await conn.write(b"GET /hello HTTP/1.0\r\n\r\n")
            await conn.read(1024)
    except context.DeadlineExceeded:
        pass  # no answer in time: the connection is closed, the server notices
    finally:
        cancel()

    # Go's server runs until it is killed; this program stops it once it has
    # served its one request (and its handler has printed its last line).
    await served.recv()
    stop_server()


if __name__ == "__main__":
    run(main)
