"""Tests of goroutines.net: TCP over the runtime's netpoller, on loopback only."""

from __future__ import annotations

import errno
import gc
import os
import socket
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goroutines import Chan, Deadlock, go, gosched, net, run, syscall
from goroutines.net import Conn, IncompleteReadError, Listener
from goroutines.runtime import netpoll
from goroutines.runtime.proc import getg, goparkunlock, goready
from goroutines.runtime.runtime2 import G, WaitReason, _Gwaiting, schedt

pytestmark = pytest.mark.timeout(30)

HAS_IPV6 = False
if socket.has_ipv6:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as _s:
            _s.bind(("::1", 0))
        HAS_IPV6 = True
    except OSError:
        pass


# ---------------------------------------------------------------------------
# Helpers: a minimal WaitGroup on gopark/goready (goroutines.sync lives on
# another branch), and a bounded wait for a goroutine to park.


class WaitGroup:
    """Wait for n goroutines to call done()."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.lock = threading.Lock()
        self.waiter: G | None = None

    def done(self) -> None:
        with self.lock:
            self.n -= 1
            gp, self.waiter = (self.waiter, None) if self.n == 0 else (None, self.waiter)
        if gp is not None:
            goready(gp)

    async def wait(self) -> None:
        self.lock.acquire()
        if self.n == 0:
            self.lock.release()
            return
        self.waiter = getg()
        await goparkunlock(self.lock, WaitReason.SyncWaitGroupWait)


def spawn(
    wg: WaitGroup, errors: list[BaseException], fn: Callable[..., Awaitable[Any]], *args: Any
) -> None:
    """go(fn, *args), recording its exception and calling wg.done() at the end."""

    async def body() -> None:
        try:
            await fn(*args)
        except BaseException as e:
            errors.append(e)
        finally:
            wg.done()

    go(body)


async def until_parked(gs: list[G], reason: WaitReason = WaitReason.IOWait) -> None:
    """Yield until the goroutine that put itself in gs is parked for reason.

    Bounded by time, not by a count of yields: on a loaded machine the other
    P's thread may not run at all for a while (10,000 yields took less).
    """
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if gs and gs[0].status == _Gwaiting and gs[0].waitreason is reason:
            return
        await gosched()
    raise AssertionError(f"the goroutine never parked for {reason}: {gs}")


async def parked_reader(s: Conn) -> tuple[WaitGroup, list[BaseException]]:
    """A goroutine parked in s.read(10): its WaitGroup, and the list its exception goes to."""
    wg, errors, gs = WaitGroup(1), list[BaseException](), list[G]()

    async def reader() -> None:
        gs.append(getg())
        await s.read(10)

    spawn(wg, errors, reader)
    await until_parked(gs)
    return wg, errors


async def pair(host: str = "127.0.0.1") -> tuple[Listener, Conn, Conn]:
    """A listener and both ends of one connection accepted from it."""
    ln = await net.listen(host, 0)
    c = await net.dial(*ln.addr)
    s = await ln.accept()
    return ln, c, s


def fds() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"))


def runs(main: Callable[[], Coroutine[Any, Any, Any]], gomaxprocs: int = 1) -> Any:
    """run(main) on one P unless told otherwise (conftest checks that no fd is left open)."""
    return run(main, gomaxprocs=gomaxprocs)


# ---------------------------------------------------------------------------
# Echo


async def echo_handler(c: Conn) -> None:
    async with c:
        while data := await c.read(4096):
            await c.write(data)


async def echo_server(ln: Listener) -> None:
    while True:
        try:
            c = await ln.accept()
        except OSError as e:
            assert e.errno == errno.EBADF
            return
        go(echo_handler, c)


@pytest.mark.parametrize("gomaxprocs", [1, 2])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_echo_many_clients(gomaxprocs: int, host: str) -> None:
    if host == "::1" and not HAS_IPV6:
        pytest.skip("no IPv6 loopback")
    nclients, rounds = 50, 20

    async def client(addr: tuple[str, int], i: int) -> None:
        async with await net.dial(*addr) as c:
            assert c.remote_addr == addr
            for r in range(rounds):
                msg = f"client {i} round {r}".encode().ljust(64, b".")
                assert await c.write(msg) == len(msg)
                assert await c.read_exactly(len(msg)) == msg

    async def main() -> int:
        ln = await net.listen(host, 0)
        go(echo_server, ln)
        wg, errors = WaitGroup(nclients), []
        for i in range(nclients):
            spawn(wg, errors, client, ln.addr, i)
        await wg.wait()
        ln.close()
        if errors:
            raise errors[0]
        return nclients

    assert runs(main, gomaxprocs) == nclients


@pytest.mark.parametrize("gomaxprocs", [1, 2])
def test_large_write_byte_exact(gomaxprocs: int) -> None:
    size = 8 << 20
    payload = os.urandom(size)

    async def main() -> None:
        ln = await net.listen("127.0.0.1", 0)
        go(echo_server, ln)
        async with await net.dial(*ln.addr) as c:
            wg, errors = WaitGroup(1), []

            async def writer() -> None:
                # A bytearray and a memoryview go through the buffer path.
                assert await c.write(bytearray(payload[: size // 2])) == size // 2
                assert await c.write(memoryview(payload)[size // 2 :]) == size - size // 2

            spawn(wg, errors, writer)
            got = bytearray()
            while len(got) < size:
                chunk = await c.read(1 << 20)
                assert chunk
                got += chunk
            await wg.wait()
            assert not errors
            assert got == payload
        ln.close()

    runs(main, gomaxprocs)


def test_read_into() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        await c.write(b"abcdef")
        buf = bytearray(4)
        assert await s.read_into(buf) == 4
        assert buf == b"abcd"
        assert await s.read_into(memoryview(buf)[1:]) == 2
        assert buf == b"aefd"
        c.close()
        assert await s.read_into(buf) == 0
        for x in (ln, s):
            x.close()

    runs(main)


# ---------------------------------------------------------------------------
# EOF and read_exactly


def test_read_returns_empty_bytes_at_eof() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        await c.write(b"last words")
        c.close_write()  # the peer reads EOF, we can still read
        assert await s.read_exactly(10) == b"last words"
        assert await s.read(100) == b""
        assert await s.read(100) == b""  # and again
        await s.write(b"reply")
        assert await c.read(100) == b"reply"
        s.close()
        assert await c.read(100) == b""
        assert await c.read(0) == b""
        c.close()
        ln.close()

    runs(main)


def test_read_returns_what_is_available() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        await c.write(b"12345")
        # At most n bytes, and no waiting for more than is there.
        assert await s.read(3) == b"123"
        assert await s.read(100) == b"45"
        for x in (ln, c, s):
            x.close()

    runs(main)


def test_read_exactly() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        await c.write(b"hello world")
        assert await s.read_exactly(5) == b"hello"
        assert await s.read_exactly(0) == b""
        c.close()
        with pytest.raises(IncompleteReadError) as exc:
            await s.read_exactly(10)
        assert isinstance(exc.value, EOFError)
        assert exc.value.partial == b" world"
        assert exc.value.expected == 10
        with pytest.raises(EOFError) as exc2:
            await s.read_exactly(1)
        assert exc2.value.partial == b""  # type: ignore[attr-defined]
        with pytest.raises(ValueError):
            await s.read_exactly(-1)
        s.close()
        ln.close()

    runs(main)


def test_read_exactly_across_many_writes() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        wg, errors = WaitGroup(1), []

        async def writer() -> None:
            for i in range(100):
                await c.write(bytes([i]) * 100)

        spawn(wg, errors, writer)
        data = await s.read_exactly(10_000)
        assert data == b"".join(bytes([i]) * 100 for i in range(100))
        await wg.wait()
        assert not errors
        for x in (ln, c, s):
            x.close()

    runs(main)


def test_reads_of_every_size_over_queued_data() -> None:
    # Full reads leave data queued, short reads drain it: the next read must
    # neither miss queued data nor wait for an edge that never comes.
    async def main() -> None:
        ln, c, s = await pair()
        payload = bytes(range(256)) * 40
        wg, errors = WaitGroup(1), []

        async def writer() -> None:
            for i in range(0, len(payload), 1000):
                await c.write(payload[i : i + 1000])
            c.close()

        spawn(wg, errors, writer)
        got = bytearray()
        sizes = [7, 1, 300, 4096, 13]
        for i in range(100_000):
            chunk = await s.read(sizes[i % len(sizes)])
            if not chunk:
                break
            got += chunk
        assert got == payload
        await wg.wait()
        assert not errors
        s.close()
        ln.close()

    runs(main)


def test_eof_seen_by_the_poller_before_a_short_read() -> None:
    # Data and FIN both arrived, and the poller reported them, before a read
    # that gets the data with room to spare: the next read must see EOF at once.
    async def main() -> None:
        ln, c, s = await pair()
        _, c2, s2 = await pair()
        await c.write(b"ab")
        c.close()
        go(c2.write, b"x")
        assert await s2.read(1) == b"x"  # parked: the poller ran
        assert await s.read(10) == b"ab"
        assert await s.read(10) == b""
        for x in (ln, s, c2, s2):
            x.close()

    runs(main)


def test_short_read_then_more_data() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        await c.write(b"ab")
        assert await s.read(10) == b"ab"
        wg, errors = WaitGroup(1), []

        async def writer() -> None:
            await c.write(b"cd")
            await c.write(b"efgh")

        spawn(wg, errors, writer)
        assert await s.read_exactly(6) == b"cdefgh"
        await wg.wait()
        assert not errors
        for x in (ln, c, s):
            x.close()

    runs(main)


class CountingSocket:
    """A socket that counts the recvs failing with EAGAIN, for FD.sock."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.eagain = 0

    def recv(self, n: int) -> bytes:
        try:
            return self.sock.recv(n)
        except BlockingIOError:
            self.eagain += 1
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


@pytest.mark.parametrize("gomaxprocs", [1, 2])
@pytest.mark.parametrize("exactly", [False, True])
def test_a_read_after_one_that_emptied_the_queue_parks_before_its_recv(
    exactly: bool, gomaxprocs: int
) -> None:
    # A server reading requests with a large buffer, or a client reading
    # replies of a known size (read_exactly reads ahead): each recv returns
    # less than it asked for, which proves the queue empty, so the next read
    # waits for an edge instead of paying a recv that fails with EAGAIN.
    async def main() -> None:
        ln, c, s = await pair()
        counting = CountingSocket(s._fd.pfd.sock)
        s._fd.pfd.sock = counting  # type: ignore[assignment]
        for i in range(200):
            msg = b"%08d" % i
            go(c.write, msg)
            assert await (s.read_exactly(8) if exactly else s.read(4096)) == msg
            assert s._fd.pfd.pd is not None and s._fd.pfd.pd.rempty
        assert counting.eagain <= 1  # the first read had no short read before it
        for x in (ln, c, s):
            x.close()

    runs(main, gomaxprocs)


def test_what_read_exactly_read_ahead_comes_first() -> None:
    """Bytes read_exactly took beyond n are what the next reads return, in order."""

    async def main() -> None:
        ln, c, s = await pair()
        await c.write(b"abcdefghij")  # one segment: it arrives whole
        assert await s.read_exactly(3) == b"abc"
        assert await s.read(4) == b"defg"
        buf = bytearray(2)
        assert await s.read_into(buf) == 2 and buf == b"hi"
        assert await s.read_exactly(1) == b"j"
        await c.write(b"klm")
        assert await s.read_exactly(1) == b"k"
        assert await s.read(100) == b"lm"  # only what was read ahead: no recv, no wait
        await c.write(b"xyz")
        assert await s.read_exactly(1) == b"x"
        c.close()
        with pytest.raises(IncompleteReadError) as exc:
            await s.read_exactly(5)
        assert exc.value.partial == b"yz"
        assert await s.read(10) == b""
        for x in (ln, s):
            x.close()

    runs(main)


def test_read_exactly_past_its_deadline_leaves_what_it_read_for_the_next_read() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        await c.write(b"abcd")
        assert await s.read_exactly(1) == b"a"  # and "bcd" read ahead
        await c.write(b"efg")
        s.set_read_deadline(0.05)
        with pytest.raises(TimeoutError):
            await s.read_exactly(10)  # took "efg" too, then waited in vain
        s.set_read_deadline(None)
        await c.write(b"hijk")
        assert await s.read_exactly(10) == b"bcdefghijk"
        for x in (ln, c, s):
            x.close()

    runs(main)


@settings(max_examples=40, deadline=None)
@given(
    writes=st.lists(st.integers(1, 70_000), min_size=1, max_size=6),
    reads=st.lists(
        st.tuples(st.sampled_from(["read", "into", "exactly"]), st.integers(1, 70_000)), min_size=1
    ),
)
def test_reads_of_any_kind_return_the_stream_in_order(
    writes: list[int], reads: list[tuple[str, int]]
) -> None:
    """A byte stream is a FIFO: whatever reads take it in, and wherever the writes cut
    it, the reads return every byte once, in order, then b'' at EOF."""
    payload = os.urandom(sum(writes))

    async def main() -> None:
        ln, c, s = await pair()
        wg, errors = WaitGroup(1), list[BaseException]()

        async def writer() -> None:
            pos = 0
            for n in writes:
                await c.write(payload[pos : pos + n])
                pos += n
            c.close()

        spawn(wg, errors, writer)
        got = bytearray()
        i = 0
        while len(got) < len(payload):
            kind, n = reads[i % len(reads)]
            i += 1
            if kind == "exactly":
                n = min(n, len(payload) - len(got))
                got += await s.read_exactly(n)
            elif kind == "into":
                buf = bytearray(n)
                got += buf[: await s.read_into(buf)]
            else:
                got += await s.read(n)
        assert got == payload
        assert await s.read(10) == b""
        await wg.wait()
        assert not errors
        for x in (ln, s):
            x.close()

    runs(main)


def test_parked_first_read_times_out_then_reads_what_came_since() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        await c.write(b"ab")
        assert await s.read(10) == b"ab"  # short: the next read parks first
        s.set_read_deadline(0.05)
        with pytest.raises(TimeoutError):
            await s.read(10)
        await c.write(b"cd")
        s.set_read_deadline(None)
        assert await s.read(10) == b"cd"
        c.close()
        assert await s.read(10) == b""
        for x in (ln, s):
            x.close()

    runs(main)


def test_read_after_urgent_data() -> None:
    # recv stops short at the urgent mark with data queued after it, and no
    # edge follows: EPOLLPRI must keep the next read from parking first.
    async def main() -> None:
        ln, c, s = await pair()
        _, c2, s2 = await pair()
        c._fd.pfd.sock.send(b"abc", socket.MSG_OOB)  # "c" is urgent, out of band
        c._fd.pfd.sock.send(b"de")
        go(c2.write, b"x")
        assert await s2.read(1) == b"x"  # parked: the poller ran and saw it all
        assert await s.read(10) == b"ab"
        assert await s.read(10) == b"de"
        for x in (ln, c, s, c2, s2):
            x.close()

    runs(main)


# ---------------------------------------------------------------------------
# Dial


def test_dial_refused() -> None:
    async def main() -> None:
        ln = await net.listen("127.0.0.1", 0)
        addr = ln.addr
        ln.close()
        with pytest.raises(ConnectionRefusedError) as exc:
            await net.dial(*addr)
        assert f"dial tcp 127.0.0.1:{addr[1]}" in exc.value.__notes__

    runs(main)


def test_dial_refused_after_close_with_parked_accept() -> None:
    # close() must really close the socket even while accept() is parked on it.
    async def main() -> None:
        ln = await net.listen("127.0.0.1", 0)
        wg, errors, gs = WaitGroup(1), [], []

        async def acceptor() -> None:
            gs.append(getg())
            await ln.accept()

        spawn(wg, errors, acceptor)
        await until_parked(gs)
        ln.close()
        with pytest.raises(ConnectionRefusedError):
            await net.dial(*ln.addr)
        await wg.wait()
        assert isinstance(errors[0], OSError) and errors[0].errno == errno.EBADF

    runs(main)


def test_dial_localhost_resolves() -> None:
    async def main() -> None:
        ln = await net.listen("localhost", 0)
        assert ln.addr[0] == "127.0.0.1"  # a name listens on its IPv4 address (Go)
        # "localhost" may resolve to ::1 first: that is refused, 127.0.0.1 answers.
        c = await net.dial("localhost", ln.addr[1])
        s = await ln.accept()
        assert s.remote_addr == c.local_addr
        for x in (ln, c, s):
            x.close()

    runs(main)


def test_dial_timeout() -> None:
    # A listener whose accept queue is full drops SYNs: connect hangs until the
    # dial timeout (on loopback only).
    backlog = socket.socket()
    backlog.bind(("127.0.0.1", 0))
    backlog.listen(0)
    addr = backlog.getsockname()

    async def main() -> tuple[int, float]:
        conns: list[Conn] = []
        try:
            for _ in range(16):
                t0 = time.monotonic()
                try:
                    conns.append(await net.dial(*addr, timeout=0.2))
                except TimeoutError as e:
                    assert e.errno == errno.ETIMEDOUT
                    assert "i/o timeout" in str(e)
                    return len(conns), time.monotonic() - t0
            raise AssertionError("no dial timed out")
        finally:
            for c in conns:
                c.close()

    try:
        _, elapsed = runs(main)
    finally:
        backlog.close()
    assert 0.15 < elapsed < 2.0


def test_dial_timeout_passed_already() -> None:
    async def main() -> None:
        for timeout in (0, -1.0):
            with pytest.raises(TimeoutError):
                await net.dial("127.0.0.1", 9, timeout=timeout)

    runs(main)


def test_bad_arguments() -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match="invalid port"):
            await net.dial("127.0.0.1", 70000)
        with pytest.raises(ValueError, match="invalid port"):
            await net.listen("127.0.0.1", "80")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="missing host"):
            await net.dial("", 80)
        ln, c, s = await pair()
        with pytest.raises(ValueError, match="n must be >= 0"):
            await c.read(-1)
        for x in (ln, c, s):
            x.close()

    runs(main)


def test_listen_on_a_used_port() -> None:
    async def main() -> None:
        ln = await net.listen("127.0.0.1", 0)
        with pytest.raises(OSError) as exc:
            await net.listen("127.0.0.1", ln.addr[1])
        assert exc.value.errno == errno.EADDRINUSE
        ln.close()

    runs(main)


# ---------------------------------------------------------------------------
# Deadlines


def test_read_deadline() -> None:
    async def main() -> float:
        ln, c, s = await pair()
        s.set_read_deadline(0.1)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError) as exc:
            await s.read(10)
        elapsed = time.monotonic() - t0
        assert exc.value.errno == errno.ETIMEDOUT
        # Expired: even ready data is not read (Go), until the deadline is moved.
        await c.write(b"data")
        with pytest.raises(TimeoutError):
            await s.read(10)
        s.set_read_deadline(None)
        assert await s.read(10) == b"data"
        # Writes have their own deadline.
        await s.write(b"ok")
        for x in (ln, c, s):
            x.close()
        return elapsed

    assert 0.05 < runs(main) < 2.0


def test_set_deadline_none_clears() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        s.set_deadline(0.05)
        s.set_deadline(None)
        wg, errors = WaitGroup(1), []

        async def late_writer() -> None:
            await syscall(time.sleep, 0.2)  # well past the cleared deadline
            await c.write(b"late")

        spawn(wg, errors, late_writer)
        assert await s.read(10) == b"late"
        await wg.wait()
        assert not errors
        for x in (ln, c, s):
            x.close()

    runs(main)


def test_deadline_wakes_parked_reader() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        wg, errors = await parked_reader(s)
        s.set_read_deadline(0)  # passed already: wakes the reader now
        await wg.wait()
        assert isinstance(errors[0], TimeoutError)
        for x in (ln, c, s):
            x.close()

    runs(main)


def test_no_m_claims_the_poller_once_the_program_exits() -> None:
    # startTheExit breaks the poller once; the M blocked in it drains that
    # wakeup. An M that claimed the poller after it would block forever and
    # run() would hang joining it (seen on 3.13t with 4 Ps, about 1 run in 20).
    sched = schedt()
    sched.lastpoll = 1
    assert netpoll.swapLastpoll(sched)  # claimed: lastpoll 0 while it polls
    sched.lastpoll = 1
    sched.exiting = True
    assert not netpoll.swapLastpoll(sched)
    assert sched.lastpoll == 1


def test_io_wakes_an_m_blocked_until_a_timer() -> None:
    # The idle M waits for the read deadline's timer (30 s) in netpoll with a
    # timeout, the precise select() on the epoll fd: data written by another
    # thread meanwhile must wake it at once, not when the timer is due.
    async def main() -> tuple[bytes, float]:
        ln, c, s = await pair()
        s.set_read_deadline(30)
        sched = getg().sched
        t0 = time.monotonic()

        def write_once_the_m_blocks() -> None:
            end = time.monotonic() + 10
            while sched.lastpoll != 0 and time.monotonic() < end:
                time.sleep(0.001)  # a bounded wait for the M to block in netpoll
            os.write(c.fileno(), b"wake")

        writer = threading.Thread(target=write_once_the_m_blocks)
        writer.start()
        data = await s.read(10)
        elapsed = time.monotonic() - t0
        writer.join()
        for x in (ln, c, s):
            x.close()
        return data, elapsed

    data, elapsed = runs(main)
    assert data == b"wake"
    assert elapsed < 20  # woken by the data, not by the 30 s deadline


def test_deadline_fired_then_cleared_is_not_an_error() -> None:
    # The reader is woken by an expired deadline, which is cleared before it
    # runs: it must go back to waiting (Go: "pretend it has not happened").
    async def main() -> None:
        ln, c, s = await pair()
        wg, errors, gs = WaitGroup(1), [], []
        got: list[bytes] = []

        async def reader() -> None:
            gs.append(getg())
            got.append(await s.read(10))

        spawn(wg, errors, reader)
        await until_parked(gs)
        s.set_read_deadline(0)
        s.set_read_deadline(None)  # before the reader had a chance to run
        await until_parked(gs)  # runnable now: it runs, then parks again
        await c.write(b"data")
        await wg.wait()
        assert not errors
        assert got == [b"data"]
        for x in (ln, c, s):
            x.close()

    runs(main)


def test_write_deadline() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        c.set_write_deadline(0.1)
        chunk = b"x" * (1 << 20)
        with pytest.raises(TimeoutError):
            for _ in range(1000):  # the peer never reads: the buffers fill up
                await c.write(chunk)
        for x in (ln, c, s):
            x.close()

    runs(main)


def test_accept_deadline() -> None:
    async def main() -> None:
        ln = await net.listen("127.0.0.1", 0)
        ln.set_deadline(0.05)
        with pytest.raises(TimeoutError):
            await ln.accept()
        ln.set_deadline(None)
        c = await net.dial(*ln.addr)
        s = await ln.accept()
        for x in (ln, c, s):
            x.close()

    runs(main)


# ---------------------------------------------------------------------------
# Close


def test_close_wakes_parked_reader() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        wg, errors = await parked_reader(s)
        s.close()
        await wg.wait()
        (err,) = errors
        assert type(err) is OSError
        assert err.errno == errno.EBADF
        assert "use of closed network connection" in str(err)
        # The peer sees the connection go away.
        assert await c.read(10) == b""
        c.close()
        ln.close()

    runs(main)


class ClosingSocket:
    """A socket whose next call to `method` first closes `owner`: a close() that
    lands while that system call is in flight (another goroutine, on another M)."""

    def __init__(self, sock: socket.socket, method: str, owner: Conn | Listener) -> None:
        self._sock, self._method, self._owner = sock, method, owner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._sock, name)
        if name != self._method:
            return attr

        def closing_first(*args: Any) -> Any:
            self._owner.close()  # busy: shuts the socket down, closes it after us
            return attr(*args)

        return closing_first


@pytest.mark.parametrize("op", ["read", "read_exactly", "read_into", "write", "accept"])
def test_an_operation_a_close_lands_in_raises_the_closed_error(op: str) -> None:
    # close() shuts a busy socket down, so the call in flight sees EOF (recv)
    # or fails (EPIPE from send, EINVAL from accept): it must report the close,
    # as Go's does, not an EOF or a broken pipe the peer never caused.
    async def main() -> None:
        ln, c, s = await pair()
        method = {"read": "recv", "read_exactly": "recv", "read_into": "recv_into"}
        target: Conn | Listener = ln if op == "accept" else s
        fd = target._fd.pfd
        fd.sock = ClosingSocket(fd.sock, method.get(op, op.replace("write", "send")), target)  # type: ignore[assignment]
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "read": lambda: s.read(10),
            "read_exactly": lambda: s.read_exactly(10),
            "read_into": lambda: s.read_into(bytearray(10)),
            "write": lambda: s.write(b"x" * 10),
            "accept": ln.accept,
        }
        with pytest.raises(OSError, match="use of closed network connection") as ei:
            await calls[op]()
        assert ei.value.errno == errno.EBADF
        for x in (ln, c, s):
            x.close()

    runs(main)


def test_close_wakes_goroutines_queued_for_the_read_lock() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        wg, errors, gs1, gs2 = WaitGroup(2), [], [], []

        async def reader(gs: list[G]) -> None:
            gs.append(getg())
            await s.read(10)

        spawn(wg, errors, reader, gs1)
        await until_parked(gs1)
        spawn(wg, errors, reader, gs2)  # waits for the first reader's lock
        await until_parked(gs2, WaitReason.Semacquire)
        s.close()
        await wg.wait()
        assert [e.errno for e in errors] == [errno.EBADF, errno.EBADF]  # type: ignore[attr-defined]
        for x in (ln, c):
            x.close()

    runs(main)


def test_concurrent_readers_take_turns() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        n = 10
        wg, errors = WaitGroup(n), []
        got: list[bytes] = []

        async def reader() -> None:
            got.append(await s.read_exactly(4))

        for _ in range(n):
            spawn(wg, errors, reader)
        for i in range(n):
            await c.write(b"%04d" % i)
        await wg.wait()
        assert not errors
        assert sorted(got) == [b"%04d" % i for i in range(n)]
        for x in (ln, c, s):
            x.close()

    runs(main)


def test_accept_woken_by_listener_close() -> None:
    async def main() -> None:
        ln = await net.listen("127.0.0.1", 0)
        wg, errors, gs = WaitGroup(1), [], []

        async def acceptor() -> None:
            gs.append(getg())
            await ln.accept()

        spawn(wg, errors, acceptor)
        await until_parked(gs)
        ln.close()
        await wg.wait()
        (err,) = errors
        assert isinstance(err, OSError) and err.errno == errno.EBADF
        with pytest.raises(OSError, match="use of closed network connection"):
            await ln.accept()

    runs(main)


def test_operations_on_closed_conn() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        async with c:
            pass
        c.close()  # idempotent
        assert c.fileno() == -1
        assert "closed" in repr(c)
        for op in (c.read(1), c.read_exactly(1), c.write(b"x"), c.read_into(bytearray(1))):
            with pytest.raises(OSError, match="use of closed network connection") as exc:
                await op
            assert exc.value.errno == errno.EBADF
        with pytest.raises(OSError, match="use of closed network connection"):
            c.set_deadline(1.0)
        with pytest.raises(OSError, match="use of closed network connection"):
            c.close_write()
        async with ln:
            pass
        ln.close()
        s.close()

    runs(main)


def test_addresses() -> None:
    async def main() -> None:
        ln, c, s = await pair()
        host, port = ln.addr
        assert host == "127.0.0.1" and port > 0
        assert c.remote_addr == ln.addr == s.local_addr
        assert s.remote_addr == c.local_addr
        assert repr(c) == f"<Conn 127.0.0.1:{c.local_addr[1]}->127.0.0.1:{port}>"
        assert repr(ln) == f"<Listener 127.0.0.1:{port}>"
        for x in (ln, c, s):
            x.close()

    runs(main)


@pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 loopback")
def test_ipv6_addresses() -> None:
    async def main() -> None:
        ln, c, s = await pair("::1")
        assert ln.addr[0] == "::1" and ln.addr[1] > 0
        assert c.remote_addr == ln.addr
        assert repr(ln) == f"<Listener [::1]:{ln.addr[1]}>"
        ln2 = await net.listen("[::1]", 0)  # brackets as in Go's host:port form
        assert ln2.addr[0] == "::1"
        for x in (ln, ln2, c, s):
            x.close()

    runs(main)


# ---------------------------------------------------------------------------
# Lifetime: program exit, garbage collection, misuse


def test_abandoned_goroutines_close_their_conns_at_exit() -> None:
    # main returns while goroutines are parked in read and accept: run() closes
    # them, their `async with` blocks close the sockets outside goroutine context.
    hooked: list[Any] = []

    async def main() -> None:
        ln, c, s = await pair()
        gs: list[G] = []

        async def reader(conn: Conn) -> None:
            async with conn:
                gs.append(getg())
                await conn.read(10)

        async def acceptor() -> None:
            async with ln:
                await ln.accept()

        go(reader, s)
        go(reader, c)
        go(acceptor)
        await until_parked(gs)

    old = sys.unraisablehook
    sys.unraisablehook = hooked.append
    try:
        runs(main)
    finally:
        sys.unraisablehook = old
    assert hooked == []


@pytest.mark.parametrize("op", ["dial", "accept"])
def test_a_socket_opened_while_run_closes_the_poller_is_refused_and_closed(op: str) -> None:
    # A goroutine stranded on its thread at the end may still be inside dial or
    # accept while run() closes the sockets the poller knows: the socket it
    # registers next would be missed and stay open for good. Once the teardown
    # has taken its list (netpollclose marks the poller closed first), poll_open
    # refuses, and the half-made socket is closed where it was made.
    async def main() -> tuple[str, list[str]]:
        ln = await net.listen("127.0.0.1", 0)
        peer = socket.create_connection(ln.addr) if op == "accept" else None
        poller = getg().sched.netpoll  # type: ignore[union-attr]
        before = fds()
        poller.closed = True  # as netpollclose does before it takes its list
        try:
            with pytest.raises(RuntimeError, match="network poller is closed") as ei:
                if op == "dial":
                    await net.dial(*ln.addr)
                else:
                    await ln.accept()
        finally:
            poller.closed = False
        left = [fd for fd in fds() if fd not in before]
        if peer is not None:
            peer.close()
        ln.close()
        return str(ei.value), left

    msg, left = runs(main)
    assert left == [], msg


def test_unclosed_conn_collected_then_fd_reused() -> None:
    async def main() -> None:
        ln = await net.listen("127.0.0.1", 0)
        c = await net.dial(*ln.addr)
        s = await ln.accept()
        fd = c.fileno()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            del c
            gc.collect()
        c2 = await net.dial(*ln.addr)  # gets the same fd number
        assert c2.fileno() == fd
        s2 = await ln.accept()
        await c2.write(b"ok")
        assert await s2.read(2) == b"ok"
        for x in (ln, s, c2, s2):
            x.close()

    runs(main)


def test_outside_a_goroutine() -> None:
    for coro, name in (
        (net.listen("127.0.0.1", 0), "goroutines.net.listen"),
        (net.dial("127.0.0.1", 1), "goroutines.net.dial"),
    ):
        with pytest.raises(RuntimeError, match=f"{name} called outside a goroutine"):
            coro.send(None)
        coro.close()


def test_conn_closed_after_run_returns() -> None:
    async def main() -> tuple[Listener, Conn, Conn]:
        return await pair()

    before = fds()
    ln, c, s = run(main)
    for x in (ln, c, s):
        x.close()
    assert fds() == before


def test_no_fd_leak_across_error_paths() -> None:
    async def main() -> None:
        for _ in range(20):
            ln = await net.listen("127.0.0.1", 0)
            addr = ln.addr
            c = await net.dial(*addr)
            s = await ln.accept()
            c.close()
            assert await s.read(1) == b""
            s.close()
            ln.close()
            with pytest.raises(OSError):
                await ln.accept()
            with pytest.raises(ConnectionRefusedError):
                await net.dial(*addr)

    runs(main, gomaxprocs=2)


def test_a_panic_closes_the_sockets_left_open() -> None:
    # Go's process exit closes every fd; run() closes the sockets the program
    # left open, even ones only a reference cycle keeps alive.
    class Boom(Exception):
        pass

    held: list[int] = []

    async def main() -> None:
        ln = await net.listen("127.0.0.1", 0)
        c = await net.dial(*ln.addr)
        s = await ln.accept()
        cycle: list[Any] = [ln, c, s]
        cycle.append(cycle)  # collected only by the cyclic GC, after run() returns
        held.extend(x.fileno() for x in (ln, c, s))
        raise Boom

    gc.disable()
    try:
        before = fds()
        with pytest.raises(Boom):
            run(main)
        assert fds() == before, f"sockets {held} still open"
    finally:
        gc.enable()


@pytest.mark.timeout(20)
def test_deadlock_is_found_after_the_last_io_waiter_left_by_a_deadline() -> None:
    # An M blocks in the poller while a goroutine waits to read. A deadline,
    # not I/O, then wakes that goroutine, so the poller sees no event and its
    # M stays blocked; once main blocks for good, that M must not be counted
    # as one that could still wake anybody.
    release = threading.Event()

    def release_once_an_m_polls(sched: schedt) -> None:
        while sched.lastpoll != 0 or netpoll.netpollWaiters(sched) == 0:
            time.sleep(0.001)
        release.set()

    async def main() -> None:
        _ln, _c, s = await pair()  # left open: run() closes them at the end
        wg, errors = await parked_reader(s)
        sched = getg().sched  # type: ignore[union-attr]
        threading.Thread(target=release_once_an_m_polls, args=(sched,)).start()
        await syscall(release.wait)  # meanwhile the other M blocks in the poller
        s.set_read_deadline(0)  # passed: wakes the reader with no I/O event
        await wg.wait()
        assert isinstance(errors[0], TimeoutError)
        await Chan().recv()  # nothing can wake us now

    with pytest.raises(Deadlock, match="all goroutines are asleep"):
        run(main, gomaxprocs=2)
