"""The checks a reviewer would otherwise run by hand: formatting, lint rules and types.

The rules live in pyproject.toml ([tool.ruff], [tool.mypy]); these tests only run the tools, so
the README's test line (and .ci/run, which runs it) enforces them.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE = ["studio", "tests", "benchmarks", "packaging"]


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_code_is_formatted():
    run = _run("ruff", "format", "--check", *CODE)
    assert run.returncode == 0, f"run `ruff format {' '.join(CODE)}`:\n{run.stdout}{run.stderr}"


def test_the_code_passes_the_lint_rules():
    run = _run("ruff", "check", "--output-format", "concise", *CODE)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.slow
def test_the_engine_and_the_services_type_check():
    run = _run("mypy")
    assert run.returncode == 0, run.stdout + run.stderr
