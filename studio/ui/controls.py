"""Pieces of a panel's control column that the panels share."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QWidget


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


def scrolling_column(column: QWidget, min_width: int) -> QScrollArea:
    """The control column in a frameless, vertical-only scroll area."""
    scroll = QScrollArea()
    scroll.setWidget(column)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(min_width)
    return scroll
