"""The select statement (Go's select; its runtime is runtime/select.py).

    index, value, ok = await select(recv(a), send(b, x), recv(None), default=False)

- Cases are `recv(ch)` and `send(ch, v)`; `ch=None` is Go's nil channel, never ready.
- The result is the index of the case that ran; for a receive, the value and
  `ok` as in recv_ok; for a send, (None, True).
- `default=True`: if no case is ready, (-1, None, False) without blocking.
- Fairness as Go's: a ready case is chosen uniformly at random among the
  ready ones; the channels are locked in one global order.
- `await select()` with no cases and no default blocks forever.

`select` is Python's own coroutine in every build, so that one never awaited
warns; it makes one call into the runtime, which runs a ready case or says
what to await: the preemption request (then it calls again, past it), or the
park.
"""

from __future__ import annotations

import inspect
from typing import Any

from .chan import Chan
from .runtime.requests import _PREEMPT
from .runtime.select import caseRecv, caseSend, scase, selectgo

__all__ = ["recv", "select", "send"]


def not_a_chan(what: str, c: object) -> TypeError:
    """The error for a case made with something that is neither a Chan nor None."""
    return TypeError(f"{what} needs a Chan or None (a nil channel), got {c!r}")


def recv(c: Chan[Any] | None) -> scase:
    """A select case receiving from c; its result is (value, ok) as recv_ok's."""
    if c is None:
        return scase(caseRecv, None, None)
    if not isinstance(c, Chan):
        raise not_a_chan("recv()", c)
    return scase(caseRecv, c._c, None)


def send(c: Chan[Any] | None, v: Any) -> scase:
    """A select case sending v to c; its result is (None, True)."""
    if c is None:
        return scase(caseSend, None, v)
    if not isinstance(c, Chan):
        raise not_a_chan("send()", c)
    return scase(caseSend, c._c, v)


async def select(*cases: scase, default: bool = False) -> tuple[int, Any, bool]:
    """`await select(case, ..., default=False)` -> (index, value, ok) of the case that ran.

    Take a ready case, else park on all of them (Go's selectgo). With
    default=True and no case ready, (-1, None, False) without blocking.
    """
    for i, cas in enumerate(cases):
        if type(cas) is not scase:
            hint = " (did you pass ch.recv()? use recv(ch))" if inspect.isawaitable(cas) else ""
            raise TypeError(f"select() case {i} must be recv(ch) or send(ch, v), got {cas!r}{hint}")
    if not isinstance(default, bool):
        raise TypeError(f"select() default must be a bool, not {type(default).__name__}")
    r = selectgo(cases, not default, True)
    if r is _PREEMPT:
        await r
        r = selectgo(cases, not default, False)
    if type(r) is not tuple:
        r = await r  # parked until a case ran
    return r  # type: ignore[no-any-return]
