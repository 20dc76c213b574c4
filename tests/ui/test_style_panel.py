"""The Style Transfer panel as an artist meets it: drops, Start and Stop, live previews, PNGs.

Images are tiny (40-48 px) and built here; the presets are shrunk to a few steps so a whole run
takes seconds on a CPU.
"""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from studio.files.images import read_png_settings
from studio.spec import style_settings
from studio.spec.png import STYLE_KEY
from studio.spec.style_settings import StyleSettings
from studio.ui.panels.style_panel import StylePanel
from studio.ui.qimage import to_pil
from studio.ui.style.style_run import MAX_STYLES
from tests.ui.drops import drop_path

TIMEOUT = 60_000
TINY = StyleSettings(size=48, min_size=48, steps=3, preview_interval_s=0.0)


@pytest.fixture(autouse=True)
def tiny_presets(monkeypatch):
    """Every preset a few steps at 48 px, so a run is seconds on a shared CPU."""
    monkeypatch.setitem(style_settings.PRESETS, "preview", TINY)
    monkeypatch.setitem(style_settings.PRESETS, "balanced", TINY.replace(steps=4))
    monkeypatch.setitem(style_settings.PRESETS, "high", TINY.replace(steps=200))


@pytest.fixture
def panel(qtbot, worker):
    p = StylePanel(worker)
    qtbot.addWidget(p)
    p.resize(1100, 720)
    p.show()
    return p


def _photo(path, size=(48, 40)):
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    pixels = np.stack([x * 5 % 256, y * 6 % 256, (x + y) * 3 % 256], axis=-1).astype(np.uint8)
    pixels = np.clip(pixels.astype(int) + rng.integers(-10, 10, pixels.shape), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _painting(path, colour=(200, 60, 30)):
    stripes = np.zeros((40, 40, 3), np.uint8)
    stripes[::4] = colour
    stripes[1::4] = (30, 40, 160)
    Image.fromarray(stripes).save(path)
    return path


def _fill(panel, tmp_path, styles=1):
    assert panel.content_slot.load_path(_photo(tmp_path / "photo.png"))
    colours = [(200, 60, 30), (30, 180, 60), (220, 200, 20)]
    for i in range(styles):
        slot = panel.style_slots[i] if i < len(panel.style_slots) else panel.add_style_slot()
        assert slot.load_path(_painting(tmp_path / f"painting{i + 1}.png", colours[i]))


def _run(qtbot, panel, worker):
    with qtbot.waitSignal(worker.jobFinished, timeout=TIMEOUT, raising=True):
        job = panel.start()
        assert job is not None
    return panel.current()


# ----- slots and drops ---------------------------------------------------------------------------


def test_dropping_a_photo_fills_the_slot_with_a_thumbnail(panel, tmp_path):
    slot = panel.content_slot
    assert slot.is_empty() and not slot.thumb.has_thumb()
    entered, dropped = drop_path(slot, _photo(tmp_path / "beach.png"))
    assert entered and dropped
    assert slot.loaded.path.name == "beach.png"
    assert slot.thumb.has_thumb()
    assert "beach.png" in slot.name_label.text() and "48 × 40" in slot.info_label.text()
    assert panel.view.before() is not None and panel.view.before().width() == 48
    assert not panel.start_button.isEnabled()  # no painting yet

    entered, dropped = drop_path(panel.style_slots[0], _painting(tmp_path / "starry.png"))
    assert entered and dropped
    assert panel.style_slots[0].name() == "starry.png"
    assert panel.start_button.isEnabled()


def test_a_broken_or_foreign_file_shows_a_message_naming_it_and_keeps_the_slot(panel, tmp_path):
    slot = panel.content_slot
    assert slot.load_path(_photo(tmp_path / "good.png"))
    broken = tmp_path / "holiday.png"
    broken.write_text("this is not a picture")
    assert drop_path(slot, broken) == (True, True)
    assert slot.message.isVisibleTo(panel)
    assert "holiday.png" in slot.message.text()
    assert slot.loaded.path.name == "good.png"  # unchanged
    assert slot.thumb.has_thumb()

    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list")
    drop_path(panel.style_slots[0], notes)
    assert "notes.txt" in panel.style_slots[0].message.text()
    assert panel.style_slots[0].is_empty()

    # A good drop afterwards clears the message.
    drop_path(slot, _photo(tmp_path / "better.png"))
    assert slot.loaded.path.name == "better.png" and not slot.message.isVisibleTo(panel)


def test_a_drag_without_files_is_refused(panel):
    mime = QMimeData()
    mime.setText("just text")
    enter = QDragEnterEvent(
        QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(panel.content_slot, enter)
    assert not enter.isAccepted()


def test_opened_images_fill_the_photo_then_the_paintings(panel, tmp_path):
    from studio.files.images import load_image

    panel.accept_image(load_image(_photo(tmp_path / "photo.png")))
    assert panel.content_slot.name() == "photo.png"
    for i in range(MAX_STYLES + 1):
        assert panel.accept_image(load_image(_painting(tmp_path / f"p{i}.png")))
    assert [s.name() for s in panel.style_slots] == ["p0.png", "p1.png", "p2.png", "p4.png"]  # the last is replaced
    assert not panel.add_style_button.isEnabled()
    panel.remove_style_slot(panel.style_slots[1])
    assert [s.name() for s in panel.style_slots] == ["p0.png", "p2.png", "p4.png"]


# ----- presets and settings ------------------------------------------------------------------------


def test_presets_and_advanced_edit_one_settings_value(panel):
    form = panel.form
    assert panel.settings() == TINY and form.presets.checked() == "preview"
    form.presets.buttons["balanced"].click()
    assert panel.settings().steps == 4 and form.presets.checked() == "balanced"
    form.fields["style_weight"].setValue(5e5)
    assert panel.settings().style_weight == 5e5
    assert form.presets.checked() is None and "Custom" in form.summary.text()
    form.fields["preserve_color"].setCurrentIndex(form.fields["preserve_color"].findData("luminance"))
    form.fields["preserve_color"].activated.emit(form.fields["preserve_color"].currentIndex())
    assert panel.settings().preserve_color == "luminance"
    # An impossible value is refused with a message; the settings stay as they were.
    before = panel.settings()
    form._edit("min_size", 8)
    assert panel.settings() == before and "min_size" in form.error.text()


def test_a_long_file_name_fits_its_box_in_bold_and_grows_back_when_the_box_widens(qtbot, panel, tmp_path):
    slot = panel.content_slot
    name = "astronaut-van-gogh-starry-night-512-content.png"
    panel.resize(1100, 720)
    assert slot.load_path(_photo(tmp_path / name))
    label = slot.name_label
    qtbot.waitUntil(lambda: label.width() > 0)
    assert label.font().bold()
    shown = label.text()
    assert label.fontMetrics().horizontalAdvance(shown) <= label.width()  # no letter cut off
    assert shown.startswith("astro") and shown.endswith(".png")
    if shown != name:
        assert label.toolTip() == name  # the full name on hover
    slot.setFixedWidth(900)  # room for all of it: the whole name comes back
    qtbot.waitUntil(lambda: label.text() == name)
    assert label.toolTip() == ""
    slot.setFixedWidth(220)  # narrower again: shortened again, still inside the label
    qtbot.waitUntil(lambda: label.text() != name)
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
    assert label.toolTip() == name


def test_advanced_arrow_points_right_when_closed_and_down_when_open(panel):
    advanced = panel.form.advanced

    def looks(icon, symbol):
        return icon.pixmap(16, 16).toImage() == advanced._arrow(symbol).pixmap(16, 16).toImage()

    assert not advanced.isExpanded()
    assert looks(advanced.toggleButton().icon(), "▶") and not looks(advanced.toggleButton().icon(), "▲")
    advanced.expand(animate=False)
    assert looks(advanced.toggleButton().icon(), "▼")


# ----- running -------------------------------------------------------------------------------------


def test_start_runs_to_a_stylised_picture_with_live_previews(qtbot, panel, worker, tmp_path):
    _fill(panel, tmp_path)
    # Before any run the loss plot's place holds a plain note, not an empty plot with ticks.
    assert panel.loss_box.currentWidget() is panel.loss_placeholder and not panel.loss_plot.isVisible()
    height = panel.loss_box.height()
    previews, shown = [], []
    worker.jobProgress.connect(lambda _id, p: previews.append(p.preview) if p.preview is not None else None)
    panel.run.previewReady.connect(shown.append)
    item = _run(qtbot, panel, worker)
    assert item is not None
    assert len(previews) >= 2 and len(shown) >= 1
    assert panel.loss_plot.isVisible() and panel.loss_box.height() == height  # the curve, same place
    result = np.asarray(item.image, dtype=float)
    photo = np.asarray(panel.content_slot.image().resize(item.image.size), dtype=float)
    assert np.abs(result - photo).mean() > 1.0  # it changed
    assert to_pil(panel.view.image()).size == item.image.size
    assert panel.view.comparing()
    assert panel.loss_plot.values()
    assert panel.save_button.isEnabled() and panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert panel.progress.value() == 1000 and panel.progress.format().startswith("Done")
    run = item.settings[STYLE_KEY]
    assert run["content"] == "photo.png" and run["styles"] == ["painting1.png"]
    assert StyleSettings.from_dict(run) == TINY.replace(init="instant")  # Refine starts from the instant picture


def test_stop_keeps_the_best_picture_so_far(qtbot, panel, worker, tmp_path):
    _fill(panel, tmp_path)
    panel.form.apply_preset("high")  # 200 steps: far longer than the test waits
    cancelled = []
    worker.jobCancelled.connect(lambda _id, partial: cancelled.append(partial))
    with qtbot.waitSignal(panel.run.previewReady, timeout=TIMEOUT, raising=True):
        panel.start()
        assert panel.stop_button.isEnabled() and not panel.start_button.isEnabled()
    with qtbot.waitSignal(worker.jobCancelled, timeout=TIMEOUT, raising=True):
        panel.stop()
    assert cancelled and cancelled[0].cancelled
    item = panel.current()
    assert item is not None and item.image.size == (48, 40)
    assert item.settings[STYLE_KEY]["cancelled"] is True
    assert "Stopped" in panel.progress.format()
    assert panel.start_button.isEnabled() and not panel.running()


def test_settings_changed_during_a_run_apply_to_the_next(qtbot, panel, worker, tmp_path, monkeypatch):
    _fill(panel, tmp_path)
    from studio.engine.style import transfer

    seen = []
    real = transfer.stylize_job
    monkeypatch.setattr(
        transfer, "stylize_job", lambda c, s, settings, d: seen.append(settings) or real(c, s, settings, d)
    )
    with qtbot.waitSignal(worker.jobFinished, timeout=TIMEOUT, raising=True):
        panel.start()
        panel.form.fields["seed"].setValue(7)
        assert "next Refine" in panel.run_hint.text()
    assert seen[0].seed == 0 and panel.current().settings[STYLE_KEY]["seed"] == 0
    _run(qtbot, panel, worker)
    assert seen[1].seed == 7


def test_two_paintings_with_their_weights(qtbot, panel, worker, tmp_path, monkeypatch):
    _fill(panel, tmp_path, styles=2)
    panel.style_slots[0].set_weight(0.7)
    panel.style_slots[1].set_weight(0.3)
    from studio.engine.style import transfer

    seen = []
    real = transfer.stylize_job
    monkeypatch.setattr(transfer, "stylize_job", lambda c, s, settings, d: seen.append(s) or real(c, s, settings, d))
    item = _run(qtbot, panel, worker)
    assert [round(w, 2) for _, w in seen[0]] == [0.7, 0.3]
    assert [image.size for image, _ in seen[0]] == [(40, 40), (40, 40)]
    run = item.settings[STYLE_KEY]
    assert run["styles"] == ["painting1.png", "painting2.png"]
    assert [round(w, 2) for w in run["style_weights"]] == [0.7, 0.3]


def test_all_weights_zero_is_refused_with_a_message(panel, tmp_path):
    _fill(panel, tmp_path)
    panel.style_slots[0].set_weight(0.0)
    assert panel.start() is None
    assert "weight" in panel.message.text()


# ----- saving and reopening ---------------------------------------------------------------------------


def test_saved_png_carries_the_settings_and_reopening_it_restores_them(qtbot, window, tmp_path):
    panel = next(p for p in window.panels if isinstance(p, StylePanel))
    window.tabs.setCurrentWidget(panel)
    _fill(panel, tmp_path, styles=2)
    panel.style_slots[1].set_weight(0.25)
    form = panel.form
    form.fields["seed"].setValue(1234)
    form.fields["tv_weight"].setValue(0.5)
    made = panel.settings()
    _run(qtbot, panel, window.worker)

    # File > Save image (the window) and the panel's Save PNG… write the same metadata.
    saved = tmp_path / "out" / "result.png"
    saved.parent.mkdir()
    assert window.save_image(saved)
    png = read_png_settings(saved)
    assert png["panel"] == "Style Transfer"
    assert StyleSettings.from_dict(png[STYLE_KEY]) == made.replace(init="instant")
    panel_saved = panel.export_png(tmp_path / "out" / "panel.png")
    assert read_png_settings(panel_saved)[STYLE_KEY] == png[STYLE_KEY]

    # Something else on screen, then the PNG reopened from another tab.
    form.apply_preset("balanced")
    panel.style_slots[1].set_weight(1.0)
    assert panel.settings() != made
    window.tabs.setCurrentIndex(0)
    assert window.open_image(saved)
    assert window.current_panel() is panel
    assert panel.settings() == made
    assert panel.style_slots[1].weight() == pytest.approx(0.25)
    assert panel.current().name == "result.png"
    assert to_pil(panel.view.image()).size == (48, 40)
    assert "restored" in panel.status.text()


def test_a_png_with_damaged_style_settings_is_taken_as_a_plain_image(panel, tmp_path):
    from studio.files.images import load_image, save_png

    path = save_png(tmp_path / "odd.png", Image.new("RGB", (32, 32), "white"), {STYLE_KEY: {"size": -5}})
    assert panel.accept_image(load_image(path))
    assert panel.content_slot.name() == "odd.png"


def test_dropping_several_files_on_the_photo_slot_puts_the_rest_in_painting_slots(panel, tmp_path):
    mime = QMimeData()
    paths = [_photo(tmp_path / "photo.png"), _painting(tmp_path / "a.png"), _painting(tmp_path / "b.png")]
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    slot = panel.content_slot
    centre = slot.rect().center()
    QApplication.sendEvent(
        slot,
        QDragEnterEvent(
            centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        ),
    )
    QApplication.sendEvent(
        slot,
        QDropEvent(
            QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        ),
    )
    assert slot.name() == "photo.png"
    assert [s.name() for s in panel.style_slots] == ["a.png", "b.png"]
    assert panel.start_button.isEnabled()


# ----- the instant picture ------------------------------------------------------------------------------


def test_dropping_a_photo_and_a_painting_shows_the_painted_photo_and_the_strength_changes_it(qtbot, panel, tmp_path):
    with qtbot.waitSignal(panel.run.instantReady, timeout=TIMEOUT, raising=True):
        _fill(panel, tmp_path)
    first = to_pil(panel.view.image())
    assert first.size == (48, 40) and panel.current().settings[STYLE_KEY]["instant"]["strength"] == 1.0
    photo = np.asarray(panel.content_slot.image(), dtype=float)
    assert np.abs(np.asarray(first, dtype=float) - photo).mean() > 5
    assert panel.save_button.isEnabled() and "Instant" in panel.progress.format()

    with qtbot.waitSignal(panel.run.instantReady, timeout=TIMEOUT, raising=True):
        panel.strength_slider.setValue(0)
    none = to_pil(panel.view.image())
    assert panel.strength_value.text() == "0 %"
    assert panel.current().settings[STYLE_KEY]["instant"]["strength"] == 0.0
    assert np.abs(np.asarray(first, dtype=float) - np.asarray(none, dtype=float)).mean() > 3


def test_refine_starts_from_the_instant_picture_and_its_loss_goes_down(qtbot, panel, worker, tmp_path):
    with qtbot.waitSignal(panel.run.instantReady, timeout=TIMEOUT, raising=True):
        _fill(panel, tmp_path)
    panel.strength_slider.setValue(80)
    item = _run(qtbot, panel, worker)
    losses = panel.loss_plot.values()
    assert len(losses) >= 2 and losses[-1] < losses[0]
    run = item.settings[STYLE_KEY]
    assert run["init"] == "instant" and run["strength"] == pytest.approx(0.8)
    assert panel.start_button.text() == "Refine"


def test_a_built_in_style_clicked_in_the_gallery_paints_the_photo(qtbot, panel, tmp_path):
    qtbot.waitUntil(lambda: bool(panel.gallery.buttons), timeout=TIMEOUT)
    assert len(panel.gallery.buttons) == len(panel.run.gallery) > 1 and panel.gallery.isVisibleTo(panel)
    assert panel.content_slot.load_path(_photo(tmp_path / "photo.png"))
    name = panel.run.gallery[1].name
    with qtbot.waitSignal(panel.run.instantReady, timeout=TIMEOUT, raising=True) as shown:
        panel.gallery.buttons[1].click()
    slot = panel.style_slots[0]
    assert slot.name() == name and slot.info_label.text() == "Built-in style"
    assert shown.args[0].png[STYLE_KEY]["instant"]["styles"] == [name]
    assert panel.start_button.isEnabled()


def test_the_keep_my_photo_take_the_style_slider_sets_the_style_weight(panel):
    from studio.ui.style.settings_form import STYLE_SLIDER_STEPS

    form = panel.form
    slider = form.style_slider
    assert slider.isVisible() and not form.advanced.isExpanded()  # on the main form
    form.set_settings(StyleSettings(style_weight=20.0))
    assert slider.value() == STYLE_SLIDER_STEPS // 2  # the presets' weight sits in the middle
    assert "20" in slider.toolTip()
    weights = []
    for position in range(0, STYLE_SLIDER_STEPS + 1, 5):
        slider.setValue(position)
        weights.append(form.settings().style_weight)
        assert f"{weights[-1]:g}" in slider.toolTip()
        assert form.fields["style_weight"].value() == weights[-1]  # Advanced shows the same number
    assert all(a < b for a, b in zip(weights, weights[1:], strict=False))
    assert weights[0] == 1 and weights[-1] == 400
    assert panel.run.settings().style_weight == 400
