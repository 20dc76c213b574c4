"""The user's preferences and window layout, kept in an INI file in the user's config folder."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from studio.files.paths import config_dir
from studio.spec.export_size import DEFAULT_RESAMPLE, DEFAULT_TEXT, ExportSize

THEMES = ("system", "light", "dark")
DEVICES = ("auto", "cuda", "mps", "cpu")


class Settings:
    def __init__(self) -> None:
        self._store = QSettings(str(config_dir() / "settings.ini"), QSettings.Format.IniFormat)

    def _text(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = str(self._store.value(key, default))
        return value if value in allowed else default

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
        stored: Any = self._store.value("window/panel", 0)  # whatever the settings file holds
        try:
            return int(stored)
        except (TypeError, ValueError):
            return 0

    @current_panel.setter
    def current_panel(self, index: int) -> None:
        self._store.setValue("window/panel", index)

    @property
    def last_folder(self) -> str:
        return str(self._store.value("files/last_folder", ""))

    @last_folder.setter
    def last_folder(self, folder: str) -> None:
        self._store.setValue("files/last_folder", folder)

    @property
    def export_size(self) -> ExportSize:
        """How large the explorer's exports are and how they are enlarged (default 4x, smooth)."""
        text = str(self._store.value("export/size", DEFAULT_TEXT))
        return ExportSize.from_text(text, str(self._store.value("export/resample", DEFAULT_RESAMPLE)))

    @export_size.setter
    def export_size(self, size: ExportSize) -> None:
        self._store.setValue("export/size", size.text)
        self._store.setValue("export/resample", size.resample)

    def window_geometry(self) -> QByteArray | None:
        value = self._store.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self._store.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._store.setValue("window/geometry", geometry)
        self._store.setValue("window/state", state)

    def sync(self) -> None:
        self._store.sync()
