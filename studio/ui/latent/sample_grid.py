"""A 4×4 grid of random samples of the current model; clicking one adopts it."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPoint, QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.spec.bounds import MAX_SEED
from studio.ui.latent.direction_teacher import DirectionTeacher, TeachPanel, badged
from studio.ui.latent.explorer_work import Rendered
from studio.ui.latent.render_channel import RenderChannel
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from studio.engine.latent.model import LatentModel
    from studio.engine.latent.state import LatentState
    from studio.ui.latent.explorer_controller import ExplorerController

ROWS = COLS = 4
CELL = 112
HINT = "Click a sample to continue from it. Shuffle for sixteen new ones."
TEACH_HINT = "Click the pictures that have the trait once, those that do not twice."
HINT_MIX = (
    "Click a sample to continue from it, or right-click it to mix it with your picture. Shuffle for sixteen new ones."
)


def render_samples(model: LatentModel, template: LatentState, base_seed: int, count: int) -> list[Rendered]:
    """Worker side: ``count`` samples with seeds ``base_seed``, ``base_seed + 1``... in one batch."""
    seeds = [(base_seed + i) % (MAX_SEED + 1) for i in range(count)]
    states = [
        # Plain samples: drawn without the current picture's style mix, repainted layers or named values.
        template.plain().reseeded(tuple(float(v) for v in model.random_z(seed, template.class_index)), seed)
        for seed in seeds
    ]
    images = model.render_batch(np.stack([s.z_array() for s in states]), template.class_index, psi=template.psi)
    return [Rendered(state, image, to_qimage(image)) for state, image in zip(states, images, strict=False)]


class SampleGridDialog(QDialog):
    adopted = Signal(object)  # LatentState
    mixWith = Signal(object)  # Rendered: the tile the artist chose as the second picture of a style mix

    def __init__(self, explorer: ExplorerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Random samples")
        self.explorer = explorer
        self.samples: list[Rendered] = []
        self.base_seed = 0
        self.channel = RenderChannel(explorer.worker, self)
        self.channel.done.connect(self._on_rendered)
        self.channel.failed.connect(self._on_failed)

        self.hint = QLabel(HINT)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.hint.setWordWrap(True)
        grid = QGridLayout()
        grid.setSpacing(6)
        self.cells: list[QToolButton] = []
        for index in range(ROWS * COLS):
            cell = QToolButton()
            cell.setIconSize(QSize(CELL, CELL))
            cell.setFixedSize(CELL + 12, CELL + 12)
            cell.setAutoRaise(True)
            cell.setEnabled(False)
            cell.clicked.connect(lambda _checked=False, i=index: self.adopt(i))
            cell.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            cell.customContextMenuRequested.connect(lambda pos, i=index: self._tile_menu(i, pos))
            grid.addWidget(cell, index // COLS, index % COLS)
            self.cells.append(cell)
        self.shuffle_button = QPushButton("Shuffle")
        self.shuffle_button.setToolTip("Sixteen new random samples")
        self.shuffle_button.clicked.connect(lambda: self.shuffle())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.shuffle_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        # Teaching mode (direction_teacher.py): clicks mark tiles instead of adopting them.
        self.teacher = DirectionTeacher(explorer, self)
        self.teach_panel = TeachPanel(self.teacher)
        self.teach_panel.hide()
        self.teach_button = QPushButton("Teach a slider")
        self.teach_button.setCheckable(True)
        self.teach_button.setToolTip(
            "Mark pictures that have a trait and pictures that do not; the model learns a slider for it"
        )
        self.teach_button.toggled.connect(self.set_teaching)
        buttons.addButton(self.teach_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.teacher.marksChanged.connect(self._paint_cells)
        body = QHBoxLayout()
        body.addLayout(grid)
        body.addWidget(self.teach_panel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addLayout(body)
        layout.addWidget(buttons)

    def shuffle(self, base_seed: int | None = None) -> None:
        model, state = self.explorer.model, self.explorer.state
        if model is None or state is None:
            return
        self.base_seed = random.randint(0, MAX_SEED) if base_seed is None else base_seed
        self._show_hint()
        seed = self.base_seed
        for cell in self.cells:
            cell.setEnabled(False)
        self.channel.request(lambda _device: render_samples(model, state, seed, ROWS * COLS))

    @Slot(object)
    def _on_rendered(self, samples: list[Rendered]) -> None:
        self.samples = samples
        self._paint_cells()
        for cell, sample in zip(self.cells, samples, strict=False):
            cell.setToolTip(f"Seed {sample.state.seed}")
            cell.setEnabled(True)

    @Slot()
    def _paint_cells(self) -> None:
        """Each tile's picture, with its mark in teaching mode."""
        teaching = self.teach_button.isChecked()
        for cell, sample in zip(self.cells, self.samples, strict=False):
            mark = self.teacher.mark(sample.state) if teaching else 0
            cell.setIcon(QIcon(badged(sample.qimage, CELL, mark)))

    @Slot(bool)
    def set_teaching(self, teaching: bool) -> None:
        """Teaching mode: clicks mark tiles (has it / does not) instead of adopting them."""
        if self.teach_button.isChecked() != teaching:
            self.teach_button.setChecked(teaching)  # comes back here
            return
        self.teach_panel.setVisible(teaching)
        self._show_hint()
        self._paint_cells()
        self.adjustSize()

    def _show_hint(self) -> None:
        """What a click does now: mark (teaching), or continue from / mix with the sample."""
        model = self.explorer.model
        if self.teach_button.isChecked():
            self.hint.setText(TEACH_HINT)
        else:
            self.hint.setText(HINT_MIX if model is not None and model.can_mix else HINT)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.hint.setText(message)

    def tile_actions(self, index: int) -> QMenu:
        """A tile's right-click menu: continue from it, or (a model that can mix) mix with it."""
        menu = QMenu(self)
        menu.addAction("Continue from this sample", lambda: self.continue_from(index))
        model = self.explorer.model
        if model is not None and model.can_mix:
            menu.addAction("Use as second picture for mixing", lambda: self.use_for_mixing(index))
        return menu

    def _tile_menu(self, index: int, pos: QPoint) -> None:
        if 0 <= index < len(self.samples):
            menu = self.tile_actions(index)
            menu.exec(self.cells[index].mapToGlobal(pos))
            menu.deleteLater()  # a child of the dialog, which lives as long as the panel

    def use_for_mixing(self, index: int) -> None:
        if 0 <= index < len(self.samples):
            self.mixWith.emit(self.samples[index])

    def adopt(self, index: int) -> None:
        if self.teach_button.isChecked():  # teaching: a click marks the tile (has it / does not / unmarked)
            if 0 <= index < len(self.samples):
                self.teacher.cycle(self.samples[index].state)
            return
        self.continue_from(index)

    def continue_from(self, index: int) -> None:
        """Adopt a tile's sample as the explorer's point (teaching or not: the right-click menu asks)."""
        if 0 <= index < len(self.samples):
            self.explorer.remember(self.samples[index])  # its picture is known: no re-render
            self.adopted.emit(self.samples[index].state)
