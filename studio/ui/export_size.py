"""The export size choice: 1x, 4x, 8x or a pixel size, smooth or crisp; remembered in the preferences.

One small widget, placed beside each export button of the Latent Explorer (the panel, the
interpolation dialog). Every control shows and sets the same remembered choice
(``Settings.export_size``), so changing it in one place changes it everywhere, and the picture
views follow its smooth/crisp half (:meth:`ImageView.set_enlarging`).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from studio.services.settings import Settings
from studio.spec.export_size import MAX_SIDE, MIN_SIDE, RESAMPLE_TIPS, SCALES, ExportSize
from studio.ui.image_view import ImageView

CUSTOM = "Pixel size"
_RESAMPLE_TEXT = {"smooth": "Smooth", "crisp": "Crisp (pixel art)"}


class _Preference(QObject):
    """The remembered choice, shared by every control; ``changed`` when any of them sets it."""

    changed = Signal(object)  # ExportSize

    def value(self) -> ExportSize:
        return Settings().export_size

    def set_value(self, size: ExportSize) -> None:
        if size == self.value():
            return
        settings = Settings()
        settings.export_size = size
        settings.sync()
        ImageView.set_enlarging(size.resample)
        self.changed.emit(size)


_preference: _Preference | None = None


def export_preference() -> _Preference:
    global _preference
    if _preference is None:
        _preference = _Preference()
    return _preference


def apply_saved_enlarging() -> None:
    """Let the picture views enlarge as the remembered choice says (at start-up)."""
    ImageView.set_enlarging(export_preference().value().resample)


class ExportSizeControl(QWidget):
    """Export size [4x · 256 px ▾] [512 px], and under it (•) Smooth ( ) Crisp (pixel art).

    ``label`` is the line's title; "" leaves it out (a form row names it instead).
    """

    changed = Signal(object)  # ExportSize

    def __init__(
        self, label: str = "Export size", parent: QWidget | None = None, native: tuple[int, int] = (64, 64)
    ) -> None:
        super().__init__(parent)
        self._native = native
        self.size_combo = QComboBox()
        self.size_combo.setToolTip("How large exported pictures are: a multiple of the model's size, or pixels")
        for scale in SCALES:
            self.size_combo.addItem("", f"{scale}x")
        self.size_combo.addItem(CUSTOM, "px")
        self.pixels = QSpinBox()
        self.pixels.setRange(MIN_SIDE, MAX_SIDE)
        self.pixels.setSingleStep(64)
        self.pixels.setSuffix(" px")
        self.pixels.setValue(512)
        self.pixels.setKeyboardTracking(False)
        self.pixels.setToolTip("The long side of exported pictures, in pixels")
        self.smooth = QRadioButton(_RESAMPLE_TEXT["smooth"])
        self.crisp = QRadioButton(_RESAMPLE_TEXT["crisp"])
        self.smooth.setToolTip(RESAMPLE_TIPS["smooth"])
        self.crisp.setToolTip(RESAMPLE_TIPS["crisp"])
        group = QButtonGroup(self)
        group.addButton(self.smooth)
        group.addButton(self.crisp)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(6)
        if label:
            title = QLabel(label)
            title.setBuddy(self.size_combo)
            layout.addWidget(title, 0, 0)
        sizes = QHBoxLayout()
        sizes.addWidget(self.size_combo, 1)
        sizes.addWidget(self.pixels)
        layout.addLayout(sizes, 0, 1)
        resamples = QHBoxLayout()
        resamples.addWidget(self.smooth)
        resamples.addWidget(self.crisp)
        resamples.addStretch(1)
        layout.addLayout(resamples, 1, 1)
        layout.setColumnStretch(1, 1)
        self._label_sizes()
        self._show(export_preference().value())
        apply_saved_enlarging()
        self.size_combo.activated.connect(self._on_edited)
        self.pixels.valueChanged.connect(self._on_edited)
        group.buttonToggled.connect(lambda _button, on: on and self._on_edited())
        export_preference().changed.connect(self._show)

    def value(self) -> ExportSize:
        """The choice as it stands in this control."""
        resample = "crisp" if self.crisp.isChecked() else "smooth"
        text = self.size_combo.currentData()
        return ExportSize.parse(f"{self.pixels.value()}px" if text == "px" else text, resample)

    def set_value(self, size: ExportSize) -> None:
        """Show ``size`` and remember it (as the artist choosing it would)."""
        self._show(size)
        self._on_edited()

    def set_native_size(self, width: int, height: int) -> None:
        """The size of the pictures being exported, for the "4x · 256 px" labels."""
        if (width, height) != self._native:
            self._native = (width, height)
            self._label_sizes()

    def _label_sizes(self) -> None:
        width, height = self._native
        for index, scale in enumerate(SCALES):
            size = ExportSize(scale=scale).target(width, height)
            self.size_combo.setItemText(
                index, f"{scale}x · {size[0]} px" if width == height else f"{scale}x · {size[0]} x {size[1]} px"
            )

    @Slot(object)
    def _show(self, size: ExportSize) -> None:
        for widget in (self.size_combo, self.pixels, self.smooth, self.crisp):
            widget.blockSignals(True)
        self.size_combo.setCurrentIndex(self.size_combo.findData("px" if size.pixels else size.text))
        if size.pixels is not None:
            self.pixels.setValue(size.pixels)
        (self.crisp if size.resample == "crisp" else self.smooth).setChecked(True)
        for widget in (self.size_combo, self.pixels, self.smooth, self.crisp):
            widget.blockSignals(False)
        self.pixels.setVisible(size.pixels is not None)

    @Slot()
    def _on_edited(self) -> None:
        size = self.value()
        self.pixels.setVisible(size.pixels is not None)
        export_preference().set_value(size)
        self.changed.emit(size)
