"""Page 3: what to train: the freeze presets and per-block checkboxes with parameter counts."""

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

if TYPE_CHECKING:
    from studio.ui.finetune.jobs import LoadedBase
    from studio.ui.finetune.session import FinetuneSession


class FreezePage(QWizardPage):
    def __init__(self, session: FinetuneSession) -> None:
        super().__init__()
        self.session = session
        self.setTitle("What to train")
        self.setSubTitle(
            "Frozen blocks keep what the base model learnt. Freezing more is faster and "
            "safer with few images; training more adapts further."
        )
        self.presets = QButtonGroup(self)
        self.preset_box = QVBoxLayout()
        self.blocks = QTreeWidget()
        self.blocks.setHeaderLabels(["Block", "Parameters"])
        self.blocks.setRootIsDecorated(True)
        self.blocks.itemChanged.connect(self._on_block_toggled)
        self.count = QLabel()
        layout = QVBoxLayout(self)
        layout.addLayout(self.preset_box)
        layout.addWidget(section_label("Blocks (ticked blocks train)"))
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
            button = QRadioButton(preset.label)
            button.setToolTip(preset.description)
            button.setProperty("preset", preset.key)
            if preset.key == "freeze-d" and not base.has_discriminator:
                button.setEnabled(False)
                button.setToolTip(f"{base.name} has no trained discriminator beside it, so there is nothing to freeze")
            self.presets.addButton(button)
            self.preset_box.addWidget(button)
            button.toggled.connect(lambda on, key=preset.key: on and self.apply_preset(key))
        custom = QRadioButton("Custom: the blocks ticked below")
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
        for block in base.blocks:
            parent = parents.get(block.network)
            if parent is None:
                parent = QTreeWidgetItem([block.network.capitalize(), ""])
                parent.setFlags(parent.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
                self.blocks.addTopLevelItem(parent)
                parents[block.network] = parent
            item = QTreeWidgetItem([block.label, format_count(block.parameters)])
            item.setData(0, Qt.ItemDataRole.UserRole, block.name)
            item.setData(1, Qt.ItemDataRole.UserRole, block.parameters)
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
        total = sum(int(i.data(1, Qt.ItemDataRole.UserRole)) for i in items)
        training = sum(
            int(i.data(1, Qt.ItemDataRole.UserRole)) for i in items if i.checkState(0) == Qt.CheckState.Checked
        )
        self.count.setText(
            f"Training {format_count(training)} of {format_count(total)} parameters "
            f"({100 * training / max(total, 1):.0f} %)."
        )
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return any(i.checkState(0) == Qt.CheckState.Checked for i in self.block_items())
