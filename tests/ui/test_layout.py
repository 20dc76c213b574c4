"""The window's layout as an artist meets it on a small screen and a large one: the controls keep
their width and stay usable, the picture gives way or grows, the window stops at a sensible minimum."""

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLabel,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
)

from studio.ui.controls import CONTROLS_MIN_HEIGHT, PICTURE_MIN_WIDTH

PANELS = ["Latent Explorer", "Style Transfer", "Fine-tune"]


@pytest.fixture
def explorer_window(tiny_models, window, qtbot):
    """The window with a model loaded in the explorer, so its direction sliders are there."""
    explorer = window.latent_panel
    qtbot.waitUntil(lambda: explorer.explorer.model is not None and not explorer.explorer.loading, timeout=60_000)
    qtbot.waitUntil(lambda: explorer.view.image() is not None, timeout=60_000)
    return window


def _settle(window, size=None):
    if size is not None:
        window.resize(*size)
    for _ in range(3):
        QApplication.processEvents()


def _parts(window, title):
    """The panel's picture side, its control column (outside the scroll area) and that scroll area."""
    index = PANELS.index(title)
    window.tabs.setCurrentIndex(index)
    _settle(window)
    panel = window.panels[index]
    splitter = panel.findChild(QSplitter, options=Qt.FindChildOption.FindDirectChildrenOnly)
    picture, controls = splitter.widget(0), splitter.widget(1)
    scroll = controls if isinstance(controls, QScrollArea) else controls.findChild(QScrollArea)
    return panel, picture, controls, scroll


def _clipped_controls(controls):
    """Controls a user would see cut off: narrower than their text needs, or beyond the column's edge."""
    clipped = []
    for widget in controls.findChildren(QLabel) + controls.findChildren(QAbstractButton):
        if widget.isVisible() and not (isinstance(widget, QLabel) and widget.wordWrap()):
            if widget.width() < widget.minimumSizeHint().width():
                clipped.append(widget.text())
    for kind in (QLabel, QAbstractButton, QComboBox, QSlider, QSpinBox):
        for widget in controls.findChildren(kind):
            left = widget.mapTo(controls, QPoint(0, 0)).x()
            if widget.isVisible() and (left < 0 or left + widget.width() > controls.width()):
                clipped.append(f"{type(widget).__name__} at x {left}, {widget.width()} wide")
    return clipped


def test_the_window_stops_at_a_minimum_that_fits_a_small_screen(window):
    _settle(window, (300, 200))
    minimum = window.minimumSize()
    assert (window.width(), window.height()) == (minimum.width(), minimum.height())
    # An 800 x 600 screen (and half of a 1920 px one) holds it.
    assert 600 <= minimum.width() <= 800 and 450 <= minimum.height() <= 600


@pytest.mark.parametrize("title", PANELS)
def test_at_the_minimum_the_controls_keep_their_width_and_height_and_the_picture_gives_way(explorer_window, title):
    window = explorer_window
    _settle(window, (1280, 800))
    _panel, picture, controls, scroll = _parts(window, title)
    roomy_controls, roomy_picture = controls.width(), picture.size()

    _settle(window, (300, 200))  # as small as the window goes
    _panel, picture, controls, scroll = _parts(window, title)
    column = scroll.widget()
    # The column is as wide as its controls need (about as wide as it was), and tall enough to use.
    assert controls.width() >= controls.minimumSizeHint().width() and controls.width() >= roomy_controls - 16
    assert scroll.viewport().width() >= column.minimumSizeHint().width()
    assert scroll.viewport().height() >= CONTROLS_MIN_HEIGHT
    assert _clipped_controls(controls) == []
    # The picture took the loss, down to its own minimum.
    assert picture.width() < roomy_picture.width() and picture.height() < roomy_picture.height()
    assert picture.width() >= PICTURE_MIN_WIDTH


@pytest.mark.parametrize("title", PANELS)
def test_a_larger_window_grows_the_picture_not_the_controls(explorer_window, title):
    window = explorer_window
    _settle(window, (1280, 800))
    panel, picture, controls, _scroll = _parts(window, title)
    controls_width, view = controls.width(), panel.view.size()
    _settle(window, (1920, 1080))
    panel, picture, controls, _scroll = _parts(window, title)
    assert controls.width() == controls_width
    assert panel.view.width() >= view.width() + 600 and panel.view.height() >= view.height() + 250


def test_a_long_job_message_ends_in_an_ellipsis_instead_of_widening_the_window(window, qtbot):
    _settle(window, (300, 200))
    minimum = window.size()
    status = window.job_status
    status._on_started("Fine-tune")
    folder = "/home/artist/Pictures/" + "a-very-long-folder-name/" * 6
    status._on_progress(0.25, f"Found 120 images (3 skipped) in {folder}")
    _settle(window, (300, 200))
    assert window.size() == minimum
    assert status.label.shown_text().endswith("…") and len(status.label.shown_text()) > 10
    assert folder in status.label.toolTip()
    # The bar's own text, at its longest, fits inside it.
    status.bar.setFormat("%p% · 999 min left")
    assert status.bar.fontMetrics().horizontalAdvance(status.bar.text()) < status.bar.width() - 8


def test_the_fine_tune_wizard_stops_at_a_size_where_every_page_fits(window, qtbot):
    wizard = window.finetune_panel.open_wizard()
    qtbot.waitExposed(wizard)
    wizard.resize(300, 200)
    _settle(wizard)
    assert wizard.size() == wizard.minimumSize()
    assert wizard.width() <= 800 and wizard.height() <= 600
    # Every page shares the current page's frame: each one's controls fit in it uncut.
    area = wizard.currentPage().size()
    for page_id in wizard.pageIds():
        needed = wizard.page(page_id).minimumSizeHint()
        assert needed.width() <= area.width() and needed.height() <= area.height(), type(wizard.page(page_id))
    # The training page's samples and curves get a readable share of it.
    assert area.width() >= 600 and area.height() >= 400
    wizard.reject()
