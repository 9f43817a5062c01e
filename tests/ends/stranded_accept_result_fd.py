"""What a stranded blocking call returns after the end is kept for ever: here, an fd.

A goroutine blocks in `await syscall(listener.accept)` on a plain listening
socket when main returns, so it is stranded (kept in program._stranded, never
resumed, never closed). A connection then arrives: accept() returns a new
socket, exitsyscall sees the exit, and the goroutine's frame, suspended in
syscall()'s finally (`await _EXITSYSCALL`), holds the pending return value,
the new socket, for the life of the process. Once the thread has ended and
the collector has run, one socket fd is still open. (A design question more
than a bug: a stranded goroutine keeps everything its frame holds.)
"""

import contextlib
import gc
import os
import socket
import threading

import goroutines as g

listener = socket.create_server(("127.0.0.1", 0))


async def blocked(started):
    started.close()
    await g.syscall(listener.accept)
    print("resumed")  # never


async def main():
    started = g.Chan()
    g.go(blocked, started)
    await started.recv()
    await g.sleep(0.05)


before = set(os.listdir("/proc/self/fd"))
g.run(main, gomaxprocs=2)
c = socket.create_connection(listener.getsockname())  # the stranded accept() returns
c.close()
for t in threading.enumerate():
    if t.name.startswith("goroutines-"):
        t.join(5)
gc.collect()
listener.close()
left = {}
for fd in set(os.listdir("/proc/self/fd")) - before:
    with contextlib.suppress(OSError):
        left[fd] = os.readlink(f"/proc/self/fd/{fd}")
alive = [t.name for t in threading.enumerate() if t.name.startswith("goroutines-")]
print("threads left:", alive, "fds left:", left)
raise SystemExit(1 if left else 0)
