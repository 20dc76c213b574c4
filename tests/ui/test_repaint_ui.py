""" "Repaint a region" in the Latent Explorer, as the artist meets it: paint a mask over the
picture, press Repaint, pick a version, undo it, save it. Tiny models, a few search steps; the
scriptable fake worker runs each job when the test says."""

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QUndoStack

from studio.engine.latent.state import LatentState
from studio.files.images import load_image, read_png_settings
from studio.ui.latent import repaint_controller
from studio.ui.panels.latent_panel import LatentPanel
from studio.ui.qimage import to_pil


def _settle(fake) -> None:
    while fake.pending_render is not None:
        fake.draw()


def _pixels(panel) -> np.ndarray:
    return np.asarray(to_pil(panel.view.image()))


@pytest.fixture
def panel(qtbot, fake_worker, tiny_models):
    made = LatentPanel(fake_worker, QUndoStack())
    qtbot.addWidget(made)
    made.resize(1100, 720)
    made.show()
    qtbot.waitUntil(lambda: fake_worker.pending_render is not None or made.explorer.model is not None, timeout=5_000)
    _settle(fake_worker)
    assert made.explorer.model is not None and made.explorer.shown_state == made.explorer.state
    made.repaint.controller.steps = 3
    made.repaint.controller.candidates_wanted = 3
    made.repaint.set_active(True)
    yield made
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _switch_to(panel, fake, kind):
    e = panel.explorer
    if e.model.kind != kind:
        panel.load_model(next(i for i, m in enumerate(e.models) if m.path.stem == f"tiny-{kind}"))
        _settle(fake)
    assert e.model.kind == kind and e.shown_state == e.state
    return e.model


def _at(panel, col: float, row: float) -> QPoint:
    """The view position over the centre of picture pixel (col, row)."""
    rect = panel.view.image_rect()
    size = panel.repaint.painter.size
    return QPoint(
        round(rect.x() + (col + 0.5) * rect.width() / size), round(rect.y() + (row + 0.5) * rect.height() / size)
    )


def _drag(qtbot, panel, points, button=Qt.MouseButton.LeftButton):
    widget = panel.repaint.painter
    qtbot.mousePress(widget, button, pos=points[0])
    for point in points[1:]:
        # qtbot.mouseMove sends no buttons; a drag carries the pressed one.
        from PySide6.QtGui import QMouseEvent

        event = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(point),
            QPointF(widget.mapToGlobal(point)),
            Qt.MouseButton.NoButton,
            button,
            Qt.KeyboardModifier.NoModifier,
        )
        QCoreApplication.sendEvent(widget, event)
    qtbot.mouseRelease(widget, button, pos=points[-1])


def _paint_box(panel, left, top, right, bottom):
    mask = np.zeros((panel.repaint.painter.size,) * 2, dtype=np.float32)
    mask[top:bottom, left:right] = 1.0
    panel.repaint.painter.set_mask(mask)


@pytest.mark.parametrize("window_size", [(1100, 720), (700, 900), (1400, 500)])
def test_a_stroke_paints_the_picture_pixels_under_the_brush_at_any_window_size(panel, qtbot, window_size):
    panel.resize(*window_size)
    QCoreApplication.processEvents()
    painter = panel.repaint.painter
    assert painter.geometry() == panel.view.rect() and painter.isVisible()
    panel.repaint.brush_slider.setValue(1)  # one pixel: exactly the one under the pointer
    _drag(qtbot, panel, [_at(panel, 10, 20)])
    mask = painter.mask()
    assert mask.shape == (64, 64) and mask[20, 10] == 1.0 and mask.sum() == 1.0

    panel.repaint.brush_slider.setValue(5)
    _drag(qtbot, panel, [_at(panel, 40, 50), _at(panel, 55, 50)])  # a horizontal stroke
    mask = painter.mask()
    assert mask[50, 40:56].all() and mask[48:53, 47].all()  # the line and the brush's width
    assert not mask[50, 35] and not mask[45, 47] and not mask[50, 60]  # nothing beyond the brush
    assert mask[:40].sum() == 1.0  # the first dot is all there is above the stroke


def test_the_eraser_right_drag_and_clear_remove_the_painted_region(panel, qtbot):
    painter = panel.repaint.painter
    _paint_box(panel, 10, 10, 40, 40)
    panel.repaint.brush_slider.setValue(3)
    panel.repaint.erase_button.setChecked(True)
    _drag(qtbot, panel, [_at(panel, 25, 25)])
    assert painter.mask()[25, 25] == 0.0 and painter.mask()[10, 10] == 1.0
    panel.repaint.paint_button.setChecked(True)
    _drag(qtbot, panel, [_at(panel, 12, 30)], button=Qt.MouseButton.RightButton)  # right-drag erases too
    assert painter.mask()[30, 12] == 0.0 and painter.mask()[10, 10] == 1.0
    _drag(qtbot, panel, [_at(panel, 50, 50)])
    assert painter.mask()[50, 50] == 1.0
    panel.repaint.clear_button.click()
    assert painter.is_empty()


def test_the_mask_is_shown_over_the_picture_only_in_the_mode(panel, qtbot):
    _paint_box(panel, 0, 0, 32, 64)  # the left half
    QCoreApplication.processEvents()
    rect = panel.view.image_rect()
    left = QPoint(rect.x() + rect.width() // 4, rect.center().y())
    right = QPoint(rect.x() + 3 * rect.width() // 4, rect.center().y())
    masked = panel.view.grab().toImage()
    panel.repaint.toggle.click()  # the mode off: the mask hides, the picture takes clicks again
    assert not panel.repaint.painter.isVisible() and not panel.repaint.tools.isVisible()
    plain = panel.view.grab().toImage()
    tinted, under = masked.pixelColor(left), plain.pixelColor(left)
    assert tinted.red() - tinted.blue() > under.red() - under.blue() + 40  # the mask's pink-red over the picture
    assert masked.pixelColor(right) == plain.pixelColor(right)  # the rest shows as it is
    panel.repaint.toggle.click()
    assert panel.repaint.painter.isVisible() and not panel.repaint.painter.is_empty()  # the mask was kept


@pytest.mark.parametrize(
    ("box", "message"),
    [((0, 0, 0, 0), repaint_controller.EMPTY_MASK), ((0, 0, 64, 64), repaint_controller.WHOLE_MASK)],
)
def test_an_empty_or_whole_mask_says_why_and_starts_no_job(panel, fake_worker, box, message):
    _paint_box(panel, *box)
    panel.repaint.repaint_button.click()
    assert panel.message.isVisibleTo(panel) and panel.message.text() == message
    assert fake_worker.jobs == [] and not panel.repaint.controller.running


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_a_repaint_shows_its_versions_and_adopting_one_is_one_undo_step(panel, fake_worker, qtbot, kind, tmp_path):
    model = _switch_to(panel, fake_worker, kind)
    e = panel.explorer
    before_state, before_pixels = e.state, _pixels(panel)
    _paint_box(panel, 16, 30, 48, 56)
    panel.repaint.repaint_button.click()
    job = fake_worker.job("Repainting")
    assert job.owned and panel.repaint.stop_button.isVisibleTo(panel) and panel.repaint.progress.isVisibleTo(panel)
    assert not panel.repaint.repaint_button.isEnabled()
    fake_worker.step(job)
    assert panel.repaint.progress.value() > 0 and "step 1 of 3" in panel.repaint.status.text()
    assert panel.repaint.strip.isVisibleTo(panel) and not panel.repaint.strip.list.item(0).icon().isNull()
    fake_worker.run(job)

    found = panel.repaint.controller.candidates
    assert len(found) == 3 and panel.repaint.strip.thumbnails() == 3
    assert not panel.repaint.stop_button.isVisibleTo(panel) and panel.repaint.repaint_button.isEnabled()
    captions = [panel.repaint.strip.list.item(i).text() for i in range(3)]
    assert all(c.startswith("Region ") and "% new\nRest " in c and c.endswith("% changed") for c in captions)
    assert e.state == before_state and e.undo_stack.count() == 0  # nothing changes until one is chosen

    chosen = found[1]
    panel.repaint.strip.list.itemClicked.emit(panel.repaint.strip.list.item(1))
    assert e.state == chosen.state and e.state != before_state
    assert e.undo_stack.undoText() == "Repaint region" and e.undo_stack.count() == 1
    assert fake_worker.pending_render is None  # its picture was drawn already
    assert np.array_equal(_pixels(panel), np.asarray(model.render(chosen.state)))

    # Its PNG carries the repainted point and reopens it exactly.
    path = panel.export_png(tmp_path / "repainted.png")
    assert LatentState.from_settings(read_png_settings(path)) == chosen.state

    e.undo_stack.undo()
    assert e.state == before_state and np.array_equal(_pixels(panel), before_pixels)
    assert panel.accept_image(load_image(path))
    _settle(fake_worker)
    assert e.state == chosen.state and np.array_equal(_pixels(panel), np.asarray(model.render(chosen.state)))
    assert e.undo_stack.undoText() == "Open repainted.png"
    assert panel.repaint.strip.thumbnails() == 3  # still there while the artist tries them

    panel.randomize()  # another picture: its versions would be of the one before
    _settle(fake_worker)
    assert panel.repaint.strip.thumbnails() == 0 and not panel.repaint.strip.isVisibleTo(panel)


def test_stop_keeps_the_versions_found_so_far(panel, fake_worker):
    _paint_box(panel, 20, 20, 44, 44)
    panel.repaint.controller.steps = 50
    panel.repaint.repaint_button.click()
    job = fake_worker.job("Repainting")
    fake_worker.step(job)
    fake_worker.step(job)
    panel.repaint.stop_button.click()
    assert job.state == "cancelled" and not panel.repaint.controller.running
    assert panel.repaint.strip.thumbnails() == 3 and panel.repaint.controller.cancelled
    assert "before Stop" in panel.repaint.strip.note.text()


def test_a_failed_repaint_is_shown_on_the_error_line(panel, fake_worker):
    _paint_box(panel, 20, 20, 44, 44)
    panel.repaint.repaint_button.click()
    fake_worker.fail(fake_worker.job("Repainting"), "Repainting a region failed: out of memory")
    assert panel.message.text() == "Repainting a region failed: out of memory"
    assert panel.repaint.repaint_button.isEnabled() and not panel.repaint.strip.isVisibleTo(panel)


def test_a_search_the_artist_left_for_another_picture_shows_no_versions(panel, fake_worker):
    _paint_box(panel, 20, 20, 44, 44)
    panel.repaint.repaint_button.click()
    job = fake_worker.job("Repainting")
    panel.randomize()  # another picture while the search runs
    _settle(fake_worker)
    fake_worker.run(job)
    assert not panel.repaint.controller.running and panel.repaint.controller.candidates == ()
    assert panel.repaint.strip.thumbnails() == 0 and not panel.repaint.strip.isVisibleTo(panel)


def test_loading_another_model_stops_the_search(panel, fake_worker):
    _paint_box(panel, 20, 20, 44, 44)
    panel.repaint.repaint_button.click()
    job = fake_worker.job("Repainting")
    _switch_to(panel, fake_worker, "vae" if panel.explorer.model.kind == "gan" else "gan")
    assert job.state == "cancelled" and not panel.repaint.controller.running
    assert panel.repaint.strip.thumbnails() == 0 and panel.repaint.repaint_button.isEnabled()


def test_another_model_starts_with_no_region_painted(panel, fake_worker):
    _paint_box(panel, 20, 20, 44, 44)
    first = panel.explorer.model.kind
    panel.explorer.randomize()  # the same model: the region still means the same part of the picture
    _settle(fake_worker)
    assert not panel.repaint.painter.is_empty()
    _switch_to(panel, fake_worker, "vae" if first == "gan" else "gan")
    assert panel.repaint.painter.is_empty()
