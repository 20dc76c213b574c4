"""Deleting a named slider from the explorer (issue 15): right-click its name, "Delete slider…",
confirm; the slider is gone, now and after a restart, and the picture that recorded its value
still shows and exports. A slider that comes with a bundled model cannot be deleted."""

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from studio.engine.latent.named_directions import NamedDirection, directions_path, write_directions
from studio.files.images import read_png_settings
from studio.ui.latent.named_sliders import DELETE_NOTE, SHIPPED_NOTE
from tests.ui.test_latent_panel import _new_panel, _open, _pixels, _wait_idle


@pytest.fixture
def panel(qtbot, worker, tiny_models):
    return _new_panel(qtbot, worker)


def _axis(name, axis, dim=20):
    return NamedDirection(name, np.eye(dim, dtype=np.float32)[axis], 0.0, 1.0, "z", 0.9, "")


def _answer(monkeypatch, button):
    asked = []

    def exec_(box):
        asked.append(box.text())
        return button

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return asked


def _action(menu, text):
    return next(a for a in menu.actions() if a.text() == text)


def test_deleting_a_slider_removes_it_now_and_after_a_restart(panel, qtbot, worker, tmp_path, monkeypatch):
    model = _open(qtbot, panel, "vae")
    model.save_named_direction(_axis("bright", 3))
    model.save_named_direction(_axis("round", 5))
    panel.explorer.namedDirectionsChanged.emit()
    sliders = panel.named_sliders
    assert sliders.names() == ["bright", "round"]
    panel.explorer.new_drag()
    sliders.sliders[0].setValue(2.0)
    _wait_idle(qtbot, panel)
    moved, moved_pixels, steps = panel.explorer.state, _pixels(panel), panel.undo_stack.count()
    assert dict(moved.named) == {"bright": pytest.approx(2.0)}

    # Cancel keeps it.
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    _action(sliders.menu(0), "Delete slider “bright”…").trigger()
    assert asked and DELETE_NOTE in asked[0] and sliders.names() == ["bright", "round"]

    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    action = _action(sliders.menu(0), "Delete slider “bright”…")
    assert action.isEnabled()
    action.trigger()
    assert asked and "Delete the slider “bright”?" in asked[0]
    assert sliders.names() == ["round"] and len(sliders.sliders) == 1
    assert [d.name for d in model.named_directions()] == ["round"]
    # Not a picture change: no undo step, the same picture, and it still exports with the value.
    _wait_idle(qtbot, panel)
    assert panel.undo_stack.count() == steps and panel.explorer.state == moved
    assert np.array_equal(_pixels(panel), moved_pixels)
    path = tmp_path / "after.png"
    panel.export_png(path)
    assert read_png_settings(path)["latent"]["named"] == {"bright": pytest.approx(2.0)}

    # The last one: the file goes, the hint comes back.
    _action(sliders.menu(0), "Delete slider “round”…").trigger()
    assert sliders.names() == [] and sliders.hint.isVisibleTo(panel)
    assert not directions_path(model.path).exists()

    # A restart: a new panel has no such sliders.
    panel.explorer.save_session()
    again = _new_panel(qtbot, worker)
    _open(qtbot, again, "vae")
    assert again.named_sliders.names() == []


def test_a_shipped_slider_cannot_be_deleted(panel, qtbot, tiny_models, monkeypatch):
    import studio.files.resources as resources

    # The tiny VAE's folder counts as the bundled models: the file beside it is shipped.
    monkeypatch.setattr(resources, "bundled_models_dir", lambda: tiny_models["vae"].parent)
    model = _open(qtbot, panel, "vae")
    shipped = write_directions(directions_path(model.path), [_axis("smile", 2)])  # as a bundle ships it
    before = shipped.read_bytes()
    model.save_named_direction(_axis("mine", 4))  # now: the artist's own, in their data folder
    panel.explorer.namedDirectionsChanged.emit()
    sliders = panel.named_sliders
    assert sliders.names() == ["smile", "mine"]
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    menu = sliders.menu(0)
    action = _action(menu, "Delete slider “smile”…")
    assert not action.isEnabled() and SHIPPED_NOTE in action.toolTip()
    assert any(a.text() == SHIPPED_NOTE for a in menu.actions())
    action.trigger()
    assert not asked and sliders.names() == ["smile", "mine"]
    # A refused delete (called anyway) says why in plain words.
    with qtbot.waitSignal(panel.explorer.errorOccurred, timeout=5000) as blocker:
        assert not sliders.delete("smile", confirm=False)
    assert "comes with the model" in blocker.args[0]
    _action(sliders.menu(1), "Delete slider “mine”…").trigger()
    assert sliders.names() == ["smile"]
    assert shipped.read_bytes() == before
