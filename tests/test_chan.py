"""Channels: Go's test/chan programs in our own words, plus close, len/cap and the fast paths."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest

import goroutines as g
from goroutines import Chan, ChannelClosed, Deadlock
from goroutines.runtime import proc
from goroutines.runtime.chan import waitq
from tests.helpers import pure_only


def waiters(q: waitq) -> int:
    """How many sudogs wait on a recvq or sendq (white-box: walks the list)."""
    n, sg = 0, q.first
    while sg is not None:
        n, sg = n + 1, sg.next
    return n


async def until(cond: Callable[[], bool], what: str) -> None:
    """Yield the processor until cond() holds, so other goroutines run; no sleeping."""
    for _ in range(100_000):
        if cond():
            return
        await g.gosched()
    raise AssertionError(f"never happened: {what}")


def run1(main: Callable[..., Any], *args: Any) -> Any:
    """run(main) on one P: goroutines then run in a deterministic order."""
    return g.run(main, *args, gomaxprocs=1)


# ---------------------------------------------------------------------------
# Construction, len, cap, repr


def test_cap_len_and_repr() -> None:
    async def main() -> None:
        c = Chan[int](3)
        assert (c.cap, len(c)) == (3, 0)
        await c.send(1)
        await c.send(2)
        assert (c.cap, len(c)) == (3, 2)
        assert repr(c).startswith("<Chan[int] cap=3 len=2 at 0x")
        assert await c.recv() == 1
        assert len(c) == 1
        u = Chan()
        assert (u.cap, len(u)) == (0, 0)
        assert repr(u).startswith("<Chan cap=0 len=0 at 0x")
        assert u, "an empty channel is still truthy: only None is the nil channel"

    run1(main)


@pytest.mark.parametrize("cap", [1.5, "3", None, True])
def test_cap_must_be_an_int(cap: Any) -> None:
    with pytest.raises(TypeError, match="Chan capacity must be an int"):
        Chan(cap)


def test_negative_cap_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must be >= 0, got -1"):
        Chan(-1)


def test_blocking_operations_outside_a_goroutine() -> None:
    c = Chan[int](1)
    # Driven by hand, as a plain thread awaiting them would: nothing is sent.
    with pytest.raises(RuntimeError, match=r"Chan.send called outside a goroutine.*Runtime.submit"):
        c.send(1).send(None)  # type: ignore[attr-defined]
    assert len(c) == 0
    with pytest.raises(RuntimeError, match=r"Chan.recv called outside a goroutine"):
        c.recv().send(None)  # type: ignore[attr-defined]
    # The non-blocking operations need no goroutine (timer callbacks use them).
    assert c.try_send(7)
    assert c.try_recv() == (7, True)


# ---------------------------------------------------------------------------
# FIFO order (Go's test/chan/fifo.go)


def test_buffered_fifo() -> None:
    n = 100

    async def main() -> list[int | None]:
        c = Chan[int](n)
        for i in range(n):
            await c.send(i)
        assert len(c) == n
        return [await c.recv() for _ in range(n)]

    assert run1(main) == list(range(n))


@pytest.mark.parametrize("procs", [1, 4])
def test_synchronous_fifo_chain(procs: int) -> None:
    """Each link waits for its turn, then must receive exactly its own index."""
    n = 200

    async def link(ch: Chan[int], val: int, turn: Chan[int], next: Chan[int]) -> None:
        await turn.recv()
        v = await ch.recv()
        assert v == val, f"link {val} received {v}"
        await next.send(1)

    async def main() -> None:
        ch = Chan[int]()
        start = turn = Chan[int]()
        for i in range(n):
            nxt = Chan[int]()
            g.go(link, ch, i, turn, nxt)
            turn = nxt
        await start.send(0)
        for i in range(n):
            await ch.send(i)
        assert await turn.recv() == 1

    g.run(main, gomaxprocs=procs)


def test_parked_senders_are_served_in_fifo_order() -> None:
    async def sender(c: Chan[str], v: str) -> None:
        await c.send(v)

    async def main() -> list[str | None]:
        c = Chan[str]()
        for i, v in enumerate("abcde"):
            g.go(sender, c, v)
            await until(lambda i=i: waiters(c._c.sendq) == i + 1, f"sender {v} parked")
        return [await c.recv() for _ in range(5)]

    assert run1(main) == list("abcde")


# ---------------------------------------------------------------------------
# Go's classic programs


def first_primes(n: int) -> list[int]:
    """The first n primes, by trial division (the oracle for the sieve)."""
    out: list[int] = []
    k = 2
    while len(out) < n:
        if all(k % p for p in out):
            out.append(k)
        k += 1
    return out


@pytest.mark.parametrize("procs", [1, 2])
def test_prime_sieve(procs: int) -> None:
    """Go's test/chan/sieve1.go: a chain of filter goroutines, one per prime."""

    async def generate(ch: Chan[int]) -> None:
        i = 2
        while True:
            await ch.send(i)
            i += 1

    async def filter(src: Chan[int], dst: Chan[int], prime: int) -> None:
        async for i in src:
            if i % prime:
                await dst.send(i)

    async def main() -> list[int]:
        ch = Chan[int]()
        g.go(generate, ch)
        primes = []
        for _ in range(100):
            prime = await ch.recv()
            assert prime is not None
            primes.append(prime)
            ch1 = Chan[int]()
            g.go(filter, ch, ch1, prime)
            ch = ch1
        return primes

    assert g.run(main, gomaxprocs=procs) == first_primes(100)


@pytest.mark.timeout(60)
def test_daisy_chain_of_10000_goroutines() -> None:
    """Each goroutine adds one to what its right neighbour passes left."""
    n = 10_000

    async def whisper(left: Chan[int], right: Chan[int]) -> None:
        v = await right.recv()
        assert v is not None
        await left.send(v + 1)

    async def main() -> int | None:
        leftmost = left = Chan[int]()
        for _ in range(n):
            right = Chan[int]()
            g.go(whisper, left, right)
            left = right
        await left.send(1)
        return await leftmost.recv()

    assert run1(main) == n + 1


# ---------------------------------------------------------------------------
# Non-blocking operations (Go's test/chan/nonblock.go)


@pytest.mark.parametrize("cap", [0, 1, 3])
def test_try_ops_on_empty_full_and_closed(cap: int) -> None:
    async def main() -> None:
        c = Chan[int](cap)
        assert c.try_recv() == (None, False)  # empty
        for i in range(cap):
            assert c.try_send(i)
        assert not c.try_send(99), "full (or unbuffered with no receiver)"
        assert len(c) == cap
        c.close()
        with pytest.raises(ChannelClosed, match="send on closed channel <Chan"):
            c.try_send(1)
        for i in range(cap):
            assert c.try_recv() == (i, True)  # closed, still draining
        assert c.try_recv() == (None, False)  # closed and drained
        assert c.try_recv() == (None, False)

    run1(main)


def test_try_ops_pair_with_parked_goroutines() -> None:
    async def main() -> None:
        c = Chan[int]()
        got = Chan[int | None](1)

        async def receiver() -> None:
            await got.send(await c.recv())

        g.go(receiver)
        await until(lambda: waiters(c._c.recvq) == 1, "receiver parked")
        assert c.try_send(5), "a parked receiver takes a non-blocking send"
        assert await got.recv() == 5

        async def sender() -> None:
            await c.send(6)

        g.go(sender)
        await until(lambda: waiters(c._c.sendq) == 1, "sender parked")
        assert c.try_recv() == (6, True)
        assert waiters(c._c.sendq) == 0

    run1(main)


# ---------------------------------------------------------------------------
# Handoff and the full-buffer receive (hchan internals)


def test_send_to_parked_receiver_bypasses_the_buffer() -> None:
    async def main() -> None:
        c = Chan[str](2)
        got: list[str | None] = []

        async def receiver() -> None:
            got.append(await c.recv())

        g.go(receiver)
        await until(lambda: waiters(c._c.recvq) == 1, "receiver parked")
        await c.send("direct")
        assert len(c) == 0 and c._c.buf == [None, None], "the value went straight to the receiver"
        await until(lambda: got == ["direct"], "receiver got the value")

    run1(main)


def test_recv_from_full_buffer_moves_the_parked_sender_in() -> None:
    async def main() -> None:
        c = Chan[int](2)
        await c.send(0)
        await c.send(1)
        done = Chan[bool](1)

        async def sender() -> None:
            await c.send(2)
            await done.send(True)

        g.go(sender)
        await until(lambda: waiters(c._c.sendq) == 1, "sender parked on the full buffer")
        assert await c.recv() == 0
        assert len(c) == 2 and waiters(c._c.sendq) == 0, "the sender's value took the freed slot"
        assert await done.recv() is True
        assert [await c.recv(), await c.recv()] == [1, 2]
        assert c.try_recv() == (None, False)

    run1(main)


def test_unbuffered_send_waits_for_the_receiver() -> None:
    async def main() -> list[str]:
        c = Chan[int]()
        log: list[str] = []

        async def sender() -> None:
            log.append("send")
            await c.send(1)
            log.append("sent")

        g.go(sender)
        await until(lambda: waiters(c._c.sendq) == 1, "sender parked")
        assert log == ["send"], "an unbuffered send completes only when received"
        log.append("recv")
        assert await c.recv() == 1
        await until(lambda: len(log) == 3, "sender resumed")
        return log

    assert run1(main) == ["send", "recv", "sent"]


def test_a_forgotten_await_sends_nothing_and_warns() -> None:
    # As API.md says: no effect until awaited, and Python's usual warning.
    async def main() -> None:
        for c in (Chan[int](), Chan[int](1)):
            with pytest.warns(RuntimeWarning, match="never awaited"):
                c.send(1)  # type: ignore[unused-coroutine]
                gc.collect()  # the coroutine is gone by now; pypy-proof all the same
            assert c.try_recv() == (None, False)
            c.close()

    run1(main)


# ---------------------------------------------------------------------------
# Close (Go's test/closedchan.go)


def test_close_wakes_every_parked_receiver_with_none_false() -> None:
    async def main() -> list[tuple[Any, bool] | None]:
        c = Chan[int]()
        results = Chan[tuple[Any, bool]](3)

        async def receiver(ok_form: bool) -> None:
            if ok_form:
                await results.send(await c.recv_ok())
            else:
                await results.send((await c.recv(), False))

        for ok_form in (True, True, False):
            g.go(receiver, ok_form)
        await until(lambda: waiters(c._c.recvq) == 3, "three receivers parked")
        c.close()
        return [await results.recv() for _ in range(3)]

    assert run1(main) == [(None, False)] * 3


def test_close_makes_every_parked_sender_raise() -> None:
    async def main() -> list[str]:
        c = Chan[int](1)
        await c.send(0)
        errors = Chan[str](3)

        async def sender(v: int) -> None:
            try:
                await c.send(v)
            except ChannelClosed as e:
                await errors.send(str(e))
            else:
                await errors.send("sent")

        for v in (1, 2, 3):
            g.go(sender, v)
        await until(lambda: waiters(c._c.sendq) == 3, "three senders parked on the full buffer")
        c.close()
        msgs = [str(await errors.recv()) for _ in range(3)]
        # The buffered value survives the close; then the channel reads as closed.
        assert await c.recv_ok() == (0, True)
        assert await c.recv_ok() == (None, False)
        return msgs

    msgs = run1(main)
    assert all(m.startswith("send on closed channel <Chan[int] cap=1") for m in msgs), msgs


def test_send_and_close_on_closed_channel_raise_naming_it() -> None:
    async def main() -> None:
        c = Chan[int](1)
        c.close()
        with pytest.raises(ChannelClosed, match=r"^send on closed channel <Chan\[int\] cap=1"):
            await c.send(1)
        with pytest.raises(ChannelClosed, match=r"^close of closed channel <Chan\[int\] cap=1"):
            c.close()
        assert await c.recv() is None
        assert await c.recv_ok() == (None, False)

    run1(main)


def test_closed_buffered_channel_drains_before_reading_closed() -> None:
    async def main() -> None:
        c = Chan[int](3)
        for i in range(3):
            await c.send(i)
        c.close()
        assert len(c) == 3
        assert await c.recv_ok() == (0, True)
        assert await c.recv() == 1
        assert [v async for v in c] == [2]
        assert len(c) == 0
        assert await c.recv_ok() == (None, False)

    run1(main)


def test_async_for_drains_then_stops_at_close() -> None:
    async def producer(c: Chan[int], n: int) -> None:
        for i in range(n):
            await c.send(i)
        c.close()

    async def main() -> tuple[list[int], list[int]]:
        out = []
        for cap in (0, 5):
            c = Chan[int](cap)
            g.go(producer, c, 20)
            out.append([v async for v in c])
        return out[0], out[1]

    assert run1(main) == (list(range(20)), list(range(20)))


# ---------------------------------------------------------------------------
# Scheduling: blocking parks the goroutine, fast paths honour preemption


def test_deadlock_on_a_receive_nobody_serves() -> None:
    async def main() -> None:
        await Chan[int]().recv()

    with pytest.raises(Deadlock, match=r"(?s)asleep - deadlock.*goroutine 1 \[chan receive\]"):
        run1(main)


def test_deadlock_on_a_send_nobody_takes() -> None:
    async def main() -> None:
        await Chan[int]().send(1)

    with pytest.raises(Deadlock, match=r"(?s)goroutine 1 \[chan send\]"):
        run1(main)


@pure_only
@pytest.mark.parametrize(
    "op", ["send", "recv", "recv_ok", "anext", "recv_closed", "recv_ok_closed", "anext_closed"]
)
def test_fast_path_honours_a_preemption_request(op: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A channel operation that needs no wait still yields when sysmon asked for it,
    before it sends or receives; a receive from a closed channel too."""
    yields: list[tuple[int, bool]] = []
    gosched_m = proc.gosched_m

    def spy(mp: Any, gp: Any, preempted: bool) -> None:
        yields.append((gp.goid, preempted))
        gosched_m(mp, gp, preempted)

    monkeypatch.setattr(proc, "gosched_m", spy)

    async def main() -> None:
        c = Chan[int](1)
        if op.endswith("_closed"):
            c.close()
        elif op != "send":
            await c.send(1)
        yields.clear()  # sysmon may have preempted main already (it inherits its time slice)
        proc.getg().preempt = True  # type: ignore[union-attr]  # as sysmon would
        if op == "send":
            await c.send(1)
        elif op == "recv":
            assert await c.recv() == 1
        elif op == "recv_ok":
            assert await c.recv_ok() == (1, True)
        elif op == "anext":
            assert await c.__anext__() == 1
        elif op == "recv_closed":
            assert await c.recv() is None
        elif op == "recv_ok_closed":
            assert await c.recv_ok() == (None, False)
        else:
            with pytest.raises(StopAsyncIteration):
                await c.__anext__()
        assert yields == [(1, True)], "main yielded the processor as a preempted goroutine"

    run1(main)


def test_abandoned_receiver_leaves_no_waiter_behind() -> None:
    """A goroutine parked at program exit must not be woken by a later run."""
    c = Chan[int](1)

    async def receiver() -> None:
        await c.recv()

    async def first() -> None:
        g.go(receiver)
        await until(lambda: waiters(c._c.recvq) == 1, "receiver parked")

    async def second() -> int:
        await c.send(5)  # to the buffer: the dead receiver is gone
        return len(c)

    run1(first)
    assert waiters(c._c.recvq) == 0
    assert run1(second) == 1


@pytest.mark.parametrize("procs", [2, 4])
def test_many_goroutines_on_several_threads(procs: int) -> None:
    """Senders and receivers on several Ms: every value arrives exactly once."""
    n, k = 4, 500

    async def main() -> list[int]:
        c = Chan[int](3)
        out = Chan[list[int]](n)

        async def sender(base: int) -> None:
            for i in range(k):
                await c.send(base + i)

        async def receiver() -> None:
            got = []
            for _ in range(k):
                got.append(await c.recv())
            await out.send(got)

        for s in range(n):
            g.go(sender, s * k)
            g.go(receiver)
        got: list[int] = []
        for _ in range(n):
            got += await out.recv() or []
        return sorted(got)

    assert g.run(main, gomaxprocs=procs) == list(range(n * k))
