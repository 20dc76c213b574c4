"""The Latent Explorer as an artist meets it, on tiny models saved into the temporary library."""

import json
import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication, QLineEdit

from studio.files.images import load_image, read_png_settings
from studio.files.paths import data_dir, models_dir
from studio.spec.export_size import ExportSize, export_image
from studio.ui import saved_notice
from studio.ui.latent import explorer_controller, interpolation
from studio.ui.latent.bookmark_store import BookmarkStore
from studio.ui.panels import base as panel_base
from studio.ui.panels.latent_panel import LatentPanel
from studio.ui.qimage import to_pil

TIMEOUT = 60_000


def _new_panel(qtbot, worker, undo_stack=None):
    panel = LatentPanel(worker, undo_stack if undo_stack is not None else QUndoStack())
    qtbot.addWidget(panel)
    panel.resize(1100, 720)
    return panel


def _wait_idle(qtbot, panel):
    qtbot.waitUntil(
        lambda: not panel.explorer.busy and panel.explorer.shown_state == panel.explorer.state, timeout=TIMEOUT
    )


def _open(qtbot, panel, kind):
    """Show the panel and make sure the model of ``kind`` ("vae" or "gan") is the one loaded."""
    panel.show()
    qtbot.waitUntil(lambda: panel.explorer.model is not None and not panel.explorer.loading, timeout=TIMEOUT)
    if panel.explorer.model.kind != kind:
        index = next(i for i, m in enumerate(panel.explorer.models) if m.path.stem == f"tiny-{kind}")
        with qtbot.waitSignal(panel.explorer.modelLoaded, timeout=TIMEOUT, raising=True):
            panel.load_model(index)
    _wait_idle(qtbot, panel)
    return panel.explorer.model


def _pixels(panel) -> np.ndarray:
    return np.asarray(to_pil(panel.view.image()))


def _expected(panel, state=None) -> np.ndarray:
    return np.asarray(panel.explorer.model.render(state or panel.explorer.state))


@pytest.fixture
def panel(qtbot, worker, tiny_models):
    return _new_panel(qtbot, worker)


def test_lists_the_installed_models_and_loads_one(panel, qtbot):
    model = _open(qtbot, panel, "vae")
    combo = [panel.model_combo.itemText(i) for i in range(panel.model_combo.count())]
    assert len(combo) == 2 and any("Tiny VAE" in t for t in combo) and any("Tiny GAN" in t for t in combo)
    assert panel.view.image().size().width() == 64
    assert np.array_equal(_pixels(panel), _expected(panel))
    # One slider per latent dimension, the 16 most influential shown until "Show all".
    assert panel.sliders.visible_count() == 16 and panel.sliders.show_all.isVisibleTo(panel)
    panel.sliders.show_all.setChecked(True)
    assert panel.sliders.visible_count() == model.latent_dim == 20
    assert not panel.class_combo.isVisibleTo(panel) and not panel.psi_slider.isVisibleTo(panel)
    assert panel.current().settings["latent"]["model_sha256"] == model.sha256


def test_a_slider_move_changes_the_picture(panel, qtbot):
    _open(qtbot, panel, "vae")
    before = _pixels(panel)
    with qtbot.waitSignal(panel.explorer.imageReady, timeout=TIMEOUT, raising=True):
        panel.sliders.sliders[0].setValue(3.0)
    _wait_idle(qtbot, panel)
    assert not np.array_equal(_pixels(panel), before)
    assert np.array_equal(_pixels(panel), _expected(panel))
    assert panel.explorer.coordinates()[0] == pytest.approx(3.0, abs=1e-4)
    assert panel.undo_stack.count() == 1


def test_rapid_slider_moves_render_far_fewer_times_and_show_the_final_value(panel, qtbot):
    model = _open(qtbot, panel, "vae")
    calls = []
    original = model.render
    # The worker stays busy with the first render until the drag is over: however slow or
    # loaded the machine, every move in between must replace the pending request, not queue.
    busy = threading.Event()

    def slow_render(*args, **kwargs):
        calls.append(1)
        busy.wait(10)
        return original(*args, **kwargs)

    model.render = slow_render
    values = np.linspace(-3.0, 2.2, 60)
    for value in values:
        panel.sliders.sliders[1].setValue(float(value))
        QApplication.processEvents()  # the event loop runs between moves, as in a real drag
    busy.set()
    _wait_idle(qtbot, panel)
    assert len(calls) <= 3, f"{len(calls)} renders for {len(values)} moves"
    assert panel.explorer.coordinates()[1] == pytest.approx(2.2, abs=1e-4)
    assert np.array_equal(_pixels(panel), np.asarray(original(panel.explorer.state)))
    assert panel.undo_stack.count() == 1  # the whole drag is one undo step


def test_a_bookmark_restores_the_point_and_its_picture(panel, qtbot):
    _open(qtbot, panel, "vae")
    original, state = _pixels(panel), panel.explorer.state
    bookmark = panel.add_bookmark("calm face")
    assert panel.strip.count() == 1 and panel.strip.item(0).text() == "calm face"
    assert not panel.strip.item(0).icon().isNull()
    panel.sliders.sliders[0].setValue(-2.5)
    _wait_idle(qtbot, panel)
    assert not np.array_equal(_pixels(panel), original)
    rect = panel.strip.visualItemRect(panel.strip.item(0))
    qtbot.mouseClick(panel.strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == state == bookmark.state()
    assert np.array_equal(_pixels(panel), original)


def test_bookmarks_persist_across_a_new_panel(qtbot, worker, tiny_models):
    first = _new_panel(qtbot, worker)
    _open(qtbot, first, "vae")
    first.sliders.sliders[2].setValue(1.5)
    _wait_idle(qtbot, first)
    saved = first.add_bookmark("keeper")
    stored = json.loads((data_dir() / "bookmarks.json").read_text())
    assert [b["name"] for b in stored["bookmarks"]] == ["keeper"]

    second = _new_panel(qtbot, worker)
    assert second.bookmarks is not first.bookmarks
    _open(qtbot, second, "vae")
    assert second.strip.count() == 1 and second.strip.item(0).text() == "keeper"
    second.restore_bookmark(second.strip.bookmark_ids()[0])
    _wait_idle(qtbot, second)
    assert second.explorer.state == saved.state()
    assert np.array_equal(_pixels(second), _expected(second, saved.state()))
    # Bookmarks belong to their model: the GAN has none.
    _open(qtbot, second, "gan")
    assert second.strip.count() == 0


def test_undo_returns_the_previous_picture_and_redo_reapplies(panel, qtbot):
    _open(qtbot, panel, "vae")
    original = _pixels(panel)
    panel.sliders.sliders[0].setValue(2.8)
    _wait_idle(qtbot, panel)
    moved = _pixels(panel)
    assert not np.array_equal(moved, original)
    panel.undo_stack.undo()
    _wait_idle(qtbot, panel)
    assert np.array_equal(_pixels(panel), original)
    assert panel.sliders.sliders[0].value() == pytest.approx(panel.explorer.coordinates()[0], abs=0.01)
    panel.undo_stack.redo()
    _wait_idle(qtbot, panel)
    assert np.array_equal(_pixels(panel), moved)


def test_a_mouse_drag_follows_the_pointer_and_is_one_undo_step(panel, qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QSlider, QStyle, QStyleOptionSlider

    _open(qtbot, panel, "vae")
    original = _pixels(panel)
    inner = panel.sliders.sliders[0].findChild(QSlider)
    option = QStyleOptionSlider()
    inner.initStyleOption(option)
    handle = inner.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, inner
    )
    y, start, end = handle.center().y(), handle.center().x(), inner.width() - 2
    qtbot.mousePress(inner, Qt.MouseButton.LeftButton, pos=QPoint(start, y))
    for x in range(start, end, 4):
        qtbot.mouseMove(inner, QPoint(x, y))
    qtbot.mouseRelease(inner, Qt.MouseButton.LeftButton, pos=QPoint(end, y))
    _wait_idle(qtbot, panel)
    assert panel.explorer.coordinates()[0] == pytest.approx(3.0, abs=1e-4)
    assert np.array_equal(_pixels(panel), _expected(panel))
    assert panel.undo_stack.count() == 1
    panel.undo_stack.undo()
    _wait_idle(qtbot, panel)
    assert np.array_equal(_pixels(panel), original)


def test_separate_drags_of_one_slider_are_separate_undo_steps(panel, qtbot):
    _open(qtbot, panel, "vae")
    slider = panel.sliders.sliders[0]
    for value in (1.0, 2.0):
        panel.sliders.dragStarted.emit(0)
        slider.setValue(value)
        slider.setValue(value + 0.5)
        slider.sliderReleased.emit()
    assert panel.undo_stack.count() == 2


def test_randomize_changes_the_picture_and_is_undoable(panel, qtbot):
    _open(qtbot, panel, "vae")
    original, state = _pixels(panel), panel.explorer.state
    panel.randomize_button.click()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state.seed != state.seed
    assert panel.seed_spin.value() == panel.explorer.state.seed
    assert not np.array_equal(_pixels(panel), original)
    assert panel.undo_stack.undoText() == "Randomize"
    panel.undo_stack.undo()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == state and np.array_equal(_pixels(panel), original)


def test_reset_returns_to_the_sample_the_slider_moves_started_from(panel, qtbot):
    _open(qtbot, panel, "vae")
    panel.seed_spin.setValue(7)
    _wait_idle(qtbot, panel)
    sample = panel.explorer.state
    panel.sliders.sliders[0].setValue(-3.0)
    panel.sliders.sliders[3].setValue(2.0)
    _wait_idle(qtbot, panel)
    panel.reset_button.click()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == sample
    assert np.array_equal(_pixels(panel), _expected(panel, sample))


def test_sample_grid_click_adopts_a_sample(panel, qtbot):
    _open(qtbot, panel, "vae")
    before = panel.explorer.state
    dialog = panel.open_sample_grid()
    qtbot.waitUntil(lambda: len(dialog.samples) == 16, timeout=TIMEOUT)
    assert all(cell.isEnabled() and not cell.icon().isNull() for cell in dialog.cells)
    chosen = dialog.samples[5]
    qtbot.mouseClick(dialog.cells[5], Qt.MouseButton.LeftButton)
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == chosen.state
    assert chosen.state.seed == dialog.base_seed + 5 and panel.seed_spin.value() == chosen.state.seed
    assert np.array_equal(_pixels(panel), _expected(panel, chosen.state))
    panel.undo_stack.undo()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == before
    dialog.close()


def test_exported_png_reopens_to_the_same_state_and_picture(tiny_models, window, qtbot, tmp_path):
    panel = window.panels[0]
    _open(qtbot, panel, "gan")
    panel.class_combo.setCurrentIndex(2)
    panel.class_combo.activated.emit(2)
    panel.psi_slider.setValue(0.7)
    panel.sliders.sliders[1].setValue(-1.25)
    _wait_idle(qtbot, panel)
    exported_state, exported = panel.explorer.state, _pixels(panel)

    from_menu = tmp_path / "from-menu.png"
    from_button = tmp_path / "from-button.png"
    assert window.save_image(from_menu)
    panel.export_png(from_button)
    for path in (from_menu, from_button):
        settings = read_png_settings(path)
        assert settings["panel"] == "Latent Explorer"
        assert settings["latent"]["z"] == list(exported_state.z)
        assert settings["latent"]["class_index"] == 2 and settings["latent"]["psi"] == pytest.approx(0.7)
        assert settings["model"]["sha256"] == panel.explorer.model.sha256
        # Exports are 4x, smooth, unless the artist chose otherwise: 64 px becomes 256 px.
        big = export_image(Image.fromarray(exported), ExportSize(scale=4, resample="smooth"))
        assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), np.asarray(big))

    panel.randomize()
    _open(qtbot, panel, "vae")  # even another model loaded: the PNG brings its own back
    vae_state = panel.explorer.state
    window.tabs.setCurrentIndex(1)  # and from another panel: the explorer takes it back
    assert window.open_image(from_menu)
    assert window.current_panel() is panel
    _wait_idle(qtbot, panel)
    assert panel.explorer.model.kind == "gan"
    assert panel.explorer.state == exported_state
    assert np.array_equal(_pixels(panel), exported)
    assert panel.class_combo.currentIndex() == 2 and panel.psi_slider.value() == pytest.approx(0.7)
    assert window.undo_stack.undoText() == "Open from-menu.png"
    window.undo_action.trigger()  # undo crosses back to the model shown before
    qtbot.waitUntil(lambda: panel.explorer.model.kind == "vae", timeout=TIMEOUT)
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == vae_state


def test_switching_models_and_back_returns_to_where_the_artist_left(panel, qtbot):
    vae = _open(qtbot, panel, "vae")
    panel.sliders.sliders[0].setValue(2.0)
    _wait_idle(qtbot, panel)
    left = panel.explorer.state
    _open(qtbot, panel, "gan")
    _open(qtbot, panel, "vae")
    assert panel.explorer.model is vae  # kept, not loaded again
    assert panel.explorer.state == left
    assert np.array_equal(_pixels(panel), _expected(panel, left))


def test_opening_a_png_of_a_model_that_is_not_installed_says_so_and_changes_nothing(panel, qtbot, tmp_path):
    _open(qtbot, panel, "vae")
    path = tmp_path / "elsewhere.png"
    panel.export_png(path)
    settings = read_png_settings(path)
    settings["latent"]["model_sha256"] = "0" * 64
    settings["latent"]["model_name"] = "Someone else's GAN"
    from studio.files.images import save_png

    save_png(path, Image.open(path), settings)
    state = panel.explorer.state
    assert panel.accept_image(load_image(path))
    assert "Someone else's GAN" in panel.message.text() and "not installed" in panel.message.text()
    assert panel.explorer.state == state and panel.undo_stack.count() == 0


def test_a_vae_encodes_an_opened_image_and_the_sliders_edit_it(panel, qtbot, tmp_path):
    model = _open(qtbot, panel, "vae")
    picture = Image.new("RGB", (80, 64), (200, 40, 40))
    picture.paste((30, 30, 220), (20, 10, 60, 50))
    path = tmp_path / "mine.png"
    picture.save(path)
    before = panel.explorer.state
    with qtbot.waitSignal(panel.explorer.stateChanged, timeout=TIMEOUT, raising=True):
        assert panel.accept_image(load_image(path))
    _wait_idle(qtbot, panel)
    encoded = panel.explorer.state
    assert encoded.seed is None
    np.testing.assert_allclose(encoded.z_array(), model.encode(load_image(path).image), atol=1e-5)
    assert np.array_equal(_pixels(panel), _expected(panel, encoded))
    assert panel.undo_stack.undoText() == "Encode mine.png"
    panel.sliders.sliders[0].setValue(-2.0)
    _wait_idle(qtbot, panel)
    panel.reset()  # back to the encoded image, not to a seed
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == encoded
    panel.undo_stack.undo()
    panel.undo_stack.undo()
    panel.undo_stack.undo()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == before


def test_a_gan_projects_an_image_as_a_job_with_progress(panel, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(explorer_controller, "PROJECTION_STEPS", 6)
    _open(qtbot, panel, "gan")
    path = tmp_path / "target.png"
    Image.new("RGB", (64, 64), (10, 120, 200)).save(path)
    before = panel.explorer.state
    with qtbot.waitSignal(panel.worker.jobFinished, timeout=TIMEOUT, raising=True):
        with qtbot.waitSignal(panel.worker.jobProgress, timeout=TIMEOUT, raising=True):
            assert panel.accept_image(load_image(path))
    _wait_idle(qtbot, panel)
    assert panel.explorer.state != before and panel.explorer.state.seed is None
    assert panel.undo_stack.undoText() == "Project target.png"
    assert np.array_equal(_pixels(panel), _expected(panel))


def test_interpolation_renders_n_frames_and_exports_a_gif_with_that_many(panel, qtbot, tmp_path, monkeypatch):
    from studio.engine.latent.interpolation import interpolate_path

    _open(qtbot, panel, "vae")
    first = panel.add_bookmark("one")
    panel.seed_spin.setValue(11)
    _wait_idle(qtbot, panel)
    second = panel.add_bookmark("two")
    dialog = panel.open_interpolation()
    assert dialog.checked_ids() == [first.id, second.id]
    dialog.frames_spin.setValue(5)
    dialog.loop_check.setChecked(False)
    expected = len(interpolate_path([first.state().z_array(), second.state().z_array()], 5, False))
    with qtbot.waitSignal(dialog.framesReady, timeout=TIMEOUT, raising=True) as ready:
        dialog.render_frames()
    assert ready.args == [expected] and len(dialog.frames) == expected == 6
    assert np.array_equal(np.asarray(dialog.frames[0]), np.asarray(panel.explorer.model.render(first.state())))
    dialog.play_button.setChecked(True)
    qtbot.waitUntil(lambda: dialog.scrub.value() >= 2, timeout=5_000)
    dialog.play_button.setChecked(False)

    gif = dialog.export_animation(tmp_path / "loop.gif")
    with Image.open(gif) as animation:
        assert animation.n_frames == expected
        assert animation.size == (256, 256)  # the export size: 4x unless the artist chose otherwise
    dialog.size_choice.set_value(ExportSize(pixels=100, resample="crisp"))
    assert panel.size_choice.value() == ExportSize(pixels=100, resample="crisp")  # one choice, shared
    frames = tmp_path / "frames"
    dialog.export_frames(frames)
    assert len(sorted(frames.glob("*.png"))) == expected
    assert {Image.open(path).size for path in frames.glob("*.png")} == {(100, 100)}

    # From the button: the dialog confirms with the file's name and a link to its folder.
    opened = _record_opened_urls(monkeypatch)
    assert not dialog.saved.isVisibleTo(dialog)
    (tmp_path / "anims").mkdir()
    monkeypatch.setattr(
        interpolation.QFileDialog,
        "getSaveFileName",
        lambda *args, **kwargs: (str(tmp_path / "anims" / "orbit.gif"), "GIF (*.gif)"),
    )
    dialog.export_button.click()
    assert (tmp_path / "anims" / "orbit.gif").exists()
    assert dialog.saved.isVisibleTo(dialog) and "Saved orbit.gif" in dialog.saved.text()
    assert "Open folder" in dialog.saved.text()
    dialog.saved.linkActivated.emit("open-folder")
    assert [url.toLocalFile() for url in opened] == [str(tmp_path / "anims")]
    dialog.close()


def _record_opened_urls(monkeypatch) -> list:
    """Stand in for QDesktopServices.openUrl (no file manager opens in a test): the URLs asked for."""
    opened = []
    monkeypatch.setattr(saved_notice.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    return opened


def test_export_png_confirms_the_file_name_with_a_link_that_opens_its_folder(panel, qtbot, tmp_path, monkeypatch):
    _open(qtbot, panel, "vae")
    opened = _record_opened_urls(monkeypatch)
    folder = tmp_path / "exports"
    folder.mkdir()
    monkeypatch.setattr(
        panel_base.QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(folder / "my-face"), "")
    )
    assert not panel.saved.isVisibleTo(panel)
    panel.export_button.click()
    assert (folder / "my-face.png").exists()
    assert panel.saved.isVisibleTo(panel)
    assert "Saved my-face.png" in panel.saved.text() and "Open folder" in panel.saved.text()
    assert not panel.message.isVisibleTo(panel)
    assert opened == []
    panel.saved.linkActivated.emit("open-folder")
    assert [url.toLocalFile() for url in opened] == [str(folder)]


def test_a_gan_with_classes_shows_the_class_picker_and_truncation(panel, qtbot):
    model = _open(qtbot, panel, "gan")
    assert panel.class_combo.isVisibleTo(panel) and panel.psi_slider.isVisibleTo(panel)
    assert [panel.class_combo.itemText(i) for i in range(panel.class_combo.count())] == ["cat", "dog", "owl"]
    assert panel.sliders.visible_count() == model.latent_dim and not panel.sliders.show_all.isVisibleTo(panel)
    before = _pixels(panel)
    panel.class_combo.setCurrentIndex(1)
    panel.class_combo.activated.emit(1)
    _wait_idle(qtbot, panel)
    assert panel.explorer.state.class_index == 1
    with_class = _pixels(panel)
    assert not np.array_equal(with_class, before)
    panel.psi_slider.setValue(0.3)
    _wait_idle(qtbot, panel)
    assert panel.explorer.state.psi == pytest.approx(0.3)
    assert not np.array_equal(_pixels(panel), with_class)
    assert np.array_equal(_pixels(panel), _expected(panel))


def test_a_vae_with_a_prior_picks_a_class_and_its_sliders_follow_it(qtbot, worker, studio_home, tmp_path, monkeypatch):
    import torch

    from studio.engine.models.store import save_generative_model
    from studio.engine.models.vae import VAE
    from studio.engine.models.vae_prior import fit_mixture_prior, with_prior
    from studio.spec.models import VAEConfig

    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (2, 8))
    codes = np.concatenate([c + rng.normal(0, 0.3, (60, 8)) * rng.uniform(0.5, 2, 8) for c in centres])
    prior = fit_mixture_prior(codes, np.repeat([0, 1], 60), per_class=1)
    vae = with_prior(VAE(VAEConfig(latent_dim=8, base_channels=4)), prior)
    save_generative_model(
        models_dir() / "prior-vae.safetensors", vae, {"name": "Prior VAE", "class_names": ["cats", "owls"]}
    )
    panel = _new_panel(qtbot, worker)
    panel.show()
    qtbot.waitUntil(lambda: panel.explorer.model is not None and not panel.explorer.loading, timeout=TIMEOUT)
    _wait_idle(qtbot, panel)
    assert panel.class_combo.isVisibleTo(panel) and not panel.psi_slider.isVisibleTo(panel)
    cats = panel.explorer.directions
    with qtbot.waitSignal(panel.explorer.directionsChanged, timeout=TIMEOUT, raising=True):
        panel.class_combo.setCurrentIndex(1)
        panel.class_combo.activated.emit(1)
    _wait_idle(qtbot, panel)
    owls = panel.explorer.directions
    assert panel.explorer.state.class_index == 1 and owls is not cats
    # The seed's point is now an owl's, and the sliders read it on the owls' axes.
    z = np.array(panel.explorer.state.z)
    assert np.linalg.norm(z - prior.means[1]) < np.linalg.norm(z - prior.means[0])
    shown = [slider.value() for slider in panel.sliders.sliders]
    np.testing.assert_allclose(shown, np.clip(panel.explorer.coordinates(), -3, 3), atol=0.05)
    panel.undo_stack.undo()
    _wait_idle(qtbot, panel)
    assert panel.explorer.directions is cats and panel.explorer.state.class_index == 0
    assert np.array_equal(_pixels(panel), _expected(panel))


def test_without_models_the_panel_shows_the_hint_and_opened_images_plainly(qtbot, worker, tmp_path, monkeypatch):
    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    panel = _new_panel(qtbot, worker)
    panel.show()
    assert "No latent model is installed yet" in panel.empty_hint
    assert not panel.randomize_button.isEnabled() and not panel.model_combo.isEnabled()
    path = tmp_path / "plain.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path)
    assert not panel.accept_image(load_image(path))


def test_an_unreadable_bookmarks_file_is_kept_aside_and_reported(qtbot, worker, tiny_models):
    broken = data_dir() / "bookmarks.json"
    broken.write_text("{ this is not json")
    panel = _new_panel(qtbot, worker)
    assert panel.bookmarks.bookmarks == []
    assert "bookmarks" in panel.message.text()
    assert [p.name for p in data_dir().glob("bookmarks.unreadable-*.json")]
    assert isinstance(BookmarkStore(), BookmarkStore)


def test_a_broken_model_file_gives_a_message_naming_it_and_the_current_model_stays(panel, qtbot):
    model = _open(qtbot, panel, "vae")
    (models_dir() / "broken.safetensors").write_bytes(b"not a model at all")
    (models_dir() / "broken.json").write_text(json.dumps({"name": "Broken", "architecture": "vae"}))
    panel.start()  # lists the library again
    index = next(i for i, m in enumerate(panel.explorer.models) if m.path.stem == "broken")
    state = panel.explorer.state
    with qtbot.waitSignal(panel.explorer.errorOccurred, timeout=TIMEOUT, raising=True):
        panel.load_model(index)
    qtbot.waitUntil(lambda: not panel.explorer.loading, timeout=TIMEOUT)
    assert "broken.safetensors" in panel.message.text()
    assert panel.explorer.model is model and panel.explorer.state == state
    assert "Tiny VAE" in panel.model_combo.currentText() and panel.randomize_button.isEnabled()
    panel.randomize()
    _wait_idle(qtbot, panel)
    assert np.array_equal(_pixels(panel), _expected(panel))


def test_a_hand_edited_png_with_a_wrong_latent_size_is_refused_clearly(panel, qtbot, tmp_path):
    from studio.files.images import save_png

    _open(qtbot, panel, "vae")
    path = tmp_path / "edited.png"
    panel.export_png(path)
    settings = read_png_settings(path)
    settings["latent"]["z"] = settings["latent"]["z"][:5]
    save_png(path, Image.open(path), settings)
    state = panel.explorer.state
    assert panel.accept_image(load_image(path))
    assert "5 latent values" in panel.message.text()
    assert panel.explorer.state == state and panel.undo_stack.count() == 0


def test_enter_in_the_seed_box_applies_it_and_b_and_r_work_straight_after(panel, qtbot):
    _open(qtbot, panel, "vae")
    panel.activateWindow()
    qtbot.mouseClick(panel.seed_spin.lineEdit(), Qt.MouseButton.LeftButton)
    assert panel.seed_spin.hasFocus()
    panel.seed_spin.lineEdit().selectAll()
    qtbot.keyClicks(panel.seed_spin.lineEdit(), "1234")
    qtbot.keyClick(panel.seed_spin.lineEdit(), Qt.Key.Key_Return)
    assert panel.explorer.state.seed == 1234
    assert panel.view.hasFocus()  # the keyboard is back on the picture
    _wait_idle(qtbot, panel)

    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_B)
    qtbot.waitUntil(lambda: panel.strip.count() == 1, timeout=TIMEOUT)
    assert [b.name for b in panel.explorer.model_bookmarks()] == ["Seed 1234"]
    assert QApplication.activeModalWidget() is None  # no name dialog on the way

    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_R)
    _wait_idle(qtbot, panel)
    assert panel.explorer.state.seed != 1234
    assert panel.seed_spin.value() == panel.explorer.state.seed


def test_clicking_the_picture_takes_the_keyboard_from_the_seed_box(panel, qtbot):
    _open(qtbot, panel, "vae")
    panel.activateWindow()
    panel.seed_spin.setFocus()
    assert panel.seed_spin.hasFocus()
    qtbot.mouseClick(panel.view, Qt.MouseButton.LeftButton)
    assert panel.view.hasFocus()
    seed = panel.explorer.state.seed
    qtbot.keyClick(panel.view, Qt.Key.Key_R)
    _wait_idle(qtbot, panel)
    assert panel.explorer.state.seed != seed


def test_bookmarks_get_automatic_names_and_are_renamed_in_place(panel, qtbot):
    _open(qtbot, panel, "vae")
    panel.seed_spin.setValue(42)
    _wait_idle(qtbot, panel)
    panel.bookmark_button.click()  # no dialog: the bookmark is there at once
    panel.sliders.sliders[0].setValue(1.5)
    _wait_idle(qtbot, panel)
    panel.bookmark_button.click()
    marks = panel.explorer.model_bookmarks()
    assert [b.name for b in marks] == ["Seed 42", "Seed 42 (2)"]

    # F2 on the entry opens an editor in the strip; typing and Enter renames it.
    panel.strip.setFocus()
    panel.strip.setCurrentRow(1)
    qtbot.keyClick(panel.strip, Qt.Key.Key_F2)
    editor = next((e for e in panel.strip.findChildren(QLineEdit) if e.isVisible()), None)
    assert editor is not None and editor.isVisible()
    editor.selectAll()
    qtbot.keyClicks(editor, "soft smile")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.bookmarks.get(marks[1].id).name == "soft smile", timeout=TIMEOUT)
    stored = json.loads((data_dir() / "bookmarks.json").read_text())
    assert [b["name"] for b in stored["bookmarks"]] == ["Seed 42", "soft smile"]
    qtbot.waitUntil(lambda: panel.strip.item(1).text() == "soft smile", timeout=TIMEOUT)

    # A double-click on the entry does the same; an emptied name keeps the old one.
    rect = panel.strip.visualItemRect(panel.strip.item(0))
    qtbot.mouseClick(panel.strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # a double-click's first
    qtbot.mouseDClick(panel.strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    editor = next(e for e in panel.strip.findChildren(QLineEdit) if e.isVisible())
    editor.selectAll()
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.wait(50)
    assert panel.bookmarks.get(marks[0].id).name == "Seed 42"
    assert panel.strip.item(0).text() == "Seed 42"


def test_while_a_model_loads_the_panel_says_loading_model_not_put_a_model_in(qtbot, fake_worker, tiny_models):
    panel = _new_panel(qtbot, fake_worker)
    panel.show()  # the load waits: the fake worker draws nothing until told
    assert panel.explorer.loading and panel.view.image() is None
    assert panel.model_info.text() == "Loading model…"
    assert panel.view.hint() == "Loading model…"
    assert panel.caption.text() == "Loading model…"
    assert not panel.message.isVisibleTo(panel)  # not an error
    assert "Put a VAE or GAN" not in panel.model_info.text()

    while fake_worker.pending_render is not None:
        fake_worker.draw()
    assert not panel.explorer.loading
    assert panel.view.image() is not None and panel.view.image().width() == 64
    assert panel.model_info.text().startswith(("VAE ·", "GAN ·"))
    assert "Loading" not in panel.caption.text()


def test_with_no_model_at_all_the_panel_says_where_to_put_one(qtbot, worker, tmp_path, monkeypatch):
    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    panel = _new_panel(qtbot, worker)
    panel.show()
    assert not panel.explorer.loading
    assert panel.model_info.text().startswith("Put a VAE or GAN")
    assert str(panel.explorer.library_folder) in panel.model_info.text()
    assert panel.view.hint() == panel.empty_hint


JARGON = ("sefa", "ganspace", "vae-kl", "dim ", "dimension", "ψ", "truncation", "σ", "direction")


def _on_screen_text(panel) -> list[str]:
    """Every word the artist reads without hovering: labels, buttons, check boxes."""
    from PySide6.QtWidgets import QAbstractButton, QLabel

    widgets = panel.findChildren(QLabel) + panel.findChildren(QAbstractButton)
    return [w.text() for w in widgets if w.isVisibleTo(panel) and w.text()]


def test_sliders_say_what_they_do_and_keep_the_technical_names_in_their_tooltips(panel, qtbot):
    _open(qtbot, panel, "vae")
    names = [panel.sliders._grid.itemAtPosition(i, 0).widget() for i in range(3)]
    assert [n.text() for n in names] == ["Change 1", "Change 2", "Change 3"]
    assert panel.directions_label.text() == "CHANGES · BIGGEST FIRST"
    assert "VAE-KL dimension" in names[0].toolTip() and "biggest change" in names[0].toolTip()
    assert "VAE-KL dimension" in panel.sliders.sliders[0].toolTip()
    assert "VAE-KL" in panel.directions_label.toolTip()

    _open(qtbot, panel, "gan")
    assert panel.psi_label.text() == "VARIETY"
    assert "truncation ψ" in panel.psi_slider.toolTip() and "truncation ψ" in panel.psi_label.toolTip()
    names = [panel.sliders._grid.itemAtPosition(i, 0).widget() for i in range(2)]
    assert "SeFa direction 1" in names[0].toolTip() and "SeFa direction 2" in names[1].toolTip()
    panel.psi_slider.setValue(0.6)
    _wait_idle(qtbot, panel)
    assert "variety 0.60" in panel.caption.text()
    assert panel.undo_stack.undoText() == "Set Variety"
    for text in _on_screen_text(panel):
        assert not any(word in text.lower() for word in JARGON), text


def _end_pixels(picture) -> np.ndarray:
    return np.asarray(to_pil(picture.qimage))


def test_each_direction_slider_shows_where_its_two_ends_lead(panel, qtbot):
    from studio.spec.bounds import SLIDER_RANGE

    model = _open(qtbot, panel, "vae")
    ends = panel.sliders.ends
    assert len(ends) == 16
    qtbot.waitUntil(lambda: all(m.qimage is not None and p.qimage is not None for m, p in ends), timeout=TIMEOUT)
    assert panel.explorer.previewer.requests == 1  # every row's pictures in one worker call
    for index, (minus, plus) in enumerate(ends):
        assert minus.isVisibleTo(panel) and not minus.pixmap().isNull() and minus.width() == 32
        assert not np.array_equal(_end_pixels(minus), _end_pixels(plus))
        if index in (0, 9):
            low = panel.explorer.with_coordinate(index, -SLIDER_RANGE)
            assert np.array_equal(_end_pixels(minus), np.asarray(model.render(low)))

    # Moving a slider makes another point: once it settles, the other rows show its ends.
    before = _end_pixels(ends[3][0])
    requests = panel.explorer.previewer.requests
    panel.sliders.sliders[0].setValue(2.5)
    _wait_idle(qtbot, panel)
    qtbot.waitUntil(lambda: panel.explorer.previewer.requests > requests, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not np.array_equal(_end_pixels(ends[3][0]), before), timeout=TIMEOUT)
    low = panel.explorer.with_coordinate(3, -SLIDER_RANGE)
    assert np.array_equal(_end_pixels(ends[3][0]), np.asarray(model.render(low)))

    # A click on an end picture goes there: the picture becomes that small picture, in one undo step.
    steps = panel.undo_stack.count()
    qtbot.mouseClick(ends[3][0], Qt.MouseButton.LeftButton)
    _wait_idle(qtbot, panel)
    assert panel.sliders.sliders[3].value() == pytest.approx(-SLIDER_RANGE)
    assert np.array_equal(_pixels(panel), np.asarray(model.render(low)))
    assert panel.undo_stack.count() == steps + 1 and panel.undo_stack.undoText() == "Move Change 4"

    # "Show all": the rows that appear get their pictures too.
    panel.sliders.show_all.setChecked(True)
    qtbot.waitUntil(lambda: all(m.qimage is not None for m, _p in panel.sliders.ends), timeout=TIMEOUT)
    assert len(panel.sliders.ends) == model.latent_dim


def test_export_png_at_8x_crisp_gives_exact_pixel_blocks_and_reopens_to_the_same_state(panel, qtbot, tmp_path):
    _open(qtbot, panel, "gan")
    panel.size_choice.set_value(ExportSize(scale=8, resample="crisp"))
    assert panel.size_choice.size_combo.currentText() == "8x · 512 px"
    state, native = panel.explorer.state, _pixels(panel)
    path = panel.export_png(tmp_path / "big.png")
    big = np.asarray(Image.open(path).convert("RGB"))
    assert big.shape == (512, 512, 3)
    assert np.array_equal(big.reshape(64, 8, 64, 8, 3), np.broadcast_to(native[:, None, :, None], (64, 8, 64, 8, 3)))

    panel.size_choice.set_value(ExportSize(pixels=300, resample="smooth"))
    smooth = panel.export_png(tmp_path / "smooth.png")
    assert Image.open(smooth).size == (300, 300)

    panel.randomize()
    _wait_idle(qtbot, panel)
    assert panel.explorer.state != state
    assert panel.accept_image(load_image(path))  # 512 px, and still the same point
    _wait_idle(qtbot, panel)
    assert panel.explorer.state == state and np.array_equal(_pixels(panel), native)
