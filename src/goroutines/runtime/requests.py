"""The requests a goroutine makes of its M (Go: the functions passed to mcall).

A goroutine stops only at an await. An operation that must stop it awaits one
of these objects (`await _PARK`), and the M running the goroutine receives the
object itself from the coroutine's send(), then carries the request out on its
own loop, after the coroutine has stopped (proc.execute): park it (park_m),
put it on the global run queue (gosched_m, gopreempt_m), or stop the M after
a syscall that found no P (exitsyscall0).

Plain Python in every build: an object awaited needs __await__, which a
class compiled by mypyc cannot give.
"""

from __future__ import annotations

from collections.abc import Generator


class _Request:
    """A request a goroutine makes of its M (Go: the function passed to mcall).

    An operation that must stop the goroutine awaits one (`await _PARK`): the
    M receives the request object itself from the coroutine's send().
    """

    __slots__ = ("_self", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._self = (self,)

    def __await__(self) -> Generator[_Request, None, None]:
        return iter(self._self)  # type: ignore[return-value]  # a tuple iterator: no frame

    def __repr__(self) -> str:
        return f"<request {self.name}>"


_PARK = _Request("park")  # park_m: block on a wait structure, then run waitunlockf
_GOSCHED = _Request("gosched")  # gosched_m: go to the global run queue
_PREEMPT = _Request("preempt")  # gopreempt_m: like gosched, asked for by sysmon
_EXITSYSCALL = _Request("exitsyscall")  # exitsyscall0: no P was free after a syscall


__all__ = ["_EXITSYSCALL", "_GOSCHED", "_PARK", "_PREEMPT", "_Request"]
