"""Shared test fixtures: thread-leak and fd-leak checks after every test (timeouts: pyproject)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_thread_leak() -> Iterator[None]:
    """After each test no runtime thread (M or sysmon) may be alive."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("goroutines-")]
    assert not left, f"runtime threads still alive after the test: {left}"


def open_fds() -> dict[str, str]:
    """This process's open fds and what each one is (socket, anon_inode:[eventpoll], ...)."""
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the fd of the listdir itself, closed by now
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return fds


@pytest.fixture(autouse=True)
def no_fd_leak() -> Iterator[None]:
    """After each test every fd it opened is closed (sockets, the poller's epoll and wakeup fds)."""
    if not os.path.isdir("/proc/self/fd"):  # Linux only
        yield
        return
    before = open_fds()
    yield
    left = {fd: what for fd, what in open_fds().items() if before.get(fd) != what}
    assert not left, f"fds left open by the test: {left}"


@pytest.fixture(autouse=True)
def no_sema_root_left_locked() -> Iterator[None]:
    """After each test no lock of the semaphore table is held: the table outlives every run."""
    from goroutines.runtime.sema import semtable

    yield
    held = [i for i, root in enumerate(semtable) if root.lock.locked()]
    assert not held, f"semaphore roots left locked after the test: {held}"
