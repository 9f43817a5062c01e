"""What the runtime shows of itself: goroutine dumps and the scheduler trace.

`tracebackothers` prints every goroutine the way Go's traceback does:

    goroutine 7 [chan receive, 2 minutes]:
    worker(...)
            /path/to/file.py:12
    created by main in goroutine 1
            /path/to/file.py:30
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .osapi import nanotime
from .runtime2 import G, _Gdead, _Gidle, _Gwaiting, gStatusStrings, schedt


def creation_line(gp: G) -> str:
    """`created by FUNC in goroutine N` and its file:line (or the runtime for main)."""
    if gp.createdat is None:
        return "created by goroutines.run"
    code, line = gp.createdat
    where = f"{code.co_filename}:{line}"
    return f"created by {code.co_qualname} in goroutine {gp.parentgoid}\n\t{where}"


def goroutineheader(gp: G, now: int) -> str:
    """`goroutine N [status, M minutes]:` as Go prints it."""
    status = gStatusStrings.get(gp.status, "???")
    if gp.status == _Gwaiting and gp.waitreason.value:
        status = gp.waitreason.value
    waitfor = 0
    if gp.status == _Gwaiting and gp.waitsince:
        waitfor = (now - gp.waitsince) // 60_000_000_000
    extra = f", {waitfor} minutes" if waitfor >= 1 else ""
    locked = ", locked to thread" if gp.lockedm is not None else ""
    return f"goroutine {gp.goid} [{status}{extra}{locked}]:"


def coroutine_stack(coro: Any) -> list[str]:
    """The frames of a suspended coroutine, outermost first, through its await chain."""
    lines = []
    while coro is not None:
        if isinstance(coro, types.CoroutineType):
            frame, coro = coro.cr_frame, coro.cr_await
        elif isinstance(coro, types.GeneratorType):
            frame, coro = coro.gi_frame, coro.gi_yieldfrom
        else:
            break
        if frame is None:
            break
        code = frame.f_code
        lines.append(f"{code.co_qualname}(...)\n\t{code.co_filename}:{frame.f_lineno}")
    lines.reverse()  # innermost first, as Go prints
    return lines


def traceback(gp: G, now: int) -> str:
    """One goroutine: header, stack (when it is not running), created by."""
    parts = [goroutineheader(gp, now)]
    if gp.coro is not None and gp.status != 2:  # a running coroutine's frames are live
        parts.extend(coroutine_stack(gp.coro))
    parts.append(creation_line(gp))
    return "\n".join(parts)


def tracebackothers(sched: schedt) -> str:
    """Every live goroutine of a run, main first."""
    now = nanotime()
    gs = [gp for gp in list(sched.allgs) if gp.status not in (_Gdead, _Gidle)]
    gs.sort(key=lambda gp: gp.goid)
    return "\n\n".join(traceback(gp, now) for gp in gs)


def schedtrace(sched: schedt, detailed: bool) -> None:
    """Print Go's `SCHED` line (and with detailed, every P, M and G) to stderr."""
    print(f"SCHED gomaxprocs={sched.gomaxprocs}", file=sys.stderr)
