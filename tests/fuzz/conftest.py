"""Hypothesis profiles for the fuzzing suite (tests/fuzz, marker ``fuzz``).

The default profile keeps every run short and identical (derandomized, no example database),
so CI sees the same examples each time. ``pytest -m fuzz`` loads the long profile: the same
tests with LONG_FACTOR times the examples, random again, for a deliberate search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import HealthCheck, settings

from tests.fuzz import profile

if TYPE_CHECKING:
    import pytest

SHORT = "studio-short"
LONG = "studio-long"

_common = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
}
settings.register_profile(SHORT, derandomize=True, **_common)
settings.register_profile(LONG, derandomize=False, **_common)


def pytest_configure(config: pytest.Config) -> None:
    long_run = (config.getoption("markexpr", "") or "").strip() == "fuzz"
    profile.long_run = long_run
    settings.load_profile(LONG if long_run else SHORT)
