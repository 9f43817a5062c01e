"""Package net: TCP for goroutines, on the runtime's network poller (Go's net + internal/poll).

Every socket is non-blocking (and close-on-exec, as Python makes every fd) and
registered once with the run's epoll instance, edge-triggered
(`netpoll.poll_open`). A goroutine never blocks its M (thread): an operation
tries the system call first, and only when the kernel answers EAGAIN does it
park on the poller. A read, as Go's `poll.FD.Read` (runtime/fd.py):

    fdmu.rwlock(r)              one reader at a time; also a reference that
                                keeps the socket open until the read returns
    poll_reset(pd, "r")         fail at once if closed or past the deadline
    loop:
        sock.recv(n)            data, or b'' at EOF: done
        EAGAIN -> netpollblock(pd, "r")
                                pd.rg = this G, then gopark; the M goes on to run
                                other goroutines. When data arrives, epoll reports
                                the fd to whichever M polls next (find_runnable,
                                an idle M blocked in epoll_wait, or sysmon), which
                                readies the G (netpollready -> injectglist); a
                                deadline timer or close() wakes it with an error.
    fdmu.rwunlock(r)

Readiness that arrives while nobody waits is latched in the pollDesc
(`pd.rg = pdReady`), so no edge is lost between EAGAIN and the park. As in
Go, an operation tries its syscall first and parks only on EAGAIN, with one
exception: after a recv that found the receive queue empty (EAGAIN, or fewer
bytes than asked for), the next read parks first unless readiness has been
latched since (`pd.rempty`, see `netpoll.poll_reset`). A server reading
requests with a large buffer otherwise pays a failing recv, an exception in
Python, on every request. EOF, errors and urgent data mark the fd (`pd.hup`)
and turn this off: after them a recv can succeed with no edge to follow.
So that a client reading replies of a known size gains the same,
`read_exactly` reads ahead (READAHEAD bytes a recv, as asyncio's StreamReader
and Go's bufio.Reader do), and the next reads return what it took beyond n
first: Go's io.ReadFull over a bufio.Reader, not over the bare socket.

`close()` is synchronous and idempotent: it marks the fd closed and wakes every
goroutine parked in its operations or queued for its locks (they raise
OSError(EBADF, "use of closed network connection"), Go's ErrNetClosing). The
socket is closed by whoever drops the last reference: close() itself, or the
last operation in progress, so that the fd number is never reused under a
system call in flight (Go's fdMutex + destroy). Meanwhile it is shut down, so
the peer sees EOF and a listener refuses connections at once.

Errors are the standard OSError subclasses: ConnectionRefusedError,
ConnectionResetError, BrokenPipeError, TimeoutError(ETIMEDOUT, "i/o timeout")
for a passed deadline or dial timeout. `read_exactly` raises
IncompleteReadError, an EOFError with `.partial` as asyncio's, when the stream
ends early. Host names that are not numeric addresses are resolved with
getaddrinfo through `syscall()`, which lets sysmon hand the P to another M
while the lookup blocks. All of it needs goroutine context, except close().

Contexts. `dial(..., ctx=ctx)` honours ctx as Go's DialContext does: its
deadline bounds the dial (with `timeout`, the earlier wins) and cancelling it
interrupts the connect; the dial then raises ctx's error (Canceled, or
DeadlineExceeded, a TimeoutError). As in Go, the connection it returns outlives
ctx. Go's Conn has no context: servers close connections, or set a past
deadline, when theirs is done. `conn.set_context(ctx)` (and a Listener's) is that
idiom built in: once ctx is done, a past deadline wakes the blocked read, write
or accept, and it and every later one raise ctx's error instead of "i/o
timeout". It costs one context.after_func-style registration, no goroutine, and
close() drops it; set_deadline still works, and a deadline set after ctx is
done replaces the past one, as with any deadline. A server that shuts down
cleanly:

    ln.set_context(ctx)                     # accept() raises Canceled once ctx is
    while True:                             # cancelled; so do the readers:
        conn = await ln.accept()
        conn.set_context(ctx)
        go(handle, conn)                    # handle closes conn in a finally
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import socket
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self, TypeVar

from . import context
from .runtime import netpoll, timers
from .runtime.calls import syscall
from .runtime.errors import IncompleteReadError
from .runtime.fd import FD, errTimeout
from .runtime.fdmutex import errClosing
from .runtime.netpoll import netpollblock, pollNoError
from .runtime.proc import acquire_g, goready

E = TypeVar("E", bound=BaseException)

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["Conn", "IncompleteReadError", "Listener", "dial", "listen"]

_RETRY_CONNECT = (errno.EINPROGRESS, errno.EALREADY, errno.EINTR)
_MIN_DIAL_TIMEOUT = 2.0  # each address of a multi-address dial gets at least this (Go)

Addr = tuple[str, int]


# ---------------------------------------------------------------------------
# netFD


class netFD:
    """A socket's FD and addresses (Go's net.netFD, which embeds a poll.FD).

    The FD (runtime/fd.py, compiled) holds the socket and runs its reads and
    writes; this object owns it: the poller and set_context's registrations
    hold it weakly, so that a socket nobody holds any more is closed then.
    """

    __slots__ = ("__weakref__", "laddr", "pfd", "raddr")  # __weakref__: see poll_open

    def __init__(self, sock: socket.socket) -> None:
        self.pfd = FD(sock)
        self.laddr: Addr = ("", 0)
        self.raddr: Addr = ("", 0)

    def init(self) -> None:
        """Register the socket with the poller (Go's netFD.init)."""
        self.pfd.init(weakref.WeakMethod(self.closeatexit))

    async def accept(self) -> netFD:
        """Wait for and accept a connection (Go's netFD.accept)."""
        s, raddr = await self.pfd.accept()
        fd = netFD(s)
        try:
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            fd.init()
            fd.laddr = s.getsockname()[:2]
        except BaseException:
            fd.close()
            raise
        fd.raddr = raddr[:2]
        return fd

    async def connect(
        self, sa: tuple[Any, ...], deadline: int, ctx: context.Context | None = None
    ) -> None:
        """Connect to sa; `deadline` in nanotime, 0 for none; ctx interrupts (Go's netFD.connect).

        Nobody else knows the fd yet, so no lock is taken (Go).
        """
        pfd = self.pfd
        err = pfd.sock.connect_ex(sa)
        if err not in _RETRY_CONNECT:
            if err not in (0, errno.EISCONN):
                raise OSError(err, os.strerror(err))
            self.init()
            return
        # Register only now: an unconnected TCP socket polls as writable (POLLOUT
        # | POLLHUP), which would read as "connected".
        self.init()
        pd = pfd.pd
        assert pd is not None
        if deadline:
            netpoll.set_deadline(pd, (deadline - timers.now()) / 1e9, "w")
        interrupt = stop = None
        if ctx is not None:
            interrupt = _Expire(self, "w")
            stop = context._after(ctx, interrupt.fire)
        try:
            while True:
                res = await netpollblock(pd, "w")
                if res != pollNoError:
                    raise pfd.err(res)
                # Ask SO_ERROR instead of connecting again: once the poller says
                # writable, it tells whether the connection succeeded (Go).
                err = pfd.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err in (0, errno.EISCONN):
                    return
                if err not in _RETRY_CONNECT:
                    raise OSError(err, os.strerror(err))
        finally:
            if stop is not None and interrupt is not None:
                stop()
                interrupt.disarm()
            if deadline or stop is not None:
                netpoll.set_deadline(pd, None, "w")

    def set_deadline(self, seconds: float | None, mode: str) -> None:
        """Set the read/write deadline, seconds from now; None clears it (Go's setDeadlineImpl)."""
        pfd = self.pfd
        if pfd.fdmu.closed:
            raise errClosing()
        assert pfd.pd is not None
        netpoll.set_deadline(pfd.pd, seconds, mode)

    def shutdown(self, how: int) -> None:
        """Shut down one or both directions (Go's netFD.shutdown)."""
        pfd = self.pfd
        pfd.fdmu.incref()
        try:
            pfd.sock.shutdown(how)
        finally:
            pfd.fdmu.decref()

    def close(self) -> None:
        """Wake every waiter with the closed error and close the socket (Go's FD.Close).

        Idempotent. With operations still in progress (goroutines woken but not
        yet run, or another thread inside a system call), the socket is shut
        down now and closed by the last of them.
        """
        pfd = self.pfd
        closing = pfd.fdmu.increfAndClose()
        if closing is None:
            return
        waiters, busy = closing
        for gp in waiters:
            goready(gp)
        try:
            if pfd.pd is not None:
                netpoll.poll_close(pfd.pd)  # wakes goroutines parked in read/write/accept
            if busy:
                # A peer sees EOF at once, a listener refuses connections at once.
                with contextlib.suppress(OSError):
                    pfd.sock.shutdown(socket.SHUT_RDWR)
        finally:
            pfd.fdmu.decref()

    def closeatexit(self) -> None:
        """Close at the program's end (netpollclose), even under operations in progress.

        By then every M has left or was abandoned, and the goroutines left were
        closed, which ended their operations. An operation still holding the fd
        belongs to a goroutine whose M was abandoned: it parked after the
        end and will never run again, or it is inside a non-blocking call that
        returns at once. Waiting for it would keep the socket open for good.
        """
        self.close()
        fdmu = self.pfd.fdmu
        with fdmu.lock:
            destroy, fdmu.destroy = fdmu.destroy, None
        if destroy is not None:
            destroy()


# ---------------------------------------------------------------------------
# Contexts


class _Expire:
    """Wakes a netFD's operations with a past deadline when a context is done (set_context).

    Runs on the thread that cancels, with no lock of the context's held; holds
    the netFD weakly, so a registration left behind keeps no socket alive.
    `disarm()` returns once no fire() can touch the fd any more (dial's
    connect clears its deadline after it, as Go's connect waits for its
    interrupter goroutine).
    """

    __slots__ = ("armed", "fd", "lock", "mode")

    def __init__(self, fd: netFD, mode: str) -> None:
        self.fd = weakref.ref(fd)
        self.mode = mode
        self.lock = threading.Lock()
        self.armed = True

    def fire(self) -> None:
        with self.lock:
            fd = self.fd()
            if self.armed and fd is not None and fd.pfd.pd is not None:
                netpoll.set_deadline(fd.pfd.pd, 0, self.mode)  # wakes the waiters

    def disarm(self) -> None:
        with self.lock:
            self.armed = False


def _ctx_exception(ctx: context.Context) -> BaseException | None:
    """ctx's error to raise, from its cause if it has another one; None while ctx is live.

    Bound to ctx by set_context as the FD's ctxerr: what its operations raise
    past a deadline once ctx is done.
    """
    e = context._error(ctx)
    if e is None:
        return None
    err, cause = e
    err.__cause__ = cause  # as `raise err from cause`
    return err


def _raise_ctx(ctx: context.Context) -> None:
    """Raise ctx's error if ctx is done."""
    err = _ctx_exception(ctx)
    if err is not None:
        raise err


# ---------------------------------------------------------------------------
# Conn and Listener


class _Socket:
    """What Conn and Listener share: the netFD, close, fileno, `async with`, set_context."""

    __slots__ = ("_fd", "_stop")

    def __init__(self, fd: netFD) -> None:
        self._fd = fd
        self._stop: Callable[[], bool] | None = None  # set_context's; under fdmu.lock

    def close(self) -> None:
        """Close it; goroutines blocked in its operations raise OSError. Idempotent."""
        self._fd.close()
        fdmu = self._fd.pfd.fdmu
        with fdmu.lock:
            stop, self._stop = self._stop, None
        if stop is not None:
            stop()

    def set_context(self, ctx: context.Context | None) -> None:
        """Operations end with ctx's error once ctx is done (see the module doc); None detaches."""
        stop = None
        if ctx is not None:
            context._check(ctx, "set_context")
            mode = "rw" if isinstance(self, Conn) else "r"
            stop = context._after(ctx, _Expire(self._fd, mode).fire)
        pfd = self._fd.pfd
        with pfd.fdmu.lock:
            closed = pfd.fdmu.closed
            if not closed:
                ctxerr = None if ctx is None else functools.partial(_ctx_exception, ctx)
                old, self._stop, pfd.ctxerr = self._stop, stop, ctxerr
        if closed:
            if stop is not None:
                stop()
            raise errClosing()
        if old is not None:
            old()

    def fileno(self) -> int:
        """The socket's fd (-1 once closed)."""
        return self._fd.pfd.sock.fileno()  # type: ignore[no-any-return]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Conn(_Socket):
    """A TCP connection (Go's net.TCPConn). Use `async with` to close it."""

    __slots__ = ()

    @property
    def local_addr(self) -> Addr:
        """The (host, port) of our end."""
        return self._fd.laddr

    @property
    def remote_addr(self) -> Addr:
        """The (host, port) of the peer."""
        return self._fd.raddr

    async def read(self, n: int) -> bytes:
        """What is available, 1 to n bytes, parking until some is; b'' at EOF (or for n == 0)."""
        return await self._fd.pfd.read(n)

    async def read_into(self, buf: Buffer) -> int:
        """Read into a writable buffer, up to its size; 0 at EOF (Go's Conn.Read)."""
        return await self._fd.pfd.read_into(buf)

    async def read_exactly(self, n: int) -> bytes:
        """Exactly n bytes; IncompleteReadError (an EOFError) if the stream ends
        first (Go's io.ReadFull over a bufio.Reader).

        Reads ahead, as asyncio's StreamReader and Go's bufio.Reader do: what a
        recv returns beyond n waits for the next reads, which return it first
        (it is no longer on the socket). Past a deadline it raises, and what it
        read waits for the next read.
        """
        return await self._fd.pfd.read_exactly(n)

    async def write(self, data: Buffer) -> int:
        """Write all of data, parking while the socket's buffer is full; returns its
        length (Go's FD.Write)."""
        return await self._fd.pfd.write(data)

    def set_deadline(self, seconds: float | None) -> None:
        """Reads and writes fail with TimeoutError `seconds` from now; None clears it."""
        self._fd.set_deadline(seconds, "rw")

    def set_read_deadline(self, seconds: float | None) -> None:
        """As set_deadline, for reads only."""
        self._fd.set_deadline(seconds, "r")

    def set_write_deadline(self, seconds: float | None) -> None:
        """As set_deadline, for writes only."""
        self._fd.set_deadline(seconds, "w")

    def close_write(self) -> None:
        """Shut down the writing side: the peer reads EOF (Go's TCPConn.CloseWrite)."""
        self._fd.shutdown(socket.SHUT_WR)

    def __repr__(self) -> str:
        state = " closed" if self._fd.pfd.fdmu.closed else ""
        return f"<Conn {_fmt(self.local_addr)}->{_fmt(self.remote_addr)}{state}>"


class Listener(_Socket):
    """A TCP listener (Go's net.TCPListener). Use `async with` to close it."""

    __slots__ = ()

    @property
    def addr(self) -> Addr:
        """The (host, port) it is bound to: the port chosen when asked for port 0."""
        return self._fd.laddr

    async def accept(self) -> Conn:
        """Wait for the next connection."""
        return Conn(await self._fd.accept())

    def set_deadline(self, seconds: float | None) -> None:
        """accept() fails with TimeoutError `seconds` from now; None clears it."""
        self._fd.set_deadline(seconds, "r")

    def __repr__(self) -> str:
        state = " closed" if self._fd.pfd.fdmu.closed else ""
        return f"<Listener {_fmt(self.addr)}{state}>"


def _fmt(addr: Addr) -> str:
    """host:port, with brackets around an IPv6 host (Go's JoinHostPort)."""
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------------------
# listen and dial


async def listen(host: str, port: int) -> Listener:
    """Listen for TCP connections on host:port; port 0 picks a free one (Go's net.Listen).

    An empty host listens on every IPv4 interface (0.0.0.0), as Python's socket
    module takes it; a host name listens on its first IPv4 address, else its first.
    """
    acquire_g("goroutines.net.listen")
    addrs = await _resolve(host, port, "listen")
    family, sa = next((a for a in addrs if a[0] == socket.AF_INET), addrs[0])
    sock = socket.socket(family, socket.SOCK_STREAM)
    fd = netFD(sock)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sa)
        sock.listen(socket.SOMAXCONN)
        fd.init()
        fd.laddr = sock.getsockname()[:2]
    except BaseException:
        fd.close()
        raise
    return Listener(fd)


async def dial(
    host: str, port: int, timeout: float | None = None, ctx: context.Context | None = None
) -> Conn:
    """Connect to host:port over TCP (Go's net.Dial / DialTimeout / Dialer.DialContext).

    `timeout` bounds the whole dial, name lookup included; it raises
    TimeoutError once it has passed (a timeout <= 0 has passed already). The
    addresses of a host name are tried in turn, and the first error is raised
    if none answers. With `ctx`, its deadline bounds the dial too and its
    cancellation interrupts it: the dial then raises ctx's error (Canceled, or
    DeadlineExceeded). The connection outlives ctx (see set_context).
    """
    acquire_g("goroutines.net.dial")
    ctxdeadline = None
    if ctx is not None:
        context._check(ctx, "dial")
        _raise_ctx(ctx)
        ctxdeadline = context._deadline_ns(ctx)
    if timeout is not None and timeout <= 0:
        raise _dial_error(errTimeout(), host, port)
    deadline = 0 if timeout is None else timers.now() + int(timeout * 1e9)
    if ctxdeadline is not None and (not deadline or ctxdeadline < deadline):
        deadline = ctxdeadline
    addrs = await _resolve(host, port, "dial")
    first: OSError | None = None
    for i, (family, sa) in enumerate(addrs):
        try:
            return Conn(await _dial1(family, sa, _partialDeadline(deadline, len(addrs) - i), ctx))
        except OSError as e:
            if ctx is not None:
                _dial_ctx_error(ctx, ctxdeadline, e, host, port)
            first = first or _dial_error(e, host, port)
    assert first is not None
    raise first


def _dial_ctx_error(
    ctx: context.Context, ctxdeadline: int | None, e: OSError, host: str, port: int
) -> None:
    """Raise ctx's error for a dial it ended: cancelled, or timed out at ctx's deadline (Go)."""
    err = context._error(ctx)
    if (
        err is None
        and ctxdeadline is not None
        and isinstance(e, TimeoutError)
        and timers.now() >= ctxdeadline
    ):
        err = context.DeadlineExceeded(), None  # our deadline timer fired before ctx's
    if err is not None:
        exc, cause = err
        raise _dial_error(exc, host, port) from cause


def _partialDeadline(deadline: int, addrsRemaining: int) -> int:
    """The deadline for one of several addresses: an equal share, >= 2 s (Go's partialDeadline)."""
    if not deadline:
        return 0
    now = timers.now()
    if deadline <= now:
        return deadline  # connect() then fails with a timeout at once
    timeout = (deadline - now) // addrsRemaining
    sane = int(_MIN_DIAL_TIMEOUT * 1e9)
    if timeout < sane:
        timeout = min(sane, deadline - now)
    return now + timeout


async def _dial1(
    family: int, sa: tuple[Any, ...], deadline: int, ctx: context.Context | None
) -> netFD:
    """Connect a new socket to one address; on any error the socket is closed."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    fd = netFD(sock)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await fd.connect(sa, deadline, ctx)
        fd.laddr = sock.getsockname()[:2]
        try:
            fd.raddr = sock.getpeername()[:2]
        except OSError:  # reset already: report the address we dialed (Go)
            fd.raddr = sa[:2]
    except BaseException:
        fd.close()
        raise
    return fd


def _dial_error(e: E, host: str, port: int) -> E:
    """e with a note naming what was dialed (Go's OpError "dial tcp host:port: ...")."""
    e.add_note(f"dial tcp {_fmt((host, port))}")
    return e


async def _resolve(host: str, port: int, op: str) -> list[tuple[int, tuple[Any, ...]]]:
    """The (family, sockaddr) pairs for host:port; only a host name needs a lookup."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"{op}: invalid port {port!r}: must be an int in 0..65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        if op == "dial":
            raise ValueError("dial: missing host")
        return [(socket.AF_INET, ("0.0.0.0", port))]
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return [(family, (host, port))]
    infos = await syscall(socket.getaddrinfo, host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    return [(family, sa) for family, _, _, _, sa in infos]
