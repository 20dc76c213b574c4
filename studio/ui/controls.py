"""Pieces of a panel's control column that the panels share."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QSplitter, QWidget


class ElidedLabel(QLabel):
    """A one-line label that gives way to its layout: too long for its width, it is shortened with
    "…" (at ``mode``: the end, or the middle for file names) on every resize and font change, and
    the tooltip holds all of it. It asks for its full text's width but needs only ``min_width``."""

    def __init__(
        self,
        text: str = "",
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
        min_width: int = 40,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)  # file names: shown as they are, never as markup
        self._full = text
        self._mode = mode
        self._min_width = min_width

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()
        self.updateGeometry()

    def shown_text(self) -> str:
        """The text as drawn at the label's width."""
        return self.text()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(self.contentsRect().width(), 1))
        super().setText(shown)
        self.setToolTip("" if shown == self._full else plain_tooltip(self._full))

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 2, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self._min_width, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._elide()


def plain_tooltip(text: str) -> str:
    """``text`` (a file's name, a card's text) for a tooltip, shown as it is: Qt renders a tooltip
    that looks like markup as rich text, so one with "<" or "&" is escaped inside a paragraph
    that keeps its line breaks."""
    if "<" not in text and "&" not in text:
        return text
    return f'<p style="white-space: pre-wrap">{html.escape(text)}</p>'


def segment_style(first: bool, last: bool, padding: str = "5px 10px") -> str:
    """The style sheet of one button (object name "segment") of a segmented control: a row of
    checkable buttons drawn as one bar, rounded at its ends, the checked one highlighted."""
    left, right = (6 if first else 0), (6 if last else 0)
    return (
        f"QPushButton#segment {{ padding: {padding}; border: 1px solid palette(mid);"
        f" border-top-left-radius: {left}px; border-bottom-left-radius: {left}px;"
        f" border-top-right-radius: {right}px; border-bottom-right-radius: {right}px;"
        + ("" if first else " border-left: none;")
        + " background: palette(button); }"
        "QPushButton#segment:checked { background: palette(highlight); color: palette(highlighted-text);"
        " border-color: palette(highlight); }"
    )


def section_label(title: str) -> QLabel:
    """A small, muted, capitalised heading over a group of controls."""
    label = QLabel(title.upper())
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * 0.85)
    font.setBold(True)
    font.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 108)
    label.setFont(font)
    label.setEnabled(False)  # the palette's muted text colour
    label.setContentsMargins(0, 10, 0, 2)
    return label


# However small the window, a control column shows this much of itself (the rest scrolls): the
# window's minimum size follows from it, so the controls never shrink into a sliver.
CONTROLS_MIN_HEIGHT = 300


class ControlScroll(QScrollArea):
    """A frameless, vertical-only scroll area that is never narrower than its column's controls
    (with room for the scroll bar) nor shorter than ``min_height``: the picture beside it gives way."""

    def __init__(self, column: QWidget, min_width: int, min_height: int) -> None:
        super().__init__()
        self._min_width = min_width
        self._min_height = min_height
        self.setWidget(column)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        column.installEventFilter(self)

    def column_width(self) -> int:
        """The width the column's controls need, plus the scroll bar that may appear beside them."""
        return self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()

    def minimumSizeHint(self) -> QSize:
        return QSize(max(self._min_width, self.column_width()), self._min_height)

    def sizeHint(self) -> QSize:
        return QSize(max(self._min_width, self.column_width()), super().sizeHint().height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Controls added later (direction sliders, longer labels) can widen the column.
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()
        return super().eventFilter(watched, event)


def scrolling_column(column: QWidget, min_width: int, min_height: int = CONTROLS_MIN_HEIGHT) -> QScrollArea:
    """The control column in a frameless, vertical-only scroll area, at least ``min_width`` wide
    (wider if its controls need it) and ``min_height`` tall."""
    return ControlScroll(column, min_width, min_height)


# The picture gives way to the controls down to this width (the run bar and hints under it still fit).
PICTURE_MIN_WIDTH = 280


def picture_beside_controls(picture: QWidget, controls: QWidget, sizes: tuple[int, int]) -> QSplitter:
    """The panels' main row: the picture takes the spare width, the controls keep theirs."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.setChildrenCollapsible(False)
    picture.setMinimumWidth(max(picture.minimumWidth(), PICTURE_MIN_WIDTH))
    splitter.addWidget(picture)
    splitter.addWidget(controls)
    splitter.setStretchFactor(0, 1)
    splitter.setStretchFactor(1, 0)
    splitter.setSizes(list(sizes))
    return splitter
