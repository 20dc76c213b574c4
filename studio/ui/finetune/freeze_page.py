"""Page 3: what to keep from the original model: the freeze presets (their technical names in
the tooltips) and a tick box per part of the model, in plain words (block names and parameter
counts in the tooltips)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QLabel,
    QRadioButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from studio.ui.controls import section_label
from studio.ui.finetune.common import CUSTOM, format_count
from studio.ui.finetune.plain import block_size, block_tooltip, block_words, network_words

if TYPE_CHECKING:
    from studio.ui.finetune.jobs import LoadedBase
    from studio.ui.finetune.session import FinetuneSession

PARAMETERS = Qt.ItemDataRole.UserRole + 1  # a block's parameter count, beside its name (UserRole)


class FreezePage(QWizardPage):
    def __init__(self, session: FinetuneSession) -> None:
        super().__init__()
        self.session = session
        self.setTitle("What to keep from the original model")
        self.setSubTitle(
            "Parts you keep stay as the original model learnt them. Keeping more is faster and "
            "safer with few images; letting more learn adapts further to your images."
        )
        self.presets = QButtonGroup(self)
        self.preset_box = QVBoxLayout()
        self.blocks = QTreeWidget()
        self.blocks.setHeaderLabels(["Part of the model (ticked parts learn from your images)"])
        self.blocks.headerItem().setToolTip(0, "The model's blocks; unticked blocks are frozen")
        self.blocks.setRootIsDecorated(True)
        self.blocks.itemChanged.connect(self._on_block_toggled)
        self.count = QLabel()
        self.count.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        layout = QVBoxLayout(self)
        layout.addLayout(self.preset_box)
        layout.addWidget(section_label("Or choose part by part"))
        layout.addWidget(self.blocks, 1)
        layout.addWidget(self.count)
        self._built_for: LoadedBase | None = None
        self._updating = False

    def initializePage(self) -> None:
        base, freeze = self.session.draft.base, self.session.draft.freeze
        if base is None or self._built_for is base:
            return
        self._built_for = base
        for button in self.presets.buttons():
            self.presets.removeButton(button)
            button.deleteLater()
        for preset in base.presets:
            button = QRadioButton(preset.plain or preset.label)
            button.setToolTip(f"{preset.label} ({preset.key}). {preset.description}")
            button.setProperty("preset", preset.key)
            if preset.key == "freeze-d" and not base.has_discriminator:
                button.setEnabled(False)
                button.setToolTip(
                    f"{preset.label} ({preset.key}): {base.name} has no trained discriminator (judge) "
                    "beside it, so there is nothing to keep"
                )
            self.presets.addButton(button)
            self.preset_box.addWidget(button)
            button.toggled.connect(lambda on, key=preset.key: on and self.apply_preset(key))
        custom = QRadioButton("My own choice: the parts ticked below")
        custom.setToolTip("Custom: the blocks ticked below train, the others stay frozen")
        custom.setProperty("preset", CUSTOM)
        self.presets.addButton(custom)
        self.preset_box.addWidget(custom)
        wanted = freeze if freeze != "auto" else base.default_freeze
        if wanted == "freeze-d" and not base.has_discriminator:
            wanted = "all"
        self._fill_blocks(base)
        if isinstance(wanted, tuple):
            self._set_frozen(wanted)
            custom.setChecked(True)
        else:
            self.select_preset(wanted)

    def preset_button(self, key: str) -> QRadioButton | None:
        return next((b for b in self.presets.buttons() if b.property("preset") == key), None)

    def select_preset(self, key: str) -> None:
        button = self.preset_button(key)
        if button is not None:
            button.setChecked(True)
            self.apply_preset(key)

    def apply_preset(self, key: str) -> None:
        base = self.session.draft.base
        if key == CUSTOM or base is None:
            return
        self._set_frozen(base.preset_blocks[key])
        self.session.set_freeze(key)

    def _fill_blocks(self, base: LoadedBase) -> None:
        self._updating = True
        self.blocks.clear()
        parents: dict[str, QTreeWidgetItem] = {}
        finest = max((block_size(b.name) or 0 for b in base.blocks), default=0)
        for block in base.blocks:
            parent = parents.get(block.network)
            if parent is None:
                heading, technical = network_words(block.network)
                parent = QTreeWidgetItem([heading])
                parent.setToolTip(0, technical)
                parent.setFlags(parent.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
                self.blocks.addTopLevelItem(parent)
                parents[block.network] = parent
            item = QTreeWidgetItem([block_words(block.name, block.network, finest)])
            item.setToolTip(0, block_tooltip(block.label, block.name, block.parameters))
            item.setData(0, Qt.ItemDataRole.UserRole, block.name)
            item.setData(0, PARAMETERS, block.parameters)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Unchecked if block.frozen else Qt.CheckState.Checked)
            parent.addChild(item)
        self.blocks.expandAll()
        self.blocks.resizeColumnToContents(0)
        self._updating = False
        self._update_count()

    def block_items(self) -> list[QTreeWidgetItem]:
        items = []
        for top in range(self.blocks.topLevelItemCount()):
            parent = self.blocks.topLevelItem(top)
            items += [parent.child(i) for i in range(parent.childCount())]
        return items

    def frozen(self) -> tuple[str, ...]:
        return tuple(
            item.data(0, Qt.ItemDataRole.UserRole)
            for item in self.block_items()
            if item.checkState(0) != Qt.CheckState.Checked
        )

    def _set_frozen(self, frozen: tuple[str, ...]) -> None:
        self._updating = True
        for item in self.block_items():
            name = item.data(0, Qt.ItemDataRole.UserRole)
            item.setCheckState(0, Qt.CheckState.Unchecked if name in frozen else Qt.CheckState.Checked)
        self._updating = False
        self._update_count()

    def _on_block_toggled(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        custom = self.preset_button(CUSTOM)
        if custom is not None and not custom.isChecked():
            custom.setChecked(True)
        self.session.set_freeze(self.frozen())
        self._update_count()

    def _update_count(self) -> None:
        items = self.block_items()
        total = sum(int(i.data(0, PARAMETERS)) for i in items)
        training = sum(int(i.data(0, PARAMETERS)) for i in items if i.checkState(0) == Qt.CheckState.Checked)
        share = 100 * training / max(total, 1)
        self.count.setText(f"{share:.0f} % of the model learns from your images; {100 - share:.0f} % stays as it was.")
        self.count.setToolTip(f"Training {format_count(training)} of {format_count(total)} parameters ({share:.0f} %)")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return any(i.checkState(0) == Qt.CheckState.Checked for i in self.block_items())
