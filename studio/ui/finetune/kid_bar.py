""" "Closer to your images": KID before and after training as two bars, fuller is closer.

The number (KID, kernel inception distance on the held-out images; lower is closer) is in the
tooltip; the bars are :func:`studio.ui.finetune.plain.closeness` of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget

from studio.ui.controls import section_label
from studio.ui.finetune.plain import closeness

if TYPE_CHECKING:
    from studio.engine.training.kid import KidResult

FULL = 1000
EXPLAINED = (
    "How closely its pictures resemble your held-out images (ones it never trains on), before "
    "training and now. A fuller bar is closer."
)


class CloserBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.before_bar = self._bar()
        self.after_bar = self._bar()
        self.after_label = QLabel("After")
        self.note = QLabel()
        self.note.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.note.setWordWrap(True)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(section_label("Closer to your images"), 0, 0, 1, 2)
        layout.addWidget(QLabel("Before"), 1, 0)
        layout.addWidget(self.before_bar, 1, 1)
        layout.addWidget(self.after_label, 2, 0)
        layout.addWidget(self.after_bar, 2, 1)
        layout.addWidget(self.note, 3, 0, 1, 2)
        layout.setColumnStretch(1, 1)
        self.before: KidResult | None = None
        self.after: KidResult | None = None
        self.clear()

    @staticmethod
    def _bar() -> QProgressBar:
        bar = QProgressBar()
        bar.setRange(0, FULL)
        bar.setTextVisible(False)
        bar.setMaximumHeight(14)
        return bar

    def clear(self) -> None:
        self.before = self.after = None
        self.before_bar.setValue(0)
        self.after_bar.setValue(0)
        self.note.setText("Measured when training starts and at each checkpoint.")
        self._update_tooltip()

    def show_kid(self, kid: KidResult, *, final: bool = False) -> None:
        """A measurement: the first (step 0) is "before", any later one "now" (or "after" when final)."""
        if self.before is None and (kid.step in (None, 0)) and not final:
            self.before = kid
            self.before_bar.setValue(self.fullness(kid))
        else:
            self.after = kid
            self.after_bar.setValue(self.fullness(kid))
        self.after_label.setText("After" if final else "Now")
        self._update_note(final)
        self._update_tooltip()

    def show_result(self, before: KidResult | None, after: KidResult | None) -> None:
        """The finished run's two measurements (the finish page's)."""
        self.clear()
        if before is not None:
            self.before = before
            self.before_bar.setValue(self.fullness(before))
        if after is not None:
            self.after = after
            self.after_bar.setValue(self.fullness(after))
        self.after_label.setText("After")
        self._update_note(True)
        self._update_tooltip()

    @staticmethod
    def fullness(kid: KidResult) -> int:
        return round(closeness(kid.kid) * FULL)

    def _update_note(self, final: bool) -> None:
        before, after = self.before, self.after
        if before is None or after is None:
            self.note.setText("" if before is None and after is None else "Measuring as it trains.")
            return
        if after.kid < before.kid:
            text = "Closer to your images than before."
        elif after.kid > before.kid:
            text = "Not closer yet: more steps, or more images, may help." if not final else "Not closer than before."
        else:
            text = "About as close as before."
        self.note.setText(text)

    def _update_tooltip(self) -> None:
        lines = [EXPLAINED, ""]
        for name, kid in (("before", self.before), ("after", self.after)):
            if kid is not None:
                step = f" at step {kid.step}" if kid.step is not None else ""
                lines.append(f"KID {name}{step}: {kid.kid:.4g} ± {kid.std:.2g}")
        lines.append("KID: kernel inception distance on the held-out images; lower is closer.")
        self.setToolTip("\n".join(lines))
