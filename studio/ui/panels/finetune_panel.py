"""The Fine-tune panel: starts the wizard, shows its latest samples, brings results home.

Besides "New fine-tune…" it lists runs that trained but were never named (the wizard closed,
the studio crashed): each can still be saved into the library or discarded. "Import result…"
brings back a job folder (or a checkpoint) trained on another machine. All of it goes through a
:class:`~studio.ui.finetune.session.FinetuneSession`, made on first use (it brings torch, which
the window does not wait for); the panel listens to its signals.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.files.paths import finetune_runs_dir
from studio.ui.controls import picture_beside_controls, plain_tooltip, scrolling_column, section_label
from studio.ui.panels.base import Panel, PanelImage

if TYPE_CHECKING:
    from PIL import Image

    from studio.services.worker import Worker
    from studio.ui.finetune.session import FinetuneSession
    from studio.ui.finetune.wizard import FinetuneWizard


def unsaved_runs() -> list[Path]:
    """Run folders with a model or checkpoint that Finish never saved, newest first."""
    runs = [p for p in finetune_runs_dir().iterdir() if p.is_dir() and any(p.glob("*.safetensors"))]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)


class FinetunePanel(Panel):
    title = "Fine-tune"
    subtitle = "Teach a model your own visual language from a folder of your images."
    icon_name = "fine-tune"
    empty_hint = "Start a new fine-tune: its samples appear here while it trains."

    openInExplorer = Signal(object)  # Path of a model in the library

    def __init__(self, worker: Worker | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.wizard: FinetuneWizard | None = None
        self._session: FinetuneSession | None = None
        self._import_failure_title = ""
        layout = self.layout()
        layout.removeWidget(self.view)
        column = QWidget()
        controls = QVBoxLayout(column)
        controls.setContentsMargins(8, 0, 0, 0)
        intro = QLabel(
            "Pick a model, point it at a folder of your images, choose what to keep, and watch it "
            "learn. The result joins your library and opens in the Latent Explorer."
        )
        intro.setWordWrap(True)
        self.new_button = QPushButton("New fine-tune…")
        self.new_button.setDefault(True)
        self.new_button.clicked.connect(self.open_wizard)
        self.import_button = QPushButton("Import result…")
        self.import_button.setToolTip("A job folder run on another machine, or a training checkpoint")
        self.import_button.clicked.connect(self.import_dialog)
        self.runs = QListWidget()
        self.runs.setToolTip("Runs that trained but were never saved to the library")
        self.save_run_button = QPushButton("Save to library…")
        self.save_run_button.clicked.connect(self.save_run_dialog)
        self.discard_run_button = QPushButton("Discard")
        self.discard_run_button.clicked.connect(self.discard_run)
        run_buttons = QHBoxLayout()
        run_buttons.addWidget(self.save_run_button)
        run_buttons.addWidget(self.discard_run_button)
        controls.addWidget(section_label("Fine-tune"))
        controls.addWidget(intro)
        controls.addWidget(self.new_button)
        controls.addWidget(self.import_button)
        controls.addWidget(section_label("Unsaved runs"))
        controls.addWidget(self.runs)
        controls.addLayout(run_buttons)
        controls.addStretch(1)
        self.new_button.setEnabled(worker is not None)
        self.import_button.setEnabled(worker is not None)
        layout.addWidget(picture_beside_controls(self.view, scrolling_column(column, 260), (700, 300)), 1)
        self.runs.currentItemChanged.connect(lambda *_: self._update_enabled())
        self.refresh_runs()

    # ----- the session -------------------------------------------------------------------
    @property
    def session(self) -> FinetuneSession:
        """The fine-tune session the wizard and the panel's imports go through (needs a worker)."""
        if self._session is None:
            assert self.worker is not None, "the Fine-tune panel needs the worker"
            from studio.ui.finetune.session import FinetuneSession  # brings torch: never before the window

            self._session = FinetuneSession(self.worker, self)
            self._session.samplesChanged.connect(self._on_samples)
            self._session.trainingChanged.connect(self._on_training_changed)
            self._session.modelImported.connect(self._on_imported)
            self._session.importFailed.connect(self._on_import_failed)
        return self._session

    # ----- the wizard -----------------------------------------------------------------------
    def open_wizard(self) -> FinetuneWizard:
        """Open the wizard (modeless: the rest of the studio stays usable while it trains)."""
        from studio.ui.finetune.wizard import FinetuneWizard

        if self.wizard is not None and self.wizard.isVisible():
            self.wizard.raise_()
            self.wizard.activateWindow()
            return self.wizard
        if self.wizard is not None:
            self.wizard.deleteLater()  # its pages stop listening to the session
        session = self.session
        session.new_draft()
        self.wizard = FinetuneWizard(session, self)
        self.wizard.setWindowFlag(Qt.WindowType.Window, True)
        self.wizard.openInExplorer.connect(self.openInExplorer)
        self.wizard.finished.connect(self._on_wizard_finished)
        self.wizard.show()
        return self.wizard

    def _on_wizard_finished(self, _result: int) -> None:
        self.refresh_runs()

    def _on_training_changed(self, _training: bool) -> None:
        self.refresh_runs()  # a run that trains is not offered; one that ended may be

    def _on_samples(self, image: Image.Image) -> None:
        self.show_image(PanelImage(image, {"finetune_samples": True}, "fine-tune samples"))

    # ----- unsaved runs ---------------------------------------------------------------------
    def refresh_runs(self) -> None:
        self.runs.clear()
        training = self._session.training_run if self._session is not None else None  # still being written
        for run in unsaved_runs():
            if run == training:
                continue
            item = QListWidgetItem(run.name)
            item.setData(Qt.ItemDataRole.UserRole, str(run))
            item.setToolTip(plain_tooltip(str(run)))
            self.runs.addItem(item)
        if self.runs.count():
            self.runs.setCurrentRow(0)
        self._update_enabled()

    def _update_enabled(self) -> None:
        chosen = self.runs.currentItem() is not None and self.worker is not None
        self.save_run_button.setEnabled(chosen)
        self.discard_run_button.setEnabled(chosen)

    def chosen_run(self) -> Path | None:
        item = self.runs.currentItem()
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def save_run(self, run: Path, name: str) -> None:
        """Import an unsaved run into the library as ``name`` and remove the run folder, on the
        worker; the saved model then opens in the Latent Explorer."""
        self._import_failure_title = "Could not save the model"
        self.session.import_to_library(run, name, remove=run)

    def save_run_dialog(self) -> None:
        run = self.chosen_run()
        if run is None:
            return
        name, ok = QInputDialog.getText(self, "Save to library", "Name of the new model:")
        if not ok or not name.strip():
            return
        self.save_run(run, name.strip())

    def discard_run(self) -> None:
        run = self.chosen_run()
        if run is None:
            return
        answer = QMessageBox.question(self, "Discard run?", f"Delete the unsaved run {run.name} for good?")
        if answer == QMessageBox.StandardButton.Yes:
            shutil.rmtree(run, ignore_errors=True)
            self.refresh_runs()

    # ----- importing from another machine ---------------------------------------------------
    def import_result(self, path: str | Path) -> None:
        """Import a job folder (or a checkpoint) on the worker; it then opens in the Latent Explorer."""
        self._import_failure_title = "Could not import"
        self.session.import_to_library(Path(path))

    def import_dialog(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Job folder that has run", str(Path.home()))
        if chosen:
            self.import_result(chosen)

    def _on_imported(self, saved: Path) -> None:
        self.refresh_runs()
        self.openInExplorer.emit(saved)

    def _on_import_failed(self, message: str) -> None:
        QMessageBox.warning(self, self._import_failure_title, message)
