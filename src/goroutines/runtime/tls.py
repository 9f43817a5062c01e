"""What each thread keeps for itself: its M (Go keeps it in g0's thread-local storage slot).

`_tls` is a plain threading.local, not a subclass with class-level defaults:
CPython looks an attribute of the plain type up in the thread's dict at once,
where a subclass takes the generic path (the type's MRO, then the dict), which
costs about twice as much, twice or more per channel operation. So an
attribute is absent in a thread that never set it, and every read is
`getattr(_tls, NAME, None)`:

    m        the thread's M (None or absent: the thread is not an M)
    closing  the goroutine that run()'s teardown is closing on this thread
"""

from __future__ import annotations

import threading

_tls = threading.local()
