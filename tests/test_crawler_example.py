"""examples/crawler.py prints the same sorted summary however it is run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CRAWLER = Path(__file__).resolve().parent.parent / "examples" / "crawler.py"

EXPECTED = """\
/            3 links
/about       0 links
/blog        2 links
/blog/1      2 links
/blog/2      1 link
/docs        3 links
/docs/api    2 links
/docs/intro  2 links
/missing     not found
/slow        timed out
pages: 10, never more than 3 fetches at once: True
server stopped, goroutines left: 0
"""


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
    assert out.stdout == EXPECTED
