"""The fine-tune session against a scripted worker: each job's outcome, one at a time."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from PIL import Image
from PySide6.QtWidgets import QWizard

from studio.engine.devices import DeviceInfo
from studio.engine.training.kid import KidResult
from studio.engine.training.loop import TrainProgress
from studio.files.paths import models_dir
from studio.ui.finetune import jobs
from studio.ui.finetune.draft import TrainingOptions
from studio.ui.finetune.session import FinetuneSession
from studio.ui.finetune.wizard import FinetuneWizard
from studio.ui.panels.finetune_panel import FinetunePanel
from tests.engine.test_finetune_data import write_pictures
from tests.fake_worker import FakeWorker

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def unowned(fake_worker):
    """Failures the main window would show in a dialog of its own."""
    shown: list[str] = []
    fake_worker.unownedJobFailed.connect(lambda _id, message: shown.append(message))
    return shown


@pytest.fixture
def broken_model(no_bundled_models):
    """A GAN in the library by its card whose weights are not a model at all."""
    path = models_dir() / "broken.safetensors"
    path.write_bytes(b"not a model")
    path.with_suffix(".json").write_text(json.dumps({"name": "Broken", "architecture": "gan-generator"}))
    return path


def _drafted(session: FinetuneSession, tmp_path: Path) -> None:
    """A draft that can start a run (the scripted worker never trains it)."""
    session.draft.base_path = tmp_path / "base.safetensors"
    session.draft.folder = tmp_path / "pictures"
    session.set_options(TrainingOptions(steps=100, batch=4))


def test_a_base_that_fails_to_load_reports_one_error_and_the_wizard_stays_on_the_base_page(
    qtbot, fake_worker, broken_model, unowned
):
    session = FinetuneSession(fake_worker)
    wizard = FinetuneWizard(session)
    qtbot.addWidget(wizard)
    failures: list[str] = []
    session.baseFailed.connect(failures.append)
    wizard.show()
    page = wizard.base_page
    assert page.models.count() == 1 and "Broken" in page.models.item(0).text()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # still reading it
    assert "Reading broken.safetensors" in page.status.text()

    fake_worker.run(fake_worker.job("Reading"))  # the real load, on the worker: it fails

    assert len(failures) == 1 and "broken.safetensors" in failures[0]
    assert unowned == []  # the page shows it; the main window shows nothing more
    assert "Cannot use this model" in page.status.text() and failures[0] in page.status.text()
    assert session.draft.base is None
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.next()
    assert wizard.currentPage() is page


def test_a_scan_result_fills_the_draft_once(fake_worker, tmp_path):
    session = FinetuneSession(fake_worker)
    folder = tmp_path / "drawings"
    write_pictures(folder, 20)
    scans = []
    session.folderScanned.connect(scans.append)
    session.choose_folder(folder)
    assert session.scanning and session.draft.folder == folder and session.draft.scan is None

    fake_worker.run(fake_worker.job("Checking your images"))

    assert len(scans) == 1 and scans[0].count == 20 and scans[0].enough()
    assert session.draft.scan is scans[0]
    jobs_before = len(fake_worker.jobs)
    session.choose_folder(folder)  # the same folder again: already checked
    assert len(fake_worker.jobs) == jobs_before


def test_choosing_another_folder_mid_check_drops_the_first_check(fake_worker, tmp_path):
    session = FinetuneSession(fake_worker)
    first, second = tmp_path / "first", tmp_path / "second"
    write_pictures(first, 3)
    write_pictures(second, 17)
    scans = []
    session.folderScanned.connect(scans.append)
    session.choose_folder(first)
    session.choose_folder(second)  # before the worker got to the first
    assert fake_worker.jobs[0].state == "cancelled"
    fake_worker.run(fake_worker.job("Checking"))
    assert [s.count for s in scans] == [17] and session.draft.scan.folder == second


def test_training_progress_samples_kid_and_pause_arrive_as_session_signals(fake_worker, tmp_path):
    session = FinetuneSession(fake_worker)
    _drafted(session, tmp_path)
    heard: list[object] = []
    for signal, name in (
        (session.runFolderKnown, "run folder"),
        (session.trainingChanged, "training"),
        (session.samplesChanged, "samples"),
        (session.kidMeasured, "kid"),
        (session.trainingPaused, "paused"),
        (session.trainingResumed, "resumed"),
        (session.trainingCancelled, "cancelled"),
    ):
        signal.connect(lambda *args, name=name: heard.append((name, *args)))
    losses: list[tuple[int, dict]] = []
    session.lossesLogged.connect(lambda step, values: losses.append((step, values)))

    session.start_training()
    run = session.run_dir
    assert heard == [("run folder", run), ("training", True)]
    assert session.training and session.training_run == run and run.parent.name == "finetune-runs"
    job = fake_worker.job("Fine-tuning")
    grid = Image.new("RGB", (8, 8), "red")
    kid = KidResult(0.2, 0.01, step=10)
    fake_worker.report(job, TrainProgress(0.1, "Step 10", step=10, total_steps=100, losses={"d": 1.0, "g": 2.0}))
    fake_worker.report(job, TrainProgress(0.1, "Step 10", step=10, total_steps=100, samples=grid, kid=kid))
    assert losses == [(10, {"d": 1.0, "g": 2.0})]
    assert ("samples", grid) in heard and ("kid", kid) in heard and session.samples is grid

    session.pause()
    assert session.paused and heard[-1] == ("paused",)
    session.resume()
    assert not session.paused and heard[-1] == ("resumed",)

    session.stop()
    assert heard[-2:] == [("training", False), ("cancelled", None)]
    assert not session.training and session.training_run is None
    assert not session.can_save()  # stopped before any checkpoint


def test_training_is_handed_the_device_the_worker_trains_on(qtbot, tmp_path, monkeypatch):
    gpu = DeviceInfo("cuda", "cuda:0", "Test GPU", "CUDA: Test GPU")
    worker = FakeWorker(device=gpu)
    handed: list[object] = []

    def finetune_job(settings, *, out_dir, device):
        handed.append(device)
        yield TrainProgress(None, "Loading…", phase="prepare")

    monkeypatch.setattr(jobs, "finetune_job", finetune_job)
    session = FinetuneSession(worker)
    _drafted(session, tmp_path)  # "auto": the studio's device
    assert session.draft.options.device == "cuda"
    session.start_training()
    worker.step(worker.job("Fine-tuning"))
    session.stop()
    session.set_options(TrainingOptions(steps=100, batch=4, device="cpu"))  # the CPU beside the GPU
    session.start_training()
    worker.step(worker.job("Fine-tuning"))
    assert handed[0] == gpu and handed[1].kind == "cpu"  # the CPU the settings ask for


def test_a_failed_import_is_shown_once_by_the_panel(qtbot, fake_worker, unowned, tmp_path, monkeypatch):
    warnings: list[tuple[str, str]] = []
    monkeypatch.setattr(
        "studio.ui.panels.finetune_panel.QMessageBox.warning",
        lambda _parent, title, text: warnings.append((title, text)),
    )
    panel = FinetunePanel(fake_worker)
    qtbot.addWidget(panel)
    (tmp_path / "empty job").mkdir()
    panel.import_result(tmp_path / "empty job")
    fake_worker.run(fake_worker.job("Importing"))
    assert len(warnings) == 1 and warnings[0][0] == "Could not import" and "no model or checkpoint" in warnings[0][1]
    assert unowned == []


def test_the_panel_offers_a_run_only_once_it_stops_training(qtbot, fake_worker, tmp_path):
    panel = FinetunePanel(fake_worker)
    qtbot.addWidget(panel)
    session = panel.session
    _drafted(session, tmp_path)
    session.start_training()
    session.run_dir.mkdir(parents=True)
    (session.run_dir / "run.ckpt.safetensors").write_bytes(b"a checkpoint being written")
    panel.refresh_runs()
    assert panel.runs.count() == 0  # still being written: not offered
    session.stop()
    assert panel.runs.count() == 1 and panel.chosen_run() == session.run_dir
    assert session.can_save()
