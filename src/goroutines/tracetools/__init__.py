"""Tools that read execution traces: summary, HTML timeline, Perfetto JSON.

The runtime records (runtime/trace.py); these modules read what it wrote,
afterwards and usually in another process (`goroutines trace ...`), as Go's
`go tool trace` reads what its runtime wrote:

    read      a trace file, compact stream or JSON, into raw events
    model     the raw events replayed into a timeline: per-P goroutine slices,
              per-M states, syscalls, handoffs, GC pauses, goroutine states
    summary   the text report (`goroutines trace summary`)
    html      a self-contained timeline page (`goroutines trace html`)
    convert   Perfetto / chrome://tracing JSON (`goroutines trace convert`,
              and what run() writes for a `.json` path)
    units     durations as people write them, for all of the above

`load(path)` then `Model(raw)` is the way in for a program of one's own.
"""

from .model import Model
from .read import load

__all__ = ["Model", "load"]
