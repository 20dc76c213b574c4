"""Undoable changes of the explorer's point, for the main window's shared undo stack."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

if TYPE_CHECKING:
    from collections.abc import Hashable

    from studio.engine.latent.state import LatentState
    from studio.ui.latent.explorer_controller import ExplorerController

# One id for every mergeable explorer command; merge_key decides which ones really merge.
MERGE_ID = 0x1A7E


class SetLatentState(QUndoCommand):
    """Move the explorer from one point to another.

    Commands with the same ``merge_key`` pushed one after another merge into one undo step:
    a whole slider drag (every ``valueChanged`` of it) undoes in one go.
    """

    def __init__(
        self,
        explorer: ExplorerController,
        old: LatentState,
        new: LatentState,
        text: str,
        merge_key: Hashable | None = None,
    ) -> None:
        super().__init__(text)
        self._explorer = explorer
        self.old = old
        self.new = new
        self.merge_key = merge_key

    def id(self) -> int:
        return MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetLatentState) or other.merge_key != self.merge_key:
            return False
        self.new = other.new
        if self.new == self.old:
            self.setObsolete(True)  # a drag back to where it started leaves no step behind
        return True

    def redo(self) -> None:
        self._explorer.apply(self.new)

    def undo(self) -> None:
        self._explorer.apply(self.old)
