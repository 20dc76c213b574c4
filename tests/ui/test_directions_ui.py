"""Directions taught by example in the Latent Explorer: marking sample-grid tiles, Create, and the
named sliders they become, on the tiny VAE of the temporary library."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from studio.files.images import load_image, read_png_settings
from studio.ui.latent.direction_teacher import DOES_NOT, HAS_IT
from tests.ui.test_latent_panel import TIMEOUT, _new_panel, _open, _pixels, _wait_idle

AXIS = 3  # the latent axis the synthetic labels depend on


def _teaching_grid(qtbot, panel, base_seed=100):
    dialog = panel.open_sample_grid()
    dialog.shuffle(base_seed)
    qtbot.waitUntil(lambda: bool(dialog.samples) and dialog.samples[0].state.seed == base_seed, timeout=TIMEOUT)
    dialog.set_teaching(True)
    return dialog


def _mark_by_axis(qtbot, dialog, shuffles=3):
    """Mark every tile by the sign of its latent value on AXIS, over a few shuffles."""
    for round_ in range(shuffles):
        if round_:
            seed = 1000 + 16 * round_
            dialog.shuffle(seed)
            qtbot.waitUntil(lambda s=seed: dialog.samples[0].state.seed == s, timeout=TIMEOUT)
        for sample in dialog.samples:
            dialog.teacher.set_mark(sample.state, HAS_IT if sample.state.z[AXIS] > 0 else DOES_NOT)


def _create(qtbot, dialog, name, keep=()):
    dialog.teach_panel.name.setText(name)
    for box in dialog.teach_panel.keep:
        box.setChecked(box.text() in keep)
    with qtbot.waitSignal(dialog.teacher.created, timeout=TIMEOUT, raising=True) as blocker:
        qtbot.mouseClick(dialog.teach_panel.create_button, Qt.MouseButton.LeftButton)
    return blocker.args[0].direction


@pytest.fixture
def panel(qtbot, worker, tiny_models):
    return _new_panel(qtbot, worker)


def test_teaching_mode_marks_tiles_counts_them_and_keeps_them_over_a_shuffle(panel, qtbot):
    _open(qtbot, panel, "vae")
    before = panel.explorer.state
    dialog = _teaching_grid(qtbot, panel)
    plain_icon = dialog.cells[0].icon().pixmap(64, 64).toImage()
    for index, clicks in ((0, 1), (1, 1), (2, 2), (3, 3)):
        for _ in range(clicks):
            qtbot.mouseClick(dialog.cells[index], Qt.MouseButton.LeftButton)
    assert dialog.teacher.counts() == (2, 1)
    assert dialog.teach_panel.counts.text() == "2 have it, 1 does not"
    assert dialog.teacher.mark(dialog.samples[0].state) == HAS_IT
    assert dialog.teacher.mark(dialog.samples[2].state) == DOES_NOT
    assert dialog.teacher.mark(dialog.samples[3].state) == 0  # a third click unmarks
    assert dialog.cells[0].icon().pixmap(64, 64).toImage() != plain_icon  # the badge shows
    assert panel.explorer.state == before and panel.undo_stack.count() == 0  # marking adopts nothing
    marked = dialog.samples[0].state
    dialog.shuffle(5000)
    qtbot.waitUntil(lambda: dialog.samples[0].state.seed == 5000, timeout=TIMEOUT)
    assert dialog.teacher.counts() == (2, 1) and dialog.teacher.mark(marked) == HAS_IT
    dialog.set_teaching(False)  # clicks adopt again
    qtbot.mouseClick(dialog.cells[1], Qt.MouseButton.LeftButton)
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == dialog.samples[1].state
    dialog.close()


def test_create_refuses_with_a_plain_message(panel, qtbot):
    _open(qtbot, panel, "vae")
    dialog = _teaching_grid(qtbot, panel)
    dialog.teacher.set_mark(dialog.samples[0].state, HAS_IT)
    dialog.teacher.set_mark(dialog.samples[1].state, DOES_NOT)
    dialog.teacher.set_mark(dialog.samples[2].state, DOES_NOT)
    error = dialog.teach_panel.error
    qtbot.mouseClick(dialog.teach_panel.create_button, Qt.MouseButton.LeftButton)
    assert error.isVisibleTo(dialog) and error.text().startswith("Give the slider a name")
    dialog.teach_panel.name.setText("smile")
    qtbot.mouseClick(dialog.teach_panel.create_button, Qt.MouseButton.LeftButton)
    assert error.text() == "Mark at least 2 pictures that have it and 2 that do not (now 1 has it, 2 do not)."
    dialog.teach_panel.name.setText("a=b")
    dialog.teacher.set_mark(dialog.samples[3].state, HAS_IT)
    qtbot.mouseClick(dialog.teach_panel.create_button, Qt.MouseButton.LeftButton)
    assert "without '=', ','" in error.text()
    assert not dialog.teacher.running and panel.named_sliders.names() == []
    _mark_by_axis(qtbot, dialog, shuffles=1)
    _create(qtbot, dialog, "smile")
    dialog.teach_panel.name.setText("Smile")  # taken, whatever the case
    qtbot.mouseClick(dialog.teach_panel.create_button, Qt.MouseButton.LeftButton)
    assert error.text() == "This model already has a slider named “Smile”: choose another name."
    assert panel.named_sliders.names() == ["smile"]
    dialog.close()


def test_a_taught_direction_becomes_a_named_slider_that_moves_the_picture_and_survives(panel, qtbot, worker, tmp_path):
    model = _open(qtbot, panel, "vae")
    assert panel.named_sliders.hint.isVisibleTo(panel)  # "None yet…"
    dialog = _teaching_grid(qtbot, panel)
    _mark_by_axis(qtbot, dialog)
    direction = _create(qtbot, dialog, "bright")
    # Labels that depend on one latent axis: the direction found is that axis.
    assert int(np.argmax(np.abs(direction.vector))) == AXIS and direction.vector[AXIS] > 0
    assert "times in 10 on pictures it did not learn from" in dialog.teach_panel.result.text()
    assert (model.path.parent / "tiny-vae.directions.safetensors").is_file()
    assert panel.undo_stack.count() == 0  # making a direction changes no picture
    dialog.close()

    # The named slider.
    assert panel.named_sliders.names() == ["bright"] and not panel.named_sliders.hint.isVisibleTo(panel)
    slider = panel.named_sliders.sliders[0]
    start_state, start_pixels = panel.explorer.state, _pixels(panel)
    assert slider.value() == pytest.approx(max(-3, min(3, direction.value(start_state.z_array()))), abs=0.01)
    panel.explorer.new_drag()
    slider.setValue(2.0)
    slider.setValue(2.5)  # one drag: one undo step
    _wait_idle(qtbot, panel)
    assert panel.undo_stack.count() == 1 and panel.undo_stack.undoText() == "Move bright"
    assert dict(panel.explorer.state.named) == {"bright": pytest.approx(2.5)}
    assert direction.value(panel.explorer.state.z_array()) == pytest.approx(2.5, abs=1e-3)
    moved = _pixels(panel)
    assert not np.array_equal(moved, start_pixels)
    assert np.array_equal(moved, np.asarray(model.render(panel.explorer.state)))

    # The PNG carries the value and reopens it.
    path = tmp_path / "bright.png"
    panel.export_png(path)
    assert read_png_settings(path)["latent"]["named"] == {"bright": pytest.approx(2.5)}
    panel.undo_stack.undo()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == start_state and np.array_equal(_pixels(panel), start_pixels)
    assert slider.value() == pytest.approx(max(-3, min(3, direction.value(start_state.z_array()))), abs=0.01)
    assert panel.accept_image(load_image(path))
    qtbot.waitUntil(lambda: dict(panel.explorer.state.named) == {"bright": pytest.approx(2.5)}, timeout=TIMEOUT)
    _wait_idle(qtbot, panel)
    assert slider.value() == pytest.approx(2.5, abs=0.01)
    assert np.array_equal(_pixels(panel), moved)

    # A restart: a new panel reads the direction from the file beside the model.
    panel.explorer.save_session()
    again = _new_panel(qtbot, worker)
    _open(qtbot, again, "vae")
    assert again.named_sliders.names() == ["bright"]
    assert again.named_sliders.sliders[0].value() == pytest.approx(
        max(-3, min(3, direction.value(again.explorer.state.z_array()))), abs=0.01
    )


def test_a_direction_kept_unchanged_stays_put_when_the_new_one_moves(panel, qtbot):
    _open(qtbot, panel, "vae")
    dialog = _teaching_grid(qtbot, panel)
    _mark_by_axis(qtbot, dialog)
    first = _create(qtbot, dialog, "first")
    assert [box.text() for box in dialog.teach_panel.keep] == ["first"]
    dialog.teacher.clear()
    _mark_by_axis_plus(qtbot, dialog)  # labels on another mix of axes
    _create(qtbot, dialog, "second", keep=("first",))
    dialog.close()
    assert panel.named_sliders.names() == ["first", "second"]
    before = first.value(panel.explorer.state.z_array())
    panel.named_sliders.sliders[1].setValue(2.0)
    _wait_idle(qtbot, panel)
    assert first.value(panel.explorer.state.z_array()) == pytest.approx(before, abs=1e-3)
    assert panel.named_sliders.sliders[0].value() == pytest.approx(max(-3, min(3, before)), abs=0.01)


def _mark_by_axis_plus(qtbot, dialog):
    for seed in (3000, 3016):
        dialog.shuffle(seed)
        qtbot.waitUntil(lambda s=seed: dialog.samples[0].state.seed == s, timeout=TIMEOUT)
        for sample in dialog.samples:
            z = sample.state.z
            dialog.teacher.set_mark(sample.state, HAS_IT if z[AXIS] + z[5] > 0 else DOES_NOT)


def test_pictures_from_files_are_added_as_examples(panel, qtbot, tmp_path):
    from PIL import Image

    model = _open(qtbot, panel, "vae")
    exported = tmp_path / "exported.png"
    panel.export_png(exported)
    plain = tmp_path / "plain.png"
    Image.new("RGB", (64, 64), (200, 120, 40)).save(plain)
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_text("hello")
    dialog = _teaching_grid(qtbot, panel)
    with qtbot.waitSignal(dialog.teacher.marksChanged, timeout=TIMEOUT, raising=True):
        dialog.teacher.add_files([str(exported), str(plain), str(not_a_picture)], HAS_IT)
    assert dialog.teacher.counts() == (2, 0)
    assert dialog.teach_panel.counts.text() == "2 have it, 0 do not"
    assert dialog.teacher.mark(panel.explorer.state) == HAS_IT  # the exported PNG's own point
    encoded = next(s for s in dialog.teacher.marks if s != panel.explorer.state)
    assert np.allclose(encoded.z_array(), model.encode(Image.open(plain).convert("RGB")), atol=1e-5)
    assert dialog.teach_panel.error.text().startswith("Not added: ") and "notes.png" in dialog.teach_panel.error.text()
    dialog.close()
