"""Files shipped with the studio (icons, bundled models, samples), found in any install.

The repository's top-level ``resources/`` folder is installed as the package
``studio.resources``; importlib.resources finds it in a source checkout, a wheel and a frozen app.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resources_dir() -> Path:
    return Path(str(files("studio.resources")))


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def bundled_models_dir() -> Path:
    return resource_path("models")
