"""A model fine-tuned from one folder offers that folder's class first in the explorer, and says
what its other classes are, or leaves them out when the training changed all of their drawing
(issue 13, item 8)."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtGui import QUndoStack

from studio.engine.models.gan import Generator
from studio.engine.models.store import save_generative_model
from studio.files.paths import models_dir
from studio.spec.models import GANConfig
from studio.ui.latent.class_choice import class_choice
from studio.ui.panels.latent_panel import LatentPanel

TIMEOUT = 60_000
NAMES = ["cat", "dog", "my owls"]


def _card(frozen: list[str]) -> dict:
    return {
        "name": "Tiny GAN · my owls",
        "class_names": NAMES,
        "finetune": {
            "base": {"name": "Tiny GAN"},
            "class": {"index": 2, "base_name": "owl", "name": "my owls"},
            "freeze": {"preset": "custom", "blocks": frozen},
        },
    }


def test_the_folders_class_comes_first_and_the_others_are_explained_or_left_out():
    kept = class_choice(_card(["g.4x4", "g.8x8", "d.32x32"]), NAMES)
    assert kept.order == (2, 0, 1) and kept.own == 2
    assert kept.note.startswith("Also knows: cat, dog") and "Tiny GAN" in kept.note
    assert "owl" in kept.tooltip and "g.4x4" in kept.tooltip

    trained_away = class_choice(_card(["d.32x32", "d.16x16"]), NAMES)  # FreezeD: the generator trained fully
    assert trained_away.order == (2,) and "cat, dog" in trained_away.note and "trained away" in trained_away.note

    plain = class_choice({"name": "Tiny GAN", "class_names": ["cat", "dog", "owl"]}, ["cat", "dog", "owl"])
    assert plain.order == (0, 1, 2) and plain.own is None and plain.note == ""
    broken = class_choice({"finetune": {"class": {"index": 7}}}, ["cat", "dog", "owl"])  # a hand-edited card
    assert broken.order == (0, 1, 2) and broken.note == ""


@pytest.fixture
def finetuned(studio_home, tmp_path, monkeypatch):
    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    torch.manual_seed(0)
    generator = Generator(GANConfig(image_size=64, latent_dim=8, num_classes=3, g_channels=16, d_channels=4))
    with torch.no_grad():  # an untrained conditional norm is the same for every class
        for name, parameter in generator.named_parameters():
            if "norm" in name:
                parameter.add_(torch.randn_like(parameter) * 0.5)
    return save_generative_model(models_dir() / "tiny-gan-owls.safetensors", generator, _card(["g.4x4", "d.32x32"]))


def test_the_explorer_offers_a_fine_tuned_models_own_class_first_with_also_knows(qtbot, worker, finetuned):
    panel = LatentPanel(worker, QUndoStack())
    qtbot.addWidget(panel)
    panel.resize(1100, 720)
    panel.show()
    qtbot.waitUntil(lambda: panel.explorer.model is not None and not panel.explorer.loading, timeout=TIMEOUT)
    combo = panel.class_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts[0] == "my owls" and [t for t in texts[1:] if t] == ["cat", "dog"]
    # The first picture is of the folder's class, and the box shows it.
    assert panel.explorer.state.class_index == 2 and combo.currentText() == "my owls"
    assert panel.class_note.isVisibleTo(panel) and panel.class_note.text().startswith("Also knows: cat, dog")
    # The caption names the folder's class once: the model is already named after it.
    qtbot.waitUntil(lambda: "seed" in panel.caption.text(), timeout=TIMEOUT)
    assert panel.caption.text().count("my owls") == 1

    # Choosing "dog" (its row is not its class index any more) draws class 1.
    row = texts.index("dog")
    combo.setCurrentIndex(row)
    combo.activated.emit(row)
    qtbot.waitUntil(lambda: panel.explorer.state.class_index == 1, timeout=TIMEOUT)
    assert combo.currentText() == "dog"
    panel.explorer.set_class(2)  # undo, a bookmark: the box follows the state
    assert combo.currentText() == "my owls"
