"""Tests of goroutines.errgroup: Go's errgroup_test.go cases, the first exception re-raised as
it was, the limit, and what `go` returns with and without one."""

from __future__ import annotations

import gc
import traceback
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

import goroutines as g
from goroutines import atomic, context, errgroup
from goroutines.context import Canceled
from tests.helpers import SEEDS, wait_until

pytestmark = pytest.mark.timeout(30)


def run(main: Callable[[], Coroutine[Any, Any, Any]], gomaxprocs: int = 2) -> Any:
    return g.run(main, gomaxprocs=gomaxprocs)


class Doom(Exception):
    pass


async def returns(err: BaseException | None) -> None:
    """A task that fails with err, or succeeds (Go's func() error { return err })."""
    if err is not None:
        raise err


def test_zero_group() -> None:
    # Go's TestZeroGroup: wait raises the first exception, again on every wait.
    err1, err2 = Doom("errgroup_test: 1"), Doom("errgroup_test: 2")
    cases: list[list[BaseException | None]] = [
        [],
        [None],
        [err1],
        [err1, None],
        [err1, None, err2],
    ]

    async def main() -> None:
        for errs in cases:
            grp = errgroup.Group()
            first = None
            for err in errs:
                grp.go(returns, err)
                if first is None and err is not None:
                    first = err
                try:
                    await grp.wait()
                    got = None
                except Doom as e:
                    got = e
                assert got is first, (errs, got)

    run(main)


@pytest.mark.parametrize("errs", [[], [None], [Doom("doomed")], [Doom("doomed"), None]])
def test_with_context(errs: list[BaseException | None]) -> None:
    # Go's TestWithContext and TestCancelCause: the context is done after wait,
    # and its cause is the exception, else Canceled.
    async def main() -> None:
        grp, ctx = errgroup.with_context(context.background())
        for err in errs:
            grp.go(returns, err)
        want = next((e for e in errs if e is not None), None)
        try:
            await grp.wait()
            got = None
        except Doom as e:
            got = e
        assert got is want
        assert ctx.done() is not None and ctx.done()._c.closed  # type: ignore[union-attr]
        assert isinstance(ctx.err(), Canceled)
        cause = context.cause(ctx)
        assert cause is (want if want is not None else ctx.err())

    run(main)


def test_first_exception_reraised_as_it_was() -> None:
    async def fail() -> None:
        raise Doom("first")

    async def main() -> None:
        grp = errgroup.Group()
        grp.go(fail)
        with pytest.raises(Doom) as info:
            await grp.wait()
        e = info.value
        assert len(e.__notes__) == 1 and e.__notes__[0].startswith("raised in goroutine ")
        assert e.__notes__[0].endswith(" (errgroup)")
        goid = int(e.__notes__[0].split()[3])
        assert goid > 1
        # The traceback still shows where it was raised, in the goroutine.
        frames = [f.name for f in traceback.extract_tb(e.__traceback__)]
        assert frames[-1] == "fail", frames
        # wait again: the same object, not wrapped, and no second note.
        with pytest.raises(Doom) as again:
            await grp.wait()
        assert again.value is e and len(e.__notes__) == 1

    run(main)


def test_only_the_first_of_several_is_kept() -> None:
    async def main() -> None:
        grp = errgroup.Group()
        first = Doom("first")
        gate: g.Chan[None] = g.Chan()

        async def later(i: int) -> None:
            await gate.recv()
            raise Doom(f"later {i}")

        for i in range(5):
            grp.go(later, i)
        grp.go(returns, first)
        await wait_until(lambda: g.num_goroutine() == 6)  # 'first' has ended
        gate.close()
        with pytest.raises(Doom) as info:
            await grp.wait()
        assert info.value is first

    run(main)


def test_context_cancelled_at_the_first_failure() -> None:
    # The siblings see ctx done before wait returns: they stop early.
    async def main() -> list[str]:
        grp, ctx = errgroup.with_context(context.background())
        seen: g.Chan[str] = g.Chan(3)

        async def sibling(name: str) -> None:
            await ctx.done().recv()  # type: ignore[union-attr]
            await seen.send(name)

        grp.go(sibling, "a")
        grp.go(sibling, "b")
        grp.go(returns, Doom("stop"))
        with pytest.raises(Doom):
            await grp.wait()
        assert isinstance(context.cause(ctx), Doom)
        return sorted([await seen.recv() or "", await seen.recv() or ""])

    assert run(main) == ["a", "b"]


def test_base_exceptions_pass_through() -> None:
    # Goexit ends the goroutine without being recorded (it is not an error).
    async def leaves() -> None:
        g.goexit()

    async def main() -> None:
        grp = errgroup.Group()
        grp.go(leaves)
        await grp.wait()

    run(main)


def test_try_go() -> None:
    # Go's TestTryGo.
    async def main() -> None:
        grp = errgroup.Group()
        n = 42
        grp.set_limit(42)
        ch: g.Chan[None] = g.Chan()

        async def fn() -> None:
            await ch.send(None)

        async def drain(k: int) -> None:
            for _ in range(k):
                await ch.recv()

        for i in range(n):
            assert grp.try_go(fn), f"try_go should succeed but failed at call {i}"
        assert not grp.try_go(fn), "try_go is expected to fail but succeeded"
        g.go(drain, n)
        await grp.wait()
        assert grp.try_go(fn), "try_go should succeed after all goroutines"
        g.go(drain, 1)
        await grp.wait()
        # Switch limit.
        grp.set_limit(1)
        assert grp.try_go(fn)
        assert not grp.try_go(fn)
        g.go(drain, 1)
        await grp.wait()
        # Block all calls.
        grp.set_limit(0)
        for _ in range(1 << 10):
            assert not grp.try_go(fn)
        await grp.wait()

    run(main)


@pytest.mark.parametrize("seed", SEEDS)
def test_go_limit(seed: int) -> None:
    # Go's TestGoLimit, on several Ps.
    limit = 10

    async def main() -> int:
        grp = errgroup.Group()
        grp.set_limit(limit)
        active = atomic.Int()
        peak = atomic.Int()

        async def task() -> None:
            n = active.add(1)
            if n > limit:
                raise AssertionError(f"saw {n} active goroutines; want <= {limit}")
            old = peak.load()
            while n > old and not peak.compare_and_swap(old, n):
                old = peak.load()
            await g.gosched()  # give the others a chance to increment active
            active.add(-1)

        for _ in range(1 << 10 | 1):
            await grp.go(task)
        await grp.wait()
        return peak.load()

    peak = run(main, gomaxprocs=4)
    assert 1 <= peak <= limit


def test_go_without_a_limit_may_be_awaited_or_not() -> None:
    async def main() -> list[int]:
        grp = errgroup.Group()
        out: g.Chan[int] = g.Chan(2)

        async def send(v: int) -> None:
            await out.send(v)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            grp.go(send, 1)
            await grp.go(send, 2)
            gc.collect()
        assert not [w for w in caught if "never awaited" in str(w.message)]
        await grp.wait()
        return sorted([await out.recv() or 0, await out.recv() or 0])

    assert run(main) == [1, 2]


def test_go_with_a_limit_does_nothing_until_awaited() -> None:
    ran: list[int] = []

    async def record(i: int) -> None:
        ran.append(i)

    async def main() -> None:
        grp = errgroup.Group()
        grp.set_limit(1)
        with pytest.warns(RuntimeWarning, match="never awaited"):
            grp.go(record, 1)  # type: ignore[unused-awaitable]
            gc.collect()
        for _ in range(10):
            await g.gosched()
        assert ran == []
        await grp.go(record, 2)
        await grp.wait()
        assert ran == [2]

    run(main)


def test_go_with_a_limit_blocks_until_a_slot_is_free() -> None:
    async def main() -> list[str]:
        grp = errgroup.Group()
        grp.set_limit(1)
        gate: g.Chan[None] = g.Chan()
        log: list[str] = []

        async def first() -> None:
            await gate.recv()
            log.append("first ends")

        async def second() -> None:
            log.append("second starts")

        await grp.go(first)

        async def opener() -> None:
            await wait_until(lambda: g.num_goroutine() == 3)  # main is blocked in go
            log.append("opening")
            gate.close()

        g.go(opener)
        await grp.go(second)  # blocks until first has ended
        await grp.wait()
        return log

    assert run(main) == ["opening", "first ends", "second starts"]


def test_set_limit_while_active_raises() -> None:
    async def main() -> None:
        grp = errgroup.Group()
        grp.set_limit(2)
        gate: g.Chan[None] = g.Chan()

        async def blocked() -> None:
            await gate.recv()

        await grp.go(blocked)
        with pytest.raises(
            RuntimeError,
            match="errgroup: modify limit while 1 goroutines in the group are still active",
        ):
            grp.set_limit(3)
        gate.close()
        await grp.wait()
        grp.set_limit(-1)  # no limit: go starts at once again
        grp.go(blocked)
        assert grp.try_go(blocked)
        await grp.wait()
        with pytest.raises(TypeError, match="set_limit needs an int"):
            grp.set_limit("3")  # type: ignore[arg-type]

    run(main)


def test_non_async_functions_are_type_errors() -> None:
    def plain() -> None:
        pass

    async def main() -> None:
        grp = errgroup.Group()
        with pytest.raises(TypeError, match="async def"):
            grp.go(plain)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="async def"):
            grp.try_go(plain)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            grp.go(returns, 1, 2)  # the call fails at once and counts nothing
        await grp.wait()

    run(main)


def test_goroutine_names_the_caller_of_go() -> None:
    async def main() -> str:
        grp = errgroup.Group()
        gate: g.Chan[None] = g.Chan()

        async def parked() -> None:
            await gate.recv()

        grp.go(parked)
        await wait_until(lambda: "chan receive" in g.dump_goroutines())
        dump = g.dump_goroutines()
        gate.close()
        await grp.wait()
        return dump

    dump = run(main)
    assert "test_goroutine_names_the_caller_of_go.<locals>.main in goroutine 1" in dump
