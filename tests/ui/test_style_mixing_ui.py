"""Style mixing in the Latent Explorer, as an artist meets it: a second picture, per layer group
"this picture" or "the second one", live, undoable, and carried by the exported PNG."""

import dataclasses

import numpy as np
import pytest
from PySide6.QtGui import QUndoStack

from studio.engine.latent.mixing import StyleMix
from studio.engine.models import VAE, Generator, save_generative_model
from studio.files.images import load_image, read_png_settings, save_png
from studio.files.paths import models_dir
from studio.spec.bounds import SLIDER_RANGE
from studio.spec.models import GANConfig, VAEConfig
from studio.ui.panels.latent_panel import LatentPanel
from studio.ui.qimage import to_pil
from tests.engine.test_style_mixing import tiny_style_generator

TIMEOUT = 60_000


@pytest.fixture
def style_models(studio_home, tmp_path, monkeypatch):
    """A 2-class style GAN (per-layer w, 64 px: coarse, middle and fine layers) and a VAE."""
    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    folder = models_dir()
    style = save_generative_model(
        folder / "tiny-style.safetensors", tiny_style_generator(2), {"name": "Tiny Style", "class_names": ["a", "b"]}
    )
    vae = save_generative_model(
        folder / "tiny-vae.safetensors", VAE(VAEConfig(image_size=64, latent_dim=12, base_channels=4)), {"name": "VAE"}
    )
    dcgan = save_generative_model(
        folder / "tiny-dcgan.safetensors",
        Generator(GANConfig(image_size=64, latent_dim=8, g_channels=16, d_channels=4)),
        {"name": "Tiny DCGAN"},
    )
    return {"style": style, "vae": vae, "dcgan": dcgan}


@pytest.fixture
def panel(qtbot, worker, style_models):
    panel = LatentPanel(worker, QUndoStack())
    qtbot.addWidget(panel)
    panel.resize(1100, 760)
    return panel


def _wait_idle(qtbot, panel):
    e = panel.explorer
    qtbot.waitUntil(lambda: not e.busy and e.shown_state == e.state, timeout=TIMEOUT)


def _open(qtbot, panel, stem):
    panel.show()
    qtbot.waitUntil(lambda: panel.explorer.model is not None and not panel.explorer.loading, timeout=TIMEOUT)
    if panel.explorer.info.path.stem != stem:
        index = next(i for i, m in enumerate(panel.explorer.models) if m.path.stem == stem)
        with qtbot.waitSignal(panel.explorer.modelLoaded, timeout=TIMEOUT, raising=True):
            panel.load_model(index)
    _wait_idle(qtbot, panel)
    return panel.explorer.model


def _pixels(panel) -> np.ndarray:
    return np.asarray(to_pil(panel.view.image()))


def _mix_with_seed(qtbot, panel, seed):
    section = panel.mixing
    section.seed_spin.setValue(seed)
    section.seed_button.click()
    _wait_idle(qtbot, panel)
    qtbot.waitUntil(lambda: section.mixer.second_qimage is not None, timeout=TIMEOUT)


def _checked(section) -> dict[str, str]:
    return {g: s for (g, s), button in section.source_buttons.items() if button.isChecked()}


def test_the_section_shows_only_for_a_model_with_per_layer_styles(panel, qtbot):
    _open(qtbot, panel, "tiny-vae")
    assert not panel.mixing.isVisibleTo(panel)
    assert not _open(qtbot, panel, "tiny-dcgan").can_mix  # a GAN v1: one w for the whole picture
    assert not panel.mixing.isVisibleTo(panel)
    model = _open(qtbot, panel, "tiny-style")
    assert model.can_mix
    assert panel.mixing.isVisibleTo(panel)
    # Not mixing yet: the second picture is to be chosen, no group toggles or Stop.
    assert not panel.mixing.groups_box.isVisibleTo(panel) and not panel.mixing.stop_button.isVisibleTo(panel)
    assert "Choose a second picture" in panel.mixing.second_label.text()
    _open(qtbot, panel, "tiny-vae")
    assert not panel.mixing.isVisibleTo(panel)


def test_the_sample_grid_offers_mixing_only_for_a_model_that_can_mix(panel, qtbot):
    _open(qtbot, panel, "tiny-vae")
    dialog = panel.open_sample_grid()
    qtbot.waitUntil(lambda: len(dialog.samples) == 16, timeout=TIMEOUT)
    assert [a.text() for a in dialog.tile_actions(0).actions()] == ["Continue from this sample"]
    dialog.close()


def test_a_second_picture_and_coarse_from_it_change_the_picture_and_undo_brings_it_back(panel, qtbot):
    model = _open(qtbot, panel, "tiny-style")
    section = panel.mixing
    plain_state, plain = panel.explorer.state, _pixels(panel)
    assert plain_state.mix is None

    _mix_with_seed(qtbot, panel, 4242)
    mixed = panel.explorer.state
    assert mixed.mix is not None and mixed.mix.seed == 4242
    assert section.groups_box.isVisibleTo(panel) and section.stop_button.isVisibleTo(panel)
    assert _checked(section) == {"coarse": "a", "middle": "b", "fine": "b"}
    assert section.second_label.text() == "Second picture: seed 4242"
    assert not section.thumbnail.pixmap().isNull()
    second = panel.explorer.with_seed(4242, plain_state)
    expected = model.render(model.mixed_state(plain_state, second))
    assert np.array_equal(_pixels(panel), np.asarray(expected))
    assert not np.array_equal(_pixels(panel), plain)
    assert panel.undo_stack.undoText() == "Mix with seed 4242"
    assert panel.caption.text().endswith("mixed with seed 4242")

    before_coarse = _pixels(panel)
    section.source_buttons["coarse", "b"].click()
    _wait_idle(qtbot, panel)
    assert panel.undo_stack.undoText() == "Shape and layout from the second picture"
    assert _checked(section)["coarse"] == "b"
    all_b = model.mixed_state(plain_state, second, coarse="b", middle="b", fine="b")
    assert panel.explorer.state == all_b
    assert np.array_equal(_pixels(panel), np.asarray(model.render(all_b)))
    assert not np.array_equal(_pixels(panel), before_coarse)

    panel.undo_stack.undo()  # the coarse layers back to this picture's
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == mixed and _checked(section)["coarse"] == "a"
    assert np.array_equal(_pixels(panel), before_coarse)
    panel.undo_stack.undo()  # mixing off: exactly the picture before
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == plain_state
    assert np.array_equal(_pixels(panel), plain)
    assert not section.groups_box.isVisibleTo(panel)
    panel.undo_stack.redo()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == mixed and section.groups_box.isVisibleTo(panel)


def test_changing_the_second_picture_keeps_the_groups_and_stop_mixing_is_one_step(panel, qtbot):
    _open(qtbot, panel, "tiny-style")
    section = panel.mixing
    plain_state, plain = panel.explorer.state, _pixels(panel)
    _mix_with_seed(qtbot, panel, 7)
    section.source_buttons["fine", "a"].click()
    _wait_idle(qtbot, panel)
    _mix_with_seed(qtbot, panel, 8)
    state = panel.explorer.state
    assert state.mix.seed == 8 and _checked(section) == {"coarse": "a", "middle": "b", "fine": "a"}
    assert panel.undo_stack.undoText() == "Second picture: seed 8"
    count = panel.undo_stack.count()
    section.stop_button.click()
    _wait_idle(qtbot, panel)
    assert panel.undo_stack.count() == count + 1 and panel.undo_stack.undoText() == "Stop mixing"
    assert panel.explorer.state == plain_state
    assert np.array_equal(_pixels(panel), plain)
    assert not section.stop_button.isVisibleTo(panel)
    panel.undo_stack.undo()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == state and _checked(section)["fine"] == "a"


def test_the_same_picture_as_both_points_gives_the_same_picture(panel, qtbot):
    _open(qtbot, panel, "tiny-style")
    plain_state, plain = panel.explorer.state, _pixels(panel)
    assert plain_state.seed is not None
    _mix_with_seed(qtbot, panel, plain_state.seed)
    panel.mixing.source_buttons["coarse", "b"].click()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state.mix is not None
    assert np.array_equal(_pixels(panel), plain)


def test_sliders_move_the_first_picture_and_keep_the_mix(panel, qtbot):
    model = _open(qtbot, panel, "tiny-style")
    _mix_with_seed(qtbot, panel, 99)
    mix = panel.explorer.state.mix
    panel.sliders.sliders[0].setValue(2.0)
    _wait_idle(qtbot, panel)
    state = panel.explorer.state
    assert state.mix == mix and panel.explorer.coordinates()[0] == pytest.approx(2.0, abs=1e-4)
    assert np.array_equal(_pixels(panel), np.asarray(model.render(state)))
    assert panel.mixing.groups_box.isVisibleTo(panel)
    # The pictures at a slider's two ends are of the mixed picture too.
    e = panel.explorer
    qtbot.waitUntil(lambda: 0 in e.direction_previews, timeout=TIMEOUT)
    end = model.state_with_coordinate(state, 0, -SLIDER_RANGE, e.directions)
    assert end.mix == mix
    assert np.array_equal(np.asarray(e.direction_previews[0].minus), np.asarray(model.render(end)))


def test_a_bookmark_and_a_sample_grid_tile_can_be_the_second_picture(panel, qtbot):
    model = _open(qtbot, panel, "tiny-style")
    section = panel.mixing
    first = panel.explorer.state
    panel.explorer.set_seed(31)
    _wait_idle(qtbot, panel)
    mark = panel.add_bookmark("round face")
    panel.undo_stack.undo()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == first
    row = section.bookmark_combo.findText("round face")
    assert row > 0
    section.bookmark_combo.activated.emit(row)
    _wait_idle(qtbot, panel)
    assert panel.explorer.state.mix.z == mark.state().z
    assert section.second_label.text() == "Second picture: bookmark “round face”"
    assert panel.undo_stack.undoText() == "Mix with bookmark “round face”"

    dialog = panel.open_sample_grid()
    qtbot.waitUntil(lambda: len(dialog.samples) == 16, timeout=TIMEOUT)
    labels = [a.text() for a in dialog.tile_actions(3).actions()]
    assert labels == ["Continue from this sample", "Use as second picture for mixing"]
    dialog.tile_actions(3).actions()[1].trigger()
    _wait_idle(qtbot, panel)
    tile = dialog.samples[3]
    assert panel.explorer.state.z == first.z  # this picture stays, only its second picture changed
    assert panel.explorer.state.mix.z == tile.state.z and panel.explorer.state.mix.seed == tile.state.seed
    assert section.mixer.second_qimage is tile.qimage  # the tile's own picture, no render
    assert np.array_equal(_pixels(panel), np.asarray(model.render(panel.explorer.state)))
    dialog.close()


def test_an_exported_png_carries_the_mix_and_reopens_it_in_the_controls(panel, qtbot, tmp_path):
    model = _open(qtbot, panel, "tiny-style")
    section = panel.mixing
    _mix_with_seed(qtbot, panel, 555)
    section.source_buttons["coarse", "b"].click()
    section.source_buttons["fine", "a"].click()
    _wait_idle(qtbot, panel)
    exported_state, exported = panel.explorer.state, _pixels(panel)
    path = tmp_path / "mixed.png"
    panel.export_png(path)
    settings = read_png_settings(path)["latent"]
    assert settings["mix"]["seed"] == 555
    assert (settings["mix"]["coarse"], settings["mix"]["middle"], settings["mix"]["fine"]) == ("b", "b", "a")

    section.stop_button.click()
    panel.explorer.set_seed(12)
    _wait_idle(qtbot, panel)
    assert not section.groups_box.isVisibleTo(panel)
    assert panel.accept_image(load_image(path))
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == exported_state
    assert np.array_equal(_pixels(panel), exported)
    assert np.array_equal(exported, np.asarray(model.render(exported_state)))
    assert _checked(section) == {"coarse": "b", "middle": "b", "fine": "a"}
    assert section.groups_box.isVisibleTo(panel) and section.seed_spin.value() == 555
    qtbot.waitUntil(lambda: section.mixer.second_qimage is not None, timeout=TIMEOUT)
    assert section.second_label.text() == "Second picture: seed 555"


def test_a_mixed_png_opened_with_a_model_that_cannot_mix_says_why(panel, qtbot, tmp_path):
    vae = _open(qtbot, panel, "tiny-vae")
    state = panel.explorer.state
    odd = dataclasses.replace(state, mix=StyleMix(state.z, None, 1.0, None, coarse="b"))
    path = tmp_path / "odd.png"
    save_png(path, to_pil(panel.view.image()), {"panel": "Latent Explorer", **odd.to_settings()})
    assert panel.accept_image(load_image(path))
    qtbot.waitUntil(lambda: panel.message.isVisibleTo(panel), timeout=TIMEOUT)
    assert f"{vae.name} draws with one latent vector for the whole picture" in panel.message.text()
    assert panel.explorer.state == state
