"""Where the studio keeps the user's things: models, sessions, logs, settings.

Everything lives in platformdirs' per-user folders, never next to the code. Setting the
environment variable ``LATENT_STUDIO_HOME`` puts all of them under one folder instead
(tests point it at a temporary folder; a portable install can point it next to the app).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from studio import APP_NAME, ORG_NAME

HOME_ENV = "LATENT_STUDIO_HOME"


def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value) if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    home = _home_override()
    if home is not None:
        return _ensure(home / "data")
    return _ensure(Path(platformdirs.user_data_dir(APP_NAME, ORG_NAME)))


def config_dir() -> Path:
    home = _home_override()
    if home is not None:
        return _ensure(home / "config")
    return _ensure(Path(platformdirs.user_config_dir(APP_NAME, ORG_NAME)))


def log_dir() -> Path:
    home = _home_override()
    if home is not None:
        return _ensure(home / "logs")
    return _ensure(Path(platformdirs.user_log_dir(APP_NAME, ORG_NAME)))


def models_dir() -> Path:
    """The user's model library (models they trained or imported)."""
    return _ensure(data_dir() / "models")


def finetune_runs_dir() -> Path:
    """Fine-tune runs the wizard has not saved into the library yet (kept across a crash)."""
    return _ensure(data_dir() / "finetune-runs")


def autosave_dir() -> Path:
    """The artist's unsaved work, written as they work, so that a crash loses none of it."""
    return _ensure(data_dir() / "autosave")
