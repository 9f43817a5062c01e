"""examples/crawler.py prints the same sorted summary, examples/crawler.out, however it is run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CRAWLER = Path(__file__).resolve().parent.parent / "examples" / "crawler.py"

EXPECTED = CRAWLER.with_suffix(".out")  # what it prints, shown in the docs too


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "argv",
    [[str(CRAWLER)], ["-m", "goroutines", "run", str(CRAWLER)]],
    ids=["python", "goroutines run"],
)
@pytest.mark.parametrize("gomaxprocs", ["1", "2"])
def test_crawler_output(argv: list[str], gomaxprocs: str) -> None:
    env = {**os.environ, "GOMAXPROCS": gomaxprocs}
    out = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=50, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == EXPECTED.read_text(encoding="utf-8")
