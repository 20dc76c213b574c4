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
from studio.files.atomic import clean_stale_temps, save_error

HOME_ENV = "LATENT_STUDIO_HOME"


def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value) if value else None


def _ensure(path: Path, create: bool) -> Path:
    """``path``, made when ``create``; a folder that cannot be made is a SaveError naming it."""
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise save_error(path, exc) from exc
    return path


def data_dir(*, create: bool = True) -> Path:
    home = _home_override()
    if home is not None:
        return _ensure(home / "data", create)
    return _ensure(Path(platformdirs.user_data_dir(APP_NAME, ORG_NAME)), create)


def config_dir(*, create: bool = True) -> Path:
    home = _home_override()
    if home is not None:
        return _ensure(home / "config", create)
    return _ensure(Path(platformdirs.user_config_dir(APP_NAME, ORG_NAME)), create)


def log_dir(*, create: bool = True) -> Path:
    home = _home_override()
    if home is not None:
        return _ensure(home / "logs", create)
    return _ensure(Path(platformdirs.user_log_dir(APP_NAME, ORG_NAME)), create)


def models_dir(*, create: bool = True) -> Path:
    """The user's model library (models they trained or imported)."""
    return _ensure(data_dir(create=create) / "models", create)


def finetune_runs_dir(*, create: bool = True) -> Path:
    """Fine-tune runs the wizard has not saved into the library yet (kept across a crash)."""
    return _ensure(data_dir(create=create) / "finetune-runs", create)


def clean_user_data_temps() -> list[Path]:
    """Remove the temporary files killed saves left in the user data folders (at start).

    Never raises and creates nothing: a folder that is missing or unreadable is skipped.
    """
    data, runs = data_dir(create=False), finetune_runs_dir(create=False)
    folders = [data, models_dir(create=False), config_dir(create=False)]
    # The autosaves and recovered results (whatever their folders are called), and each
    # fine-tune run the wizard has not saved yet.
    for parent in (data, runs):
        try:
            folders += [entry for entry in parent.iterdir() if entry.is_dir() and entry not in folders]
        except OSError:  # missing or unreadable
            pass
    removed: list[Path] = []
    for folder in folders:
        removed += clean_stale_temps(folder)
    return removed


def autosave_dir(*, create: bool = True) -> Path:
    """The artist's unsaved work, written as they work, so that a crash loses none of it."""
    return _ensure(data_dir(create=create) / "autosave", create)
