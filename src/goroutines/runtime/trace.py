"""Execution tracing (Go's trace.go). Recording is off unless a run asks for it.

Every hook in the scheduler is guarded by `if trace.enabled:`, so a program
that does not trace pays one branch per event site.
"""

from __future__ import annotations

from typing import Any

enabled = False


def _noop(*args: Any) -> None:
    """Placeholder event recorder while tracing is not implemented."""


GoCreate = GoStart = GoPark = GoUnblock = GoSched = GoEnd = GoSysCall = Steal = ProcSteal = _noop
