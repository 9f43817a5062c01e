"""The requests a goroutine makes of its M (Go: the functions passed to mcall).

A goroutine stops only at an await. An operation that must stop it awaits one
of these objects (`await _PARK`), and the M running the goroutine receives its
token (PARK) from the coroutine's send(), then carries the request out on its
own loop, after the coroutine has stopped (proc.execute): park it (park_m),
put it on the global run queue (gosched_m, gopreempt_m), or stop the M after
a syscall that found no P (exitsyscall0).

Plain Python in every build: an awaitable needs __await__, which a class
compiled by mypyc cannot give.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING


class Token:
    """What the M receives for a request: one object per kind, compared by identity."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<request {self.name}>"


class _Request(tuple[Token]):
    """A request a goroutine makes of its M (Go: the function passed to mcall).

    An operation that must stop the goroutine awaits one (`await _PARK`), and
    the M receives its Token from the coroutine's send(). A one-Token tuple
    whose __await__ is tuple's own iterator: awaiting it runs no Python frame,
    where a method written in Python cost a call on every switch.
    """

    __slots__ = ()
    if TYPE_CHECKING:

        def __await__(self) -> Generator[Token, None, None]: ...

    else:
        __await__ = tuple.__iter__


PARK = Token("park")  # park_m: block on a wait structure, then run waitunlockf
GOSCHED = Token("gosched")  # gosched_m: go to the global run queue
PREEMPT = Token("preempt")  # gopreempt_m: like gosched, asked for by sysmon
EXITSYSCALL = Token("exitsyscall")  # exitsyscall0: no P was free after a syscall

_PARK = _Request((PARK,))
_GOSCHED = _Request((GOSCHED,))
_PREEMPT = _Request((PREEMPT,))
_EXITSYSCALL = _Request((EXITSYSCALL,))

__all__ = [
    "EXITSYSCALL",
    "GOSCHED",
    "PARK",
    "PREEMPT",
    "_EXITSYSCALL",
    "_GOSCHED",
    "_PARK",
    "_PREEMPT",
    "Token",
    "_Request",
]
