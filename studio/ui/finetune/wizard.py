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
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from studio.engine.jobs import Progress
from studio.engine.paths import finetune_runs_dir
from studio.services.worker import Worker
from studio.ui.controls import section_label
from studio.ui.finetune.curves import TrainingCurves
from studio.ui.image_view import ImageView
from studio.ui.job_link import JobLink
from studio.ui.qimage import to_qimage

log = logging.getLogger(__name__)

THUMBNAIL = 96
FOLDER_THUMBNAILS = 48  # images shown from the folder: enough to recognise it
CUSTOM = "custom"


def _format_count(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1e6:.1f} M"
    if count >= 1_000:
        return f"{count / 1e3:.0f} k"
    return str(count)


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _pixmap(image: Image.Image, size: int = THUMBNAIL) -> QPixmap:
    image = image.copy()
    image.thumbnail((size, size))
    return QPixmap.fromImage(to_qimage(image))


@dataclass
class Draft:
    """What the pages have chosen so far; :meth:`settings` turns it into the engine's settings."""

    base_path: Path | None = None
    base: Any = None  # the engine's BaseModel for base_path
    folder: Path | None = None
    scan: Any = None  # FolderScan
    freeze: str | tuple[str, ...] = "auto"
    options: dict[str, Any] = field(default_factory=dict)  # FinetuneSettings fields from page 4
    run_name: str = ""

    def settings(self):
        from studio.engine.training.finetune import FinetuneSettings

        return FinetuneSettings(base=str(self.base_path), data=str(self.folder), name=self.run_name or "run",
                                freeze=self.freeze, **self.options)  # fmt: skip


# --- 1. base model --------------------------------------------------------------------------------


def _thumbnails_job(paths: list[Path]):
    """Load each model on the worker and draw a 2 x 2 grid of samples for its list entry."""

    def job(device):
        from studio.engine.latent import LatentModel

        for index, path in enumerate(paths):
            try:
                model = LatentModel.load(path, device.torch_device)
                grid, _ = model.sample_grid(seed=0, rows=2, cols=2)
            except Exception as exc:  # noqa: BLE001 - a broken model gets no thumbnail, the list still works
                log.warning("no thumbnail for %s: %s", path, exc)
                continue
            yield Progress((index + 1) / len(paths), f"Drawing samples of {path.stem}", preview=(path, grid))
        return None

    return job


class BasePage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Base model")
        self.setSubTitle("Choose the model to start from. It keeps what it knows; your images teach it the rest.")
        self.models = QListWidget()
        self.models.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.models.setSpacing(4)
        self.models.currentItemChanged.connect(lambda *_: self.completeChanged.emit())
        self.empty = QLabel("No GAN or VAE is installed. Train one with “studio train”, or reinstall the studio.")
        self.empty.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.models)
        layout.addWidget(self.empty)
        self._thumbnails: JobLink | None = None
        self._filled = False

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        if self._filled:
            return
        self._filled = True
        from studio.engine.environment import installed_models

        models = [m for m in installed_models() if m.architecture in ("gan-generator", "vae")]
        for info in models:
            kind = "GAN" if info.architecture == "gan-generator" else "VAE"
            item = QListWidgetItem(f"{info.name}\n{kind} · {info.origin}")
            item.setData(Qt.ItemDataRole.UserRole, str(info.path))
            item.setToolTip(str(info.path))
            self.models.addItem(item)
        self.empty.setVisible(not models)
        chosen = self.owner.draft.base_path
        for row in range(self.models.count()):
            if chosen is not None and self.models.item(row).data(Qt.ItemDataRole.UserRole) == str(chosen):
                self.models.setCurrentRow(row)
        if self.models.currentRow() < 0 and models:
            # The bundled GAN is what most artists will start from.
            gans = [i for i, m in enumerate(models) if m.architecture == "gan-generator"]
            self.models.setCurrentRow(gans[0] if gans else 0)
        if models:
            self._thumbnails = JobLink(self.owner.worker, "Drawing model samples", _thumbnails_job([m.path for m in models]),
                                       self, progress=self._on_thumbnail)  # fmt: skip

    def _on_thumbnail(self, progress: Progress) -> None:
        if not isinstance(progress.preview, tuple):
            return
        path, grid = progress.preview
        for row in range(self.models.count()):
            item = self.models.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == str(path):
                item.setIcon(QIcon(_pixmap(grid)))

    def cleanupPage(self) -> None:  # noqa: N802 - Qt's name
        pass

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.models.currentItem() is not None

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        from studio.engine.training.config import TrainingError
        from studio.engine.training.finetune import load_base

        path = Path(self.models.currentItem().data(Qt.ItemDataRole.UserRole))
        try:
            base = load_base(str(path))
        except (TrainingError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot use this model", str(exc))
            return False
        draft = self.owner.draft
        if draft.base_path != path:
            draft.freeze = "auto"  # block names differ between models
        draft.base_path, draft.base = path, base
        return True


# --- 2. images ------------------------------------------------------------------------------------


def _folder_thumbnails_job(paths: list[Path]):
    def job(_device):
        from studio.engine.imageio import ImageLoadError, load_image

        for index, path in enumerate(paths):
            try:
                image = load_image(path).image
            except ImageLoadError:
                continue  # the scan judged it readable; it changed since: no thumbnail
            image.thumbnail((THUMBNAIL, THUMBNAIL))
            yield Progress((index + 1) / len(paths), "Drawing thumbnails", preview=(path, image))
        return None

    return job


class ImagesPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Your images")
        self.setSubTitle("Choose or drop a folder of your images (subfolders count too). "
                         "At least 16; a few hundred is better.")  # fmt: skip
        self.setAcceptDrops(True)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("A folder of PNG, JPEG or WebP images")
        self.path_edit.editingFinished.connect(lambda: self.set_folder(self.path_edit.text()))
        browse = QPushButton("Choose folder…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.progress = QProgressBar()
        self.progress.hide()
        self.summary = QLabel("No folder chosen yet.")
        self.summary.setWordWrap(True)
        self.thumbnails = QListWidget()
        self.thumbnails.setViewMode(QListWidget.ViewMode.IconMode)
        self.thumbnails.setIconSize(QSize(72, 72))
        self.thumbnails.setGridSize(QSize(84, 84))  # pictures only; names are in the tooltips
        self.thumbnails.setUniformItemSizes(True)
        self.thumbnails.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.thumbnails.setMovement(QListWidget.Movement.Static)
        self.skipped = QListWidget()
        self.skipped.setMaximumHeight(110)
        self.skipped_label = section_label("Skipped files")
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addWidget(self.thumbnails, 1)
        layout.addWidget(self.skipped_label)
        layout.addWidget(self.skipped)
        self.skipped_label.hide()
        self.skipped.hide()
        self._scan_link: JobLink | None = None
        self._thumb_link: JobLink | None = None

    # drops: a folder (or a file inside the folder wanted) from the file manager
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            path = Path(urls[0])
            self.set_folder(str(path if path.is_dir() else path.parent))
            event.acceptProposedAction()

    def _browse(self) -> None:
        start = str(self.owner.draft.folder or Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Folder of your images", start)
        if chosen:
            self.set_folder(chosen)

    def set_folder(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        folder = Path(text).expanduser()
        draft = self.owner.draft
        if draft.folder == folder and (draft.scan is not None or self.scanning):
            return
        self.path_edit.setText(str(folder))
        draft.folder, draft.scan = folder, None
        for link in (self._scan_link, self._thumb_link):
            if link is not None:
                link.cancel()
                link.detach()
        self._thumb_link = None
        self.thumbnails.clear()
        self.skipped.clear()
        self.skipped.hide()
        self.skipped_label.hide()
        self.summary.setText(f"Checking every image in {folder}…")
        self.progress.setRange(0, 0)
        self.progress.show()
        from studio.engine.data.folder import scan_job

        self._scan_link = JobLink(self.owner.worker, "Checking your images", lambda _device: scan_job(folder), self,
                                  progress=self._on_scan_progress, finished=self._on_scanned,
                                  failed=self._on_scan_failed)  # fmt: skip
        self.completeChanged.emit()

    @property
    def scanning(self) -> bool:
        return self._scan_link is not None and self._scan_link.running

    def _on_scan_progress(self, progress: Progress) -> None:
        if progress.fraction is not None:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(progress.fraction * 1000))
        self.summary.setText(progress.message)

    def _on_scan_failed(self, message: str) -> None:
        self.progress.hide()
        self.summary.setText(f"<b>Cannot use this folder:</b> {message}")
        self.completeChanged.emit()

    def _on_scanned(self, scan) -> None:
        from studio.engine.data.folder import MIN_IMAGES

        self.progress.hide()
        self.owner.draft.scan = scan
        text = f"{scan.summary()} in {scan.folder}."
        if not scan.enough():
            text = (f"<b>Only {scan.count} usable image{'s' if scan.count != 1 else ''}: at least {MIN_IMAGES} "
                    f"are needed.</b> Add more images to the folder, or choose another.")  # fmt: skip
            if scan.skipped:
                text += f" ({scan.skipped_count} skipped, see below.)"
        self.summary.setText(text)
        if scan.skipped:
            for line in scan.report(limit=None):
                self.skipped.addItem(line)
            self.skipped_label.setText(f"SKIPPED FILES ({scan.skipped_count})")
            self.skipped_label.show()
            self.skipped.show()
        shown = list(scan.images[:FOLDER_THUMBNAILS])
        for path in shown:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(scan.relative(path))
            self.thumbnails.addItem(item)
        if shown:
            self._thumb_link = JobLink(self.owner.worker, "Drawing thumbnails", _folder_thumbnails_job(shown), self,
                                       progress=self._on_thumbnail)  # fmt: skip
        self.completeChanged.emit()

    def _on_thumbnail(self, progress: Progress) -> None:
        if not isinstance(progress.preview, tuple):
            return
        path, image = progress.preview
        for row in range(self.thumbnails.count()):
            item = self.thumbnails.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == str(path):
                item.setIcon(QIcon(_pixmap(image, 72)))
                break

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        scan = self.owner.draft.scan
        return scan is not None and scan.enough()


# --- 3. what to train -----------------------------------------------------------------------------


class FreezePage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("What to train")
        self.setSubTitle("Frozen blocks keep what the base model learnt. Freezing more is faster and "
                         "safer with few images; training more adapts further.")  # fmt: skip
        self.presets = QButtonGroup(self)
        self.preset_box = QVBoxLayout()
        self.blocks = QTreeWidget()
        self.blocks.setHeaderLabels(["Block", "Parameters"])
        self.blocks.setRootIsDecorated(True)
        self.blocks.itemChanged.connect(self._on_block_toggled)
        self.count = QLabel()
        layout = QVBoxLayout(self)
        layout.addLayout(self.preset_box)
        layout.addWidget(section_label("Blocks (ticked blocks train)"))
        layout.addWidget(self.blocks, 1)
        layout.addWidget(self.count)
        self._built_for: Path | None = None
        self._updating = False

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        draft = self.owner.draft
        if self._built_for == draft.base_path:
            return
        self._built_for = draft.base_path
        from studio.engine.training.finetune import DEFAULT_FREEZE
        from studio.engine.training.freezing import presets_for

        for button in self.presets.buttons():
            self.presets.removeButton(button)
            button.deleteLater()
        base = draft.base
        for preset in presets_for(base.kind):
            button = QRadioButton(preset.label)
            button.setToolTip(preset.description)
            button.setProperty("preset", preset.key)
            if preset.key == "freeze-d" and base.checkpoint is None:
                button.setEnabled(False)
                button.setToolTip(f"{base.name} has no trained discriminator beside it, so there is nothing to freeze")
            self.presets.addButton(button)
            self.preset_box.addWidget(button)
            button.toggled.connect(lambda on, key=preset.key: on and self.apply_preset(key))
        custom = QRadioButton("Custom: the blocks ticked below")
        custom.setProperty("preset", CUSTOM)
        self.presets.addButton(custom)
        self.preset_box.addWidget(custom)
        wanted = draft.freeze if draft.freeze != "auto" else DEFAULT_FREEZE[base.kind]
        if wanted == "freeze-d" and base.checkpoint is None:
            wanted = "all"
        self._fill_blocks(())
        if isinstance(wanted, tuple):
            self._set_frozen(wanted)
            custom.setChecked(True)
        else:
            self.select_preset(wanted)

    def preset_button(self, key: str) -> QRadioButton | None:
        return next((b for b in self.presets.buttons() if b.property("preset") == key), None)

    def select_preset(self, key: str) -> None:
        button = self.preset_button(key)
        if button is not None:
            button.setChecked(True)
            self.apply_preset(key)

    def apply_preset(self, key: str) -> None:
        from studio.engine.training.freezing import preset_blocks

        if key == CUSTOM:
            return
        self._set_frozen(preset_blocks(key, self.owner.draft.base.config))
        self.owner.draft.freeze = key

    def _fill_blocks(self, frozen: tuple[str, ...]) -> None:
        from studio.engine.training.freezing import model_blocks

        self._updating = True
        self.blocks.clear()
        parents: dict[str, QTreeWidgetItem] = {}
        for block in model_blocks(self.owner.draft.base.config, frozen):
            parent = parents.get(block.network)
            if parent is None:
                parent = QTreeWidgetItem([block.network.capitalize(), ""])
                parent.setFlags(parent.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
                self.blocks.addTopLevelItem(parent)
                parents[block.network] = parent
            item = QTreeWidgetItem([block.label, _format_count(block.parameters)])
            item.setData(0, Qt.ItemDataRole.UserRole, block.name)
            item.setData(1, Qt.ItemDataRole.UserRole, block.parameters)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Unchecked if block.frozen else Qt.CheckState.Checked)
            parent.addChild(item)
        self.blocks.expandAll()
        self.blocks.resizeColumnToContents(0)
        self._updating = False
        self._update_count()

    def block_items(self) -> list[QTreeWidgetItem]:
        items = []
        for top in range(self.blocks.topLevelItemCount()):
            parent = self.blocks.topLevelItem(top)
            items += [parent.child(i) for i in range(parent.childCount())]
        return items

    def frozen(self) -> tuple[str, ...]:
        return tuple(item.data(0, Qt.ItemDataRole.UserRole) for item in self.block_items()
                     if item.checkState(0) != Qt.CheckState.Checked)  # fmt: skip

    def _set_frozen(self, frozen: tuple[str, ...]) -> None:
        self._updating = True
        for item in self.block_items():
            name = item.data(0, Qt.ItemDataRole.UserRole)
            item.setCheckState(0, Qt.CheckState.Unchecked if name in frozen else Qt.CheckState.Checked)
        self._updating = False
        self._update_count()

    def _on_block_toggled(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        custom = self.preset_button(CUSTOM)
        if custom is not None and not custom.isChecked():
            custom.setChecked(True)
        self.owner.draft.freeze = self.frozen()
        self._update_count()

    def _update_count(self) -> None:
        items = self.block_items()
        total = sum(int(i.data(1, Qt.ItemDataRole.UserRole)) for i in items)
        training = sum(int(i.data(1, Qt.ItemDataRole.UserRole)) for i in items if i.checkState(0) == Qt.CheckState.Checked)
        self.count.setText(f"Training {_format_count(training)} of {_format_count(total)} parameters "
                           f"({100 * training / max(total, 1):.0f} %).")  # fmt: skip
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return any(i.checkState(0) == Qt.CheckState.Checked for i in self.block_items())


# --- 4. settings ----------------------------------------------------------------------------------


def _estimate_job(settings):
    def job(_device):
        from studio.engine.training.finetune import estimate_step

        yield Progress(None, "Measuring a few training steps…")
        return estimate_step(settings)

    return job


class SettingsPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Settings")
        self.setSubTitle("The defaults suit a few hundred images. More steps adapt further; watch the samples.")
        from studio.engine.models import LOSSES
        from studio.engine.training.finetune import AUGMENTATIONS

        self.steps = QSpinBox(minimum=10, maximum=1_000_000, singleStep=100, value=1000)
        self.batch = QSpinBox(minimum=1, maximum=1024, value=16)
        self.lr = QDoubleSpinBox(decimals=5, minimum=0.0, maximum=0.1, singleStep=0.0001, value=0.0)
        self.lr.setSpecialValueText("recipe default")
        self.loss = QComboBox()
        self.loss.addItem("Same as the base model", None)
        for name in LOSSES:
            self.loss.addItem(name, name)
        self.augment: dict[str, QCheckBox] = {}
        augment_row = QHBoxLayout()
        labels = {"flip": "Flips", "jitter": "Colour jitter", "color": "DiffAugment colour",
                  "translation": "DiffAugment shift", "cutout": "DiffAugment cutout"}  # fmt: skip
        for name in AUGMENTATIONS:
            box = QCheckBox(labels.get(name, name))
            self.augment[name] = box
            augment_row.addWidget(box)
        augment_row.addStretch(1)
        self.device = QComboBox()
        self.kid = QCheckBox("Measure KID on held-out images at each checkpoint (slower on a CPU)")
        self.kid.setChecked(True)
        self.kid.setToolTip("How close the samples are to your images, as a number: lower is closer")
        self.estimate = QLabel("The estimate appears here.")
        self.estimate.setWordWrap(True)
        self.export_button = QPushButton("Export job folder for a bigger machine…")
        self.export_button.clicked.connect(self.export_job_folder)
        form = QFormLayout()
        form.addRow("Steps", self.steps)
        form.addRow("Batch", self.batch)
        form.addRow("Learning rate", self.lr)
        form.addRow("Loss", self.loss)
        form.addRow("Augmentation", augment_row)
        form.addRow("Device", self.device)
        form.addRow("", self.kid)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(section_label("Estimate"))
        layout.addWidget(self.estimate)
        layout.addStretch(1)
        layout.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignLeft)
        # Time per step depends on the batch and the device, not on the number of steps.
        self.steps.valueChanged.connect(self._show_estimate)
        self.batch.valueChanged.connect(self._schedule_estimate)
        self.device.activated.connect(self._schedule_estimate)
        self._estimate_link: JobLink | None = None
        self._estimated: Any = None
        self._kind = ""

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        from studio.engine.training.finetune import DEFAULT_AUGMENT

        draft = self.owner.draft
        kind = draft.base.kind
        if kind != self._kind:
            self._kind = kind
            for name, box in self.augment.items():
                box.setChecked(name in DEFAULT_AUGMENT[kind])
            self.loss.setVisible(kind == "gan")
            self.batch.setValue(16)
        self.device.clear()
        worker_device = self.owner.worker.device
        label = worker_device.label if worker_device is not None else "the studio's device"
        self.device.addItem(f"The studio's device ({label})", "auto")
        self.device.addItem("CPU", "cpu")
        self._schedule_estimate()

    def options(self) -> dict[str, Any]:
        worker_device = self.owner.worker.device
        device = self.device.currentData() or "auto"
        if device == "auto" and worker_device is not None:
            device = worker_device.kind
        return {
            "steps": self.steps.value(),
            "batch": self.batch.value(),
            "lr": self.lr.value() or None,
            "loss": self.loss.currentData() if self._kind == "gan" else None,
            "augment": tuple(name for name, box in self.augment.items() if box.isChecked()),
            "device": device,
            "kid": self.kid.isChecked(),
            # About 100 points on the curves, 20 sample grids and 4 checkpoints per run, whatever its length.
            "log_every": max(1, min(10, self.steps.value() // 100)),
            "sample_every": max(10, min(100, self.steps.value() // 20)),
            "checkpoint_every": max(50, min(500, self.steps.value() // 4)),
        }

    def _schedule_estimate(self, *_args) -> None:
        draft = self.owner.draft
        if draft.base is None or draft.scan is None:
            return
        if self._estimate_link is not None:
            self._estimate_link.cancel()
            self._estimate_link.detach()
        draft.options = self.options()
        self._estimated = None
        self.estimate.setText("Measuring a few training steps…")
        self._estimate_link = JobLink(self.owner.worker, "Estimating training time", _estimate_job(draft.settings()),
                                      self, finished=self._on_estimate,
                                      failed=lambda m: self.estimate.setText(f"No estimate: {m}"))  # fmt: skip

    def _on_estimate(self, estimate) -> None:
        self._estimated = estimate
        self._show_estimate()

    def _show_estimate(self, *_args) -> None:
        estimate = self._estimated
        if estimate is None:
            return
        steps = self.steps.value()
        seconds = estimate.seconds_per_step * steps
        self.estimate.setText(
            f"About {_duration(seconds)} for {steps} steps on {estimate.device} "
            f"({estimate.seconds_per_step:.2f} s per step, {estimate.images_per_second:.0f} images/s), "
            f"plus a little for sample grids and checkpoints. Memory: about {estimate.memory_bytes / 2**20:.0f} MB."
        )

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        from studio.engine.training.config import TrainingError

        draft = self.owner.draft
        draft.options = self.options()
        try:
            draft.settings()
        except TrainingError as exc:
            QMessageBox.warning(self, "Check the settings", str(exc))
            return False
        if self._estimate_link is not None and self._estimate_link.running:
            self._estimate_link.cancel()
        return True

    def export_job_folder(self) -> None:
        from studio.engine.training.config import TrainingError
        from studio.engine.training.jobfolder import export_job

        draft = self.owner.draft
        draft.options = self.options()
        chosen = QFileDialog.getExistingDirectory(self, "Empty folder for the job", str(Path.home()))
        if not chosen:
            return
        try:
            settings = draft.settings().replace(name=self.owner.suggested_name())
        except TrainingError as exc:
            QMessageBox.warning(self, "Check the settings", str(exc))
            return
        self.export_button.setEnabled(False)

        def done(exported) -> None:
            self.export_button.setEnabled(True)
            QMessageBox.information(self, "Job folder written",
                                    f"Copy {exported.folder} to the bigger machine and run, inside it:\n\n"
                                    f"{exported.command}\n\nThen bring the folder back and import it from the "
                                    "Fine-tune panel (Import result…).")  # fmt: skip

        def failed(message: str) -> None:
            self.export_button.setEnabled(True)
            QMessageBox.warning(self, "Could not write the job folder", message)

        folder = Path(chosen)
        JobLink(self.owner.worker, "Writing the job folder", lambda _d: export_job(settings, folder), self,
                finished=done, failed=failed)  # fmt: skip


# --- 5. training ----------------------------------------------------------------------------------


class TrainPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Training")
        self.setSubTitle("The samples below are drawn from the same seeds every time: watch them take on "
                         "your images' look. You can keep using the studio meanwhile.")  # fmt: skip
        self.samples = ImageView("The first samples appear after a few steps.")
        self.curves = TrainingCurves()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.status = QLabel("Starting…")
        self.status.setWordWrap(True)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button = QPushButton("Stop training")
        self.cancel_button.setToolTip("Stop now: the last checkpoint is kept and the model so far can still be saved")
        self.cancel_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.bar, 1)
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.cancel_button)
        pictures = QHBoxLayout()
        pictures.addWidget(self.samples, 3)
        pictures.addWidget(self.curves, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(pictures, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.link: JobLink | None = None
        self.result: Any = None
        self.failure = ""
        self.samples_image: Image.Image | None = None
        self.sample_updates = 0
        self.run_dir: Path | None = None

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        from studio.engine.training.finetune import finetune_job

        draft = self.owner.draft
        draft.run_name = time.strftime("run-%Y%m%d-%H%M%S")
        self.run_dir = finetune_runs_dir() / draft.run_name
        settings = draft.settings()
        self.result, self.failure = None, ""
        self.samples_image, self.sample_updates = None, 0
        self.curves.clear_values()
        self.bar.setValue(0)
        self.status.setText("Reading your images…")
        self.pause_button.setEnabled(True)
        self.pause_button.setText("Pause")
        self.cancel_button.setEnabled(True)
        run_dir = self.run_dir
        self.link = JobLink(self.owner.worker, f"Fine-tuning {draft.base.name}",
                            lambda _device: finetune_job(settings, out_dir=run_dir), self,
                            progress=self._on_progress, finished=self._on_finished,
                            cancelled=self._on_cancelled, failed=self._on_failed)  # fmt: skip
        self.owner.trainingChanged.emit(True)
        self.completeChanged.emit()

    @property
    def running(self) -> bool:
        return self.link is not None and self.link.running

    def _on_progress(self, progress) -> None:
        if progress.fraction is not None:
            self.bar.setValue(int(progress.fraction * 1000))
        losses = getattr(progress, "losses", None)
        if losses:
            self.curves.add_losses(progress.step, losses)
        samples = getattr(progress, "samples", None)
        if samples is not None:
            self.samples_image = samples
            self.sample_updates += 1
            self.samples.set_image(to_qimage(samples))
            self.owner.samplesChanged.emit(samples)
        text = progress.message
        eta = getattr(progress, "eta_seconds", None)
        if eta is not None:
            text += f" · about {_duration(eta)} left"
        if self.link is not None and self.link.paused:
            text = "Paused · " + text
        self.status.setText(text)

    def toggle_pause(self) -> None:
        if self.link is None or not self.link.running:
            return
        if self.link.paused:
            self.link.resume()
            self.pause_button.setText("Pause")
        else:
            self.link.pause()
            self.pause_button.setText("Resume")
            self.status.setText("Paused · " + self.status.text())

    def stop(self) -> None:
        if self.link is not None and self.link.running:
            self.status.setText("Stopping at the next step…")
            self.link.resume()  # a paused job must run on to see the cancel
            self.link.cancel()

    def _ended(self) -> None:
        self.pause_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.owner.trainingChanged.emit(False)
        self.completeChanged.emit()

    def _on_finished(self, result) -> None:
        self.result = result
        self.bar.setValue(1000)
        text = f"Done: {result.train.step} steps in {_duration(result.train.elapsed_s)}."
        if result.kid_before and result.kid_after:
            text += (f" KID on your held-out images went from {result.kid_before['kid']:.3f} to "
                     f"{result.kid_after['kid']:.3f} (lower is closer to your images).")  # fmt: skip
        self.status.setText(text)
        self._ended()

    def _on_cancelled(self, partial) -> None:
        self.result = partial  # a FinetuneResult with the checkpoint, when the job returned one
        saved = self._checkpoint() is not None
        self.status.setText("Stopped. " + ("The model as it was at the last checkpoint can still be saved."
                                           if saved else "No checkpoint was written yet: nothing to save."))  # fmt: skip
        self._ended()

    def _on_failed(self, message: str) -> None:
        self.failure = message
        self.status.setText(f"<b>Training stopped:</b> {message}")
        self._ended()

    def _checkpoint(self) -> Path | None:
        from studio.engine.training.checkpoint import checkpoint_path
        from studio.engine.training.finetune import library_path

        if self.run_dir is None:
            return None
        ckpt = checkpoint_path(library_path(self.owner.draft.run_name, self.run_dir))
        return ckpt if ckpt.is_file() else None

    def saveable(self) -> Path | None:
        """What Finish would save: the finished model, else the last checkpoint."""
        model = getattr(self.result, "model_path", None)
        if model is not None and Path(model).is_file():
            return Path(model)
        return self._checkpoint()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return not self.running and self.saveable() is not None

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        return not self.running


# --- 6. finish ------------------------------------------------------------------------------------


class FinishPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Name and save")
        self.setSubTitle("The model goes into your library, with a card recording the base model, your images and the settings.")
        self.name = QLineEdit()
        self.name.textChanged.connect(lambda *_: self.completeChanged.emit())
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.open_explorer = QCheckBox("Open it in the Latent Explorer")
        self.open_explorer.setChecked(True)
        self.preview = ImageView()
        form = QFormLayout()
        form.addRow("Name", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.open_explorer)
        self.saved: Path | None = None

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        train = self.owner.train_page
        self.name.setText(self.owner.suggested_name())
        source = train.saveable()
        result = train.result
        lines = []
        if getattr(result, "model_path", None) is not None:
            lines.append(f"Trained {result.train.step} steps.")
        elif source is not None:
            lines.append("Training was stopped: the model from the last checkpoint will be saved.")
        if getattr(result, "kid_before", None) and getattr(result, "kid_after", None):
            lines.append(f"KID on your held-out images: {result.kid_before['kid']:.3f} before, {result.kid_after['kid']:.3f} after.")
        scan = self.owner.draft.scan
        if scan is not None and scan.skipped:
            lines.append(f"{scan.skipped_count} file(s) in the folder were skipped; the card lists them.")
        self.summary.setText(" ".join(lines))
        if train.samples_image is not None:
            self.preview.set_image(to_qimage(train.samples_image))

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return bool(self.name.text().strip())

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        from studio.engine.training.config import TrainingError
        from studio.engine.training.jobfolder import import_checkpoint

        source = self.owner.train_page.saveable()
        if source is None:
            QMessageBox.warning(self, "Nothing to save", "The run has no model or checkpoint to save.")
            return False
        try:
            self.saved = import_checkpoint(source, name=self.name.text().strip())
        except (TrainingError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Could not save the model", str(exc))
            return False
        run_dir = self.owner.train_page.run_dir
        if run_dir is not None:
            # The library now holds the model and its checkpoint: the unnamed run is no longer needed.
            shutil.rmtree(run_dir, ignore_errors=True)
        self.owner.modelSaved.emit(self.saved)
        if self.open_explorer.isChecked():
            self.owner.openInExplorer.emit(self.saved)
        return True


# --- the wizard -----------------------------------------------------------------------------------


class FinetuneWizard(QWizard):
    modelSaved = Signal(object)  # Path of the new model in the library
    openInExplorer = Signal(object)  # Path
    samplesChanged = Signal(object)  # the latest sample grid (PIL image)
    trainingChanged = Signal(bool)

    def __init__(self, worker: Worker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.draft = Draft()
        self.setWindowTitle("Fine-tune a model")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, False)
        self.base_page = BasePage(self)
        self.images_page = ImagesPage(self)
        self.freeze_page = FreezePage(self)
        self.settings_page = SettingsPage(self)
        self.train_page = TrainPage(self)
        self.finish_page = FinishPage(self)
        for page in (self.base_page, self.images_page, self.freeze_page, self.settings_page, self.train_page,
                     self.finish_page):  # fmt: skip
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Save to library")
        self.trainingChanged.connect(self._on_training_changed)
        self.resize(900, 680)

    def suggested_name(self) -> str:
        base = self.draft.base.name if self.draft.base is not None else "model"
        folder = self.draft.folder.name if self.draft.folder is not None else "images"
        return f"{base} · {folder}"

    def _on_training_changed(self, training: bool) -> None:
        # Going back while the run trains would leave it running behind pages that change its
        # settings: the Back button leaves the layout until it ends (QWizard re-enables a
        # merely disabled one whenever a page changes state).
        buttons = [QWizard.WizardButton.Stretch, QWizard.WizardButton.NextButton,
                   QWizard.WizardButton.FinishButton, QWizard.WizardButton.CancelButton]  # fmt: skip
        if not training:
            buttons.insert(1, QWizard.WizardButton.BackButton)
        self.setButtonLayout(buttons)

    def reject(self) -> None:
        if self.train_page.running:
            answer = QMessageBox.question(self, "Stop training?",
                                          "Training is still running. Stop it and close the wizard? "
                                          "The last checkpoint stays in the studio's data folder.")  # fmt: skip
            if answer != QMessageBox.StandardButton.Yes:
                return
            self.train_page.stop()
        super().reject()
