"""The user's preferences and window layout, kept in an INI file in the user's config folder.

Whatever that file holds, the studio starts: it is checked before Qt reads it
(:func:`check_settings_file`), since Qt's own reader crashes the process on a value that nests
lists a hundred thousand deep, and each value is read through :func:`preference`, which gives
the default for anything unusable (a list where text belongs, a number too large).
"""

from __future__ import annotations

import logging
import stat
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSettings

from studio.files.atomic import atomic_write_bytes
from studio.files.paths import config_dir
from studio.files.user_json import set_aside
from studio.spec.export_size import DEFAULT_RESAMPLE, DEFAULT_TEXT, ExportSize

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

THEMES = ("system", "light", "dark")
DEVICES = ("auto", "cuda", "mps", "cpu")
SETTINGS_FILE = "settings.ini"
# The studio's own settings are a few kilobytes (the window layout is the largest part).
MAX_SETTINGS_BYTES = 1024 * 1024
# Qt writes "@Variant(...)" for values the studio never stores (lists, maps, Qt types); such a
# value is decoded recursively by Qt, in C++, and a deep one overflows its stack. (A string
# that starts with "@" is written "@@", so no text the studio stores reads as one.)
_VARIANT = b"@Variant("


# Settings files that Qt must not read (hostile, and they could not be moved aside): the
# studio runs on its defaults, from a file beside them that does not exist.
_UNUSABLE: set[Path] = set()


def settings_path() -> Path:
    path = config_dir() / SETTINGS_FILE
    return path.with_name("settings.defaults.ini") if path in _UNUSABLE else path


def check_settings_file(path: Path | None = None) -> str | None:
    """Make the settings file safe for Qt to read; a message for the user when something was
    set aside, else None. Never raises, never loses the original: a file that is not a regular
    file or too large is renamed aside whole; lines with values the studio never writes are
    dropped from a copy, the original kept beside it."""
    path = path or config_dir() / SETTINGS_FILE
    if path in _UNUSABLE:
        return None  # said already
    try:
        info = path.stat()
    except OSError:
        return None  # missing (a first start), or unreadable: Qt then starts from defaults too
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SETTINGS_BYTES:
        why = "it is not a regular file" if not stat.S_ISREG(info.st_mode) else f"it is {info.st_size:,} bytes"
        aside = set_aside(path)
        if aside is None:
            _UNUSABLE.add(path)
        kept = f"it was kept as {aside.name}" if aside is not None else "it was left as it is"
        return _told(
            f"The settings file {path} could not be used ({why}); the studio starts with its defaults and {kept}."
        )
    try:
        data = path.read_bytes()
    except OSError:
        return None
    entries = _logical_lines(data)
    usable = [entry for entry in entries if _VARIANT not in entry]
    if len(usable) == len(entries):
        return None
    aside = set_aside(path)
    if aside is None:
        _UNUSABLE.add(path)
        return _told(
            f"The settings file {path} holds values the studio cannot use and could not be moved aside; "
            "the studio starts with its defaults."
        )
    try:
        atomic_write_bytes(path, b"".join(usable))
    except OSError as exc:  # SaveError too: the studio starts from its defaults
        log.warning("Could not write the cleaned settings file %s: %s", path, exc)
    dropped = len(entries) - len(usable)
    return _told(
        f"{dropped} setting(s) in {path} held values the studio cannot use and were reset to their defaults; "
        f"the original file was kept as {aside.name}."
    )


def _logical_lines(data: bytes) -> list[bytes]:
    """The INI file's entries as Qt reads them: a line ending in a backslash goes on to the next."""
    entries: list[bytes] = []
    current = b""
    for line in data.splitlines(keepends=True):
        current += line
        if not current.rstrip(b"\r\n").endswith(b"\\"):
            entries.append(current)
            current = b""
    if current:
        entries.append(current)
    return entries


def _told(message: str) -> str:
    log.warning("%s", message)
    return message


def open_preferences() -> QSettings:
    """The settings file as a QSettings, checked first (see :func:`check_settings_file`)."""
    check_settings_file()
    return QSettings(str(settings_path()), QSettings.Format.IniFormat)


def preference(store: QSettings, key: str, default: Any) -> Any:
    """``store``'s value for ``key``, or ``default`` when Qt or PySide cannot convert what the
    file holds (never an exception: a hand-edited settings file must not stop the app)."""
    try:
        return store.value(key, default)
    except Exception:  # noqa: BLE001 - any conversion failure of a hostile value means "not set"
        log.warning("Ignoring the unusable setting %s", key)
        return default


def text_preference(store: QSettings, key: str, default: str = "") -> str:
    """:func:`preference` for a text value: ``default`` too when the file holds something else."""
    value = preference(store, key, default)
    return value if isinstance(value, str) else default


class Settings:
    def __init__(self) -> None:
        #: What was wrong with the settings file at start, for the window to say once (or None).
        self.problem = check_settings_file()
        self._store = QSettings(str(settings_path()), QSettings.Format.IniFormat)

    def _text(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = preference(self._store, key, default)
        return value if isinstance(value, str) and value in allowed else default

    @property
    def theme(self) -> str:
        return self._text("appearance/theme", "system", THEMES)

    @theme.setter
    def theme(self, value: str) -> None:
        self._store.setValue("appearance/theme", value)

    @property
    def device(self) -> str:
        return self._text("compute/device", "auto", DEVICES)

    @device.setter
    def device(self, value: str) -> None:
        self._store.setValue("compute/device", value)

    @property
    def current_panel(self) -> int:
        stored: Any = preference(self._store, "window/panel", 0)  # whatever the settings file holds
        try:
            return int(stored)
        except (TypeError, ValueError, OverflowError):
            return 0

    @current_panel.setter
    def current_panel(self, index: int) -> None:
        self._store.setValue("window/panel", index)

    @property
    def last_folder(self) -> str:
        return text_preference(self._store, "files/last_folder")

    @last_folder.setter
    def last_folder(self, folder: str) -> None:
        self._store.setValue("files/last_folder", folder)

    @property
    def export_size(self) -> ExportSize:
        """How large the explorer's exports are and how they are enlarged (default 4x, smooth)."""
        text = text_preference(self._store, "export/size", DEFAULT_TEXT)
        resample = text_preference(self._store, "export/resample", DEFAULT_RESAMPLE)
        return ExportSize.from_text(text, resample)

    @export_size.setter
    def export_size(self, size: ExportSize) -> None:
        self._store.setValue("export/size", size.text)
        self._store.setValue("export/resample", size.resample)

    def window_geometry(self) -> QByteArray | None:
        value = preference(self._store, "window/geometry", None)
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = preference(self._store, "window/state", None)
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._store.setValue("window/geometry", geometry)
        self._store.setValue("window/state", state)

    def sync(self) -> None:
        self._store.sync()
