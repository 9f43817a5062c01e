"""select: ready cases, default, nil and closed channels, parking, fairness, doubleselect."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import goroutines as g
from goroutines import Chan, ChannelClosed, Deadlock, recv, select, send
from goroutines.runtime.osapi import NLOCKS
from tests.helpers import pure_only
from tests.test_chan import run1, until, waiters


def test_ready_recv_and_send_cases() -> None:
    async def main() -> None:
        a, b = Chan[int](1), Chan[str](1)
        await a.send(7)
        assert await select(recv(a)) == (0, 7, True)
        assert await select(recv(None), send(b, "x")) == (1, None, True)
        assert await b.recv() == "x"

    run1(main)


def test_default_only_when_nothing_is_ready() -> None:
    async def main() -> None:
        a, full = Chan[int](1), Chan[int](1)
        await full.send(0)
        assert await select(recv(a), send(full, 1), default=True) == (-1, None, False)
        assert await select(default=True) == (-1, None, False)
        await a.send(3)
        assert await select(recv(a), send(full, 1), default=True) == (0, 3, True)
        assert len(full) == 1, "the send case that was not ready did not run"

    run1(main)


def test_nil_channels_are_never_ready() -> None:
    async def main() -> None:
        a = Chan[int](1)
        await a.send(1)
        assert await select(recv(None), send(None, 5), default=True) == (-1, None, False)
        assert await select(recv(None), send(None, 5), recv(a)) == (2, 1, True)

    run1(main)


def test_select_on_nil_channels_only_blocks_forever() -> None:
    async def main() -> None:
        await select(recv(None), send(None, 1))

    with pytest.raises(Deadlock, match=r"goroutine 1 \[select\]:"):
        run1(main)


def test_empty_select_blocks_forever() -> None:
    async def main() -> None:
        await select()

    with pytest.raises(Deadlock, match=r"goroutine 1 \[select \(no cases\)\]:"):
        run1(main)


def test_closed_channels() -> None:
    async def main() -> None:
        c = Chan[int](2)
        await c.send(4)
        c.close()
        assert await select(recv(c)) == (0, 4, True), "buffered values first"
        assert await select(recv(c)) == (0, None, False)
        assert await select(recv(c), default=True) == (0, None, False), "closed is ready"
        with pytest.raises(ChannelClosed, match="send on closed channel <Chan"):
            await select(send(c, 1))
        with pytest.raises(ChannelClosed, match="send on closed channel"):
            await select(send(c, 1), default=True)

    run1(main)


def test_parked_select_is_woken_by_the_one_case_that_fires() -> None:
    async def main() -> None:
        a, b, c = Chan[int](), Chan[int](), Chan[int](1)
        await c.send(0)  # full: the send case on c cannot run
        result = Chan[tuple[int, Any, bool]](1)

        async def selector() -> None:
            await result.send(await select(recv(a), recv(b), send(c, 9)))

        g.go(selector)
        await until(lambda: waiters(b._c.recvq) == 1, "select parked")
        assert (waiters(a._c.recvq), waiters(c._c.sendq)) == (1, 1), "a sudog on every channel"
        await b.send(42)
        assert await result.recv() == (1, 42, True)
        assert (waiters(a._c.recvq), waiters(b._c.recvq), waiters(c._c.sendq)) == (0, 0, 0), (
            "pass 3"
        )
        assert a.try_send(1) is False, "nobody waits on a any more"

    run1(main)


def test_parked_select_send_case_completes() -> None:
    async def main() -> None:
        a, b = Chan[int](), Chan[int]()
        result = Chan[tuple[int, Any, bool]](1)

        async def selector() -> None:
            await result.send(await select(recv(a), send(b, 5)))

        g.go(selector)
        await until(lambda: waiters(b._c.sendq) == 1, "select parked")
        assert await b.recv() == 5
        assert await result.recv() == (1, None, True)
        assert waiters(a._c.recvq) == 0

    run1(main)


def test_close_wakes_a_parked_select() -> None:
    async def main() -> None:
        a, b = Chan[int](), Chan[int]()
        result = Chan[Any](1)

        async def receiving() -> None:
            await result.send(await select(recv(a), recv(b)))

        async def sending() -> None:
            try:
                await select(recv(a), send(b, 1))
            except ChannelClosed as e:
                await result.send(e)

        g.go(receiving)
        await until(lambda: waiters(b._c.recvq) == 1, "receiving select parked")
        b.close()
        assert await result.recv() == (1, None, False)
        assert waiters(a._c.recvq) == 0
        b = Chan[int]()
        g.go(sending)
        await until(lambda: waiters(b._c.sendq) == 1, "sending select parked")
        b.close()
        err = await result.recv()
        assert isinstance(err, ChannelClosed) and "send on closed channel" in str(err)
        assert waiters(a._c.recvq) == 0

    run1(main)


def test_same_channel_in_several_cases() -> None:
    async def main() -> None:
        c = Chan[int]()
        result = Chan[tuple[int, Any, bool]](1)

        async def selector() -> None:
            await result.send(await select(recv(c), recv(c), recv(c)))

        g.go(selector)
        await until(lambda: waiters(c._c.recvq) == 3, "three sudogs on one channel")
        await c.send(8)
        i, v, ok = await result.recv() or (None, None, None)
        assert i in (0, 1, 2) and (v, ok) == (8, True)
        assert waiters(c._c.recvq) == 0
        assert c.try_send(1) is False

    run1(main)


@pytest.mark.parametrize("procs", [1, 2])
def test_two_selects_sending_and_receiving_on_one_channel_pair_up(procs: int) -> None:
    """Each select offers to send and to receive on c: they must meet each other."""

    async def main() -> list[tuple[int, Any, bool] | None]:
        c = Chan[str]()
        results = Chan[tuple[int, Any, bool]](2)

        async def peer(name: str) -> None:
            await results.send(await select(send(c, name), recv(c)))

        g.go(peer, "p")
        g.go(peer, "q")
        return [await results.recv(), await results.recv()]

    r = g.run(main, gomaxprocs=procs)
    assert sorted(x[0] for x in r if x) == [0, 1], "one sent, the other received"
    received = next(x for x in r if x and x[0] == 1)
    assert received[1] in ("p", "q") and received[2] is True


def test_fairness_between_two_ready_channels() -> None:
    """Go's TestSelectFairness: each of two always-ready cases wins 40-60% of the time."""
    trials = 10_000

    async def main() -> Counter[int]:
        a, b = Chan[int](trials), Chan[int](trials)
        for i in range(trials):
            a.try_send(i)
            b.try_send(i)
        wins: Counter[int] = Counter()
        for _ in range(trials):
            i, _, _ = await select(recv(a), recv(b))
            wins[i] += 1
        return wins

    wins = run1(main)
    assert sum(wins.values()) == trials
    assert 0.4 * trials <= wins[0] <= 0.6 * trials, wins
    assert 0.4 * trials <= wins[1] <= 0.6 * trials, wins


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((Chan[int](),), {}, r"select\(\) case 0 must be recv\(ch\) or send\(ch, v\), got <Chan"),
        ((recv(None), 3), {}, r"select\(\) case 1 must be recv\(ch\) or send\(ch, v\), got 3"),
        ((), {"default": "yes"}, r"select\(\) default must be a bool, not str"),
    ],
)
def test_bad_arguments_are_type_errors(args: Any, kwargs: Any, message: str) -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match=message):
            await select(*args, **kwargs)

    run1(main)


def test_passing_an_operation_instead_of_a_case_gets_a_hint() -> None:
    async def main() -> None:
        c = Chan[int](1)
        op = c.recv()
        with pytest.raises(TypeError, match=r"did you pass ch.recv\(\)\? use recv\(ch\)"):
            await select(op)  # type: ignore[arg-type]
        op.close()  # type: ignore[attr-defined]

    run1(main)


@pytest.mark.parametrize("bad", [3, "c", object()])
def test_case_constructors_check_the_channel(bad: Any) -> None:
    with pytest.raises(TypeError, match=r"recv\(\) needs a Chan or None \(a nil channel\), got"):
        recv(bad)
    with pytest.raises(TypeError, match=r"send\(\) needs a Chan or None \(a nil channel\), got"):
        send(bad, 1)


@pure_only
def test_select_honours_a_preemption_request(monkeypatch: pytest.MonkeyPatch) -> None:
    yields: list[int] = []
    gosched_m = g.runtime.proc.gosched_m

    def spy(mp: Any, gp: Any, preempted: bool) -> None:
        yields.append(gp.goid)
        gosched_m(mp, gp, preempted)

    monkeypatch.setattr(g.runtime.proc, "gosched_m", spy)

    async def main() -> None:
        c = Chan[int](1)
        yields.clear()  # sysmon may have preempted main already
        g.runtime.proc.getg().preempt = True  # type: ignore[union-attr]
        assert await select(send(c, 1)) == (0, None, True)
        assert yields == [1], "a case that ran without waiting"
        yields.clear()
        g.runtime.proc.getg().preempt = True  # type: ignore[union-attr]
        assert await select(send(c, 2), default=True) == (-1, None, False)
        assert yields == [1], "the default case"

    run1(main)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("procs", [2, 4])
def test_doubleselect_never_delivers_a_value_twice(procs: int) -> None:
    """Go's test/chan/doubleselect.go: one sender selects over four channels, each
    drained by a forwarding goroutine into one mux channel; every value must come
    out exactly once, even when two cases could fire at once on different Ms."""
    n = 3000

    async def sender(cs: list[Chan[int]]) -> None:
        for i in range(n):
            await select(*(send(c, i) for c in cs))
        for c in cs:
            c.close()

    async def mux(out: Chan[int], src: Chan[int], done: Chan[bool]) -> None:
        async for v in src:
            await out.send(v)
        await done.send(True)

    async def closer(done: Chan[bool], out: Chan[int], k: int) -> None:
        for _ in range(k):
            await done.recv()
        out.close()

    async def main() -> Counter[int]:
        cs = [Chan[int]() for _ in range(4)]
        done, cmux = Chan[bool](), Chan[int]()
        g.go(sender, cs)
        for c in cs:
            g.go(mux, cmux, c, done)
        g.go(closer, done, cmux, len(cs))
        return Counter([v async for v in cmux])

    seen = g.run(main, gomaxprocs=procs)
    assert [v for v, k in seen.items() if k > 1] == [], "a value was received twice"
    assert sorted(seen) == list(range(n)), "a value was lost"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("procs", [2, 4])
def test_a_parked_select_is_won_by_exactly_one_waker(procs: int) -> None:
    """Two goroutines on other Ms offer a value to the same parked select at once:
    exactly one try_send succeeds, and the select received that one's value."""
    rounds = 300

    async def offer(c: Chan[int], v: int, go_: Chan[None], out: Chan[bool]) -> None:
        await go_.recv()
        await out.send(c.try_send(v))

    async def main() -> None:
        for r in range(rounds):
            a, b, result = Chan[int](), Chan[int](), Chan[tuple[int, Any, bool]](1)
            start, offers = Chan[None](), Chan[bool](2)

            async def selector(a: Chan[int] = a, b: Chan[int] = b, res: Any = result) -> None:
                await res.send(await select(recv(a), recv(b)))

            g.go(selector)
            await until(lambda a=a, b=b: waiters(a._c.recvq) + waiters(b._c.recvq) == 2, "parked")
            g.go(offer, a, 2 * r, start, offers)
            g.go(offer, b, 2 * r + 1, start, offers)
            start.close()  # release both at once
            took = [await offers.recv(), await offers.recv()]
            assert sorted(took) == [False, True], f"round {r}: offers {took}"
            i, v, ok = await result.recv() or (None, None, None)
            assert ok and v == 2 * r + i
            assert waiters(a._c.recvq) == waiters(b._c.recvq) == 0

    g.run(main, gomaxprocs=procs)


@pytest.mark.timeout(60)
def test_select_on_channels_that_share_a_lock() -> None:
    # Channels share NLOCKS locks by address: a select takes each lock once,
    # in order, however many of its channels hash to it.
    async def main() -> list[Any]:
        chans: list[Chan[str]] = [Chan() for _ in range(NLOCKS + 1)]  # two share a lock
        by: dict[int, list[Chan[str]]] = {}
        for ch in chans:
            by.setdefault(ch._c.lockno, []).append(ch)
        a, b = next(v for v in by.values() if len(v) > 1)[:2]
        got: list[Any] = []
        done = Chan[None]()

        async def selector() -> None:
            for _ in range(2):
                got.append(await select(recv(a), recv(b), send(a, "never")))
            await done.send(None)

        g.go(selector)
        await b.send("to b")  # the selector parks on both, then b wakes it
        await a.send("to a")
        await done.recv()
        assert await select(recv(a), recv(b), default=True) == (-1, None, False)
        return got

    assert g.run(main, gomaxprocs=2) == [(1, "to b", True), (0, "to a", True)]
