"""The fine-tune wizard: six pages from a base model and a folder to a new model in the library.

1. Base model: the library's GANs and VAEs, each with a few samples drawn on the worker.
2. Images: a folder (chosen or dropped), checked on the worker; thumbnails, counts, and every
   skipped file with its reason.
3. What to train: the freeze presets and per-block checkboxes with parameter counts.
4. Settings: steps, batch, learning rate, loss, augmentation, device; a measured estimate of
   the time and memory; a job folder for a bigger machine.
5. Training: the engine's :func:`finetune_job` on the worker, with curves, the sample grid,
   progress, ETA, Pause/Resume/Cancel. The rest of the studio keeps working meanwhile.
6. Finish: a name, saved into the library (model + card with its lineage), optionally opened
   in the Latent Explorer.

The run trains into a folder of its own under the user data folder (``finetune-runs``), so an
unnamed result survives a crash; Finish imports it into the library under the chosen name.
The pages know only the :class:`~studio.ui.finetune.session.FinetuneSession` they are given:
its draft, its intents and its signals; the engine's work runs on the worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QMessageBox, QWidget, QWizard

from studio.ui.finetune.base_page import BasePage
from studio.ui.finetune.finish_page import FinishPage
from studio.ui.finetune.freeze_page import FreezePage
from studio.ui.finetune.images_page import ImagesPage
from studio.ui.finetune.settings_page import SettingsPage
from studio.ui.finetune.train_page import TrainPage

if TYPE_CHECKING:
    from pathlib import Path

    from studio.ui.finetune.session import FinetuneSession


WIZARD_MIN_SIZE = QSize(760, 560)


class FinetuneWizard(QWizard):
    openInExplorer = Signal(object)  # Path

    def __init__(self, session: FinetuneSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Fine-tune a model")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, False)
        self.base_page = BasePage(session)
        self.images_page = ImagesPage(session)
        self.freeze_page = FreezePage(session)
        self.settings_page = SettingsPage(session)
        self.train_page = TrainPage(session)
        self.finish_page = FinishPage(session)
        for page in (
            self.base_page,
            self.images_page,
            self.freeze_page,
            self.settings_page,
            self.train_page,
            self.finish_page,
        ):
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Save to library")
        session.trainingChanged.connect(self._on_training_changed)
        session.modelSaved.connect(self._on_model_saved)
        # QWizard's own minimum follows the current page only; this one holds every page (the
        # settings form is the widest) with the training samples and curves big enough to read.
        self.setMinimumSize(WIZARD_MIN_SIZE)
        self.resize(900, 680)

    def _on_training_changed(self, training: bool) -> None:
        # Going back while the run trains would leave it running behind pages that change its
        # settings: the Back button leaves the layout until it ends (QWizard re-enables a
        # merely disabled one whenever a page changes state).
        buttons = [
            QWizard.WizardButton.Stretch,
            QWizard.WizardButton.NextButton,
            QWizard.WizardButton.FinishButton,
            QWizard.WizardButton.CancelButton,
        ]
        if not training:
            buttons.insert(1, QWizard.WizardButton.BackButton)
        self.setButtonLayout(buttons)

    def _on_model_saved(self, path: Path) -> None:
        if self.finish_page.open_explorer.isChecked():
            self.openInExplorer.emit(path)
        self.accept()  # the finish page lets it close now that the model is in the library

    def reject(self) -> None:
        if self.session.training:
            answer = QMessageBox.question(
                self,
                "Stop training?",
                "Training is still running. Stop it and close the wizard? "
                "The last checkpoint stays in the studio's data folder.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
            self.session.stop()
        super().reject()
