"""The explorer's "Mix with another picture" section: the second picture and, per layer group,
which picture it takes its style from. A view of :class:`~studio.ui.latent.style_mixing.StyleMixer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSignalBlocker, Qt, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.engine.latent.mixing import GROUP_SIZES, GROUPS, SOURCES
from studio.spec.bounds import SEED
from studio.ui.controls import plain_tooltip, section_label, segment_style
from studio.ui.latent.style_mixing import GROUP_NAMES, StyleMixer

if TYPE_CHECKING:
    from studio.engine.latent.mixing import StyleMix
    from studio.ui.latent.explorer_controller import ExplorerController

HEADING = "Mix with another picture"
THUMBNAIL = 64
SOURCE_LABELS = {"a": "This", "b": "Second"}
GROUP_TIPS = {
    "coarse": "The pose, the face's shape and the layout",
    "middle": "The features: eyes, mouth, hair",
    "fine": "Colours and small detail",
}
NO_SECOND = "Choose a second picture: a seed, a bookmark, or right-click a tile in the sample grid."


def mixed_caption(mix: StyleMix) -> str:
    """The caption's word for a mixed picture: "mixed with seed 27"."""
    return f"mixed with seed {mix.seed}" if mix.seed is not None else "mixed with a second picture"


class MixingSection(QWidget):
    """Shown only for a model that can mix (a GAN v2); every control is an undo step of the point."""

    def __init__(self, explorer: ExplorerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explorer = explorer
        self.mixer = StyleMixer(explorer, self)
        self._build()
        explorer.modelLoaded.connect(self._on_model_loaded)
        explorer.loadingChanged.connect(lambda _loading: self._update_enabled())
        explorer.stateChanged.connect(lambda _state: self.follow_state())
        explorer.bookmarksChanged.connect(self._fill_bookmarks)
        self.mixer.secondChanged.connect(self.follow_state)
        self.setVisible(False)

    # ----- construction -------------------------------------------------------------------
    def _build(self) -> None:
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(6)
        self.heading = section_label(HEADING)
        self.heading.setToolTip(
            "Take the shape from this picture and the colours from another, or any mix of the two: "
            "each group of the model's layers draws with the style of the picture you choose for it"
        )
        box.addWidget(self.heading)

        self.thumbnail = QLabel()
        self.thumbnail.setFixedSize(THUMBNAIL, THUMBNAIL)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setStyleSheet("border: 1px solid palette(mid); border-radius: 4px;")
        self.thumbnail.setToolTip("The second picture")
        self.second_label = QLabel(NO_SECOND)
        self.second_label.setTextFormat(Qt.TextFormat.PlainText)  # a bookmark's name
        self.second_label.setWordWrap(True)

        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(int(SEED.low), int(SEED.high))
        self.seed_spin.setKeyboardTracking(False)
        self.seed_spin.setToolTip("The seed of the second picture (a sample of this class, with this variety)")
        self.seed_button = QPushButton("Use seed")
        self.seed_button.setToolTip("Mix with the sample of this seed")
        self.bookmark_combo = QComboBox()
        self.bookmark_combo.setToolTip("Mix with one of this model's bookmarks")
        self.bookmark_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.bookmark_combo.setMinimumContentsLength(10)

        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.seed_button)
        choose = QVBoxLayout()
        choose.setSpacing(4)
        choose.addWidget(self.second_label)
        choose.addLayout(seed_row)
        choose.addWidget(self.bookmark_combo)
        top = QHBoxLayout()
        top.addWidget(self.thumbnail, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(choose, 1)
        box.addLayout(top)

        # Per group: its name, its sizes, and a two-way toggle This | Second.
        self.groups_box = QWidget()
        grid = QGridLayout(self.groups_box)
        grid.setContentsMargins(0, 2, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        self.group_rows: dict[str, tuple[QLabel, QWidget]] = {}
        self.toggles: dict[str, QButtonGroup] = {}
        self.source_buttons: dict[tuple[str, str], QPushButton] = {}
        for row, group in enumerate(GROUPS):
            label = QLabel(f"{GROUP_NAMES[group]}  <span style='color: palette(mid)'>{GROUP_SIZES[group]}</span>")
            label.setTextFormat(Qt.TextFormat.RichText)
            tip = f"{GROUP_TIPS[group]} ({GROUP_SIZES[group]} layers): from this picture or from the second one"
            label.setToolTip(tip)
            toggle = QWidget()
            toggle_row = QHBoxLayout(toggle)
            toggle_row.setContentsMargins(0, 0, 0, 0)
            toggle_row.setSpacing(0)
            buttons = QButtonGroup(self)
            buttons.setExclusive(True)
            for index, source in enumerate(SOURCES):
                button = QPushButton(SOURCE_LABELS[source])
                button.setObjectName("segment")
                button.setCheckable(True)
                button.setStyleSheet(segment_style(index == 0, index == len(SOURCES) - 1, padding="3px 10px"))
                button.setToolTip(
                    f"{GROUP_TIPS[group]} from {'this picture' if source == 'a' else 'the second picture'}"
                )
                button.clicked.connect(lambda _checked=False, g=group, s=source: self.mixer.set_source(g, s))
                buttons.addButton(button)
                toggle_row.addWidget(button)
                self.source_buttons[group, source] = button
            grid.addWidget(label, row, 0)
            grid.addWidget(toggle, row, 1, Qt.AlignmentFlag.AlignRight)
            self.group_rows[group] = (label, toggle)
            self.toggles[group] = buttons
        grid.setColumnStretch(0, 1)
        box.addWidget(self.groups_box)

        self.stop_button = QPushButton("Stop mixing")
        self.stop_button.setToolTip("Back to this picture alone (Ctrl+Z brings the mix back)")
        box.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignLeft)

        self.seed_button.clicked.connect(self._use_seed)
        self.seed_spin.lineEdit().returnPressed.connect(self._use_seed)
        self.bookmark_combo.activated.connect(self._on_bookmark_chosen)
        self.stop_button.clicked.connect(self.mixer.stop)

    # ----- following the explorer ---------------------------------------------------------
    @Slot()
    def _on_model_loaded(self) -> None:
        can_mix = self.mixer.can_mix
        self.setVisible(can_mix)
        present = self.mixer.groups()
        for group, (label, toggle) in self.group_rows.items():
            label.setVisible(group in present)
            toggle.setVisible(group in present)
        self._fill_bookmarks()
        self.follow_state()

    @Slot()
    def _fill_bookmarks(self) -> None:
        combo = self.bookmark_combo
        with QSignalBlocker(combo):
            combo.clear()
            marks = self.explorer.model_bookmarks()
            combo.addItem("Use a bookmark…" if marks else "No bookmarks yet", None)
            for mark in marks:
                combo.addItem(mark.name, mark.id)
                combo.setItemData(combo.count() - 1, plain_tooltip(mark.name), Qt.ItemDataRole.ToolTipRole)
            combo.setCurrentIndex(0)
        self._update_enabled()

    @Slot()
    def follow_state(self) -> None:
        """The controls show the current state's mix (after any change, undo, redo or opened PNG)."""
        mix = self.mixer.mix if self.mixer.can_mix else None
        mixing = mix is not None
        self.groups_box.setVisible(mixing)
        self.stop_button.setVisible(mixing)
        if mixing:
            for group in GROUPS:
                for source in SOURCES:
                    button = self.source_buttons[group, source]
                    with QSignalBlocker(button):
                        button.setChecked(mix.source(group) == source)
            if mix.seed is not None and SEED.problem(mix.seed) is None:
                with QSignalBlocker(self.seed_spin):
                    self.seed_spin.setValue(mix.seed)
        second = self.mixer.second if mixing else None
        if second is None:
            self.second_label.setText(NO_SECOND)
            self.thumbnail.clear()
            self.thumbnail.setText("B")
        else:
            self.second_label.setText(f"Second picture: {self.mixer.second_label}")
            qimage = self.mixer.second_qimage
            if qimage is None:
                self.thumbnail.clear()
                self.thumbnail.setText("…")
            else:
                self.thumbnail.setPixmap(
                    QPixmap.fromImage(qimage).scaled(
                        THUMBNAIL - 4,
                        THUMBNAIL - 4,
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )
        self._update_enabled()

    def _update_enabled(self) -> None:
        ready = self.explorer.model is not None and not self.explorer.loading
        for widget in (self.seed_spin, self.seed_button, self.groups_box, self.stop_button):
            widget.setEnabled(ready)
        self.bookmark_combo.setEnabled(ready and self.bookmark_combo.count() > 1)

    # ----- what the artist does -----------------------------------------------------------
    @Slot()
    def _use_seed(self) -> None:
        self.seed_spin.interpretText()
        self.mixer.use_seed(self.seed_spin.value())

    @Slot(int)
    def _on_bookmark_chosen(self, row: int) -> None:
        bookmark_id = self.bookmark_combo.itemData(row)
        with QSignalBlocker(self.bookmark_combo):
            self.bookmark_combo.setCurrentIndex(0)
        if bookmark_id:
            self.mixer.use_bookmark(bookmark_id)
