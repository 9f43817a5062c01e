"""Package context: cancellation, deadlines and values across goroutines (Go's context).

A Context carries a cancellation signal, a deadline and request-scoped values
through a program. Contexts form a tree: every context but the roots
(`background()`, `todo()`) is derived from a parent, and cancelling a context
cancels every context derived from it, exactly once each.

    background()                       never cancelled; done() is None (nil)
      with_value(ctx, key, val)        a value, looked up the chain by value()
      with_cancel(ctx)                 a _cancelCtx: done channel, err, children
        with_timeout(ctx, seconds)     a _timerCtx: a _cancelCtx plus one timer
          after_func(ctx, fn)          an _afterFuncCtx: starts fn when done
      without_cancel(ctx)              values only: cuts the cancellation chain

The parts, as in Go's context.go:

  * A _cancelCtx registers itself in the `_children` of its nearest
    cancellable ancestor (`propagateCancel`); value and without-cancel contexts
    hold nothing of their own and are skipped over. Cancelling sets `_err` and
    `_cause`, closes the done channel (made lazily, as Go's, by the first
    done() call; a context cancelled before anyone asked gets the one shared
    closed channel), takes the children out and cancels them with the same
    error and cause. The context that was cancelled directly (its cancel
    function, its deadline) then removes itself from its parent's children,
    so a cancelled subtree leaves nothing registered: a long-lived parent does
    not grow with the contexts derived from it and cancelled.
  * A context with a deadline costs one runtime timer (runtime/timers.py, as
    Go's time.AfterFunc does), no goroutine and no thread. The timer function
    runs on whichever M runs the P's due timers, outside any goroutine, and
    cancels with DeadlineExceeded: cancelling never blocks (a channel close
    readies its receivers with goready, which works from an M or a thread).
    Cancellation stops the timer (deltimer), whoever cancels.
  * after_func(ctx, fn) is a child that runs no goroutine until ctx is done;
    then its hook starts fn as a goroutine of the run that called after_func,
    from whatever thread cancelled.

Locks. Every context has its own lock (Go's `mu`), which guards its done
channel, err, cause, children and timer: all of them are read and written under
it, which free-threaded CPython needs. No code holds two contexts' locks at
once: Go cancels a child while it holds the parent's lock (parent before
child); here a cancel takes the children out of the parent under the parent's
lock, releases it, and cancels them one by one with a work list (which also
keeps a deep chain of contexts from exhausting Python's recursion limit). A
context's err is set before its lock is released, so a child registering
concurrently either lands in the children that the cancel takes out, or finds
err set and cancels itself. Hooks (stopping a timer, starting an after_func
goroutine, waking a network operation) run after every lock is released.

Errors. `ctx.err()` is None until the context is done, then an instance of
Canceled or DeadlineExceeded (also a TimeoutError). One cancellation shares its
error instance with the subtree it cancels, as Go shares its sentinel errors;
`cause(ctx)` returns the cause given to a with_cancel_cause cancel function
(or with_deadline_cause's), else err.

Only contexts made by this module can be parents: Go accepts any implementation
of its Context interface and watches a foreign parent with a goroutine; here a
foreign object is a TypeError that says so.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection, Coroutine
from typing import Any

from .chan import Chan
from .runtime import timers
from .runtime.proc import acquire_g
from .runtime.runtime2 import _tls
from .runtime.timers import addtimer, deltimer, durationns, timer
from .time import _GoFunc

__all__ = [
    "CancelCauseFunc",
    "CancelFunc",
    "Canceled",
    "Context",
    "DeadlineExceeded",
    "after_func",
    "background",
    "cause",
    "todo",
    "with_cancel",
    "with_cancel_cause",
    "with_deadline",
    "with_deadline_cause",
    "with_timeout",
    "with_timeout_cause",
    "with_value",
    "without_cancel",
]


# Every cancellation makes one of these, so they keep the C constructor: a
# Python __init__ for the message would cost more than the rest of a cancel's
# bookkeeping on a context without children. The message comes from __str__.


class Canceled(Exception):
    """ctx.err() of a context cancelled by a cancel function (Go's context.Canceled)."""

    def __str__(self) -> str:
        return super().__str__() if self.args else "context canceled"


class DeadlineExceeded(TimeoutError):
    """ctx.err() of a context whose deadline passed (Go's context.DeadlineExceeded)."""

    def __str__(self) -> str:
        return super().__str__() if self.args else "context deadline exceeded"


CancelFunc = Callable[[], None]
CancelCauseFunc = Callable[..., None]  # cancel(cause: BaseException | None = None)

ContextError = Canceled | DeadlineExceeded


# ---------------------------------------------------------------------------
# The Context type and its implementations


class Context:
    """What every context answers (Go's Context interface); make them with this module's functions.

    done() is a channel closed when the context is cancelled, or None (Go's nil
    channel, never ready) for a context that cannot be; err() is None until
    then, and then why; deadline() is when it will be cancelled on the now()
    clock, if it has one; value(key) is the nearest value up the chain.
    """

    __slots__ = ()

    def deadline(self) -> float | None:
        """When this context will be cancelled (a now() reading), or None."""
        d = _deadline_ns(self)
        return None if d is None else d / 1e9

    def done(self) -> Chan[None] | None:
        """A channel closed when this context is done, or None if it never can be."""
        return None

    def err(self) -> ContextError | None:
        """None until done() is closed, then Canceled or DeadlineExceeded."""
        return None

    def value(self, key: object) -> Any:
        """The value of the nearest with_value(..., key, value) up the chain, else None."""
        c: Context | None = self
        while c is not None:
            if type(c) is _valueCtx and (c._key is key or c._key == key):
                return c._val
            c = c._parent
        return None

    @property
    def _parent(self) -> Context | None:
        """The context this one was derived from (None for the roots)."""
        return None

    def __repr__(self) -> str:
        # Go's String(): the chain from the root down, e.g.
        # context.Background.WithValue('k', 1).WithCancel
        parts = []
        c: Context | None = self
        while c is not None:
            parts.append(c._name())
            c = c._parent
        return ".".join(reversed(parts))

    def _name(self) -> str:
        raise NotImplementedError


class _emptyCtx(Context):
    """background() and todo(): never cancelled, no values, no deadline."""

    __slots__ = ("_label",)

    def __init__(self, label: str) -> None:
        self._label = label

    def _name(self) -> str:
        return self._label


_background = _emptyCtx("context.Background")
_todo = _emptyCtx("context.TODO")


def background() -> Context:
    """The root of every context tree: never cancelled, no deadline, no values."""
    return _background


def todo() -> Context:
    """A root for code that has not decided which context to use yet (Go's TODO)."""
    return _todo


# The done channel of a context that was cancelled before anyone asked for it.
_closedchan: Chan[None] = Chan()
_closedchan.close()


class _cancelCtx(Context):
    """A context that can be cancelled (Go's cancelCtx); everything below _mu is under it."""

    __slots__ = ("_cause", "_children", "_done", "_err", "_mu", "_p", "_pc")

    def __init__(self, parent: Context) -> None:
        self._p = parent
        self._pc: _cancelCtx | None = None  # our registration: the nearest cancellable ancestor
        self._mu = threading.Lock()
        self._done: Chan[None] | None = None  # made by the first done() or cancel
        self._children: dict[_cancelCtx, None] | None = None  # None when empty or cancelled
        self._err: ContextError | None = None
        self._cause: BaseException | None = None

    @property
    def _parent(self) -> Context:
        return self._p

    def _name(self) -> str:
        return "WithCancel"

    def done(self) -> Chan[None]:
        """The channel closed on cancellation: the same object on every call."""
        self._mu.acquire()
        try:
            d = self._done
            if d is None:
                # cancel() sets _done when it sets _err: here the context is live.
                d = self._done = Chan()
            return d
        finally:
            self._mu.release()

    def err(self) -> ContextError | None:
        """None until cancelled, then Canceled or DeadlineExceeded."""
        self._mu.acquire()
        try:
            return self._err
        finally:
            self._mu.release()

    def _propagate(self, parent: Context) -> None:
        """Arrange to be cancelled when parent is (Go's propagateCancel)."""
        p = parent if isinstance(parent, _cancelCtx) else _parentCancelCtx(parent)
        if p is None:
            return  # parent is never cancelled
        self._pc = p
        mu = p._mu
        mu.acquire()
        try:
            err = p._err
            if err is None:
                if p._children is None:
                    p._children = {}
                p._children[self] = None
                return
            cause = p._cause
        finally:
            mu.release()
        self._cancel(False, err, cause)  # parent has already been cancelled

    def _cancel(
        self, removeFromParent: bool, err: ContextError, cause: BaseException | None
    ) -> None:
        """Cancel self and, with the same err and cause, every descendant (Go's cancel).

        Each context is cancelled under its own lock only, the descendants
        from a work list; the hooks of those that this call cancelled run
        once no lock is held.
        """
        if cause is None:
            cause = err
        children = self._cancel1(err, cause)
        if children is None:
            return  # already cancelled
        if children:
            canceled: list[_cancelCtx] = []
            work = list(children)
            while work:
                c = work.pop()
                kids = c._cancel1(err, cause)
                if kids is not None:
                    canceled.append(c)
                    work.extend(kids)
            for c in canceled:
                c._canceled()
        if removeFromParent:
            self._remove()
        self._canceled()

    def _cancel1(self, err: ContextError, cause: BaseException) -> Collection[_cancelCtx] | None:
        """Cancel this context alone: its children, to cancel next; None if it was already."""
        mu = self._mu
        mu.acquire()
        try:
            if self._err is not None:
                return None
            self._err = err
            self._cause = cause
            d = self._done
            if d is None:
                self._done = _closedchan
            else:
                d.close()
            children, self._children = self._children, None
        finally:
            mu.release()
        return () if children is None else children

    def _remove(self) -> None:
        """Leave the parent's children (Go's removeChild)."""
        p = self._pc
        if p is not None:
            mu = p._mu
            mu.acquire()
            try:
                if p._children is not None:
                    p._children.pop(self, None)
            finally:
                mu.release()

    def _canceled(self) -> None:
        """What to do once cancelled, with no lock held (nothing, for a plain cancelCtx)."""


class _timerCtx(_cancelCtx):
    """A _cancelCtx with a deadline and the runtime timer that enforces it (Go's timerCtx)."""

    __slots__ = ("_dcause", "_deadline", "_timer")

    def __init__(self, parent: Context, when: int, cause: BaseException | None) -> None:
        super().__init__(parent)
        self._deadline = when  # nanotime
        self._dcause = cause  # the cause when the deadline passes
        self._timer: timer | None = None  # under _mu

    def _name(self) -> str:
        left = (self._deadline - timers.now()) / 1e9
        return f"WithDeadline({self._deadline / 1e9:.6f} [{left:.6f}s])"

    def _canceled(self) -> None:
        """Stop the timer: a cancelled context keeps none (Go's timerCtx.cancel)."""
        self._mu.acquire()
        t, self._timer = self._timer, None
        self._mu.release()
        if t is not None:
            deltimer(t)


def _deadlineFired(c: _timerCtx, seq: int, delay: int) -> None:
    """The timer function of a context's deadline, on an M outside any goroutine."""
    c._cancel(True, DeadlineExceeded(), c._dcause)


class _valueCtx(Context):
    """One key-value pair; everything else comes from the parent (Go's valueCtx)."""

    __slots__ = ("_key", "_p", "_val")

    def __init__(self, parent: Context, key: object, val: Any) -> None:
        self._p = parent
        self._key = key
        self._val = val

    @property
    def _parent(self) -> Context:
        return self._p

    def _name(self) -> str:
        return f"WithValue({self._key!r}, {self._val!r})"

    def done(self) -> Chan[None] | None:
        pc = _parentCancelCtx(self._p)
        return None if pc is None else pc.done()

    def err(self) -> ContextError | None:
        pc = _parentCancelCtx(self._p)
        return None if pc is None else pc.err()


class _withoutCancelCtx(Context):
    """The parent's values without its cancellation or deadline (Go's withoutCancelCtx)."""

    __slots__ = ("_p",)

    def __init__(self, parent: Context) -> None:
        self._p = parent

    @property
    def _parent(self) -> Context:
        return self._p

    def _name(self) -> str:
        return "WithoutCancel"


class _afterFuncCtx(_cancelCtx):
    """A child that calls f once its parent is done, unless stopped first (Go's afterFuncCtx).

    f runs with no lock held, on the thread that cancelled. `_once` (under
    _mu) is Go's sync.Once shared by the cancel and stop paths: whichever
    sets it first decides whether f runs.
    """

    __slots__ = ("_f", "_once")

    def __init__(self, parent: Context, f: Callable[[], None]) -> None:
        super().__init__(parent)
        self._f = f
        self._once = False

    def _name(self) -> str:
        return "AfterFunc"

    def _canceled(self) -> None:
        with self._mu:
            if self._once:
                return
            self._once = True
        self._f()

    def stop(self) -> bool:
        """Stop f from being started: True if this call stopped it (Go's stop func)."""
        with self._mu:
            if self._once:
                return False
            self._once = True
        self._cancel(True, Canceled(), None)
        return True


def _parentCancelCtx(parent: Context) -> _cancelCtx | None:
    """The nearest cancellable context up the chain, or None (Go's parentCancelCtx)."""
    c: Context | None = parent
    while c is not None:
        if isinstance(c, _cancelCtx):
            return c
        if type(c) is _withoutCancelCtx:
            return None
        c = c._parent
    return None


def _deadline_ns(ctx: Context) -> int | None:
    """The deadline in nanotime of the nearest timerCtx up the chain, or None."""
    c: Context | None = ctx
    while c is not None:
        if type(c) is _timerCtx:
            return c._deadline
        if type(c) is _withoutCancelCtx:
            return None
        c = c._parent
    return None


_OURS = (_emptyCtx, _cancelCtx, _valueCtx, _withoutCancelCtx)


def _check(ctx: object, what: str) -> Context:
    """ctx if it is one of ours, else a TypeError naming `what` (Go panics on a nil parent)."""
    if isinstance(ctx, _OURS) and not isinstance(ctx, _afterFuncCtx):
        return ctx
    if ctx is None:
        raise TypeError(f"{what}: cannot create context from None parent: use background()")
    raise TypeError(
        f"{what}: {ctx!r} is not a context made by goroutines.context (background(), "
        "with_cancel(), ...): other Context implementations are not supported"
    )


# ---------------------------------------------------------------------------
# Deriving contexts


def with_cancel(parent: Context) -> tuple[Context, CancelFunc]:
    """A child of parent and its cancel function (Go's WithCancel).

    cancel() (idempotent, from any goroutine or thread) cancels the child and
    its descendants and releases what they hold; cancelling parent does too.
    """
    c = _cancelCtx(_check(parent, "with_cancel"))
    c._propagate(parent)

    def cancel() -> None:
        c._cancel(True, Canceled(), None)

    return c, cancel


def with_cancel_cause(parent: Context) -> tuple[Context, CancelCauseFunc]:
    """with_cancel whose cancel(cause) records why; cause(ctx) returns it (Go's WithCancelCause).

    cancel(None) or cancel() records Canceled, as the plain cancel function does.
    """
    c = _cancelCtx(_check(parent, "with_cancel_cause"))
    c._propagate(parent)

    def cancel(cause: BaseException | None = None) -> None:
        if cause is not None and not isinstance(cause, BaseException):
            raise TypeError(f"cancel(cause): cause must be an exception or None, got {cause!r}")
        c._cancel(True, Canceled(), cause)

    return c, cancel


def with_deadline(parent: Context, when: float) -> tuple[Context, CancelFunc]:
    """A child cancelled at `when` on the now() clock, or earlier (Go's WithDeadline).

    If parent's deadline is earlier, that one wins and this is with_cancel.
    A deadline that has passed gives a context done at once (DeadlineExceeded).
    """
    return _with_deadline_ns(parent, _when_ns(when, "with_deadline"), None, "with_deadline")


def with_deadline_cause(
    parent: Context, when: float, cause: BaseException | None
) -> tuple[Context, CancelFunc]:
    """with_deadline whose cause, once the deadline passes, is `cause` (Go's WithDeadlineCause)."""
    ns = _when_ns(when, "with_deadline_cause")
    return _with_deadline_ns(parent, ns, cause, "with_deadline_cause")


def with_timeout(parent: Context, seconds: float) -> tuple[Context, CancelFunc]:
    """with_deadline(parent, now() + seconds) (Go's WithTimeout); seconds <= 0 has passed."""
    ns = timers.now() + durationns(seconds, "with_timeout")
    return _with_deadline_ns(parent, ns, None, "with_timeout")


def with_timeout_cause(
    parent: Context, seconds: float, cause: BaseException | None
) -> tuple[Context, CancelFunc]:
    """with_timeout with a cause for when the time is up (Go's WithTimeoutCause)."""
    ns = timers.now() + durationns(seconds, "with_timeout_cause")
    return _with_deadline_ns(parent, ns, cause, "with_timeout_cause")


def _when_ns(when: object, what: str) -> int:
    """A now() reading as nanotime, or a TypeError/ValueError naming `what`."""
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise TypeError(f"{what} takes a now() reading (a float), not {type(when).__name__}")
    if not math.isfinite(when):
        raise ValueError(f"{what}: the deadline must be finite, got {when!r}")
    return int(when * 1e9)


def _with_deadline_ns(
    parent: Context, when: int, cause: BaseException | None, what: str
) -> tuple[Context, CancelFunc]:
    """with_deadline in nanotime (Go's WithDeadlineCause)."""
    _check(parent, what)
    if cause is not None and not isinstance(cause, BaseException):
        raise TypeError(f"{what}: cause must be an exception or None, got {cause!r}")
    cur = _deadline_ns(parent)
    if cur is not None and cur < when:
        # The current deadline is already sooner than the new one.
        return with_cancel(parent)
    dur = when - timers.now()
    if dur > 0 and _tls.__dict__.get("m") is None:
        # Checked before the context is registered with its parent.
        acquire_g(f"context.{what}")  # raises: the timer needs a running runtime
    c = _timerCtx(parent, when, cause)
    c._propagate(parent)

    def cancel() -> None:
        c._cancel(True, Canceled(), None)

    if dur <= 0:
        c._cancel(True, DeadlineExceeded(), cause)  # the deadline has already passed
        return c, cancel
    with c._mu:
        if c._err is None:
            c._timer = timer(_deadlineFired, c)
            addtimer(c._timer, when)
    return c, cancel


def with_value(parent: Context, key: object, val: Any) -> Context:
    """A child whose value(key) is val (Go's WithValue); the key must be hashable, not None.

    Use values for request-scoped data that crosses APIs, not to pass optional
    parameters. Define your own key type (or a module-level object()) so that
    packages' keys cannot collide.
    """
    _check(parent, "with_value")
    if key is None:
        raise TypeError("with_value: the key is None")
    try:
        hash(key)
    except TypeError:
        raise TypeError(f"with_value: key {key!r} is not hashable") from None
    return _valueCtx(parent, key, val)


def without_cancel(parent: Context) -> Context:
    """A child with parent's values but never cancelled, no deadline (Go's WithoutCancel)."""
    return _withoutCancelCtx(_check(parent, "without_cancel"))


def cause(ctx: Context) -> BaseException | None:
    """Why ctx was cancelled: the cause given to a cause-taking cancel, else ctx.err() (Go's Cause).

    None while ctx is not done.
    """
    cc = _parentCancelCtx(_check(ctx, "cause"))
    if cc is None:
        return None  # never cancelled: background, without_cancel and what hangs off them
    # Set with err under the lock, so the one read decides: falling back to
    # ctx.err() after reading None would race with a cancel (Go's TestCauseRace).
    with cc._mu:
        return cc._cause


def after_func(
    ctx: Context, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any
) -> Callable[[], bool]:
    """Start fn(*args) as a goroutine once ctx is done, at once if it is (Go's AfterFunc).

    Returns stop(): True if it stopped fn from being started, False if ctx was
    done and fn has been started, or stop was called before. stop() does not
    wait for fn. fn never runs for a context that cannot be cancelled.
    """
    _check(ctx, "after_func")
    mp, _ = acquire_g("context.after_func")
    return _after(ctx, _GoFunc(mp.sched, fn, args).start)


def _after(ctx: Context, f: Callable[[], None]) -> Callable[[], bool]:
    """Call f(), with no lock held, on the thread that finds ctx done; stop() as after_func's.

    f must not block: it may run in a timer function or another goroutine's cancel.
    """
    a = _afterFuncCtx(ctx, f)
    a._propagate(ctx)
    return a.stop


def _error(ctx: Context) -> tuple[BaseException, BaseException | None] | None:
    """A fresh copy of ctx.err() to raise, and its cause if that is something else; None if live.

    ctx.err() is shared by every goroutine that looks; raising that one object
    in several of them would splice their tracebacks together.
    """
    err = ctx.err()
    if err is None:
        return None
    c = cause(ctx)
    return type(err)(*err.args), None if c is err else c
