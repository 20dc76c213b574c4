"""One fine-tune, from a base model and a folder to a model in the library, without widgets.

The wizard's pages and the Fine-tune panel talk only to a :class:`FinetuneSession`: they send
it intents (this base, this folder, these settings, train, pause, save under this name) and
listen to its signals. The session keeps the draft of the run, starts every engine call as a
job on the worker (see :mod:`studio.ui.finetune.jobs`) and owns each job's failure, so a failure
is shown once, by the page or panel that listens, and never again by the main window.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from studio.engine.environment import installed_models
from studio.engine.training.config import TrainingError
from studio.engine.training.loop import TrainProgress
from studio.files.paths import finetune_runs_dir
from studio.ui.finetune import jobs
from studio.ui.finetune.draft import FinetuneDraft
from studio.ui.job_link import JobLink

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image

    from studio.engine.data.folder import FolderScan
    from studio.engine.devices import DeviceInfo
    from studio.engine.environment import InstalledModel
    from studio.engine.jobs import Progress
    from studio.engine.training.finetune.estimate import StepEstimate
    from studio.engine.training.finetune.job import FinetuneResult
    from studio.services.worker import Worker
    from studio.ui.finetune.draft import TrainingOptions
    from studio.ui.finetune.jobs import LoadedBase

FINETUNABLE = ("gan-generator", "vae")


class FinetuneSession(QObject):
    # page 1: the base model
    baseLoading = Signal(object)  # Path being read
    baseLoaded = Signal(object)  # LoadedBase
    baseFailed = Signal(str)
    modelSamples = Signal(object, object)  # Path of a library model, a grid of its samples (PIL)
    # page 2: the folder
    folderChosen = Signal(object)  # Path whose check has started
    scanProgress = Signal(object)  # Progress
    folderScanned = Signal(object)  # FolderScan
    scanFailed = Signal(str)
    folderThumbnail = Signal(object, object)  # Path of an image, its thumbnail (PIL)
    # page 4: the estimate and job folders
    estimateStarted = Signal()
    estimateReady = Signal(object)  # StepEstimate
    estimateFailed = Signal(str)
    jobFolderExported = Signal(object)  # ExportedJob
    exportFailed = Signal(str)
    # page 5: the run
    runFolderKnown = Signal(object)  # Path the run trains into
    trainingChanged = Signal(bool)  # started (True) or ended, however it ended (False)
    trainingProgress = Signal(object)  # TrainProgress
    lossesLogged = Signal(int, object)  # step, {loss name: value}
    samplesChanged = Signal(object)  # the latest sample grid (PIL image)
    kidMeasured = Signal(object)  # a KidResult (studio.engine.training.kid)
    trainingPaused = Signal()
    trainingResumed = Signal()
    trainingFinished = Signal(object)  # FinetuneResult
    trainingCancelled = Signal(object)  # FinetuneResult, or None when stopped before training began
    trainingFailed = Signal(str)
    # page 6 and the panel: into the library
    modelSaved = Signal(object)  # Path of the run saved into the library under its name
    saveFailed = Signal(str)
    modelImported = Signal(object)  # Path of an unsaved run or a job folder's result, imported
    importFailed = Signal(str)

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.draft = FinetuneDraft()
        self.run_dir: Path | None = None
        self.result: FinetuneResult | None = None
        self.samples: Image.Image | None = None
        self.estimate: StepEstimate | None = None
        self.saved: Path | None = None
        self._base_link: JobLink | None = None
        self._scan_link: JobLink | None = None
        self._folder_thumbnails: JobLink | None = None
        self._estimate_link: JobLink | None = None
        self._training: JobLink | None = None
        self._saving: JobLink | None = None

    def new_draft(self) -> None:
        """Start over (a new wizard): the run before it stays where it is."""
        for link in (self._base_link, self._scan_link, self._folder_thumbnails, self._estimate_link):
            _drop(link)
        self.draft = FinetuneDraft()
        self.estimate = None
        self.saved = None

    @property
    def device(self) -> DeviceInfo | None:
        """The studio's device (the worker's), once it is ready."""
        return self.worker.device

    def suggested_name(self) -> str:
        base = self.draft.base.name if self.draft.base is not None else "model"
        folder = self.draft.folder.name if self.draft.folder is not None else "images"
        return f"{base} · {folder}"

    # ----- page 1: the base model ---------------------------------------------------------
    def library_models(self) -> list[InstalledModel]:
        """The installed models that can be fine-tuned (GANs and VAEs), from their cards."""
        return [m for m in installed_models() if m.architecture in FINETUNABLE]

    def draw_model_samples(self, paths: list[Path]) -> None:
        if paths:
            JobLink(
                self.worker, "Drawing model samples", jobs.model_samples_job(paths), self, progress=self._on_samples
            )

    def _on_samples(self, progress: Progress) -> None:
        if isinstance(progress.preview, tuple):
            self.modelSamples.emit(*progress.preview)

    def choose_base(self, path: Path) -> None:
        """Read ``path`` on the worker; :attr:`baseLoaded` or :attr:`baseFailed` follows."""
        draft = self.draft
        if path == draft.base_path and (draft.base is not None or self.base_loading):
            return
        _drop(self._base_link)
        if draft.base_path != path:
            draft.freeze = "auto"  # block names differ between models
        draft.base_path, draft.base = path, None
        self.baseLoading.emit(path)
        self._base_link = JobLink(
            self.worker,
            f"Reading {path.stem}",
            jobs.load_base_job(path),
            self,
            finished=self._on_base_loaded,
            failed=self.baseFailed.emit,
        )

    @property
    def base_loading(self) -> bool:
        return self._base_link is not None and self._base_link.running

    def _on_base_loaded(self, base: LoadedBase) -> None:
        self.draft.base = base
        self.baseLoaded.emit(base)

    # ----- page 2: the folder -------------------------------------------------------------
    def choose_folder(self, folder: Path) -> None:
        """Check every image in ``folder`` on the worker; :attr:`folderScanned` or :attr:`scanFailed` follows."""
        draft = self.draft
        if draft.folder == folder and (draft.scan is not None or self.scanning):
            return
        draft.folder, draft.scan = folder, None
        _drop(self._scan_link)
        _drop(self._folder_thumbnails)
        self.folderChosen.emit(folder)
        self._scan_link = JobLink(
            self.worker,
            "Checking your images",
            jobs.folder_scan_job(folder),
            self,
            progress=self.scanProgress.emit,
            finished=self._on_scanned,
            failed=self.scanFailed.emit,
        )

    @property
    def scanning(self) -> bool:
        return self._scan_link is not None and self._scan_link.running

    def _on_scanned(self, scan: FolderScan) -> None:
        self.draft.scan = scan
        self.folderScanned.emit(scan)

    def draw_folder_thumbnails(self, paths: list[Path], size: int) -> None:
        _drop(self._folder_thumbnails)
        self._folder_thumbnails = None
        if paths:
            self._folder_thumbnails = JobLink(
                self.worker,
                "Drawing thumbnails",
                jobs.folder_thumbnails_job(paths, size),
                self,
                progress=self._on_folder_thumbnail,
            )

    def _on_folder_thumbnail(self, progress: Progress) -> None:
        if isinstance(progress.preview, tuple):
            self.folderThumbnail.emit(*progress.preview)

    # ----- page 3: what to train ----------------------------------------------------------
    def set_freeze(self, freeze: str | tuple[str, ...]) -> None:
        self.draft.freeze = freeze

    # ----- page 4: settings, the estimate, job folders ------------------------------------
    def set_options(self, options: TrainingOptions) -> None:
        if options.device == "auto" and self.device is not None:
            options = dataclasses.replace(options, device=self.device.kind)  # the card names the device
        self.draft.options = options

    def settings_problem(self) -> str | None:
        """What is wrong with the draft's settings, or None when they can train."""
        try:
            self.draft.settings()
        except TrainingError as exc:
            return str(exc)
        return None

    def measure_estimate(self) -> None:
        """Time a few steps of the draft's settings on the worker; :attr:`estimateReady` follows."""
        if self.draft.base is None or self.draft.scan is None:
            return
        self.cancel_estimate()
        self.estimate = None
        try:
            settings = self.draft.settings()
        except TrainingError as exc:
            self.estimateFailed.emit(str(exc))
            return
        self.estimateStarted.emit()
        self._estimate_link = JobLink(
            self.worker,
            "Estimating training time",
            jobs.estimate_job(settings),
            self,
            finished=self._on_estimate,
            failed=self.estimateFailed.emit,
        )

    def cancel_estimate(self) -> None:
        _drop(self._estimate_link)
        self._estimate_link = None

    def _on_estimate(self, estimate: StepEstimate) -> None:
        self.estimate = estimate
        self.estimateReady.emit(estimate)

    def export_job_folder(self, folder: Path) -> None:
        """Write a job folder for a bigger machine; :attr:`jobFolderExported` or :attr:`exportFailed` follows."""
        try:
            settings = self.draft.settings(self.suggested_name())
        except TrainingError as exc:
            self.exportFailed.emit(str(exc))
            return
        JobLink(
            self.worker,
            "Writing the job folder",
            jobs.export_folder_job(settings, folder),
            self,
            finished=self.jobFolderExported.emit,
            failed=self.exportFailed.emit,
        )

    # ----- page 5: the run ----------------------------------------------------------------
    def start_training(self) -> None:
        """Train the draft into a run folder of its own (kept across a crash until it is saved)."""
        self.draft.run_name = time.strftime("run-%Y%m%d-%H%M%S")
        self.run_dir = finetune_runs_dir() / self.draft.run_name
        self.result, self.samples, self.saved = None, None, None
        base = self.draft.base
        self._training = JobLink(
            self.worker,
            f"Fine-tuning {base.name if base is not None else self.draft.base_path}",
            jobs.training_job(self.draft.settings(), self.run_dir),
            self,
            progress=self._on_training_progress,
            finished=self._on_trained,
            cancelled=self._on_training_cancelled,
            failed=self._on_training_failed,
            paused=self.trainingPaused.emit,
            resumed=self.trainingResumed.emit,
        )
        self.runFolderKnown.emit(self.run_dir)
        self.trainingChanged.emit(True)

    @property
    def training(self) -> bool:
        return self._training is not None and self._training.running

    @property
    def training_run(self) -> Path | None:
        """The run folder being written now, if a run trains."""
        return self.run_dir if self.training else None

    @property
    def paused(self) -> bool:
        """Whether the run is paused (or asked to pause at its next step)."""
        return self.training and self._training is not None and self._training.paused

    def pause(self) -> None:
        if self._training is not None:
            self._training.pause()

    def resume(self) -> None:
        if self._training is not None:
            self._training.resume()

    def stop(self) -> None:
        """Stop at the next step: the run writes a checkpoint, which can still be saved."""
        if self._training is not None and self._training.running:
            self._training.resume()  # a paused job must run on to see the cancel
            self._training.cancel()

    def _on_training_progress(self, progress: Progress) -> None:
        if isinstance(progress, TrainProgress):
            if progress.losses:
                self.lossesLogged.emit(progress.step, progress.losses)
            if progress.samples is not None:
                self.samples = progress.samples
                self.samplesChanged.emit(progress.samples)
            if progress.kid is not None:
                self.kidMeasured.emit(progress.kid)
        self.trainingProgress.emit(progress)

    def _on_trained(self, result: FinetuneResult) -> None:
        self.result = result
        self.trainingChanged.emit(False)
        self.trainingFinished.emit(result)

    def _on_training_cancelled(self, partial: FinetuneResult | None) -> None:
        self.result = partial
        self.trainingChanged.emit(False)
        self.trainingCancelled.emit(partial)

    def _on_training_failed(self, message: str) -> None:
        self.trainingChanged.emit(False)
        self.trainingFailed.emit(message)

    def can_save(self) -> bool:
        """Whether the run left something to save: its model, else its last checkpoint."""
        run = self.run_dir
        return not self.training and run is not None and run.is_dir() and any(run.glob("*.safetensors"))

    # ----- page 6 and the panel: into the library -----------------------------------------
    def save_run(self, name: str) -> None:
        """Save the run into the library as ``name`` and delete its folder; :attr:`modelSaved` follows."""
        if self.run_dir is None or self.saving:
            return
        run = self.run_dir
        self._saving = JobLink(
            self.worker,
            f"Saving {name}",
            jobs.import_job(run, name, remove=run),
            self,
            finished=self._on_saved,
            failed=self.saveFailed.emit,
        )

    @property
    def saving(self) -> bool:
        return self._saving is not None and self._saving.running

    def _on_saved(self, path: Path) -> None:
        self.saved = path
        self.modelSaved.emit(path)

    def import_to_library(self, source: Path, name: str | None = None, *, remove: Path | None = None) -> None:
        """Import a run or job folder, a model or a checkpoint into the library as ``name``, then
        delete ``remove``; :attr:`modelImported` or :attr:`importFailed` follows."""
        JobLink(
            self.worker,
            f"Importing {source.name}",
            jobs.import_job(source, name, remove=remove),
            self,
            finished=self.modelImported.emit,
            failed=self.importFailed.emit,
        )


def _drop(link: JobLink | None) -> None:
    """Cancel a job whose result is no longer wanted and stop hearing from it."""
    if link is not None and link.running:
        link.cancel()
        link.detach()
