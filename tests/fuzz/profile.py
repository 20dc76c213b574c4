"""How many examples each fuzz test runs: set by conftest.py from the marker expression."""

from __future__ import annotations

from hypothesis import settings

# Under ``pytest -m fuzz`` every test runs this many times its default examples.
LONG_FACTOR = 20
long_run = False


def fuzz_examples(short: int) -> settings:
    """``@fuzz_examples(n)``: n examples by default, LONG_FACTOR * n under ``pytest -m fuzz``."""
    return settings(max_examples=short * LONG_FACTOR if long_run else short)
