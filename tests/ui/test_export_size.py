"""The export size control (remembered, shared) and the picture view that enlarges smoothly."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.services.settings import Settings
from studio.spec.export_size import ExportSize
from studio.ui import image_view
from studio.ui.export_size import ExportSizeControl
from studio.ui.image_view import ImageView
from studio.ui.qimage import to_pil, to_qimage


@pytest.fixture(autouse=True)
def smooth_views():
    """Every view enlarges smoothly again after a test that chose crisp."""
    yield
    ImageView.set_enlarging("smooth")


def _noise(seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def _view(qtbot, image: Image.Image) -> ImageView:
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(656, 656)  # the picture is drawn 640 px: 10x the 64 px image
    view.set_image(to_qimage(image))
    view.show()
    qtbot.waitExposed(view)
    return view


def _drawn(view: ImageView) -> np.ndarray:
    """The pixels of the picture as it is on screen."""
    rect = view.image_rect()
    return np.asarray(to_pil(view.grab(rect).toImage()), dtype=np.int16)


def _equal_neighbours(pixels: np.ndarray) -> float:
    return float((np.abs(np.diff(pixels, axis=1)).sum(axis=2) == 0).mean())


def test_the_picture_is_enlarged_smoothly_by_default_and_in_blocks_when_crisp_is_chosen(qtbot):
    view = _view(qtbot, _noise())
    assert view.image_rect().size().width() == 640
    smooth = _drawn(view)
    assert view.displayed_image().width() == 640  # rendered at the displayed size
    assert _equal_neighbours(smooth) < 0.3  # no 10x10 blocks of one colour

    ImageView.set_enlarging("crisp")
    crisp = _drawn(view)
    assert _equal_neighbours(crisp) > 0.8  # each model pixel is a block
    assert np.abs(smooth - crisp).mean() > 5


def test_the_smooth_picture_is_rendered_once_per_new_image_not_per_paint(qtbot, monkeypatch):
    calls = []
    real = image_view.resize
    monkeypatch.setattr(image_view, "resize", lambda *args: calls.append(args[1]) or real(*args))
    view = _view(qtbot, _noise())
    for _ in range(5):
        view.grab()
    assert len(calls) == 1 and view.displayed_image().width() == 640
    view.set_image(to_qimage(_noise(1)))  # a slider moved: a new picture
    view.grab()
    view.grab()
    assert len(calls) == 2
    view.resize(456, 456)  # a smaller window: rendered again at the new size, once
    view.grab()
    view.grab()
    assert len(calls) == 3 and view.displayed_image().width() == 440


def test_the_choice_is_remembered_across_restarts_and_shared_by_every_control(qtbot):
    first, second = ExportSizeControl(), ExportSizeControl()
    qtbot.addWidget(first)
    qtbot.addWidget(second)
    assert first.value() == ExportSize(scale=4, resample="smooth")  # the default
    assert first.size_combo.currentText() == "4x · 256 px"

    first.size_combo.setCurrentIndex(first.size_combo.findData("8x"))
    first.size_combo.activated.emit(first.size_combo.currentIndex())
    first.crisp.setChecked(True)
    assert Settings().export_size == ExportSize(scale=8, resample="crisp")  # a fresh read of the file
    assert second.value() == ExportSize(scale=8, resample="crisp") and second.crisp.isChecked()
    assert ImageView.enlarging() == "crisp"  # the canvas follows the choice

    first.set_value(ExportSize(pixels=640, resample="smooth"))
    assert first.pixels.isVisibleTo(first) and first.size_combo.currentText() == "Pixel size"
    reopened = ExportSizeControl()  # as after a restart
    qtbot.addWidget(reopened)
    assert reopened.value() == ExportSize(pixels=640, resample="smooth")
    assert reopened.pixels.value() == 640


def test_the_sizes_name_the_pixels_of_the_picture_being_exported(qtbot):
    control = ExportSizeControl()
    qtbot.addWidget(control)
    control.set_native_size(128, 64)
    texts = [control.size_combo.itemText(i) for i in range(control.size_combo.count())]
    assert texts == ["1x · 128 x 64 px", "4x · 512 x 256 px", "8x · 1024 x 512 px", "Pixel size"]
    assert "nearest" in control.crisp.toolTip() and "Lanczos" in control.smooth.toolTip()
