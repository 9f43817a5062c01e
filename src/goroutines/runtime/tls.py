"""What each thread keeps for itself: its M (Go keeps it in g0's thread-local storage slot).

Plain Python in every build: a class compiled by mypyc cannot extend
threading.local.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runtime2 import G, M
    from .trace import Buffer


class _TLS(threading.local):
    """The current M of this thread."""

    m: M | None = None
    closing: G | None = None  # the goroutine teardown is closing on this thread


_tls = _TLS()


class _TraceLocal(threading.local):
    """This thread's trace buffer (buf.sched: the run it records for; None: no run), trace.py."""

    buf: Buffer | None = None
    gcstart = 0  # nanotime when this thread's collection began


_tracelocal = _TraceLocal()
