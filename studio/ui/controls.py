"""Pieces of a panel's control column that the panels share."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSplitter, QWidget


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


def picture_beside_controls(picture: QWidget, controls: QWidget, sizes: tuple[int, int]) -> QSplitter:
    """The panels' main row: the picture takes the spare width, the controls keep theirs."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.setChildrenCollapsible(False)
    splitter.addWidget(picture)
    splitter.addWidget(controls)
    splitter.setStretchFactor(0, 1)
    splitter.setStretchFactor(1, 0)
    splitter.setSizes(list(sizes))
    return splitter
