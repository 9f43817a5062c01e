"""Durations as people write them: `250ns`, `999.5µs`, `1.2ms`, `3s`.

One rule, used by the summary, the Perfetto conversion and (ported to
JavaScript, html.FMTDUR_JS) the timeline page: round to 4 significant digits,
then pick the largest unit that leaves at least 1 before the point, and drop
trailing zeros. The rounding is done on integers, half up, so that Python and
JavaScript agree on every value (their float formatting and round() break
ties differently).
"""

from __future__ import annotations

import math

_UNITS = (("ns", 1), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000))
DIGITS = 4


def fmtdur(ns: float) -> str:
    """A duration in nanoseconds as people write it (`0s` for zero, as Go prints it)."""
    n = math.floor(ns + 0.5)  # half up, as JavaScript's Math.round
    if n < 0:
        return "-" + fmtdur(-n)
    if n == 0:
        return "0s"
    extra = len(str(n)) - DIGITS
    if extra > 0:
        k = 10**extra
        n = (n + k // 2) // k * k
    for unit, scale in _UNITS:
        if n < scale * 1000 or unit == "s":
            whole, frac = divmod(n, scale)
            digits = str(frac).rjust(len(str(scale)) - 1, "0").rstrip("0")
            return f"{whole}.{digits}{unit}" if frac else f"{whole}{unit}"
    raise AssertionError("unreachable: the last unit takes every value")
