"""The Latent Explorer remembers where the artist was (model, class, seed, variety, sliders)
across a restart, and a saved session that no longer fits opens the model as usual."""

import json

import numpy as np
import pytest

from studio.engine.latent.state import LatentState
from studio.files.paths import data_dir
from studio.services.settings import Settings
from studio.services.worker import Worker
from studio.ui.latent.explorer_work import initial_state
from studio.ui.latent.session_store import FILE_NAME
from studio.ui.main_window import MainWindow
from studio.ui.qimage import to_pil

TIMEOUT = 60_000


def _started_worker(qtbot) -> Worker:
    worker = Worker(device_preference="cpu")
    with qtbot.waitSignal(worker.ready, timeout=TIMEOUT, raising=True):
        worker.start()
    return worker


def _window(qtbot) -> MainWindow:
    window = MainWindow(_started_worker(qtbot), Settings(), confirm_quit=lambda *_: True)
    qtbot.addWidget(window)
    window.tabs.setCurrentIndex(0)
    window.show()
    explorer = window.latent_panel.explorer
    qtbot.waitUntil(lambda: explorer.model is not None and not explorer.loading, timeout=TIMEOUT)
    _wait_idle(qtbot, window)
    return window


def _wait_idle(qtbot, window):
    e = window.latent_panel.explorer
    qtbot.waitUntil(lambda: not e.busy and e.shown_state == e.state, timeout=TIMEOUT)


def _switch_to_gan(qtbot, window):
    panel = window.latent_panel
    if panel.explorer.model.kind != "gan":
        index = next(i for i, m in enumerate(panel.explorer.models) if m.path.stem == "tiny-gan")
        with qtbot.waitSignal(panel.explorer.modelLoaded, timeout=TIMEOUT, raising=True):
            panel.load_model(index)
        _wait_idle(qtbot, window)


def test_a_restart_brings_back_the_model_class_seed_variety_and_sliders(qtbot, tiny_models):
    first = _window(qtbot)
    _switch_to_gan(qtbot, first)
    panel = first.latent_panel
    panel.seed_spin.setValue(1234)
    _wait_idle(qtbot, first)
    panel.class_combo.setCurrentIndex(2)
    panel.class_combo.activated.emit(2)
    _wait_idle(qtbot, first)
    panel.psi_slider.setValue(0.7)
    _wait_idle(qtbot, first)
    panel.sliders.sliders[1].setValue(1.5)
    _wait_idle(qtbot, first)
    left = panel.explorer.state
    assert (left.class_index, left.seed, left.psi) == (2, 1234, pytest.approx(0.7))
    # Saved while the artist works, a moment after the last move (not only at quit).
    qtbot.waitUntil(lambda: (data_dir() / FILE_NAME).exists() and not panel.explorer.session_unsaved, timeout=5_000)
    assert first.close()

    second = _window(qtbot)
    again = second.latent_panel
    try:
        assert again.explorer.model.name == "Tiny GAN"
        assert again.explorer.state == left
        assert again.class_combo.currentText() == "owl"
        assert again.seed_spin.value() == 1234
        assert again.psi_slider.value() == pytest.approx(0.7)
        assert again.sliders.sliders[1].value() == pytest.approx(1.5, abs=0.01)
        shown = np.asarray(to_pil(again.view.image()))
        assert np.array_equal(shown, np.asarray(again.explorer.model.render(left)))
        assert not again.message.isVisible()
    finally:
        second.close()


def test_changes_made_just_before_quitting_are_kept(qtbot, tiny_models):
    first = _window(qtbot)
    panel = first.latent_panel
    panel.seed_spin.setValue(77)
    _wait_idle(qtbot, first)
    assert panel.explorer.session_unsaved or (data_dir() / FILE_NAME).exists()
    first.close()  # before the debounced save: closing writes it
    saved = json.loads((data_dir() / FILE_NAME).read_text())
    assert [
        s["latent"]["seed"] for s in saved["states"] if s["latent"]["model_sha256"] == panel.explorer.model.sha256
    ] == [77]


def _saved_state(model_sha: str, name: str, **changes) -> dict:
    latent = {"version": 1, "model_sha256": model_sha, "model_name": name, "z": [0.1] * 8, "class_index": None}
    latent.update(psi=1.0, seed=5)
    latent.update(changes)
    return {"latent": latent}


@pytest.mark.parametrize(
    "contents",
    [
        "{ not json",
        json.dumps({"version": 1, "states": "nothing"}),
        json.dumps([1, 2, 3]),
        # The right model, but values a control cannot show or the model cannot take.
        "WRONG_SIZE",
        "PSI_OUT_OF_RANGE",
        "HUGE_LATENT",
        "BAD_CLASS",
        # A model that has changed since (same file name, another sha256).
        "OTHER_MODEL",
    ],
)
def test_a_saved_session_that_does_not_fit_opens_the_model_as_usual(qtbot, worker, tiny_models, contents):
    from studio.ui.panels.latent_panel import LatentPanel

    sha, gan = _sha_of(tiny_models["gan"]), "Tiny GAN"  # the model that opens first
    entries = {
        "WRONG_SIZE": _saved_state(sha, gan, z=[0.1] * 7),
        "PSI_OUT_OF_RANGE": _saved_state(sha, gan, psi=9.0),
        "HUGE_LATENT": _saved_state(sha, gan, z=[1e9] * 8),
        "BAD_CLASS": _saved_state(sha, gan, class_index=12),
        "OTHER_MODEL": _saved_state("0" * 64, gan),
    }
    if contents in entries:
        contents = json.dumps({"version": 1, "states": [entries[contents], {"latent": "garbage"}]})
    path = data_dir() / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(contents)

    panel = LatentPanel(worker)
    qtbot.addWidget(panel)
    panel.show()
    e = panel.explorer
    qtbot.waitUntil(lambda: e.model is not None and not e.loading and e.shown_state == e.state, timeout=TIMEOUT)
    assert e.model.name == gan
    assert e.state.seed == 0 and e.state.psi == 1.0  # the model's usual first picture
    assert e.state == initial_state(e.model)
    assert not panel.message.isVisible()


def _sha_of(path) -> str:
    from studio.engine.checkpoints import model_sha256

    return model_sha256(path)


def test_a_remembered_state_round_trips_through_the_store(tmp_path):
    from studio.ui.latent.session_store import SessionStore

    store = SessionStore(tmp_path / FILE_NAME)
    a = LatentState("a" * 64, "A", (0.5, -1.0), class_index=1, psi=0.6, seed=3)
    b = LatentState("b" * 64, "B", (2.0,), seed=None)
    store.save({a.model_sha256: a, b.model_sha256: b})
    assert list(store.load().values()) == [a, b]


def test_a_remembered_model_that_is_gone_opens_another_without_an_error(qtbot, worker, tiny_models):
    from PySide6.QtCore import QSettings

    from studio.files.paths import config_dir
    from studio.ui.panels.latent_panel import LatentPanel

    gone = tiny_models["vae"].with_name("deleted.safetensors")
    prefs = QSettings(str(config_dir() / "settings.ini"), QSettings.Format.IniFormat)
    prefs.setValue("latent/model", str(gone))
    prefs.sync()
    path = data_dir() / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "states": [_saved_state("f" * 64, "Deleted", z=[0.3] * 20)]}))

    panel = LatentPanel(worker)
    qtbot.addWidget(panel)
    panel.show()
    e = panel.explorer
    qtbot.waitUntil(lambda: e.model is not None and not e.loading and e.shown_state == e.state, timeout=TIMEOUT)
    assert e.model.name in ("Tiny GAN", "Tiny VAE") and e.state == initial_state(e.model)
    assert not panel.message.isVisible()
