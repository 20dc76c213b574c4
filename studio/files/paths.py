"""Where the studio keeps the user's things: models, sessions, logs, settings.

Everything lives in platformdirs' per-user folders, never next to the code. Setting the
environment variable ``LATENT_STUDIO_HOME`` puts all of them under one folder instead
(tests point it at a temporary folder; a portable install can point it next to the app).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from studio import APP_NAME, ORG_NAME
from studio.files.atomic import clean_stale_temps, ensure_folder

if TYPE_CHECKING:
    from collections.abc import Callable

HOME_ENV = "LATENT_STUDIO_HOME"


class UserPathError(ValueError):
    """A path the user typed cannot name anything on this computer; the message says why.

    ``shown``: the path as the message shows it (a long one shortened); ``reason``: why.
    """

    def __init__(self, shown: str, reason: str) -> None:
        self.shown = shown
        self.reason = reason
        super().__init__(f"{shown}: {reason}")


def _shown(text: str) -> str:
    """``text`` short enough to read in a message (a 300-character name is cut in the middle)."""
    return text if len(text) <= 80 else f"{text[:50]}…{text[-20:]}"


def _expanded(text: str) -> Path | None:
    """``text`` with a leading ``~`` expanded; None for ``~name`` of a user this system does not have."""
    try:
        return Path(text).expanduser()
    except RuntimeError:  # pathlib: "Could not determine home directory."
        return None


def user_path(text: str | os.PathLike[str], error: Callable[[str], Exception] | None = None) -> Path:
    """A path the user typed (an option, a text field), ``~`` expanded, checked that it can be one.

    Raises a :class:`UserPathError` (or ``error(message)`` when given) for ``~name`` of an
    unknown user, a name too long for the file system and a NUL character. A path that does
    not exist (yet) is fine: whether it must exist is the caller's business.
    """
    raw = os.fspath(text)
    path = _expanded(raw)
    problem = _problem(raw, path)
    if problem is None:
        return path or Path(raw)
    if error is not None:
        raise error(f"{_shown(raw)}: {problem}")
    raise UserPathError(_shown(raw), problem)


def _problem(raw: str, path: Path | None) -> str | None:
    if path is None:
        user = raw[1:].replace(os.sep, "/").split("/", 1)[0]
        return f"there is no user {user!r} on this computer (the path starts with ~{user})"
    try:
        os.lstat(path)
    except ValueError:  # "embedded null byte"
        return "the path contains a NUL character"
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return "a name in this path is too long for the file system"
        # Missing, a file in the middle, no permission: the caller's own checks say so.
    return None


def existing_file(text: str | os.PathLike[str]) -> Path | None:
    """``text`` as the path of an existing file, or None: a name is never an error here."""
    raw = os.fspath(text)
    candidate = _expanded(raw) or Path(raw)  # "~name" of an unknown user may be a file's name
    try:
        return candidate if candidate.is_file() else None
    except (OSError, ValueError):  # a name too long for the file system, a NUL character
        return None


def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value) if value else None


def _ensure(path: Path, create: bool) -> Path:
    """``path``, made when ``create``; a folder that cannot be made is a SaveError naming it."""
    return ensure_folder(path) if create else path


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
