"""Tests of goroutines.context: Go's context_test.go / x_test.go cases, the timer a deadline
costs, cancellation from threads and timers, memory of cancelled trees, a model of random trees
(hypothesis), and contexts in goroutines.net."""

from __future__ import annotations

import functools
import gc
import random
import socket
import threading
import tracemalloc
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import goroutines as g
from goroutines import context, net, testing
from goroutines.context import Canceled, Context, DeadlineExceeded
from goroutines.runtime.tls import _tls
from tests.helpers import SEEDS, Counter, wait_until

pytestmark = pytest.mark.timeout(30)

SHORT = 0.005  # a deadline the tests on the real clock wait for (the network's)
MINUTE = 60.0  # a deadline the tests under virtual time wait for, at no cost
FOREVER = 3600.0  # a deadline that never passes during a test


def run(main: Callable[[], Coroutine[Any, Any, Any]], gomaxprocs: int = 2) -> Any:
    return g.run(main, gomaxprocs=gomaxprocs)


def is_done(ctx: Context) -> bool:
    """Whether ctx.done() is closed (a select with default, as Go's tests do)."""
    d = ctx.done()
    if d is None:
        return False
    _, ok = d.try_recv()
    return d._c.closed and not ok


def live_timers() -> int:
    """Pending runtime timers on every P of the running program."""
    mp = _tls.__dict__.get("m")
    assert mp is not None
    n = 0
    for pp in mp.sched.allp:
        with pp.timersLock:
            n += sum(1 for when, gen, t in pp.timers if t.gen == gen and t.pp is pp)
    return n


def children(ctx: Context) -> int:
    """How many contexts are registered to be cancelled with ctx."""
    kids = ctx._children  # type: ignore[attr-defined]
    return 0 if kids is None else len(kids)


# ---------------------------------------------------------------------------
# Roots


@pytest.mark.parametrize(
    ("root", "name"), [(context.background, "Background"), (context.todo, "TODO")]
)
def test_roots(root: Callable[[], Context], name: str) -> None:
    c = root()
    assert c is root()
    assert c.done() is None and c.err() is None and c.deadline() is None
    assert c.value("anything") is None
    assert repr(c) == f"context.{name}"
    assert context.cause(c) is None

    async def main() -> int:
        # done() is a nil channel: never ready in a select.
        i, _, _ = await g.select(g.recv(c.done()), default=True)
        return i

    assert run(main) == -1


# ---------------------------------------------------------------------------
# with_cancel


def test_with_cancel_propagates_synchronously() -> None:
    c1, cancel = context.with_cancel(context.background())
    assert repr(c1) == "context.Background.WithCancel"
    o = context.with_value(c1, "k", "v")
    c2, _ = context.with_cancel(o)
    contexts = [c1, o, c2]
    for c in contexts:
        assert c.done() is not None and c.err() is None and not is_done(c)
    cancel()
    for c in contexts:
        assert is_done(c)
        assert isinstance(c.err(), Canceled)
        assert str(c.err()) == "context canceled"
    assert c1.err() is c2.err()  # one cancellation shares its error, as Go's sentinel
    cancel()  # idempotent: the done channel is not closed twice
    assert is_done(c1)


def test_done_is_one_channel_made_lazily() -> None:
    c, cancel = context.with_cancel(context.background())
    d = c.done()
    assert d is c.done() and isinstance(d, g.Chan)
    cancel()
    assert d._c.closed and d is c.done()
    # Cancelled before anyone asked: the shared closed channel, every time.
    c2, cancel2 = context.with_cancel(context.background())
    cancel2()
    assert c2.done() is c2.done() and c2.done()._c.closed  # type: ignore[union-attr]


@pytest.mark.goroutines(virtual_time=True, gomaxprocs=2)
async def test_done_wakes_receivers_and_selects() -> None:
    ctx, cancel = context.with_cancel(context.background())
    other: g.Chan[int] = g.Chan()
    out: g.Chan[str] = g.Chan(3)

    async def by_recv() -> None:
        assert await ctx.done().recv() is None  # type: ignore[union-attr]
        await out.send("recv")

    async def by_select() -> None:
        i, _, ok = await g.select(g.recv(other), g.recv(ctx.done()))
        assert (i, ok) == (1, False)
        await out.send("select")

    async def by_range() -> None:
        async for _ in ctx.done():  # type: ignore[union-attr]
            raise AssertionError("a done channel carries no values")
        await out.send("range")

    for f in (by_recv, by_select, by_range):
        g.go(f)
    await testing.wait_idle()  # all three parked on the done channel
    dump = g.dump_goroutines()
    assert dump.count("[chan receive]") == 2 and dump.count("[select]") == 1, dump
    assert not len(out)
    cancel()
    assert sorted([await out.recv() or "" for _ in range(3)]) == ["range", "recv", "select"]


def test_parent_finishes_child() -> None:
    async def main() -> None:
        parent, cancel = context.with_cancel(context.background())
        cancel1, _ = context.with_cancel(parent)
        valued = context.with_value(parent, "k", 1)
        timer, _ = context.with_timeout(valued, FOREVER)
        value_cancel, _ = context.with_cancel(valued)
        assert children(parent) == 3  # the value context registers nothing of its own
        assert live_timers() == 1
        cancel()
        for c in (parent, cancel1, valued, timer, value_cancel):
            assert is_done(c) and isinstance(c.err(), Canceled)
        assert parent._children is None  # type: ignore[attr-defined]
        assert live_timers() == 0  # the child's timer went with it
        # A child of a cancelled parent is cancelled at once.
        late, _ = context.with_cancel(parent)
        assert is_done(late) and late.err() is parent.err()

    run(main)


def test_child_finishes_first() -> None:
    async def main() -> None:
        for make in (
            lambda p: context.with_cancel(p),
            lambda p: context.with_timeout(p, FOREVER),
        ):
            parent, cancel_parent = context.with_cancel(context.background())
            child, cancel_child = make(parent)
            assert children(parent) == 1
            cancel_child()
            assert isinstance(child.err(), Canceled) and parent.err() is None
            assert children(parent) == 0  # the child took itself out
            assert live_timers() == 0
            cancel_parent()
            assert isinstance(parent.err(), Canceled)

    run(main)


def test_cancel_from_a_plain_thread() -> None:
    async def main() -> bool:
        ctx, cancel = context.with_cancel(context.background())
        t = threading.Thread(target=cancel)

        async def waiter(out: g.Chan[bool]) -> None:
            await ctx.done().recv()  # type: ignore[union-attr]
            await out.send(isinstance(ctx.err(), Canceled))

        out: g.Chan[bool] = g.Chan(1)
        g.go(waiter, out)
        await wait_until(lambda: "[chan receive]" in g.dump_goroutines())  # waiter parked
        t.start()
        # Main waits in a syscall: a goroutine blocked on a channel that only a
        # thread outside the runtime will close would otherwise be a deadlock.
        await g.syscall(t.join)
        return bool(await out.recv())

    assert run(main)


def test_waiting_on_a_context_nobody_cancels_is_a_deadlock() -> None:
    async def main() -> None:
        ctx, _ = context.with_cancel(context.background())
        await ctx.done().recv()  # type: ignore[union-attr]

    with pytest.raises(g.Deadlock, match="chan receive"):
        run(main)


# ---------------------------------------------------------------------------
# Deadlines


@pytest.mark.goroutines(virtual_time=True, gomaxprocs=2)
async def test_deadline_and_timeout_expire() -> None:
    t0 = g.now()
    cases: list[tuple[str, Context]] = []
    c, _ = context.with_deadline(context.background(), t0 + MINUTE)
    assert repr(c).startswith("context.Background.WithDeadline(")
    assert c.deadline() == t0 + MINUTE
    cases.append(("with_deadline", c))
    c, _ = context.with_timeout(context.background(), MINUTE)
    assert repr(c).startswith("context.Background.WithDeadline(")
    assert c.deadline() == t0 + MINUTE
    cases.append(("with_timeout", c))
    c, _ = context.with_timeout(context.background(), MINUTE)
    c, _ = context.with_timeout(context.with_value(c, "k", 1), FOREVER)
    assert c.deadline() == t0 + MINUTE  # the parent's, the earlier
    cases.append(("parent's deadline", c))
    c, _ = context.with_deadline(context.background(), t0 - MINUTE)
    cases.append(("in the past", c))
    c, _ = context.with_deadline(context.background(), t0)
    cases.append(("now", c))
    # Expired at once: the past and the present; the rest a minute later, not before.
    assert [is_done(c) for _, c in cases] == [False, False, False, True, True]
    await g.sleep(MINUTE - 1)
    assert [is_done(c) for _, c in cases] == [False, False, False, True, True]
    for name, c in cases:
        await c.done().recv()  # type: ignore[union-attr]
        assert g.since(t0) == MINUTE, name
        err = c.err()
        assert isinstance(err, DeadlineExceeded), name
        assert isinstance(err, TimeoutError) and str(err) == "context deadline exceeded"
        assert context.cause(c) is err
    assert live_timers() == 0


def test_canceled_timeout() -> None:
    async def main() -> None:
        c, _ = context.with_timeout(context.background(), 1.0)
        c, cancel = context.with_timeout(context.with_value(c, "k", 1), FOREVER)
        cancel()
        assert is_done(c) and isinstance(c.err(), Canceled)

    run(main)


def test_one_timer_per_deadline_stopped_by_cancel() -> None:
    async def main() -> None:
        cancels = []
        for _ in range(10):
            _, cancel = context.with_timeout(context.background(), FOREVER)
            cancels.append(cancel)
        assert live_timers() == 10
        assert g.num_goroutine() == 1  # no goroutine watches a deadline
        for cancel in cancels:
            cancel()
        assert live_timers() == 0

    run(main)


@pytest.mark.goroutines(virtual_time=True, gomaxprocs=2)
async def test_earlier_deadline_wins() -> None:
    t0 = g.now()
    parent, cancel = context.with_timeout(context.background(), 10.0)
    pd = parent.deadline()
    assert pd == t0 + 10 and g.until(pd) == 10  # time stands still while main runs
    later, _ = context.with_timeout(parent, 20.0)
    assert later.deadline() == pd
    assert type(later) is context._cancelCtx  # Go: WithCancel(parent), no timer of its own
    sooner, _ = context.with_timeout(parent, 5.0)
    sd = sooner.deadline()
    assert sd == t0 + 5
    assert context.with_value(sooner, "k", 1).deadline() == sd
    assert live_timers() == 2
    cancel()
    assert live_timers() == 0
    assert isinstance(sooner.err(), Canceled) and isinstance(later.err(), Canceled)
    # Left alone, each expires at its own deadline.
    parent, cancel = context.with_timeout(context.background(), 10.0)
    sooner, _ = context.with_timeout(parent, 5.0)
    later, _ = context.with_timeout(parent, 20.0)
    await sooner.done().recv()  # type: ignore[union-attr]
    assert g.since(t0) == 5 and parent.err() is None and live_timers() == 1
    await later.done().recv()  # type: ignore[union-attr]
    assert g.since(t0) == 10 and live_timers() == 0
    for c in (sooner, parent, later):
        assert isinstance(c.err(), DeadlineExceeded)
    cancel()


@pytest.mark.parametrize("seconds", [0, -1, -1e9, 0.0])
def test_negative_timeout_is_expired_at_once(seconds: float) -> None:
    async def main() -> None:
        parent, _ = context.with_cancel(context.background())
        c, cancel = context.with_timeout(parent, seconds)
        assert is_done(c) and isinstance(c.err(), DeadlineExceeded)
        assert children(parent) == 0 and live_timers() == 0
        cancel()
        assert isinstance(c.err(), DeadlineExceeded)  # the first cancellation stands

    run(main)


def test_expired_context_needs_no_goroutine() -> None:
    # Without a timer to arm, an expired deadline works outside the runtime, too.
    c, _ = context.with_timeout(context.background(), -1)
    assert isinstance(c.err(), DeadlineExceeded)
    with pytest.raises(RuntimeError, match=r"context.with_timeout called outside a goroutine"):
        context.with_timeout(context.background(), 1)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: context.with_timeout(context.background(), "1"), TypeError, "with_timeout"),
        (lambda: context.with_timeout(context.background(), None), TypeError, "with_timeout"),
        (lambda: context.with_timeout(context.background(), True), TypeError, "with_timeout"),
        (
            lambda: context.with_timeout(context.background(), float("nan")),
            ValueError,
            "with_timeout",
        ),
        (lambda: context.with_deadline(context.background(), "x"), TypeError, "with_deadline"),
        (
            lambda: context.with_deadline(context.background(), float("inf")),
            ValueError,
            "finite",
        ),
    ],
)
def test_bad_durations(call: Callable[[], Any], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.goroutines(virtual_time=True, gomaxprocs=2)
async def test_deadline_cancels_from_the_timer_function() -> None:
    # The timer function runs on an M outside any goroutine; what it cancels
    # wakes goroutines, starts after_func goroutines and cancels children.
    t0 = g.now()
    ctx, _ = context.with_timeout(context.background(), MINUTE)
    child, _ = context.with_cancel(ctx)
    out: g.Chan[tuple[str, float]] = g.Chan(3)

    async def note(what: str) -> None:
        await out.send((what, g.since(t0)))

    context.after_func(child, note, "after_func")

    async def waiter() -> None:
        await child.done().recv()  # type: ignore[union-attr]
        await out.send(("waiter", g.since(t0)))

    g.go(waiter)
    got = sorted([await out.recv() or ("", 0.0), await out.recv() or ("", 0.0)])
    assert got == [("after_func", MINUTE), ("waiter", MINUTE)]
    assert isinstance(child.err(), DeadlineExceeded)


# ---------------------------------------------------------------------------
# Values


class _TypedKey(int):
    """An int key equal only to keys of its own type (Go compares a key's type and value)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and int(self) == int(other)

    def __hash__(self) -> int:
        return hash((type(self), int(self)))


class Key1(_TypedKey):
    pass


class Key2(_TypedKey):
    pass


def test_values() -> None:
    # Go's TestValues, with keys that are equal ints of different types.
    k1, k2, k3 = Key1(1), Key2(1), Key2(3)

    def check(c: Context, v1: str | None, v2: str | None, v3: str | None) -> None:
        assert (c.value(k1), c.value(k2), c.value(k3)) == (v1, v2, v3)

    c0 = context.background()
    check(c0, None, None, None)
    c1 = context.with_value(c0, k1, "c1k1")
    check(c1, "c1k1", None, None)
    assert repr(c1) == "context.Background.WithValue(1, 'c1k1')"
    c2 = context.with_value(c1, k2, "c2k2")
    check(c2, "c1k1", "c2k2", None)
    c3 = context.with_value(c2, k3, "c3k3")
    check(c3, "c1k1", "c2k2", "c3k3")
    c4 = context.with_value(c3, k1, None)
    check(c4, None, "c2k2", "c3k3")
    o, _ = context.with_cancel(c4)
    check(o, None, "c2k2", "c3k3")
    o2 = context.with_value(context.without_cancel(o), k3, None)
    check(o2, None, "c2k2", None)


def test_with_value_checks_key() -> None:
    with pytest.raises(TypeError, match="not hashable"):
        context.with_value(context.background(), [1], "bar")
    with pytest.raises(TypeError, match="key is None"):
        context.with_value(context.background(), None, "bar")


class Foreign(Context):
    def _name(self) -> str:
        return "Foreign"


@pytest.mark.parametrize(
    "call",
    [
        lambda p: context.with_cancel(p),
        lambda p: context.with_cancel_cause(p),
        lambda p: context.with_deadline(p, 0.0),
        lambda p: context.with_timeout(p, -1),
        lambda p: context.with_value(p, "foo", "bar"),
        lambda p: context.without_cancel(p),
        lambda p: context.cause(p),
    ],
)
def test_invalid_parents(call: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError, match="None parent"):
        call(None)
    with pytest.raises(TypeError, match=r"not a context made by goroutines\.context"):
        call(Foreign())
    with pytest.raises(TypeError, match=r"not a context made by goroutines\.context"):
        call("background")


def test_deep_chain_has_no_recursion_limit() -> None:
    ctx: Context = context.background()
    root, cancel = context.with_cancel(ctx)
    ctx = root
    for i in range(5000):
        ctx = context.with_value(ctx, i, i) if i % 2 else context.with_cancel(ctx)[0]
    assert ctx.value(1) == 1 and ctx.deadline() is None
    cancel()
    assert isinstance(ctx.err(), Canceled) and is_done(ctx)


# ---------------------------------------------------------------------------
# Cause


class Because(Exception):
    pass


PARENT, CHILD = Because("parentCause"), Because("childCause")
TOO_SLOW, EARLY = Because("tooSlow"), Because("finishedEarly")


def _cause_cases() -> list[tuple[str, Callable[[], Context], type | None, BaseException | None]]:
    def bg() -> Context:
        return context.background()

    def cancelled() -> Context:
        ctx, cancel = context.with_cancel(bg())
        cancel()
        return ctx

    def with_cause(cause: BaseException | None) -> Callable[[], Context]:
        def f() -> Context:
            ctx, cancel = context.with_cancel_cause(bg())
            cancel(cause)
            return ctx

        return f

    def parent_before_child() -> Context:
        ctx, cancel_parent = context.with_cancel_cause(bg())
        ctx, cancel_child = context.with_cancel_cause(ctx)
        cancel_parent(PARENT)
        cancel_child(CHILD)
        return ctx

    def parent_after_child() -> Context:
        ctx, cancel_parent = context.with_cancel_cause(bg())
        ctx, cancel_child = context.with_cancel_cause(ctx)
        cancel_child(CHILD)
        cancel_parent(PARENT)
        return ctx

    def parent_cause_before_nil() -> Context:
        ctx, cancel_parent = context.with_cancel_cause(bg())
        ctx, cancel_child = context.with_cancel(ctx)
        cancel_parent(PARENT)
        cancel_child()
        return ctx

    def parent_cause_after_nil() -> Context:
        ctx, cancel_parent = context.with_cancel_cause(bg())
        ctx, cancel_child = context.with_cancel(ctx)
        cancel_child()
        cancel_parent(PARENT)
        return ctx

    def child_cause_after_nil() -> Context:
        ctx, cancel_parent = context.with_cancel(bg())
        ctx, cancel_child = context.with_cancel_cause(ctx)
        cancel_parent()
        cancel_child(CHILD)
        return ctx

    def child_cause_before_nil() -> Context:
        ctx, cancel_parent = context.with_cancel(bg())
        ctx, cancel_child = context.with_cancel_cause(ctx)
        cancel_child(CHILD)
        cancel_parent()
        return ctx

    def timeout() -> Context:
        ctx, cancel = context.with_timeout(bg(), 0)
        cancel()
        return ctx

    def timeout_canceled() -> Context:
        ctx, cancel = context.with_timeout(bg(), FOREVER)
        cancel()
        return ctx

    def timeout_cause() -> Context:
        ctx, cancel = context.with_timeout_cause(bg(), 0, TOO_SLOW)
        cancel()
        return ctx

    def timeout_cause_canceled() -> Context:
        ctx, cancel = context.with_timeout_cause(bg(), FOREVER, TOO_SLOW)
        cancel()
        return ctx

    def timeout_cause_stacked() -> Context:
        ctx, cancel = context.with_cancel_cause(bg())
        ctx, _ = context.with_timeout_cause(ctx, 0, TOO_SLOW)
        cancel(EARLY)
        return ctx

    def timeout_cause_stacked_canceled() -> Context:
        ctx, cancel = context.with_cancel_cause(bg())
        ctx, _ = context.with_timeout_cause(ctx, FOREVER, TOO_SLOW)
        cancel(EARLY)
        return ctx

    def deadline_cause_passed() -> Context:
        ctx, _ = context.with_deadline_cause(bg(), g.now() - 1, TOO_SLOW)
        return ctx

    def without_cancel_canceled() -> Context:
        ctx, cancel = context.with_cancel_cause(bg())
        ctx = context.without_cancel(ctx)
        cancel(EARLY)
        return ctx

    def without_cancel_timeout() -> Context:
        ctx, cancel = context.with_timeout_cause(bg(), 0, TOO_SLOW)
        ctx = context.without_cancel(ctx)
        cancel()
        return ctx

    def value_of_cancelled() -> Context:
        ctx, cancel = context.with_cancel_cause(bg())
        cancel(PARENT)
        return context.with_value(ctx, "k", 1)

    return [
        ("Background", bg, None, None),
        ("TODO", context.todo, None, None),
        ("WithCancel", cancelled, Canceled, None),
        ("WithCancelCause", with_cause(PARENT), Canceled, PARENT),
        ("WithCancelCause nil", with_cause(None), Canceled, None),
        ("parent cause before child", parent_before_child, Canceled, PARENT),
        ("parent cause after child", parent_after_child, Canceled, CHILD),
        ("parent cause before nil", parent_cause_before_nil, Canceled, PARENT),
        ("parent cause after nil", parent_cause_after_nil, Canceled, None),
        ("child cause after nil", child_cause_after_nil, Canceled, None),
        ("child cause before nil", child_cause_before_nil, Canceled, CHILD),
        ("WithTimeout", timeout, DeadlineExceeded, None),
        ("WithTimeout canceled", timeout_canceled, Canceled, None),
        ("WithTimeoutCause", timeout_cause, DeadlineExceeded, TOO_SLOW),
        ("WithTimeoutCause canceled", timeout_cause_canceled, Canceled, None),
        ("WithTimeoutCause stacked", timeout_cause_stacked, DeadlineExceeded, TOO_SLOW),
        ("WithTimeoutCause stacked canceled", timeout_cause_stacked_canceled, Canceled, EARLY),
        ("WithDeadlineCause passed", deadline_cause_passed, DeadlineExceeded, TOO_SLOW),
        ("WithoutCancel", lambda: context.without_cancel(bg()), None, None),
        ("WithoutCancel canceled", without_cancel_canceled, None, None),
        ("WithoutCancel timeout", without_cancel_timeout, None, None),
        ("WithValue of cancelled", value_of_cancelled, Canceled, PARENT),
    ]


@pytest.mark.parametrize(
    ("name", "make", "err", "cause"), _cause_cases(), ids=[c[0] for c in _cause_cases()]
)
def test_cause(
    name: str, make: Callable[[], Context], err: type | None, cause: BaseException | None
) -> None:
    async def main() -> None:
        ctx = make()
        e = ctx.err()
        if err is None:
            assert e is None and context.cause(ctx) is None
            return
        assert type(e) is err
        # A cause given to cancel, or else the error itself (Go: Cause == Err).
        assert context.cause(ctx) is (e if cause is None else cause)

    run(main)


def test_cancel_cause_must_be_an_exception() -> None:
    _, cancel = context.with_cancel_cause(context.background())
    with pytest.raises(TypeError, match="cause must be an exception"):
        cancel("why")


def test_cause_race() -> None:
    async def main() -> None:
        why = Because("TestCauseRace")
        ctx, cancel = context.with_cancel_cause(context.background())

        async def canceller() -> None:
            cancel(why)

        g.go(canceller)
        # Poll cause rather than waiting for done: its own access must be synchronised.
        while (c := context.cause(ctx)) is None:
            await g.gosched()
        assert c is why

    run(main, gomaxprocs=4)


def test_with_cancel_canceled_parent() -> None:
    parent, pcancel = context.with_cancel_cause(context.background())
    pcancel(PARENT)
    c, _ = context.with_cancel(parent)
    assert is_done(c) and isinstance(c.err(), Canceled)
    assert context.cause(c) is PARENT


@pytest.mark.parametrize("seed", SEEDS)
def test_with_cancel_simultaneously_canceled_parent(seed: int) -> None:
    async def main() -> None:
        for _ in range(100):
            parent, pcancel = context.with_cancel_cause(context.background())
            why = Because("Because!")
            g.go(_call, pcancel, why)
            c, _ = context.with_cancel(parent)
            await c.done().recv()  # type: ignore[union-attr]
            assert isinstance(c.err(), Canceled)
            assert context.cause(c) is why
            assert children(parent) == 0

    run(main, gomaxprocs=4)


async def _call(f: Callable[..., Any], *args: Any) -> None:
    f(*args)


# ---------------------------------------------------------------------------
# without_cancel


def test_without_cancel() -> None:
    async def main() -> None:
        parent, cancel = context.with_timeout(context.with_value(context.background(), "k", "v"), 1)
        ctx = context.without_cancel(parent)
        assert ctx.deadline() is None and ctx.done() is None and ctx.err() is None
        assert ctx.value("k") == "v"
        assert repr(ctx).endswith(".WithoutCancel")
        child, cancel_child = context.with_cancel(ctx)
        cancel()
        assert isinstance(parent.err(), Canceled)
        assert ctx.err() is None and child.err() is None  # cut off from parent
        cancel_child()
        assert isinstance(child.err(), Canceled)

    run(main)


# ---------------------------------------------------------------------------
# after_func


def test_after_func_called_after_cancel() -> None:
    async def main() -> None:
        ctx, cancel = context.with_cancel(context.background())
        donec: g.Chan[None] = g.Chan()

        async def f() -> None:
            donec.close()

        stop = context.after_func(ctx, f)
        for _ in range(20):
            await g.gosched()
        assert g.num_goroutine() == 1  # nothing runs, nothing waits, until ctx is done
        cancel()
        await donec.recv()
        assert stop() is False  # f has been started
        assert stop() is False

    run(main)


@pytest.mark.goroutines(virtual_time=True, gomaxprocs=2)
async def test_after_func_called_after_timeout() -> None:
    t0 = g.now()
    ctx, cancel = context.with_timeout(context.background(), MINUTE)
    donec: g.Chan[tuple[str, float]] = g.Chan()

    async def f(x: str) -> None:
        await donec.send((x, g.since(t0)))

    context.after_func(ctx, f, "timed out")
    assert await donec.recv() == ("timed out", MINUTE)
    cancel()


def test_after_func_called_immediately() -> None:
    async def main() -> None:
        ctx, cancel = context.with_cancel(context.background())
        cancel()
        donec: g.Chan[None] = g.Chan()

        async def f() -> None:
            donec.close()

        stop = context.after_func(ctx, f)
        await donec.recv()
        assert stop() is False

    run(main)


def test_after_func_not_called_after_stop() -> None:
    called = Counter()

    async def main() -> None:
        ctx, cancel = context.with_cancel(context.background())

        async def f() -> None:
            called.add(1)

        stop = context.after_func(ctx, f)
        assert children(ctx) == 1
        assert stop() is True
        assert children(ctx) == 0  # stop unregisters it
        cancel()
        for _ in range(20):
            await g.gosched()
        assert stop() is False  # stopped already

    run(main)
    assert called.value == 0


def test_after_func_called_asynchronously() -> None:
    # Cancelling does not wait for f: f blocks until main, after cancel, receives.
    async def main() -> None:
        ctx, cancel = context.with_cancel(context.background())
        donec: g.Chan[None] = g.Chan()

        async def f() -> None:
            await donec.send(None)

        stop = context.after_func(ctx, f)
        cancel()
        await donec.recv()
        stop()

    run(main)


def test_after_func_never_called_for_background() -> None:
    async def main() -> bool:
        async def f() -> None:
            raise AssertionError("called")

        stop = context.after_func(context.background(), f)
        return stop()

    assert run(main) is True


def test_after_func_started_by_a_plain_thread() -> None:
    async def main() -> int:
        ctx, cancel = context.with_cancel(context.background())
        out: g.Chan[int] = g.Chan()

        async def f(x: int) -> None:
            await out.send(x)

        context.after_func(ctx, f, 7)
        t = threading.Thread(target=cancel)
        t.start()
        await g.syscall(t.join)  # f starts meanwhile, from the thread (see above)
        return await out.recv() or 0

    assert run(main) == 7


def test_after_func_bad_arguments() -> None:
    async def main() -> None:
        def plain() -> None:
            pass

        async def one(x: int) -> None:
            pass

        with pytest.raises(TypeError, match="async def"):
            context.after_func(context.background(), plain)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="cannot be called with"):
            context.after_func(context.background(), one, 1, 2)

    run(main)
    with pytest.raises(RuntimeError, match="outside a goroutine"):
        context.after_func(context.background(), _call)


def test_after_func_goroutine_names_its_creator() -> None:
    async def main() -> str:
        ctx, cancel = context.with_cancel(context.background())
        parked: g.Chan[None] = g.Chan()

        async def f() -> None:
            await parked.recv()

        context.after_func(ctx, f)
        cancel()
        await wait_until(lambda: g.num_goroutine() == 2)
        dump = g.dump_goroutines()
        parked.close()
        return dump

    dump = run(main)
    assert (
        "created by test_after_func_goroutine_names_its_creator.<locals>.main in goroutine 1"
        in dump
    )


# ---------------------------------------------------------------------------
# Many contexts at once


def _tree(root: Context, size: int) -> dict[Context, Callable[[], None]]:
    """A tree of with_cancel contexts, four children each, breadth first (Go's test)."""
    m: dict[Context, Callable[[], None]] = {}
    q = [root]
    while q and len(m) < size:
        parent = q.pop(0)
        for _ in range(4):
            ctx, cancel = context.with_cancel(parent)
            m[ctx] = cancel
            q.append(ctx)
    return m


@pytest.mark.parametrize("seed", SEEDS)
def test_simultaneous_cancels(seed: int) -> None:
    fired = Counter()

    async def main() -> None:
        rng = random.Random(seed)
        root, cancel = context.with_cancel(context.background())
        m = _tree(root, 100)
        m[root] = cancel
        for ctx in m:
            context._after(ctx, lambda: fired.add(1))
        wg = g.WaitGroup()
        threads = []
        cancels = list(m.values())
        rng.shuffle(cancels)
        for i, c in enumerate(cancels):
            if i % 5 == 0:  # some from plain threads, the rest from goroutines
                threads.append(threading.Thread(target=c))
            else:
                wg.add(1)
                g.go(_call_done, c, wg)
        for t in threads:
            t.start()
        for t in threads:  # in a syscall, so that waiting for threads is no deadlock
            await g.syscall(t.join)
        keys = list(m)
        rng.shuffle(keys)
        for ctx in keys:
            await ctx.done().recv()  # type: ignore[union-attr]
        await wg.wait()
        assert all(children(c) == 0 for c in m)

    run(main, gomaxprocs=4)
    assert fired.value == 101  # every context's hook ran exactly once


async def _call_done(f: Callable[[], None], wg: g.WaitGroup) -> None:
    f()
    wg.done()


@pytest.mark.parametrize("seed", SEEDS)
def test_children_made_while_the_deadline_fires(seed: int) -> None:
    # 8 goroutines on 4 Ps derive contexts (with timers, hooks, grandchildren)
    # from a parent while its deadline timer cancels it on some M, and cancel
    # some of them themselves: every hook runs exactly once, nothing stays
    # registered, no timer is left.
    made, fired = Counter(), Counter()

    async def main() -> None:
        parent, cancel_parent = context.with_timeout(context.background(), 0.02)
        wg = g.WaitGroup()

        async def deriver(i: int) -> None:
            rng = random.Random(seed * 100 + i)
            while True:
                done = is_done(parent)
                if rng.random() < 0.5:
                    c, cancel = context.with_timeout(parent, FOREVER)
                else:
                    c, cancel = context.with_cancel(parent)
                grandchild, _ = context.with_cancel(c)
                for x in (c, grandchild):
                    made.add(1)
                    context._after(x, lambda: fired.add(1))
                if rng.random() < 0.3:
                    cancel()
                if done:  # one round after the parent was seen done
                    assert isinstance(c.err(), Canceled | DeadlineExceeded)
                    assert is_done(grandchild)
                    break
                if rng.random() < 0.2:
                    await g.gosched()
            wg.done()

        wg.add(8)
        for i in range(8):
            g.go(deriver, i)
        await wg.wait()
        assert isinstance(parent.err(), DeadlineExceeded)
        assert children(parent) == 0 and live_timers() == 0
        cancel_parent()

    run(main, gomaxprocs=4)
    assert fired.value == made.value


def test_interlocked_cancels() -> None:
    async def main() -> None:
        parent, cancel_parent = context.with_cancel(context.background())
        child, cancel_child = context.with_cancel(parent)

        async def f() -> None:
            await parent.done().recv()  # type: ignore[union-attr]
            cancel_child()

        g.go(f)
        cancel_parent()
        await child.done().recv()  # type: ignore[union-attr]

    run(main, gomaxprocs=4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("timeout", [False, True])
@pytest.mark.goroutines(virtual_time=True, gomaxprocs=2)
async def test_layers(seed: int, timeout: bool) -> None:
    rng = random.Random(seed)
    t0 = g.now()
    vals: list[object] = []
    cancels: list[Callable[[], None]] = []
    timers = 0
    ctx = context.background()
    i = 0
    while i < 30 or timers == 0 or not cancels or not vals:
        i += 1
        r = rng.randrange(3)
        if r == 0:
            v = object()
            ctx = context.with_value(ctx, v, v)
            vals.append(v)
        elif r == 1:
            ctx, cancel = context.with_cancel(ctx)
            cancels.append(cancel)
        else:
            ctx, cancel = context.with_timeout(ctx, MINUTE if timeout else FOREVER)
            cancels.append(cancel)
            timers += 1
    assert repr(ctx).startswith("context.Background.")

    def check_values() -> None:
        for v in vals:
            assert ctx.value(v) is v

    assert not is_done(ctx)  # a deadline too: virtual time stands still meanwhile
    check_values()
    if timeout:
        await ctx.done().recv()  # type: ignore[union-attr]
        assert isinstance(ctx.err(), DeadlineExceeded)
        assert g.since(t0) == MINUTE
    else:
        rng.choice(cancels)()
        assert is_done(ctx) and isinstance(ctx.err(), Canceled)
    check_values()
    for cancel in cancels:
        cancel()
    assert live_timers() == 0


# ---------------------------------------------------------------------------
# Memory: a long-lived parent does not keep its cancelled children


@pytest.mark.timeout(120)
def test_cancelled_children_leave_the_parent() -> None:
    async def main() -> None:
        parent, cancel_parent = context.with_cancel(context.background())
        for _ in range(100_000):
            _, cancel = context.with_cancel(parent)
            cancel()
        assert children(parent) == 0
        for _ in range(10_000):
            _, cancel = context.with_timeout(parent, FOREVER)
            cancel()
        assert children(parent) == 0 and live_timers() == 0
        # And with nothing registered in between, memory stays flat.
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(20_000):
                c, cancel = context.with_timeout(parent, FOREVER)
                _, cancel2 = context.with_cancel(c)
                stop = context._after(c, lambda: None)
                if i % 2:
                    stop()
                cancel2()
                cancel()
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        # One leaked context of each kind per round would be megabytes.
        assert grown < 256 * 1024, grown
        assert children(parent) == 0 and live_timers() == 0
        cancel_parent()

    run(main, gomaxprocs=1)


# ---------------------------------------------------------------------------
# A model of random trees (hypothesis)

# A tree: node i > 0 has parent parents[i] < i and a kind; node 0 is background().
kinds = st.sampled_from(["cancel", "cause", "timeout", "value", "without"])


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[int], list[str], list[int]]:
    n = draw(st.integers(1, 25))
    parents = [0] + [draw(st.integers(0, i - 1)) for i in range(1, n + 1)]
    ks = ["root"] + [draw(kinds) for _ in range(n)]
    order = draw(st.permutations(range(1, n + 1)))
    k = draw(st.integers(0, n))
    return parents, ks, list(order[:k])


@pytest.mark.timeout(60)
@settings(max_examples=60, deadline=None)
@given(tree=trees())
def test_random_trees_cancel_like_the_model(tree: tuple[list[int], list[str], list[int]]) -> None:
    parents, kinds_, order = tree
    n = len(parents) - 1

    def bump(counts: list[int], i: int) -> None:
        counts[i] += 1

    async def main() -> None:
        ctxs: list[Context] = [context.background()]
        cancels: list[Callable[[], None] | None] = [None]
        causes: list[BaseException | None] = [None]
        fired = [0] * (n + 1)
        for i in range(1, n + 1):
            p, kind = ctxs[parents[i]], kinds_[i]
            why: BaseException | None = None
            cancel: Callable[[], None] | None = None
            if kind == "cancel":
                c, cancel = context.with_cancel(p)
            elif kind == "cause":
                why = Because(f"node {i}")
                c, cc = context.with_cancel_cause(p)
                cancel = functools.partial(cc, why)
            elif kind == "timeout":
                c, cancel = context.with_timeout(p, FOREVER)
            elif kind == "value":
                c = context.with_value(p, i, i)
            else:
                c = context.without_cancel(p)
            ctxs.append(c)
            cancels.append(cancel)
            causes.append(why)
            context._after(c, functools.partial(bump, fired, i))

        # The model: which cancel reached a node first (None: still live).
        first: list[int | None] = [None] * (n + 1)

        def cancellable_ancestor(i: int) -> int | None:
            """The nearest node at or above i whose cancellation reaches i."""
            while i != 0:
                if kinds_[i] in ("cancel", "cause", "timeout"):
                    return i
                if kinds_[i] == "without":
                    return None
                i = parents[i]
            return None

        def reached_by(j: int) -> list[int]:
            return [i for i in range(1, n + 1) if j in path(i)]

        def path(i: int) -> list[int]:
            """The cancellable nodes whose cancellation reaches i (itself included)."""
            out = []
            a = cancellable_ancestor(i)
            while a is not None:
                out.append(a)
                a = cancellable_ancestor(parents[a])
            return out

        for j in order:
            cancel = cancels[j]
            if cancel is None:
                continue
            cancel()
            for i in reached_by(j):
                if first[i] is None:
                    first[i] = j

        for i in range(1, n + 1):
            c = ctxs[i]
            j = first[i]
            if j is None:
                assert c.err() is None and context.cause(c) is None, i
                assert not is_done(c) and fired[i] == 0
            else:
                assert isinstance(c.err(), Canceled), i
                assert context.cause(c) is (causes[j] or c.err()), i
                assert fired[i] == 1, (i, fired[i])
                if isinstance(c, context._cancelCtx):
                    assert children(c) == 0
        # Every live cancellable node holds exactly its live registrations.
        for i in range(1, n + 1):
            c = ctxs[i]
            if isinstance(c, context._cancelCtx) and first[i] is None:
                kids = [
                    k
                    for k in range(1, n + 1)
                    if first[k] is None
                    and kinds_[k] in ("cancel", "cause", "timeout")
                    and cancellable_ancestor(parents[k]) == i
                ]
                # Plus the _after registration of every node that reaches i.
                hooks = [
                    k for k in range(1, n + 1) if first[k] is None and cancellable_ancestor(k) == i
                ]
                assert children(c) == len(kids) + len(hooks), i
        # Cancelling everything left leaves nothing registered and no timer.
        for cancel in cancels:
            if cancel is not None:
                cancel()
        assert all(fired[i] == (1 if cancellable_ancestor(i) else 0) for i in range(1, n + 1))
        assert live_timers() == 0

    run(main, gomaxprocs=1)


# ---------------------------------------------------------------------------
# Contexts in goroutines.net


def test_server_shuts_down_cleanly_on_cancel() -> None:
    async def main() -> list[str]:
        ctx, cancel = context.with_cancel_cause(context.background())
        ln = await net.listen("127.0.0.1", 0)
        ln.set_context(ctx)
        ended: g.Chan[str] = g.Chan(10)
        wg = g.WaitGroup()

        async def handle(conn: net.Conn) -> None:
            try:
                while data := await conn.read(100):
                    await conn.write(data)
            except Canceled as e:
                await ended.send(f"reader {type(e.__cause__).__name__}")
            finally:
                conn.close()
                wg.done()

        async def serve() -> None:
            try:
                while True:
                    conn = await ln.accept()
                    conn.set_context(ctx)
                    wg.add(1)
                    g.go(handle, conn)
            except Canceled:
                await ended.send("accept")
            finally:
                ln.close()
                wg.done()

        wg.add(1)
        g.go(serve)
        clients = [await net.dial(*ln.addr) for _ in range(3)]
        for c in clients:
            await c.write(b"ping")
            assert await c.read_exactly(4) == b"ping"
        assert g.num_goroutine() == 5  # main, serve, three readers parked
        cancel(Because("shutdown"))
        await wg.wait()
        for c in clients:
            assert await c.read(10) == b""  # the server closed its end
            c.close()
        await wait_until(lambda: g.num_goroutine() == 1)
        return sorted([await ended.recv() or "" for _ in range(4)])

    assert run(main) == ["accept"] + ["reader Because"] * 3


def test_conn_context_deadline_is_a_timeout() -> None:
    async def main() -> None:
        ln = await net.listen("127.0.0.1", 0)
        c = await net.dial(*ln.addr)
        s = await ln.accept()
        ctx, cancel = context.with_timeout(context.background(), SHORT)
        s.set_context(ctx)
        with pytest.raises(DeadlineExceeded) as info:
            await s.read(10)
        assert isinstance(info.value, TimeoutError)
        assert info.value is not ctx.err()  # a copy: ctx.err() is shared
        with pytest.raises(DeadlineExceeded):  # and every later operation
            await s.write(b"x")
        # set_context(None) detaches; a new deadline replaces the past one.
        s.set_context(None)
        s.set_deadline(None)
        await c.write(b"hi")
        assert await s.read(10) == b"hi"
        cancel()
        for x in (c, s, ln):
            x.close()
        with pytest.raises(OSError, match="closed"):
            s.set_context(ctx)

    run(main)


def test_conn_user_deadline_stays_a_plain_timeout() -> None:
    async def main() -> None:
        ln = await net.listen("127.0.0.1", 0)
        c = await net.dial(*ln.addr)
        s = await ln.accept()
        ctx, cancel = context.with_cancel(context.background())
        s.set_context(ctx)
        c.set_context(ctx)
        assert children(ctx) == 2
        c.set_context(None)  # detaches
        assert children(ctx) == 1
        s.set_deadline(SHORT)
        with pytest.raises(TimeoutError, match="i/o timeout") as info:
            await s.read(10)
        assert not isinstance(info.value, DeadlineExceeded)
        for x in (c, s, ln):
            x.close()
        assert children(ctx) == 0  # close() dropped the registration
        cancel()

    run(main)


def test_dial_with_a_done_context() -> None:
    async def main() -> None:
        ctx, cancel = context.with_cancel(context.background())
        cancel()
        with pytest.raises(Canceled):
            await net.dial("127.0.0.1", 9, ctx=ctx)
        ctx, _ = context.with_timeout(context.background(), -1)
        with pytest.raises(DeadlineExceeded):
            await net.dial("127.0.0.1", 9, ctx=ctx)
        with pytest.raises(TypeError, match="not a context"):
            await net.dial("127.0.0.1", 9, ctx="ctx")  # type: ignore[arg-type]

    run(main)


def test_dial_interrupted_by_the_context_deadline() -> None:
    # A listener whose accept queue is full drops SYNs: connect hangs until
    # the context's deadline (on loopback only).
    backlog = socket.socket()
    backlog.bind(("127.0.0.1", 0))
    backlog.listen(0)
    addr = backlog.getsockname()

    async def main() -> None:
        conns: list[net.Conn] = []
        try:
            for _ in range(16):
                ctx, cancel = context.with_timeout(context.background(), 0.2)
                try:
                    conns.append(await net.dial(*addr, timeout=FOREVER, ctx=ctx))
                except DeadlineExceeded as e:
                    assert f"dial tcp 127.0.0.1:{addr[1]}" in e.__notes__[0]
                    return
                finally:
                    cancel()
            raise AssertionError("no dial blocked")
        finally:
            for c in conns:
                c.close()

    try:
        run(main)
    finally:
        backlog.close()


def test_dial_interrupted_by_cancel() -> None:
    backlog = socket.socket()
    backlog.bind(("127.0.0.1", 0))
    backlog.listen(0)
    addr = backlog.getsockname()

    async def dialer(ctx: Context, conns: list[net.Conn], out: g.Chan[str]) -> None:
        try:
            conns.append(await net.dial(*addr, ctx=ctx))
            await out.send("connected")
        except Canceled as e:
            assert isinstance(e.__cause__, Because)  # the cause given to cancel
            await out.send("canceled")

    async def main() -> list[str]:
        conns: list[net.Conn] = []
        out: g.Chan[str] = g.Chan(1)
        got = []
        try:
            for _ in range(16):
                ctx, cancel = context.with_cancel_cause(context.background())
                g.go(dialer, ctx, conns, out)
                # Until the dial has connected, or waits in the poller: then cancel.
                while True:
                    v, ok = out.try_recv()
                    if ok:
                        break
                    if "[IO wait]" in g.dump_goroutines():
                        cancel(Because("enough"))
                        v = await out.recv()
                        break
                    await g.gosched()
                cancel()
                got.append(v or "")
                if v == "canceled":
                    ln = await net.listen("127.0.0.1", 0)  # dialing still works after
                    (await net.dial(*ln.addr)).close()
                    ln.close()
                    return got
            raise AssertionError("no dial blocked")
        finally:
            for c in conns:
                c.close()

    try:
        got = run(main)
    finally:
        backlog.close()
    assert got[-1] == "canceled" and set(got[:-1]) <= {"connected"}


def test_dial_with_a_live_context_outlives_it() -> None:
    async def main() -> bytes:
        ln = await net.listen("127.0.0.1", 0)
        ctx, cancel = context.with_cancel(context.background())
        c = await net.dial(*ln.addr, ctx=ctx)
        s = await ln.accept()
        assert children(ctx) == 0  # the dial dropped its registration
        cancel()
        await c.write(b"still up")  # as Go's DialContext: ctx bounds the dial only
        data = await s.read_exactly(8)
        for x in (c, s, ln):
            x.close()
        return data

    assert run(main) == b"still up"
