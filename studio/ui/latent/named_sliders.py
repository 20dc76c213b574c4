""" "Named sliders": one slider per named direction the artist taught the model (or it shipped with).

The directions are whatever :meth:`LatentModel.named_directions` lists: the file beside the
model, and for a bundled model the artist's own in the user data folder too. They are read
again when a model loads and when a direction is taught (``namedDirectionsChanged``), so they
survive restarts. A slider shows the current point's value along its direction, in sigma (0 is
the boundary the examples were split by); moving it is :meth:`LatentModel.state_with_named`,
one undo step per drag, and the state records the value, so an exported PNG carries it.

Right-clicking a slider's name offers "Delete slider…" for the artist's own sliders (a bundled
model's shipped ones cannot be deleted). Deleting changes the model's file, not the picture: it
is no undo step, and a point that recorded the slider's value keeps it (only a record).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt, Slot
from PySide6.QtWidgets import QGridLayout, QLabel, QMenu, QMessageBox, QVBoxLayout, QWidget

from studio.spec.bounds import SLIDER_RANGE
from studio.ui.controls import plain_tooltip, section_label
from studio.ui.latent.direction_sliders import RESOLUTION, make_slider, on_press

if TYPE_CHECKING:
    from superqt import QLabeledDoubleSlider

    from studio.engine.latent.named_directions import NamedDirection
    from studio.engine.latent.state import LatentState
    from studio.ui.latent.explorer_controller import ExplorerController

HEADING = "Named sliders"
EMPTY_HINT = "None yet. Open Sample grid… and press “Teach a slider” to make one from pictures you mark."
SHIPPED_NOTE = "This slider comes with the model"
DELETE_NOTE = "The slider is removed from this model; pictures you exported keep their look."


def accuracy_words(accuracy: float | None) -> str:
    """Held-out accuracy, as an artist reads it."""
    if accuracy is None:
        return "How well it tells pictures apart was not measured."
    return f"It tells them apart {round(accuracy * 10)} times in 10 on pictures it did not learn from."


def direction_tooltip(direction: NamedDirection) -> str:
    text = f"“{direction.name}”: move right for more of it, left for less. 0 is the line between the examples."
    if direction.description:
        text += f"\n{direction.description}"
    return f"{text}\n{accuracy_words(direction.accuracy)}"


class NamedSliders(QWidget):
    """The "Named sliders" section of the explorer's column."""

    def __init__(self, explorer: ExplorerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explorer = explorer
        self.directions: list[NamedDirection] = []
        self.sliders: list[QLabeledDoubleSlider] = []
        self.labels: list[QLabel] = []
        self.own: set[str] = set()  # the artist's own sliders: these can be deleted
        self._values: list[float] = []
        self.heading = section_label(HEADING)
        self.heading.setToolTip(
            "Sliders taught from pictures you marked (directions in the latent space); they are kept with the model"
        )
        self.hint = QLabel(EMPTY_HINT)
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(8)
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.heading)
        layout.addWidget(self.hint)
        layout.addLayout(self._grid)
        explorer.modelLoaded.connect(self.reload)
        explorer.namedDirectionsChanged.connect(self.reload)
        explorer.stateChanged.connect(self._on_state_changed)

    def names(self) -> list[str]:
        return [d.name for d in self.directions]

    @Slot()
    def reload(self) -> None:
        """Read the loaded model's named directions and build one row for each."""
        model = self.explorer.model
        directions: list[NamedDirection] = []
        self.own = set()
        if model is not None:
            try:
                directions = model.named_directions()
                self.own = set(model.own_named_directions())
            except (OSError, ValueError) as exc:  # ModelFileError names the damaged file
                self.explorer.errorOccurred.emit(f"The named sliders could not be read: {exc}")
        self._rebuild(directions)
        if self.explorer.state is not None:
            self._on_state_changed(self.explorer.state)

    def _rebuild(self, directions: list[NamedDirection]) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.directions = list(directions)
        self.sliders = []
        self.labels = []
        self._values = [0.0] * len(self.directions)
        for row, direction in enumerate(self.directions):
            name = QLabel(direction.name)
            name.setTextFormat(Qt.TextFormat.PlainText)  # the artist's own text
            name.setMinimumWidth(64)
            tooltip = plain_tooltip(direction_tooltip(direction))
            name.setToolTip(tooltip)
            name.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            name.customContextMenuRequested.connect(lambda pos, i=row: self._show_menu(i, pos))
            slider = make_slider(-SLIDER_RANGE, SLIDER_RANGE)
            slider.setToolTip(tooltip)
            slider.setObjectName(f"named-{row}")
            slider.valueChanged.connect(lambda value, i=row: self._on_value_changed(i, float(value)))
            on_press(slider, self.explorer.new_drag)
            slider.sliderReleased.connect(self.explorer.new_drag)
            self._grid.addWidget(name, row, 0)
            self._grid.addWidget(slider, row, 1)
            self.sliders.append(slider)
            self.labels.append(name)
        self.hint.setVisible(not self.directions)

    def values(self, state: LatentState | None = None) -> list[float]:
        """The point's value along each direction, in sigma."""
        state = state or self.explorer.state
        if state is None:
            return [0.0] * len(self.directions)
        code = state.z_array()
        return [d.value(code) for d in self.directions]

    @Slot(object)
    def _on_state_changed(self, state: LatentState) -> None:
        model = self.explorer.model
        if model is None or state.model_sha256 != model.sha256 or len(state.z) != model.latent_dim:
            return
        values = self.values(state)
        for index, slider in enumerate(self.sliders):
            if slider.isSliderDown():
                continue  # the artist's hand decides where it is
            value = max(-SLIDER_RANGE, min(SLIDER_RANGE, values[index]))
            self._values[index] = value
            slider.blockSignals(True)
            slider.setValue(value)
            slider.blockSignals(False)

    def _on_value_changed(self, index: int, value: float) -> None:
        # A press snaps the handle to the slider's grid: not a move of the artist's.
        if abs(value - self._values[index]) < RESOLUTION / 2:
            return
        self._values[index] = value
        self.move(self.directions[index].name, value)

    def move(self, name: str, value: float) -> None:
        """Move the point along the named direction until it reads ``value`` (one undo step per drag)."""
        e = self.explorer
        if e.model is None or e.state is None:
            return
        try:
            new = e.model.state_with_named(e.state, name, value)
        except ValueError as exc:
            e.errorOccurred.emit(str(exc))
            return
        e.change(new, f"Move {name}", ("named", name, e.drag_serial))

    # --- deleting one of the artist's own sliders ------------------------------------------------

    def menu(self, index: int) -> QMenu:
        """The menu of the slider's name: delete it, or (shipped with the model) why it cannot be."""
        name = self.directions[index].name
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        action = menu.addAction(f"Delete slider “{name}”…")
        action.setObjectName("delete-slider")
        if name in self.own:
            action.setToolTip("Remove this slider you made from the model (asks first)")
            action.triggered.connect(lambda _checked=False, n=name: self.delete(n))
        else:
            action.setEnabled(False)
            action.setToolTip(f"{SHIPPED_NOTE}; only sliders you made can be deleted")
            note = menu.addAction(SHIPPED_NOTE)
            note.setEnabled(False)
        return menu

    def _show_menu(self, index: int, pos: QPoint) -> None:
        self.menu(index).exec(self.labels[index].mapToGlobal(pos))

    def delete(self, name: str, confirm: bool = True) -> bool:
        """Delete the artist's slider ``name`` after asking; the section reloads. True when deleted."""
        e = self.explorer
        if e.model is None:
            return False
        if confirm:
            box = QMessageBox(
                QMessageBox.Icon.Question,
                f"Delete slider “{name}”",
                f"Delete the slider “{name}”?\n\n{DELETE_NOTE}",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                self,
            )
            box.button(QMessageBox.StandardButton.Yes).setText("Delete")
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
            if box.exec() != QMessageBox.StandardButton.Yes:
                return False
        try:
            e.model.delete_named_direction(name)
        except (OSError, ValueError) as exc:  # SaveError names the file; a shipped name says so
            e.errorOccurred.emit(f"The slider “{name}” could not be deleted: {exc}")
            return False
        finally:
            e.namedDirectionsChanged.emit()
        return True
