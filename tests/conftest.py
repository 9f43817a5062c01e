"""Shared test helpers: every test gets a timeout (pyproject) and a thread-leak check."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_thread_leak() -> Iterator[None]:
    """After each test no runtime thread (M or sysmon) may be alive."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("goroutines-")]
    assert not left, f"runtime threads still alive after the test: {left}"
