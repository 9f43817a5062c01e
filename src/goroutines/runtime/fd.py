"""A socket's reads and writes on the network poller (Go's internal/poll.FD).

`goroutines.net` is Go's net: Conn, Listener, dial, listen, a netFD per
socket. Each netFD embeds an `FD`, as Go's embeds a poll.FD: the socket, its
fdMutex and pollDesc, and the operations every byte goes through (net's
docstring draws a read: take the side's lock, poll_reset, recv until EAGAIN,
then netpollblock). They are written out in full, Go's loops inlined: each
call or coroutine frame saved here is saved on every read and write. And they
are compiled with the scheduler's core, so that a TCP round trip runs its four
operations as native code. net.py is not compiled: what a user's code awaits
stays a Python coroutine, which warns when never awaited; Conn's methods
await these.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .calls import checkpoint
from .errors import IncompleteReadError
from .fdmutex import errClosing, fdMutex, rwsema
from .netpoll import netpollblock, poll_open, poll_reset, pollDesc, pollErrTimeout, pollNoError
from .proc import acquire_g, getg, goparkunlock
from .runtime2 import WaitReason

if TYPE_CHECKING:
    from typing_extensions import Buffer

T = TypeVar("T")

READAHEAD: Final = 65536  # bytes read_exactly asks each recv for, at least


def errTimeout() -> TimeoutError:
    """The error of an operation past its deadline (Go's os.ErrDeadlineExceeded)."""
    return TimeoutError(errno.ETIMEDOUT, "i/o timeout")


async def rwlockslow(fdmu: fdMutex, side: rwsema) -> None:
    """Queue for a held side of `fdmu` and park until it is handed over, or raise once closed."""
    _, gp = acquire_g("goroutines.net")
    fdmu.lock.acquire()
    if fdmu.closed:
        fdmu.lock.release()
        raise errClosing()
    if not side.held:
        side.held = True
        fdmu.ref += 1
        fdmu.lock.release()
        return
    gp.param = None
    side.waitq.append(gp)
    try:
        await goparkunlock(fdmu.lock, WaitReason.Semacquire, gp)
    except BaseException:
        # Closed while parked (run() abandons goroutines at exit): leave the
        # queue, or pass on the side (and its reference) if we were handed it.
        if gp.param is True:
            fdmu.rwunlock(side)
        else:
            with fdmu.lock:
                if gp in side.waitq:
                    side.waitq.remove(gp)
        raise
    handed, gp.param = gp.param, None
    if not handed:
        raise errClosing()


class FD:
    """A socket with its fdMutex and pollDesc, and its reads and writes (Go's poll.FD)."""

    def __init__(self, sock: Any) -> None:
        self.sock: Any = sock  # a socket.socket (Any: a test may wrap it)
        self.fdmu = fdMutex(sock.close)  # closing the socket is Go's FD.destroy
        self.pd: pollDesc | None = None
        # What read_exactly read ahead and no read has returned yet: rbuf[roff:].
        # Guarded by the read lock, as the reads that take it.
        self.rbuf = b""
        self.roff = 0
        # What a passed deadline raises instead of "i/o timeout", or None: the
        # error of the context given to set_context, once it is done.
        self.ctxerr: Callable[[], BaseException | None] | None = None

    def init(self, closer: Callable[[], Callable[[], None] | None]) -> None:
        """Register the socket with the poller (Go's FD.Init); see netpoll.poll_open."""
        self.pd = poll_open(self.sock.fileno(), closer)

    def err(self, res: int) -> BaseException:
        """The exception for a poller error code (Go's convertErr)."""
        if res != pollErrTimeout:
            return errClosing()
        ctxerr = self.ctxerr
        e = None if ctxerr is None else ctxerr()
        return errTimeout() if e is None else e

    def prepare(self, mode: str) -> pollDesc:
        """The pollDesc, ready for a read ("r") or write ("w") under that side's lock;
        raises once closed or past the deadline (Go's pollDesc.prepare)."""
        pd = self.pd
        assert pd is not None
        res = poll_reset(pd, mode)
        if res != pollNoError:
            raise self.err(res)
        return pd

    def read(self, n: int) -> Coroutine[Any, Any, bytes]:
        """Up to n bytes, parking until some are ready; b'' at EOF (Go's FD.Read)."""
        if n < 0:
            raise ValueError(f"read: n must be >= 0, got {n}")
        return self._read(self.sock.recv, n, n, b"", self.take)

    def read_into(self, b: Buffer) -> Coroutine[Any, Any, int]:
        """Read into a writable buffer, up to its size; 0 at EOF (Go's FD.Read)."""
        buf = memoryview(b).cast("B")
        return self._read(self.sock.recv_into, buf, len(buf), 0, self.take_into)

    def take(self, n: int) -> bytes:
        """Up to n bytes of those read ahead (the read lock held)."""
        off = self.roff
        data = self.rbuf[off : off + n]
        self.unbuffer(off + len(data))
        return data

    def take_into(self, buf: memoryview) -> int:
        """Copy what fits of the bytes read ahead into buf (the read lock held)."""
        off = self.roff
        m = min(len(buf), len(self.rbuf) - off)
        buf[:m] = self.rbuf[off : off + m]
        self.unbuffer(off + m)
        return m

    def unbuffer(self, off: int) -> None:
        """The bytes read ahead up to off are taken."""
        if off == len(self.rbuf):
            self.rbuf, self.roff = b"", 0
        else:
            self.roff = off

    async def _read(
        self, recv: Callable[[Any], T], arg: Any, size: int, empty: T, take: Callable[[Any], T]
    ) -> T:
        """Go's FD.Read: recv(arg) for up to size bytes under the read lock, parking
        while it would block (first, when the last recv left the queue empty).
        What read_exactly read ahead comes first, as from a bufio.Reader: take(arg)."""
        fdmu = self.fdmu
        if not fdmu.rwlock(fdmu.r):
            await rwlockslow(fdmu, fdmu.r)
        try:
            pd = self.prepare("r")
            if not size:
                return empty
            if self.rbuf:
                data = take(arg)
            else:
                while True:
                    if not pd.rempty:
                        try:
                            data = recv(arg)
                            break
                        except BlockingIOError:
                            pass  # park outside the handler: errors must not chain to it
                    res = await netpollblock(pd, "r")
                    if res != pollNoError:
                        raise self.err(res)
                    pd.rempty = False
                m = data if isinstance(data, int) else len(data)  # type: ignore[arg-type]
                if m == 0 and fdmu.closed:
                    raise errClosing()  # the EOF of close()'s shutdown, not the peer's
                pd.rempty = 0 < m < size and not pd.hup  # 0 is EOF: no edge follows it
        finally:
            fdmu.rwunlock(fdmu.r)
        gp = getg()
        if gp is not None and gp.preempt:
            await checkpoint()
        return data

    async def read_exactly(self, n: int) -> bytes:
        """Exactly n bytes; IncompleteReadError if the stream ends first (Conn.read_exactly).

        Reads ahead, as asyncio's StreamReader and Go's bufio.Reader do: each
        recv asks for READAHEAD bytes (or the rest, if more), and what comes
        beyond n waits in rbuf for the next reads, which return it first (it is
        no longer on the socket). A recv that returns less than it asked for
        has emptied the receive queue, so the next read parks first
        (pd.rempty); one that asked for exactly n would say nothing, and the
        next read would pay a failing recv, an exception in Python (a
        request/response client, on every request). Past a deadline it
        raises, and what it read waits for the next read.
        """
        if n < 0:
            raise ValueError(f"read_exactly: n must be >= 0, got {n}")
        fdmu = self.fdmu
        if not fdmu.rwlock(fdmu.r):
            await rwlockslow(fdmu, fdmu.r)
        try:
            pd = self.prepare("r")
            got = len(self.rbuf) - self.roff
            if got >= n:
                data = self.take(n)
            else:
                chunks = [self.take(got)] if got else []
                while got < n:
                    if pd.rempty:
                        res = await netpollblock(pd, "r")
                        if res != pollNoError:
                            # Past a deadline: what it read is for the next read.
                            self.rbuf = b"".join(chunks)
                            raise self.err(res)
                        pd.rempty = False
                    ask = max(READAHEAD, n - got)
                    try:
                        chunk = self.sock.recv(ask)
                    except BlockingIOError:
                        pd.rempty = True
                        continue
                    if not chunk:
                        if fdmu.closed:
                            raise errClosing()  # the EOF of close()'s shutdown
                        raise IncompleteReadError(b"".join(chunks), n)
                    pd.rempty = len(chunk) < ask and not pd.hup
                    chunks.append(chunk)
                    got += len(chunk)
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                if got > n:
                    self.rbuf, self.roff = data, n
                    data = data[:n]
        finally:
            fdmu.rwunlock(fdmu.r)
        gp = getg()
        if gp is not None and gp.preempt:
            await checkpoint()
        return data

    async def write(self, data: Buffer) -> int:
        """Write all of data, parking while the socket's buffer is full; returns its
        length (Go's FD.Write)."""
        fdmu = self.fdmu
        if not fdmu.rwlock(fdmu.w):
            await rwlockslow(fdmu, fdmu.w)
        try:
            pd = self.prepare("w")
            send = self.sock.send
            # bytes go to send() as they are; a view avoids copying the rest
            # after a partial send, and counts the bytes of any other buffer.
            view: Any = data if type(data) is bytes else memoryview(data).cast("B")
            total = len(view)
            nn = 0
            while nn < total:
                try:
                    n = send(view)
                except BlockingIOError:
                    pass  # wait outside the handler: errors must not chain to it
                except OSError as e:
                    if fdmu.closed:  # close()'s shutdown failed the call (EPIPE, EINVAL)
                        raise errClosing() from e
                    raise
                else:
                    nn += n
                    if nn < total:
                        view = memoryview(view)[n:]
                    continue
                res = await netpollblock(pd, "w")
                if res != pollNoError:
                    raise self.err(res)
        finally:
            fdmu.rwunlock(fdmu.w)
        gp = getg()
        if gp is not None and gp.preempt:
            await checkpoint()
        return nn

    async def accept(self) -> tuple[Any, Any]:
        """Wait for and accept a connection: the new socket and the peer's address
        (Go's FD.Accept)."""
        fdmu = self.fdmu
        if not fdmu.rwlock(fdmu.r):
            await rwlockslow(fdmu, fdmu.r)
        try:
            pd = self.prepare("r")
            while True:
                try:
                    return self.sock.accept()  # type: ignore[no-any-return]
                except BlockingIOError:
                    pass
                except ConnectionAbortedError:
                    # A connection on the listen queue was reset before we got
                    # to it: a silly error, try again (Go).
                    continue
                except OSError as e:
                    if fdmu.closed:  # close()'s shutdown failed the call (EPIPE, EINVAL)
                        raise errClosing() from e
                    raise
                res = await netpollblock(pd, "r")
                if res != pollNoError:
                    raise self.err(res)
        finally:
            fdmu.rwunlock(fdmu.r)
