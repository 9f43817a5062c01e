"""What each thread keeps for itself: its M (Go keeps it in g0's thread-local storage slot).

`_tls` is a plain threading.local, read as `_tls.__dict__.get(NAME)`:

    m        the thread's M (None or absent: the thread is not an M)
    closing  the goroutine that run()'s teardown is closing on this thread

On CPython 3.11 a thread-local attribute read finds the thread's dict of the
local, compares the name with "__dict__", then looks the name up: a subclass
with class-level defaults goes the generic way (the type's MRO, then the
dict), about 500 machine instructions; `getattr(local, NAME, None)` on the
plain type skips the MRO, but raises and catches AttributeError where the
thread never set NAME (~10x the cost: a plain thread calling try_send). Reading
`__dict__` matches at the compare and returns the dict itself, so `.get` costs
one lookup more and never raises: about 300 instructions either way."""

from __future__ import annotations

import threading

_tls = threading.local()
