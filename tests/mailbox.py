"""A minimal blocking queue on gopark/goready, to test the core without channels."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from goroutines.runtime.proc import acquire_g, goparkunlock, goready
from goroutines.runtime.runtime2 import G, WaitReason


class Mailbox:
    """Unbounded FIFO; get() parks while empty. Many getters and putters."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: deque[Any] = deque()
        self.waiters: deque[G] = deque()

    async def get(self) -> Any:
        gp = acquire_g("Mailbox.get")[1]
        self.lock.acquire()
        if self.items:
            v = self.items.popleft()
            self.lock.release()
            return v
        self.waiters.append(gp)
        await goparkunlock(self.lock, WaitReason.ChanReceive)
        v, gp.param = gp.param, None
        return v

    def put(self, v: Any) -> None:
        with self.lock:
            if not self.waiters:
                self.items.append(v)
                return
            gp = self.waiters.popleft()
            gp.param = v
        goready(gp)
