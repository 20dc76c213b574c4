"""Presets as a segmented control, and every StyleSettings field in a collapsible Advanced box.

The panel puts the segmented control beside its Refine button (the quality of a Refine); the
form keeps the summary and the Advanced box. Refine always starts from the instant picture, so
the starting image is not a choice here.

The form owns one :class:`~studio.spec.style_settings.StyleSettings` value. A preset button
replaces it; an edit in Advanced replaces one field (through the dataclass, so its range checks
apply: an impossible value is shown in red and the previous settings stay). When the settings
match no preset, no preset button is checked ("Custom").

StyleSettings and the layer names it uses load without torch (an import contract in
pyproject.toml keeps it so).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from PySide6.QtCore import QEvent, QRect, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPalette, QPixmap, QValidator
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from studio.spec.bounds import MAX_SEED, STYLE_WEIGHT
from studio.spec.style import LAYER_NAMES
from studio.spec.style_settings import NUMBER_BOUNDS, PRESETS, StyleSettings, StyleSettingsError
from studio.spec.style_speed import FIRST_GUESS_S_PER_STEP_MP, duration_text, estimate_seconds
from studio.ui.controls import segment_style
from studio.ui.theme import ERROR_COLOUR

PRESET_LABELS = {"preview": "Quick", "balanced": "Balanced", "high": "Best"}
PRESET_TIPS = {
    "preview": "Refine at 256 px, 30 steps: for trying ideas",
    "balanced": "Refine at 512 px, 60 steps: minutes on a CPU, seconds on a GPU",
    "high": "Refine at 1024 px, 150 steps: meant for a GPU",
}
# Seconds a Refine with these settings will take, and whether that comes from runs measured here
# (False: the first guess). The controller supplies one (StyleRun.estimate); without it, the guess.
Estimator = Callable[[StyleSettings], tuple[float, bool]]


# "Keep my photo ↔ Take the style": style_weight on a log scale from 1 to 400, so the presets' 20
# (refining the instant painting) sits in the middle and 300 (from the photo) near the right end.
STYLE_SLIDER_STEPS = 200
STYLE_WEIGHT_RANGE = (1.0, 400.0)


def slider_weight(position: int) -> float:
    """The style weight at a slider position (3 significant digits: the numbers people type)."""
    low, high = STYLE_WEIGHT_RANGE
    fraction = min(max(position, 0), STYLE_SLIDER_STEPS) / STYLE_SLIDER_STEPS
    return float(f"{low * (high / low) ** fraction:.3g}")


def weight_position(weight: float) -> int:
    low, high = STYLE_WEIGHT_RANGE
    if not weight > 0:
        return 0
    fraction = math.log(weight / low) / math.log(high / low)
    return round(min(max(fraction, 0.0), 1.0) * STYLE_SLIDER_STEPS)


def first_guess(settings: StyleSettings) -> tuple[float, bool]:
    return estimate_seconds(settings, FIRST_GUESS_S_PER_STEP_MP), False


def short_duration(seconds: float) -> str:
    """A preset button's estimate: '~40 s'."""
    return "~" + duration_text(seconds).removeprefix("about ")


def estimate_note(measured: bool) -> str:
    return "measured from your runs on this machine" if measured else "a first guess until your first Refine"


OPTIMIZER_LABELS = {"lbfgs": "L-BFGS (sharp, fewer steps)", "adam": "Adam (smooth, steady)"}
POOLING_LABELS = {"max": "Max (crisper)", "avg": "Average (softer)"}
COLOUR_LABELS = {
    "none": "Off: take the painting's colours",
    "luminance": "Keep the photo's colours",
    "match": "Recolour the painting first",
}
RELU_LAYERS = tuple(name for name in LAYER_NAMES if name.startswith("relu"))


def preset_name(settings: StyleSettings) -> str | None:
    return next((name for name, preset in PRESETS.items() if preset == settings), None)


class ScientificSpinBox(QDoubleSpinBox):
    """A spin box for weights that span decades (1e-2 … 1e5): shown as 0.01, 10000, 1e+06."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(8)
        self.setRange(STYLE_WEIGHT.low, STYLE_WEIGHT.high)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        stripped = text.strip()
        try:
            float(stripped)
        except ValueError:
            partial = all(c in "0123456789.eE+-" for c in stripped)
            return (QValidator.State.Intermediate if partial else QValidator.State.Invalid, text, pos)
        return (QValidator.State.Acceptable, text, pos)

    def stepBy(self, steps: int) -> None:
        # One step multiplies or divides by about √10: weights are tuned by orders of magnitude.
        value = self.value() or 1e-3
        self.setValue(value * (10 ** (0.5 * steps)))


class LayerPicker(QToolButton):
    """A drop-down of VGG layers to tick; at least one stays ticked."""

    changed = Signal(tuple)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(60)
        self._menu = QMenu(self)
        self._actions = {}
        for name in RELU_LAYERS:
            action = self._menu.addAction(name)
            action.setCheckable(True)
            action.toggled.connect(self._on_toggled)
            self._actions[name] = action
        self.setMenu(self._menu)
        self._layers: tuple[str, ...] = ()

    def layers(self) -> tuple[str, ...]:
        return self._layers

    def set_layers(self, layers: tuple[str, ...]) -> None:
        self._layers = tuple(layers)
        for name, action in self._actions.items():
            action.blockSignals(True)
            action.setChecked(name in self._layers)
            action.blockSignals(False)
        # Short, so the column stays narrow; the tooltip and the menu list them all.
        shown = self._layers if len(self._layers) <= 2 else (self._layers[0], "…", self._layers[-1])
        self.setText(" ".join(shown) + (f"  ({len(self._layers)})" if len(self._layers) > 2 else ""))
        self.setToolTip("VGG19 layers: " + ", ".join(self._layers))

    def _on_toggled(self, _checked: bool) -> None:
        chosen = tuple(name for name, action in self._actions.items() if action.isChecked())
        # Layers the menu does not list (conv or pool layers from a PNG) are kept.
        extra = tuple(name for name in self._layers if name not in self._actions)
        if not chosen and not extra:
            self.set_layers(self._layers)  # the last one cannot be unticked
            return
        self.set_layers(extra + chosen)
        self.changed.emit(self._layers)


def preset_label(name: str) -> str:
    """'Quick · 256 px': the preset's name and the long side of its result."""
    return f"{PRESET_LABELS.get(name, name.capitalize())} · {PRESETS[name].size} px"


class PresetBar(QWidget):
    """Preview · Balanced · High quality as one segmented control."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        names = list(PRESETS)
        for index, name in enumerate(names):
            button = QPushButton(preset_label(name))
            button.setCheckable(True)
            button.setToolTip(PRESET_TIPS.get(name, ""))
            button.setObjectName("segment")
            button.setStyleSheet(segment_style(index == 0, index == len(names) - 1))
            self.group.addButton(button)
            self.buttons[name] = button
            row.addWidget(button, 1)
            button.clicked.connect(lambda _checked=False, n=name: self.chosen.emit(n))

    def show_estimates(self, estimator: Estimator) -> None:
        """Each button's label with its result's size and how long its Refine will take
        ('Balanced · 512 px', then '~40 s' under it)."""
        for name, button in self.buttons.items():
            seconds, measured = estimator(PRESETS[name])
            button.setText(f"{preset_label(name)}\n{short_duration(seconds)}")
            button.setToolTip(
                f"{PRESET_TIPS.get(name, '')}\n{duration_text(seconds).capitalize()} ({estimate_note(measured)})"
            )

    def show_preset(self, name: str | None) -> None:
        # None: "Custom"; an exclusive group cannot uncheck its last button without this dance.
        self.group.setExclusive(False)
        for key, button in self.buttons.items():
            button.setChecked(key == name)
        self.group.setExclusive(True)

    def checked(self) -> str | None:
        return next((name for name, button in self.buttons.items() if button.isChecked()), None)


class Collapsible(QCollapsible):
    """superqt's collapsible box, whose arrows are drawn in the palette's text colour again after a
    theme switch (superqt draws them once, in the colour of the moment). Closed it points at its
    title (▶), open it points down at what it shows (▼)."""

    COLLAPSED_ARROW = "▶"
    EXPANDED_ARROW = "▼"

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self._draw_arrows()

    def _arrow(self, symbol: str) -> QIcon:
        size = max(self.toggleButton().font().pointSize(), 8)
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawText(QRect(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, symbol)
        painter.end()
        return QIcon(pixmap)

    def _draw_arrows(self) -> None:
        self.setExpandedIcon(self._arrow(self.EXPANDED_ARROW))
        self.setCollapsedIcon(self._arrow(self.COLLAPSED_ARROW))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._draw_arrows()
        super().changeEvent(event)


class SettingsForm(QWidget):
    """Presets and the Advanced box, bound to one StyleSettings value."""

    settingsChanged = Signal(object)  # StyleSettings

    def __init__(self, settings: StyleSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else PRESETS["preview"]
        self._updating = False
        self._estimator: Estimator = first_guess
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(6)

        self.presets = PresetBar()
        self.presets.chosen.connect(self.apply_preset)
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.summary.setEnabled(False)
        self.summary.setWordWrap(True)
        box.addWidget(self.presets)
        box.addWidget(self.summary)
        balance = QHBoxLayout()
        balance.setSpacing(6)
        self.style_slider = QSlider(Qt.Orientation.Horizontal)
        self.style_slider.setObjectName("styleBalance")
        self.style_slider.setRange(0, STYLE_SLIDER_STEPS)
        self.style_slider.setPageStep(STYLE_SLIDER_STEPS // 10)
        self.style_slider.valueChanged.connect(self._on_style_slider)
        keep, take = QLabel("Keep my photo"), QLabel("Take the style")
        balance.addWidget(keep)
        balance.addWidget(self.style_slider, 1)
        balance.addWidget(take)
        box.addLayout(balance)

        self.advanced = Collapsible("Advanced")
        self.advanced.setObjectName("advancedSettings")
        inner = QWidget()
        form = QFormLayout(inner)
        form.setContentsMargins(4, 4, 0, 4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.fields: dict[str, QWidget] = {}

        # Every range is the settings' own bound (NUMBER_BOUNDS): the CLI and a reopened PNG accept the same.
        def spin(name: str, step: int = 1, suffix: str = "") -> QSpinBox:
            bound = NUMBER_BOUNDS[name]
            widget = QSpinBox()
            widget.setRange(int(bound.low), int(bound.high))
            widget.setSingleStep(step)
            widget.setSuffix(suffix)
            widget.setKeyboardTracking(False)
            widget.valueChanged.connect(lambda value, n=name: self._edit(n, int(value)))
            self.fields[name] = widget
            return widget

        def real(name: str, step: float, decimals: int = 2) -> QDoubleSpinBox:
            bound = NUMBER_BOUNDS[name]
            widget = QDoubleSpinBox()
            widget.setDecimals(decimals)  # before the range, which Qt rounds to the decimals
            widget.setRange(bound.low, bound.high)
            widget.setSingleStep(step)
            widget.setKeyboardTracking(False)
            widget.valueChanged.connect(lambda value, n=name: self._edit(n, float(value)))
            self.fields[name] = widget
            return widget

        def weight(name: str) -> ScientificSpinBox:
            widget = ScientificSpinBox()
            widget.valueChanged.connect(lambda value, n=name: self._edit(n, float(value)))
            self.fields[name] = widget
            return widget

        def choice(name: str, labels: dict[str, str]) -> QComboBox:
            widget = QComboBox()
            for value, label in labels.items():
                widget.addItem(label, value)
            widget.activated.connect(lambda _index, n=name, w=widget: self._edit(n, w.currentData()))
            self.fields[name] = widget
            return widget

        def layers(name: str) -> LayerPicker:
            widget = LayerPicker()
            widget.changed.connect(lambda value, n=name: self._edit(n, tuple(value)))
            self.fields[name] = widget
            return widget

        def row(label: str, widget: QWidget, tip: str) -> None:
            widget.setToolTip(tip)
            form.addRow(label, widget)

        row("Size", spin("size", 64, " px"), "Long side of the result")
        row(
            "First scale",
            spin("min_size", 16, " px"),
            "The run starts this small and doubles up to Size: big shapes first, then detail",
        )
        row("Steps", spin("steps", 10, " per scale"), "Optimiser steps at each scale")
        row("Style weight", weight("style_weight"), "How strongly the painting's textures count")
        row("Content weight", weight("content_weight"), "How strongly the photo's shapes count")
        row("Smoothness", weight("tv_weight"), "Total-variation weight: higher removes speckle, too high blurs")
        row(
            "Style layers",
            layers("style_layers"),
            "VGG19 layers whose textures are matched (lower: fine brushwork, higher: large motifs)",
        )
        row("Content layers", layers("content_layers"), "VGG19 layers whose shapes are kept")
        row(
            "Style scale",
            real("style_scale", 0.1),
            "Size of the painting's brushwork relative to the photo",
        )
        row("Optimiser", choice("optimizer", OPTIMIZER_LABELS), "L-BFGS converges in fewer steps; Adam is steadier")
        row("Learning rate", real("learning_rate", 0.05, 3), "Step size of the optimiser")
        row("Pooling", choice("pooling", POOLING_LABELS), "How VGG19 shrinks its feature maps")
        row("Colour", choice("preserve_color", COLOUR_LABELS), "Keep the photo's colours instead of the painting's")
        seed_row = QWidget()
        seed_layout = QHBoxLayout(seed_row)
        seed_layout.setContentsMargins(0, 0, 0, 0)
        seed_layout.addWidget(spin("seed"), 1)
        self.dice = QToolButton()
        self.dice.setText("⚄")
        self.dice.setToolTip("A new random seed")
        self.dice.clicked.connect(lambda: self.fields["seed"].setValue(random.randint(0, MAX_SEED)))
        seed_layout.addWidget(self.dice)
        row("Seed", seed_row, "The same seed and settings give the same picture")
        self.fields["seed"].setToolTip("The same seed and settings give the same picture")
        amp = QCheckBox("Mixed precision on the GPU")
        amp.toggled.connect(lambda on: self._edit("amp", bool(on)))
        self.fields["amp"] = amp
        row("", amp, "bfloat16 convolutions on CUDA: faster, less memory; no effect on a CPU")
        row("Preview every", real("preview_interval_s", 0.1, 1), "Seconds between live previews")
        self.fields["preview_interval_s"].setSuffix(" s")

        self.error = QLabel("")
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.error.hide()
        form.addRow(self.error)
        self.reset_button = QPushButton("Reset to preset")
        self.reset_button.setToolTip("Back to the Balanced preset")
        self.reset_button.clicked.connect(lambda: self.apply_preset(self.presets.checked() or "balanced"))
        form.addRow("", self.reset_button)
        self.advanced.addWidget(inner)
        box.addWidget(self.advanced)
        self._show(self._settings)

    # ----- the value ------------------------------------------------------------------------
    def settings(self) -> StyleSettings:
        return self._settings

    def set_settings(self, settings: StyleSettings) -> None:
        changed = settings != self._settings
        self._settings = settings
        self._show(settings)
        if changed:
            self.settingsChanged.emit(settings)

    def set_estimator(self, estimator: Estimator | None) -> None:
        """Where the time estimates come from (None: the first guess); shows them again."""
        self._estimator = estimator or first_guess
        self.refresh_estimates()

    def refresh_estimates(self) -> None:
        """Show the estimates again (the photo, or the measured speed, changed)."""
        self._show_summary(self._settings)

    def estimate(self, settings: StyleSettings | None = None) -> tuple[float, bool]:
        return self._estimator(settings if settings is not None else self._settings)

    def _on_style_slider(self, position: int) -> None:
        if not self._updating:
            self._edit("style_weight", slider_weight(position))

    def _show_style_slider(self, s: StyleSettings) -> None:
        self.style_slider.blockSignals(True)
        # A weight typed in Advanced between two positions keeps its own number (the slider shows
        # the nearest place); only moving the slider replaces it.
        self.style_slider.setValue(weight_position(s.style_weight))
        self.style_slider.blockSignals(False)
        self.style_slider.setToolTip(
            f"Style weight {s.style_weight:g}: left keeps more of the photo's shapes, right takes more of the"
            " painting's texture (the presets use 20; Advanced has the number)"
        )

    def apply_preset(self, name: str) -> None:
        preset = PRESETS[name]
        # The seed is the artist's, not the preset's: switching quality keeps the same picture.
        self.set_settings(preset.replace(seed=self._settings.seed) if self._settings.seed != preset.seed else preset)

    def _edit(self, name: str, value: object) -> None:
        if self._updating or getattr(self._settings, name) == value:
            return
        try:
            new = self._settings.replace(**{name: value})
        except (StyleSettingsError, ValueError, TypeError) as exc:
            self.error.setText(str(exc))
            self.error.show()
            self._show(self._settings, keep_error=True)
            return
        self.set_settings(new)

    # ----- showing it -------------------------------------------------------------------------
    def _show(self, s: StyleSettings, keep_error: bool = False) -> None:
        self._updating = True
        try:
            for name, widget in self.fields.items():
                value = getattr(s, name)
                # Unblocked however this ends: a failure never leaves a field deaf.
                with QSignalBlocker(widget):
                    if isinstance(widget, LayerPicker):
                        widget.set_layers(value)
                    elif isinstance(widget, QComboBox):
                        index = widget.findData(value)
                        if index < 0:
                            widget.addItem(str(value), value)
                            index = widget.count() - 1
                        widget.setCurrentIndex(index)
                    elif isinstance(widget, QCheckBox):
                        widget.setChecked(bool(value))
                    elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
                        # Python compares any number with the range; Qt overflows past 32 bits.
                        widget.setValue(min(max(value, widget.minimum()), widget.maximum()))
                    else:
                        widget.setValue(value)
        finally:
            self._updating = False
        if not keep_error:
            self.error.hide()
        self.presets.show_preset(self._preset(s))
        self._show_style_slider(s)
        self._show_summary(s)

    def _preset(self, s: StyleSettings) -> str | None:
        return preset_name(s.replace(seed=0)) if s.seed != 0 else preset_name(s)

    def _show_summary(self, s: StyleSettings) -> None:
        preset = self._preset(s)
        scales = s.scale_sizes()
        seconds, measured = self._estimator(s)
        self.summary.setText(
            f"{'Custom · ' if preset is None else ''}{s.size} px · {len(scales)} scale{'s' if len(scales) > 1 else ''}"
            f" × {s.steps} steps · {s.optimizer.upper() if s.optimizer == 'lbfgs' else s.optimizer.capitalize()}"
            + ("" if s.preserve_color == "none" else " · photo colours")
            + f" · {duration_text(seconds)}"
        )
        self.summary.setToolTip(f"How long a Refine will take: {estimate_note(measured)}")
        self.presets.show_estimates(self._estimator)
