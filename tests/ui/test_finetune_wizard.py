"""The fine-tune wizard, walked page by page as an artist would, on a tiny GAN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from studio.engine.data.dataset import ImageDataset
from studio.engine.devices import select_device
from studio.engine.jobs import run_to_end
from studio.engine.latent.model import LatentModel
from studio.engine.training.config import default_config
from studio.engine.training.loop import train_job
from studio.files.paths import finetune_runs_dir, models_dir
from studio.spec.models import GANConfig
from tests.engine.test_finetune_data import junk_folder, write_pictures
from tests.ui.drops import drop_path

TIMEOUT = 120_000


@pytest.fixture
def tiny_gan(qtbot):
    """A conditional GAN (2 training steps) with its checkpoint, in the user's library."""
    torch.set_num_threads(1)
    n = 12
    images = torch.randint(0, 256, (n, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    classes = ["circles", "squares"]
    dataset = ImageDataset(
        images, torch.arange(n) % 2, classes, [str(i) for i in range(n)], torch.zeros(n, dtype=torch.uint8)
    )
    config = default_config(
        "gan",
        GANConfig(latent_dim=16, g_channels=32, d_channels=8, num_classes=2),
        steps=2,
        batch=4,
        evaluate=False,
        name="Tiny GAN",
    )
    return run_to_end(
        train_job(config, dataset, models_dir() / "tiny-gan.safetensors", device=select_device())
    ).model_path


def _page(wizard):
    return wizard.currentPage()


def _next(qtbot, wizard, expected_page):
    qtbot.waitUntil(lambda: wizard.button(QWizard.WizardButton.NextButton).isEnabled(), timeout=TIMEOUT)
    wizard.next()
    assert _page(wizard) is expected_page


def test_the_wizard_fine_tunes_a_model_on_a_folder_saves_it_and_opens_it_in_the_explorer(
    qtbot, window, tiny_gan, tmp_path
):
    folder = tmp_path / "my art"
    bad = junk_folder(folder)  # good images (some in subfolders) and every kind of bad file
    wizard = window.finetune_panel.open_wizard()
    qtbot.waitExposed(wizard)

    # 1. Base model: the library's GAN, with a thumbnail of its samples drawn on the worker.
    base = wizard.base_page
    assert _page(wizard) is base
    assert base.models.count() == 1 and "Tiny GAN" in base.models.item(0).text()
    qtbot.waitUntil(lambda: not base.models.item(0).icon().isNull(), timeout=TIMEOUT)
    _next(qtbot, wizard, wizard.images_page)

    # 2. Images: a too-small folder is refused with a message; the real one lists what it skipped.
    images = wizard.images_page
    small = tmp_path / "three"
    write_pictures(small, 3)
    images.set_folder(str(small))
    draft = wizard.session.draft
    qtbot.waitUntil(lambda: draft.scan is not None, timeout=TIMEOUT)
    assert "at least 16" in images.summary.text()
    assert not images.isComplete()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()

    # The folder dragged from the file manager onto the page.
    assert drop_path(images, folder) == (True, True)
    assert images.path_edit.text() == str(folder)
    qtbot.waitUntil(lambda: draft.scan is not None, timeout=TIMEOUT)
    scan = draft.scan
    good = scan.count
    assert good >= 16 and f"{good} images" in images.summary.text()
    skipped = [images.skipped.item(i).text() for i in range(images.skipped.count())]
    assert images.skipped.isVisible() and len(skipped) == scan.skipped_count
    for name, reason in bad.items():  # each bad file named, with why
        assert any(line.startswith(f"{name}:") and reason in line for line in skipped), (name, skipped)
    assert images.thumbnails.count() == good
    qtbot.waitUntil(lambda: all(not images.thumbnails.item(i).icon().isNull() for i in range(good)), timeout=TIMEOUT)
    # ...and drawn (items that start without a picture must not keep the empty item's size).
    qtbot.waitUntil(lambda: images.thumbnails.visualItemRect(images.thumbnails.item(0)).height() >= 30, timeout=5_000)
    _next(qtbot, wizard, wizard.freeze_page)

    # 3. What to train: FreezeD by default; the discriminator's lower blocks are unticked.
    freeze = wizard.freeze_page
    assert freeze.preset_button("freeze-d").isChecked()
    frozen = freeze.frozen()
    assert frozen and all(name.startswith("d.") for name in frozen)
    before = freeze.count.text()
    trainable = [i for i in freeze.block_items() if i.checkState(0) == Qt.CheckState.Checked]
    trainable[0].setCheckState(0, Qt.CheckState.Unchecked)  # keep one more block as it is
    assert freeze.preset_button("custom").isChecked()
    assert freeze.count.text() != before
    assert len(draft.freeze) == len(frozen) + 1
    freeze.select_preset("freeze-d")
    assert draft.freeze == "freeze-d"
    _next(qtbot, wizard, wizard.settings_page)

    # 4. Settings, with a measured estimate of time and memory.
    settings = wizard.settings_page
    settings.batch.setValue(4)
    settings.steps.setValue(20)
    settings.kid.setChecked(False)  # the engine's tests cover KID; here it would only add a minute
    qtbot.waitUntil(lambda: settings.estimate.text().startswith("About"), timeout=TIMEOUT)
    assert "20 steps" in settings.estimate.text() and "MB" in settings.estimate.text()
    _next(qtbot, wizard, wizard.train_page)

    # 5. Training: curves fill, the sample grid changes while it trains, Back is off meanwhile.
    train = wizard.train_page
    grids = []
    wizard.session.samplesChanged.connect(lambda image: grids.append(np.asarray(image, dtype=np.int16)))
    assert not wizard.button(QWizard.WizardButton.BackButton).isVisible()
    qtbot.waitUntil(lambda: train.isComplete(), timeout=TIMEOUT)
    result = wizard.session.result
    assert result is not None and result.train.step == 20, train.status.text()
    assert "Done: 20 steps" in train.status.text()
    assert len(grids) >= 2 and np.abs(grids[-1] - grids[0]).mean() > 1.0  # the samples moved
    assert set(train.curves.names()) >= {"d", "g"} and len(train.curves.values("g")) >= 5
    assert window.finetune_panel.current() is not None  # the panel shows the latest samples too
    _next(qtbot, wizard, wizard.finish_page)

    # 6. Finish: named, saved to the library with its lineage, opened in the Latent Explorer.
    finish = wizard.finish_page
    finish.name.setText("My drawings")
    with qtbot.waitSignal(wizard.session.modelSaved, timeout=TIMEOUT) as saving:  # saved on the worker
        wizard.accept()
    saved = saving.args[0]
    assert saved.parent == models_dir() and not wizard.isVisible()
    model = LatentModel.load(saved)
    assert model.render(model.random_z(0)).size == (64, 64)
    card = model.card
    assert card["name"] == "My drawings"
    assert card["finetune"]["base"]["name"] == "Tiny GAN"
    assert card["data"]["count"] == good
    assert not any(finetune_runs_dir().iterdir())  # the unnamed run was moved into the library
    qtbot.waitUntil(
        lambda: window.latent_panel.explorer.info is not None and window.latent_panel.explorer.info.path == saved,
        timeout=TIMEOUT,
    )
    assert window.tabs.currentWidget() is window.latent_panel


def test_training_can_be_paused_and_stopped_and_the_stopped_model_saved_later_from_the_panel(
    qtbot, window, tiny_gan, tmp_path
):
    folder = tmp_path / "drawings"
    write_pictures(folder, 20)
    wizard = window.finetune_panel.open_wizard()
    _next(qtbot, wizard, wizard.images_page)
    wizard.images_page.set_folder(str(folder))
    _next(qtbot, wizard, wizard.freeze_page)
    wizard.freeze_page.select_preset("last-blocks")
    _next(qtbot, wizard, wizard.settings_page)
    wizard.settings_page.batch.setValue(4)
    wizard.settings_page.steps.setValue(2000)  # far more than the test waits for
    _next(qtbot, wizard, wizard.train_page)
    train = wizard.train_page
    session = wizard.session

    # Pause holds the run; Resume carries on.
    qtbot.waitUntil(lambda: train.bar.value() > 0, timeout=TIMEOUT)
    with qtbot.waitSignal(session.trainingPaused, timeout=TIMEOUT):  # the worker holds it after this step
        train.toggle_pause()
    assert train.pause_button.text() == "Resume" and train.status.text().startswith("Paused")
    held = train.bar.value()
    with qtbot.assertNotEmitted(session.trainingProgress, wait=1000):
        pass  # held: not one step while paused
    assert train.bar.value() == held
    with qtbot.waitSignal(session.trainingResumed, timeout=TIMEOUT):
        train.toggle_pause()
    assert train.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: train.bar.value() > held, timeout=TIMEOUT)
    # Stop long before the first scheduled checkpoint: stopping writes one.
    with qtbot.waitSignal(session.trainingCancelled, timeout=TIMEOUT):
        train.stop()
    assert "Stopped" in train.status.text() and "can still be saved" in train.status.text()
    assert train.isComplete()  # the checkpoint's model can be saved

    # Closing the wizard leaves the run unsaved; the panel offers it back and saves it.
    wizard.reject()
    panel = window.finetune_panel
    panel.refresh_runs()
    assert panel.runs.count() == 1
    run = panel.chosen_run()
    with qtbot.waitSignal(session.modelImported, timeout=TIMEOUT) as saving:  # saved on the worker
        panel.save_run(run, "Stopped early")
    saved = saving.args[0]
    assert saved.parent == models_dir() and not run.exists() and panel.runs.count() == 0
    model = LatentModel.load(saved)
    assert model.card["name"] == "Stopped early"
