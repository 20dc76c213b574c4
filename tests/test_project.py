"""The promises the repository makes: README set-up lines and CI agree, every package installs,
and the layers keep to their import rules."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _code_lines(markdown: str) -> list[str]:
    blocks = re.findall(r"```\n(.*?)```", markdown, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_has_exactly_two_setup_lines_and_ci_runs_the_test_line():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    lines = _code_lines(setup)
    assert len(lines) == 2, lines
    open_line, test_line = lines
    assert "latent-studio" in open_line and "pip install" in open_line
    assert "pytest" in test_line and "pip install" in test_line
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"TEST_LINE='{test_line}'" in ci


def test_every_package_is_installed_by_pyproject():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "studio").rglob("__init__.py")} | {
        "studio.resources"
    }
    assert on_disk == listed


def test_import_contracts_hold():
    # The contracts are in pyproject.toml ([tool.importlinter]): the engine imports no Qt, no
    # services and no widgets; the widgets import no commands; the spec layer and the files layer
    # import no torch, no Qt and no engine.
    # lint-imports runs on the interpreter running the tests, and reads this checkout's studio.
    lint_imports = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-c", lint_imports, "--no-cache"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
