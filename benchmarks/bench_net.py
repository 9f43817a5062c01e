"""TCP echo over loopback: goroutines.net beside asyncio, uvloop, gevent and threads.

Workload: C clients each connect to an echo server in the same process and do
R round trips of a 64-byte message (write it, read exactly 64 bytes back), all
clients at once; the server runs one handler per connection. The time from
listen to the last client done is divided by C * R: ns per round trip. Every
implementation runs in this one call, interleaved and repeated (best of N), so
that the ratios hold on a noisy machine. Peers that are not installed are
skipped.

    python benchmarks/bench_net.py [--quick]
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import goroutines
from goroutines import go, net
from goroutines.net import Conn, Listener

MSG = b"x" * 64
HOST = "127.0.0.1"


def workload_name(clients: int, rounds: int) -> str:
    return f"tcp echo {clients} clients x {rounds} round trips, 64 B"


# ---------------------------------------------------------------------------
# goroutines


async def _gr_handler(c: Conn) -> None:
    async with c:
        while data := await c.read(65536):
            await c.write(data)


async def _gr_main(clients: int, rounds: int) -> float:
    """Serve in main's accept loop; the last client done closes the listener."""
    t0 = time.perf_counter()
    ln = await net.listen(HOST, 0)
    left = [clients]
    lock = threading.Lock()

    async def client(ln: Listener) -> None:
        async with await net.dial(*ln.addr) as c:
            for _ in range(rounds):
                await c.write(MSG)
                await c.read_exactly(64)
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            ln.close()

    for _ in range(clients):
        go(client, ln)
    while True:
        try:
            c = await ln.accept()
        except OSError:
            return time.perf_counter() - t0
        go(_gr_handler, c)


def bench_goroutines(clients: int, rounds: int, gomaxprocs: int = 1) -> float:
    elapsed: float = goroutines.run(_gr_main, clients, rounds, gomaxprocs=gomaxprocs)
    return elapsed


# ---------------------------------------------------------------------------
# asyncio streams (and uvloop)


async def _aio_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _aio_client(port: int, rounds: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    for _ in range(rounds):
        writer.write(MSG)
        await writer.drain()
        await reader.readexactly(64)
    writer.close()
    await writer.wait_closed()


async def _aio_main(clients: int, rounds: int) -> float:
    t0 = time.perf_counter()
    server = await asyncio.start_server(_aio_handler, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    await asyncio.gather(*(_aio_client(port, rounds) for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    server.close()
    await server.wait_closed()
    return elapsed


def bench_asyncio(clients: int, rounds: int) -> float:
    return asyncio.run(_aio_main(clients, rounds))


def bench_uvloop(clients: int, rounds: int) -> float:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_aio_main(clients, rounds))


# ---------------------------------------------------------------------------
# Blocking sockets: gevent's cooperative ones, and plain ones on threads


def _recv_exactly(s: Any, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("echo server closed the connection")
        buf += chunk
    return buf


def _sock_handler(s: Any) -> None:
    with s:
        while data := s.recv(65536):
            s.sendall(data)


def _sock_client(sockmod: Any, addr: tuple[str, int], rounds: int) -> None:
    with sockmod.create_connection(addr) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(rounds):
            s.sendall(MSG)
            _recv_exactly(s, 64)


def _sock_accept_loop(ln: Any, spawn: Callable[..., Any]) -> None:
    while True:
        try:
            s, _ = ln.accept()
        except OSError:  # closed: the run is over
            return
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        spawn(_sock_handler, s)


def bench_gevent(clients: int, rounds: int) -> float:
    import gevent
    from gevent import socket as gsocket

    t0 = time.perf_counter()
    ln = gsocket.socket()
    ln.bind((HOST, 0))
    ln.listen(socket.SOMAXCONN)
    server = gevent.spawn(_sock_accept_loop, ln, gevent.spawn)
    addr = ln.getsockname()
    gevent.joinall(
        [gevent.spawn(_sock_client, gsocket, addr, rounds) for _ in range(clients)],
        raise_error=True,
    )
    elapsed = time.perf_counter() - t0
    server.kill()
    ln.close()
    return elapsed


def _start_thread(fn: Callable[..., Any], *args: Any) -> threading.Thread:
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


def bench_threads(clients: int, rounds: int) -> float:
    """One thread per client, and a thread-per-connection server."""
    t0 = time.perf_counter()
    ln = socket.create_server((HOST, 0), backlog=socket.SOMAXCONN)
    server = _start_thread(_sock_accept_loop, ln, _start_thread)
    addr = ln.getsockname()
    threads = [_start_thread(_sock_client, socket, addr, rounds) for _ in range(clients)]
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    # shutdown() wakes the accept() blocked in the server thread; close() alone does not.
    ln.shutdown(socket.SHUT_RDWR)
    ln.close()
    server.join()
    return elapsed


# ---------------------------------------------------------------------------


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def run(quick: bool = False) -> list[tuple[str, str, float]]:
    """Rows of (workload, implementation, ns per round trip), best of the repeats."""
    clients, rounds, repeats = (10, 20, 1) if quick else (100, 200, 3)
    impls: list[tuple[str, Callable[[int, int], float]]] = [
        ("goroutines", bench_goroutines),
        ("asyncio", bench_asyncio),
    ]
    if _importable("uvloop"):
        impls.append(("uvloop", bench_uvloop))
    if _importable("gevent"):
        impls.append(("gevent", bench_gevent))
    impls.append(("threads", bench_threads))
    best: dict[str, float] = {}
    for _ in range(repeats):
        for name, fn in impls:
            elapsed = fn(clients, rounds)
            best[name] = min(best.get(name, elapsed), elapsed)
    workload = workload_name(clients, rounds)
    return [(workload, name, best[name] * 1e9 / (clients * rounds)) for name, _ in impls]


def main() -> None:
    rows = run(quick="--quick" in sys.argv[1:])
    base = {w: ns for w, impl, ns in rows if impl == "asyncio"}
    for workload, impl, ns in rows:
        print(f"{workload:45} {impl:12} {ns:10.0f} ns/op  {ns / base[workload]:5.2f}x asyncio")


if __name__ == "__main__":
    main()
