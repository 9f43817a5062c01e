"""The README's section "Testing goroutine code": its files run, and print what it shows.

Each ```python block of the section starts with `# test_NAME.py`; they are
written to a directory of their own and run by pytest (in this process, with
the plugin the package registers). Each ```text block after a file shows lines
of that run's output: every one must be in it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)
pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Testing goroutine code"

# The inner runs: this process's timeout stays the outer test's; hypothesis's
# plugin would import hypothesis (a second) for nothing.
INNER = ("-p", "no:cacheprovider", "-p", "no:timeout", "-p", "no:hypothesispytest")

# What each file's tests do: the two that show a failure fail.
OUTCOMES = {
    "test_backoff.py::test_backoff_doubles_up_to_an_hour": "passed",
    "test_bank.py::test_two_deposits_once": "passed",
    "test_bank.py::test_two_deposits_in_many_interleavings": "failed",
    "test_cache.py::test_entries_expire_after_their_ttl": "passed",
    "test_leak.py::test_forgets_to_close_the_jobs": "failed",
}


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def blocks() -> list[tuple[str, str]]:
    """(language, code) of every fenced block of the section, in order."""
    return [(m[1], m[2]) for m in re.finditer(r"```(\w+)\n(.*?)```", section(), re.S)]


def files() -> dict[str, str]:
    out = {}
    for lang, code in blocks():
        if lang == "python":
            m = re.match(r"# (test_\w+\.py)\n", code)
            assert m, f"a python block of the README names no file:\n{code}"
            out[m[1]] = code
    return out


def test_the_section_has_its_files_and_outputs() -> None:
    assert set(files()) == {"test_backoff.py", "test_bank.py", "test_cache.py", "test_leak.py"}
    assert [lang for lang, _ in blocks()].count("text") == 2


def test_the_readme_files_run_and_print_what_it_shows(pytester: pytest.Pytester) -> None:
    for name, code in files().items():
        pytester.makepyfile(**{name[:-3]: code})
    result = pytester.runpytest(*INNER, "-rA")
    out = result.stdout.str()
    for nodeid, outcome in OUTCOMES.items():
        assert re.search(rf"^{outcome.upper()} {re.escape(nodeid)}\b", out, re.M), (nodeid, out)
    result.assert_outcomes(passed=3, failed=2)
    for lang, text in blocks():
        if lang == "text":
            for line in text.splitlines():
                # pytest cuts a summary line to the terminal's width with "...",
                # and not at all on CI (the CI variable): the part before it.
                shown = line.strip().removesuffix("...")
                assert shown in out, (line, out)


def test_a_mutex_fixes_the_deposit_for_every_seed(pytester: pytest.Pytester) -> None:
    """What the README says of the fix: the lost deposit is gone under 200 seeds."""
    bank = files()["test_bank.py"]
    racy = """        balance = self.balance
        await self.audit.send(f"deposit {amount}")  # buffered: it almost never waits
        self.balance = balance + amount
"""
    fixed = """        async with self.mu:
            balance = self.balance
            await self.audit.send(f"deposit {amount}")
            self.balance = balance + amount
"""
    assert racy in bank
    bank = bank.replace(racy, fixed).replace(
        "self.balance = 0\n", "self.balance = 0\n        self.mu = g.Mutex()\n"
    )
    pytester.makepyfile(test_bank=bank)
    pytester.runpytest(*INNER).assert_outcomes(passed=2)


def test_the_seed_in_the_note_replays_the_lost_deposit(pytester: pytest.Pytester) -> None:
    """`testing.run(two_deposits, seed=3)` fails the same way every time, and so does a test
    marked `@pytest.mark.goroutines(seed=3)`, as the README says."""
    namespace: dict[str, object] = {}
    exec(compile(files()["test_bank.py"], "test_bank.py", "exec"), namespace)
    from goroutines import testing

    for _ in range(3):
        with pytest.raises(AssertionError, match="a deposit was lost: balance 100"):
            testing.run(namespace["two_deposits"], seed=3)  # type: ignore[arg-type]
    for seed in range(3):  # the seeds explore tried before it pass
        testing.run(namespace["two_deposits"], seed=seed)  # type: ignore[arg-type]
    pytester.makepyfile(
        bank=files()["test_bank.py"],
        test_replay="""
import pytest
from bank import two_deposits

@pytest.mark.goroutines(seed=3)
async def test_replay():
    await two_deposits()
""",
    )
    result = pytester.runpytest(*INNER, "test_replay.py")
    result.assert_outcomes(failed=1)
    assert "AssertionError: a deposit was lost: balance 100" in result.stdout.str()
