"""`goroutines run` and `goroutines trace`: exit statuses and messages (subprocesses)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from goroutines import cli

SRC = str(Path(__file__).resolve().parent.parent / "src")


def goroutines(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m goroutines ARGS` with src on the path."""
    return subprocess.run(
        [sys.executable, "-m", "goroutines", *args],
        env={**os.environ, "PYTHONPATH": SRC, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
    )


def script(tmp_path: Path, name: str, code: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return str(path)


HELLO = """
    import sys
    from goroutines import go, gosched

    async def worker(out):
        await gosched()
        out.append(1)

    async def main():
        out = []
        for _ in range(3):
            go(worker, out)
        while len(out) < 3:
            await gosched()
        print("argv", sys.argv[1:], __name__, len(out))

    if __name__ == "__main__":
        print("the __main__ block ran")
"""


def test_run_passes_arguments_after_file_to_the_script(tmp_path: Path) -> None:
    path = script(tmp_path, "hello.py", HELLO)
    res = goroutines("run", "--gomaxprocs", "2", path, "a", "--gomaxprocs", "3", "-x")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "argv ['a', '--gomaxprocs', '3', '-x'] __goroutines_main__ 3\n"
    assert res.stderr == ""


def test_run_sets_argv_before_the_module_code_runs(tmp_path: Path) -> None:
    # As `python FILE.py a b` would: a script may read sys.argv at import.
    path = script(
        tmp_path,
        "argv.py",
        """
        import sys
        ARGS = list(sys.argv)

        async def main():
            print(ARGS == sys.argv, ARGS[1:], ARGS[0].endswith("argv.py"))
        """,
    )
    res = goroutines("run", path, "a", "b")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "True ['a', 'b'] True\n"


def test_run_panic_exits_2_with_go_message(tmp_path: Path) -> None:
    path = script(
        tmp_path,
        "panic.py",
        """
        from goroutines import go, gosched

        async def bad():
            raise ValueError("boom")

        async def main():
            go(bad)
            while True:
                await gosched()
        """,
    )
    res = goroutines("run", path)
    assert res.returncode == 2
    assert res.stdout == ""
    err = res.stderr.splitlines()
    assert err[0] == "panic: ValueError: boom"
    assert err[2] == "Traceback (most recent call last):"
    assert err[3] == f'  File "{path}", line 5, in bad', "the goroutine's own frames only"
    assert err[-4:] == [
        "ValueError: boom",
        "goroutine 2 [running]:",
        "created by main in goroutine 1",
        f"\t{path}:8",
    ]


def test_run_deadlock_exits_2_with_fatal_error_and_dump(tmp_path: Path) -> None:
    path = script(
        tmp_path,
        "dead.py",
        """
        import threading
        from goroutines.runtime import proc
        from goroutines.runtime.runtime2 import WaitReason

        async def main():
            lock = threading.Lock()
            lock.acquire()
            await proc.goparkunlock(lock, WaitReason.ChanReceive)
        """,
    )
    res = goroutines("run", path)
    assert res.returncode == 2
    assert res.stderr.splitlines()[:5] == [
        "fatal error: all goroutines are asleep - deadlock!",
        "",
        "goroutine 1 [chan receive]:",
        "main(...)",
        f"\t{path}:9",
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("x = 1\n", r"goroutines run: .*nomain\.py: no function main: define 'async def main\(\)'"),
        (
            "def main(): pass\n",
            r"goroutines run: .*nomain\.py: main must be an async function"
            r" \('async def main\(\)'\)",
        ),
    ],
)
def test_run_file_without_async_main_is_a_one_line_error(
    tmp_path: Path, code: str, message: str
) -> None:
    res = goroutines("run", script(tmp_path, "nomain.py", code))
    assert res.returncode == 2
    assert re.fullmatch(message + "\n", res.stderr), res.stderr


def test_run_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    res = goroutines("run", str(tmp_path / "missing.py"))
    assert res.returncode == 2
    assert res.stderr == f"goroutines run: stat {tmp_path / 'missing.py'}: no such file\n"


def test_run_bad_settings_exit_2(tmp_path: Path) -> None:
    path = script(tmp_path, "hello.py", HELLO)
    res = goroutines("run", "--gomaxprocs", "0", path)
    assert res.returncode == 2 and "--gomaxprocs: must be >= 1, got 0" in res.stderr
    res = goroutines("run", path, env={"GODEBUG": "schedtrace=x"})
    assert res.returncode == 2
    assert res.stderr.startswith("goroutines run: GODEBUG='schedtrace=x': schedtrace must be")
    assert res.stderr.count("\n") == 1
    res = goroutines("run", "--trace", str(tmp_path / "no" / "t.json"), path)
    assert res.returncode == 2
    assert (
        res.stderr
        == f"goroutines run: --trace {tmp_path / 'no' / 't.json'}: No such file or directory\n"
    )


def test_run_exit_status_of_sys_exit(tmp_path: Path) -> None:
    path = script(tmp_path, "exit.py", "import sys\nasync def main():\n    sys.exit(3)\n")
    assert goroutines("run", path).returncode == 3


SCHED = """
    import sys, threading
    from goroutines import syscall

    class Tee:
        def __init__(self, out):
            self.out, self.seen = out, threading.Event()
        def write(self, s):
            self.out.write(s)
            if "SCHED" in s:
                self.seen.set()
            return len(s)
        def flush(self):
            self.out.flush()

    async def main():
        sys.stderr = tee = Tee(sys.stderr)
        await syscall(tee.seen.wait)
"""


def test_run_schedtrace_and_scheddetail(tmp_path: Path) -> None:
    path = script(tmp_path, "sched.py", SCHED)
    res = goroutines("run", "--gomaxprocs", "3", "--schedtrace", "1", path)
    assert res.returncode == 0, res.stderr
    assert re.match(
        r"SCHED \d+ms: gomaxprocs=3 idleprocs=\d+ threads=\d+ .* \[\d+ \d+ \d+\]\n", res.stderr
    )
    res = goroutines("run", "--schedtrace", "1", "--scheddetail", path)
    assert res.returncode == 0, res.stderr
    assert re.match(r"SCHED \d+ms: .* sysmonwait=(true|false)\n  P0: status=", res.stderr)


@pytest.mark.parametrize("name", ["t.out", "t.json"])
def test_run_trace_then_summary_and_html(tmp_path: Path, name: str) -> None:
    path = script(tmp_path, "hello.py", HELLO)
    out = tmp_path / name
    res = goroutines("run", "--gomaxprocs", "2", "--trace", str(out), path)
    assert res.returncode == 0, res.stderr
    res = goroutines("trace", "summary", str(out))
    assert res.returncode == 0, res.stderr
    assert "scheduling latency (runnable -> running)" in res.stdout
    assert (
        re.search(r"\nG1 main ", res.stdout) and len(re.findall(r"\nG\d+ worker ", res.stdout)) == 3
    )
    res = goroutines("trace", "summary", "--limit", "2", str(out))
    assert "... 2 more goroutines (--limit 0 shows all)" in res.stdout
    res = goroutines("trace", "html", str(out), "-o", str(tmp_path / "page.html"))
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{tmp_path / 'page.html'}\n"
    assert (tmp_path / "page.html").read_text().startswith("<!doctype html>")
    res = goroutines("trace", "html", str(out))
    assert res.stdout == f"{tmp_path / 't.html'}\n" and (tmp_path / "t.html").exists()


def test_trace_convert_writes_perfetto_json(tmp_path: Path) -> None:
    path = script(tmp_path, "hello.py", HELLO)
    out = tmp_path / "trace.out"
    assert goroutines("run", "--trace", str(out), path).returncode == 0
    assert out.read_bytes().startswith(b"goroutines trace\x00")
    res = goroutines("trace", "convert", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{tmp_path / 'trace.json'}\n"
    data = json.loads((tmp_path / "trace.json").read_text())
    events = data["traceEvents"]
    slices = [e for e in events if e["ph"] == "X" and e["cat"] == "goroutine"]
    assert {e["name"] for e in slices} >= {"G1 main", "G2 worker", "G3 worker", "G4 worker"}
    assert all({"ts", "dur", "pid", "tid"} <= set(e) for e in slices)
    tracks = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"P0", "M0", "GC"} <= tracks
    assert [e["name"] for e in events if e["ph"] == "C"][:1] == ["goroutines"]
    assert data["goroutines"]["version"] == 2
    res = goroutines("trace", "convert", str(out), "-o", str(tmp_path / "x.json"))
    assert res.returncode == 0 and json.loads((tmp_path / "x.json").read_text()) == data
    res = goroutines("trace", "convert", str(tmp_path / "x.json"))
    assert res.returncode == 2
    assert res.stderr.endswith("x.json: would overwrite the trace; name another with -o\n")


@pytest.mark.parametrize("command", ["summary", "html", "convert"])
def test_trace_commands_reject_what_is_not_a_trace(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.out"
    bad.write_bytes(b"\x89PNG garbage")
    res = goroutines("trace", command, str(bad))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith(f"goroutines trace: {bad}: not a goroutines trace (")
    assert res.stderr.count("\n") == 1, "one line"
    res = goroutines("trace", command, str(tmp_path / "missing.out"))
    assert res.returncode == 2
    assert (
        res.stderr == f"goroutines trace: {tmp_path / 'missing.out'}: No such file or directory\n"
    )


def test_usage_errors_exit_2() -> None:
    res = goroutines()
    assert res.returncode == 2 and "usage: goroutines" in res.stderr
    with pytest.raises(SystemExit) as ei:
        cli.main(["run"])
    assert ei.value.code == 2
