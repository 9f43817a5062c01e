"""The M of each thread (Go keeps it in g0's thread-local storage slot).

Plain Python in every build: a class compiled by mypyc cannot extend
threading.local.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runtime2 import G, M


class _TLS(threading.local):
    """The current M of this thread."""

    m: M | None = None
    closing: G | None = None  # the goroutine teardown is closing on this thread


_tls = _TLS()
