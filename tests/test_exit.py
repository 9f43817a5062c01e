"""The end of a program, and Ctrl-C, as Go programs end (program.py, signals.py).

When main returns, the program is over: run() returns within 100 ms whatever
the other goroutines do (blocked in a syscall, hogging their thread), and the
interpreter exits without waiting for the threads still inside such calls,
which run no goroutine code again. Ctrl-C stops any program within a second,
with a KeyboardInterrupt whose traceback shows main's code.

A goroutine left in a blocking call keeps its thread after run() returns, so
each of these tests runs its program in a subprocess, with a hard timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(60)

PROLOGUE = """
import json, os, signal, socket, sys, threading, time, traceback
import goroutines as g

# A job started without job control (make test &) inherits SIGINT ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)

def alive():
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("goroutines-"))

def spin_forever():
    while True:
        pass
"""


def program(body: str, prologue: str = "", timeout: float = 30) -> tuple[dict[str, Any], float]:
    """Run PROLOGUE + body in a fresh interpreter; its last stdout line as JSON, and the wall time.

    The wall time includes the interpreter's exit: a process that waited for
    a thread still inside a blocking call would take that call's time.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prog.py")  # a file, so that tracebacks show source lines
        with open(path, "w") as f:
            f.write(PROLOGUE + prologue + textwrap.dedent(body))
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, path], capture_output=True, text=True, timeout=timeout
        )
        wall = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


@pytest.mark.parametrize("procs", [1, 2])
@pytest.mark.parametrize(
    "blocker",
    [
        "await g.syscall(time.sleep, 60)",
        "await g.syscall(listener.accept)",
        "spin_forever()",  # a loop that never awaits
    ],
)
def test_main_returning_ends_the_program_whatever_the_others_do(procs: int, blocker: str) -> None:
    # Go exits in all three. With one P the blocked goroutine may be running
    # on the thread that called run(), which could then never come back.
    out, wall = program(
        f"""
        listener = socket.create_server(("127.0.0.1", 0))

        async def blocked(started):
            started.close()
            {blocker}
            print("resumed", flush=True)  # never: its M runs no goroutine code again

        async def main():
            started = g.Chan()
            g.go(blocked, started)
            await started.recv()
            await g.sleep(0.05)  # let it get inside its call
            return time.monotonic()

        returned = g.run(main, gomaxprocs={procs})
        took = time.monotonic() - returned
        print(json.dumps({{"took": took, "alive": alive()}}))
        """
    )
    assert out["took"] < 0.1, out  # run() returns within 100 ms of main's return
    assert all(name.startswith("goroutines-M") for name in out["alive"]), out
    assert len(out["alive"]) <= 1, out  # only the thread inside the blocking call
    assert wall < 20  # the interpreter did not wait for the 60 s call (or the loop)


def test_main_locked_to_its_thread_returns_while_another_blocks() -> None:
    # Teardown once joined the blocked thread when main was locked to its own.
    out, _ = program(
        """
        async def main():
            g.lock_os_thread()
            started = g.Chan()

            async def blocked():
                started.close()
                await g.syscall(time.sleep, 60)

            g.go(blocked)
            await started.recv()
            await g.sleep(0.05)
            return time.monotonic()

        returned = g.run(main, gomaxprocs=1)
        print(json.dumps({"took": time.monotonic() - returned}))
        """
    )
    assert out["took"] < 0.1, out


def test_a_stranded_goroutine_never_runs_again_and_its_thread_ends() -> None:
    # The syscall returns after run() did: the M sees the exit and leaves, the
    # goroutine's code after the call and its finally block never run, and no
    # thread is left once the call is over.
    out, _ = program(
        """
        ran = []

        async def blocked(started):
            try:
                started.close()
                await g.syscall(time.sleep, 0.3)
                ran.append("after the call")
            finally:
                ran.append("finally")

        async def main():
            started = g.Chan()
            g.go(blocked, started)
            await started.recv()
            await g.sleep(0.05)

        g.run(main, gomaxprocs=2)
        during = alive()
        for t in threading.enumerate():
            if t.name.startswith("goroutines-"):
                t.join(10)
        import gc
        gc.collect()
        print(json.dumps({"during": during, "after": alive(), "ran": ran}))
        """
    )
    assert len(out["during"]) == 1, out
    assert out["after"] == [], out
    assert out["ran"] == [], out


def test_abandoned_parked_goroutines_run_their_finally_blocks_before_run_returns() -> None:
    out, _ = program(
        """
        ran = []

        async def parked(started):
            try:
                started.close()
                await g.Chan().recv()
            finally:
                ran.append("finally")

        async def main():
            started = g.Chan()
            g.go(parked, started)
            await started.recv()

        g.run(main, gomaxprocs=2)
        print(json.dumps({"ran": list(ran), "alive": alive()}))
        """
    )
    assert out == {"ran": ["finally"], "alive": []}


SIGINT_PROLOGUE = """
def interrupt_when(event):
    def kill():
        event.wait(30)
        time.sleep(0.05)  # let the receiver of the signal be inside its wait
        global sent
        sent = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=kill, daemon=True).start()

def report(run, *args, **kwargs):
    # run(*args, **kwargs) interrupted: what it raised, how fast, with which frames.
    try:
        run(*args, **kwargs)
        result = {"raised": None}
    except KeyboardInterrupt as e:
        tb = traceback.extract_tb(e.__traceback__)
        result = {
            "raised": "KeyboardInterrupt",
            "took": time.monotonic() - sent,
            "frames": [(os.path.basename(f.filename), f.name, f.line) for f in tb],
        }
    result["handler_restored"] = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    return result
"""


@pytest.mark.parametrize("procs", [1, 2])
def test_ctrl_c_stops_main_blocked_in_a_syscall_within_a_second(procs: int) -> None:
    # Two SIGINTs once went unheard while main slept in a syscall on the main thread.
    out, _ = program(
        prologue=SIGINT_PROLOGUE,
        body=f"""
        inside = threading.Event()

        def nap():
            inside.set()
            time.sleep(100)

        async def main():
            interrupt_when(inside)
            await g.syscall(nap)

        print(json.dumps(report(g.run, main, gomaxprocs={procs})))
        """,
    )
    assert out["raised"] == "KeyboardInterrupt", out
    assert out["took"] < 1.0, out
    assert out["handler_restored"], out
    frames = out["frames"]
    # The traceback runs from run() into main, and ends where main's code was.
    assert frames[-1][1:] == ["main", "await g.syscall(nap)"], frames
    assert not any(name.startswith("signals") for name, _, _ in frames), frames


@pytest.mark.parametrize("procs", [1, 2])
def test_ctrl_c_does_not_wait_for_goroutines_busy_or_blocked_on_other_threads(
    procs: int,
) -> None:
    out, _ = program(
        prologue=SIGINT_PROLOGUE,
        body=f"""
        ready = g.WaitGroup()
        started = threading.Event()

        async def hog():
            ready.done()
            spin_forever()

        async def sleeper():
            ready.done()
            await g.syscall(time.sleep, 100)

        async def main():
            ready.add(2)
            g.go(hog)
            g.go(sleeper)
            await ready.wait()
            interrupt_when(started)
            started.set()
            await g.Chan().recv()

        print(json.dumps(report(g.run, main, gomaxprocs={procs})))
        """,
    )
    assert out["raised"] == "KeyboardInterrupt", out
    assert out["took"] < 1.0, out
    assert out["frames"][-1][1:] == ["main", "await g.Chan().recv()"], out


def test_ctrl_c_during_channel_traffic_lands_in_no_runtime_lock() -> None:
    # Ping-pong with the main goroutine: once a Ctrl-C that landed inside a
    # channel's lock acquire on the main thread left the lock held and the
    # teardown hung. Now the main thread runs no goroutine code at all.
    out, _ = program(
        prologue=SIGINT_PROLOGUE,
        body="""
        going = threading.Event()

        async def main():
            ping, pong = g.Chan(), g.Chan()

            async def echo():
                async for v in ping:
                    await pong.send(v)

            g.go(echo)
            interrupt_when(going)
            n = 0
            while True:
                await ping.send(n)
                await pong.recv()
                n += 1
                if n == 200:
                    going.set()

        results = []
        for _ in range(10):
            going.clear()
            results.append(report(g.run, main, gomaxprocs=2))
        print(json.dumps({"results": results, "alive": alive()}))
        """,
    )
    for r in out["results"]:
        assert r["raised"] == "KeyboardInterrupt", r
        assert r["took"] < 1.0, r
        assert r["handler_restored"], r
    assert out["alive"] == [], out


def test_program_handler_for_sigint_is_left_alone() -> None:
    out, _ = program(
        """
        got = []
        signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))

        async def main():
            await g.syscall(os.kill, os.getpid(), signal.SIGINT)
            await g.sleep(0.05)
            return signal.getsignal(signal.SIGINT).__name__

        print(json.dumps({"handler": g.run(main, gomaxprocs=1), "got": got}))
        """
    )
    assert out == {"handler": "<lambda>", "got": [int(__import__("signal").SIGINT)]}


def test_run_on_a_thread_other_than_the_main_one_leaves_sigint_alone() -> None:
    out, _ = program(
        """
        res = {}

        async def main():
            return 5

        t = threading.Thread(target=lambda: res.setdefault("v", g.run(main)))
        t.start()
        t.join(10)
        default = signal.getsignal(signal.SIGINT) is signal.default_int_handler
        print(json.dumps({"v": res.get("v"), "default": default}))
        """
    )
    assert out == {"v": 5, "default": True}


def test_exit_status_of_the_interpreter_is_unaffected_by_stranded_threads() -> None:
    # The process ends at once with its own status, whatever its daemon Ms do.
    code = PROLOGUE + textwrap.dedent(
        """
        async def main():
            async def hog():
                spin_forever()
            g.go(hog)
            await g.sleep(0.02)

        g.run(main, gomaxprocs=2)
        sys.exit(3)
        """
    )
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert proc.returncode == 3, proc.stderr
    assert time.monotonic() - t0 < 20


def test_no_thread_or_fd_is_left_after_a_panic_with_goroutines_in_syscalls() -> None:
    out, _ = program(
        """
        async def main():
            async def napper():
                await g.syscall(time.sleep, 0.2)
            for _ in range(3):
                g.go(napper)
            await g.sleep(0.02)
            raise ValueError("boom")

        before = set(os.listdir("/proc/self/fd"))
        try:
            g.run(main, gomaxprocs=2)
        except ValueError as e:
            raised = str(e)
        for t in threading.enumerate():
            if t.name.startswith("goroutines-"):
                t.join(10)
        after = set(os.listdir("/proc/self/fd"))
        print(json.dumps({"raised": raised, "alive": alive(), "fds": sorted(after - before)}))
        """
    )
    assert out == {"raised": "boom", "alive": [], "fds": []}


def test_runs_in_a_row_leave_nothing() -> None:
    # Many quick programs: every M is joined, nothing is stranded.
    out, _ = program(
        """
        async def main(i):
            c = g.Chan()
            async def child():
                await c.send(i)
            g.go(child)
            return await c.recv()

        got = [g.run(main, i, gomaxprocs=2) for i in range(50)]
        print(json.dumps({"ok": got == list(range(50)), "alive": alive()}))
        """
    )
    assert out == {"ok": True, "alive": []}


def test_run_frees_its_goroutines_itself_not_the_collector() -> None:
    # 2000 goroutines that slept (each G then holds a timer that holds the G)
    # and 2000 that did not: once run() returns, with the cyclic collector off,
    # their Gs and timers are gone but for the stale slots of the Ps' 256-slot
    # run queues, which go with the run itself.
    out, _ = program(
        """
        import gc
        from goroutines.runtime.runtime2 import G
        from goroutines.runtime.timers import timer

        def count(kind):
            return sum(type(o) is kind for o in gc.get_objects())

        async def main():
            wg = g.WaitGroup()
            async def sleeper():
                await g.sleep(0.001)
                wg.done()
            async def quick():
                wg.done()
            wg.add(4000)
            for _ in range(2000):
                g.go(sleeper)
                g.go(quick)
            await wg.wait()

        gc.collect()
        gc.disable()
        gs, ts = count(G), count(timer)
        g.run(main, gomaxprocs=2)
        print(json.dumps({"gs": count(G) - gs, "timers": count(timer) - ts}))
        """
    )
    assert out["timers"] == 0
    assert out["gs"] <= 2 * 256 + 4, out


# The programs in tests/ends/ each reproduced a bug of a program's end that the
# chaos soak found (their docstrings tell the story); each exits 0 once it is fixed.
# Those that patch a runtime function to widen their window need the pure build,
# where the runtime's own calls go through the patched module attribute.
ENDS = os.path.join(os.path.dirname(__file__), "ends")


@pytest.mark.parametrize(
    ("name", "args", "patches"),
    [
        ("go_after_the_end", [], False),
        ("goready_dead", [], True),
        ("panic_after_the_end", [], False),
        ("stranded_net_fd", [], False),
        ("stranded_accept_result_fd", [], False),
        ("double_wakeup", ["100", "--widen"], True),
        ("ctrl_c_traceback", ["50", "2"], False),
    ],
)
def test_a_program_that_once_ended_wrong_ends_right(
    name: str, args: list[str], patches: bool
) -> None:
    import goroutines

    if patches and goroutines.COMPILED:
        pytest.skip("patches a runtime function: the compiled core calls its own")
    proc = subprocess.run(
        [sys.executable, os.path.join(ENDS, f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if name == "panic_after_the_end":
        # What the goroutine raised past the end is reported, not raised by run().
        assert "Exception ignored in goroutine" in proc.stderr, proc.stderr
        assert "which ran on after the program ended" in proc.stderr
    else:
        assert proc.stderr == "", proc.stderr
