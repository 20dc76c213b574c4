"""The Style panel's offer to take back work a crash left: a line of text, Restore it, Discard.

Plain and non-blocking: it sits above the picture until answered, and the panel works as usual
meanwhile. The names in the text come from files, so they are shown as plain text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class RecoveryBar(QFrame):
    restoreClicked = Signal()
    discardClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recoveryBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "QFrame#recoveryBar { background: palette(alternate-base); border: 1px solid palette(highlight);"
            " border-radius: 6px; }"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        row.setSpacing(8)
        self.label = QLabel("")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.restore_button = QPushButton("Restore it")
        self.restore_button.setToolTip("Put the photo, the paintings, the settings and the last picture back")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Forget that work for good")
        row.addWidget(self.label, 1)
        row.addWidget(self.restore_button)
        row.addWidget(self.discard_button)
        self.restore_button.clicked.connect(self.restoreClicked)
        self.discard_button.clicked.connect(self.discardClicked)
        self.hide()

    def offer(self, summary: str) -> None:
        self.label.setText(f"Your last Style work was not closed properly: {summary}.")
        self.show()
