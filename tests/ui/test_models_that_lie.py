"""The explorer tells the artist when a model or a picture holds NaN/Inf (RELIABILITY.md item 33),
through its usual failure path (errorOccurred), and keeps the picture it showed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtGui import QUndoStack

from studio.engine.latent.model import LatentModel
from studio.ui.latent.explorer_controller import ExplorerController
from tests.engine.test_model_files_that_lie import first_weight, tamper_tensors
from tests.ui.test_explorer_controller import Spy, _next_render, _settle


@pytest.fixture
def controller(qtbot, fake_worker, tiny_models):
    made = ExplorerController(fake_worker, QUndoStack())
    made.start()
    _settle(fake_worker)
    yield made
    # Job links delete themselves later: let them go while their worker and controller live.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_a_render_that_comes_out_nan_is_a_named_message_and_the_picture_stays(
    controller, fake_worker, qtbot, monkeypatch
):
    picture, shown = controller.qimage, controller.shown_state
    errors = Spy(controller.errorOccurred)
    monkeypatch.setattr(
        LatentModel, "_generate", lambda self, z, labels, psi: torch.full((len(z), 3, 64, 64), float("nan"))
    )
    controller.set_seed(5)
    _next_render(qtbot, fake_worker)
    fake_worker.draw()
    assert len(errors.calls) == 1
    (message,) = errors.calls[0]
    assert "the picture came out as NaN/Inf" in message and controller.model.name in message
    assert controller.qimage is picture and controller.shown_state == shown  # no grey picture shown


def test_a_model_whose_weights_are_nan_is_refused_in_the_model_list(controller, fake_worker, tiny_models):
    def poison(tensors):
        tensors[first_weight(tensors)].view(-1)[0] = float("nan")

    tamper_tensors(tiny_models["gan"], poison)
    errors = Spy(controller.errorOccurred)
    controller.load_model(next(i for i, m in enumerate(controller.models) if m.path == tiny_models["gan"]))
    _settle(fake_worker)
    assert any("tiny-gan.safetensors: this model's weights contain NaN/Inf" in call[0] for call in errors.calls)
    assert controller.model is not None and np.all(np.isfinite(controller.state.z_array()))


def test_the_style_panel_shows_a_nan_picture_as_its_failure_and_keeps_no_grey_result(qtbot, fake_worker, monkeypatch):
    from studio.engine.style import transfer
    from studio.files.images import LoadedImage
    from studio.spec.style_settings import StyleSettings
    from studio.ui.panels.style_panel import StylePanel
    from tests.engine.test_style_transfer import painting, photo

    real_job, real_rgb = transfer.stylize_job, transfer._Run._as_rgb
    tiny = StyleSettings(size=48, min_size=48, steps=2, preview_interval_s=0.0, amp=False, init="content")
    monkeypatch.setattr(
        transfer, "stylize_job", lambda content, styles, _settings, device: real_job(content, styles, tiny, device)
    )
    monkeypatch.setattr(transfer._Run, "_as_rgb", lambda self, v, c: real_rgb(self, v, c) * float("nan"))
    panel = StylePanel(fake_worker)
    qtbot.addWidget(panel)
    panel.accept_image(LoadedImage(photo(48, 40), None, Path("beach.png"), "PNG", None))
    panel.accept_image(LoadedImage(painting(48, 48), None, Path("starry night.png"), "PNG", None))
    unowned = []
    fake_worker.unownedJobFailed.connect(lambda _id, message: unowned.append(message))
    panel.start()
    fake_worker.run()
    assert "the picture came out as NaN/Inf: the style transfer diverged" in panel.message.text()
    assert panel.progress.format() == "Failed" and unowned == []
    assert panel.start_button.isEnabled()
