"""The engine work of the fine-tune wizard and panel, as worker jobs.

Each function returns a job factory for :meth:`Worker.submit`; only
:class:`~studio.ui.finetune.session.FinetuneSession` starts them. Everything that reads a model,
hashes a file or builds a network to count its parameters happens here, on the worker's thread,
so the window never waits for it.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.engine.data.folder import scan_job
from studio.engine.jobs import Progress
from studio.engine.latent.model import LatentModel
from studio.engine.training.finetune.base import load_base
from studio.engine.training.finetune.estimate import estimate_step
from studio.engine.training.finetune.job import finetune_job
from studio.engine.training.freezing import model_blocks, preset_blocks, presets_for
from studio.engine.training.jobfolder import export_job, import_checkpoint
from studio.files.images import ImageLoadError, load_image
from studio.spec.finetune import DEFAULT_AUGMENT, DEFAULT_FREEZE

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from PIL import Image

    from studio.engine.data.folder import FolderScan
    from studio.engine.devices import DeviceInfo
    from studio.engine.jobs import JobFactory
    from studio.engine.training.finetune.base import BaseModel
    from studio.engine.training.finetune.estimate import StepEstimate
    from studio.engine.training.finetune.job import FinetuneResult
    from studio.engine.training.finetune.settings import FinetuneSettings
    from studio.engine.training.freezing import ModelBlock
    from studio.engine.training.jobfolder import ExportedJob
    from studio.spec.finetune import FreezePreset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedBase:
    """A base model read on the worker, with what the wizard's pages show of it."""

    model: BaseModel
    presets: tuple[FreezePreset, ...]  # the freeze presets that fit its kind
    preset_blocks: dict[str, tuple[str, ...]]  # the blocks each of those presets freezes
    blocks: tuple[ModelBlock, ...]  # every block, in the order data flows, with its parameters
    default_freeze: str  # the preset a new run starts with
    default_augment: tuple[str, ...]

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def has_discriminator(self) -> bool:
        """Whether a trained discriminator (its training checkpoint) lies beside the model."""
        return self.model.checkpoint is not None


def load_base_job(path: Path) -> JobFactory:
    """Read the model (its card, its hash, its checkpoint) and count its blocks' parameters."""

    def job(_device: DeviceInfo) -> Generator[Progress, None, LoadedBase]:
        yield Progress(None, f"Reading {path.name}…")
        model = load_base(str(path))
        presets = tuple(presets_for(model.kind))
        default = DEFAULT_FREEZE[model.kind]
        if default == "freeze-d" and model.checkpoint is None:
            default = "all"  # FreezeD keeps a trained discriminator's features; there is none
        return LoadedBase(
            model=model,
            presets=presets,
            preset_blocks={p.key: preset_blocks(p.key, model.config) for p in presets},
            blocks=tuple(model_blocks(model.config)),
            default_freeze=default,
            default_augment=DEFAULT_AUGMENT[model.kind],
        )

    return job


def model_samples_job(paths: list[Path]) -> JobFactory:
    """Load each model and draw a 2 x 2 grid of its samples; each grid comes as a preview."""

    def job(device: DeviceInfo) -> Generator[Progress, None, None]:
        for index, path in enumerate(paths):
            try:
                model = LatentModel.load(path, device.torch_device)
                grid, _ = model.sample_grid(seed=0, rows=2, cols=2)
            except Exception as exc:  # noqa: BLE001 - a broken model gets no thumbnail, the list still works
                log.warning("no thumbnail for %s: %s", path, exc)
                continue
            yield Progress((index + 1) / len(paths), f"Drawing samples of {path.stem}", preview=(path, grid))

    return job


def folder_scan_job(folder: Path) -> JobFactory:
    def job(_device: DeviceInfo) -> Generator[Progress, None, FolderScan]:
        return (yield from scan_job(folder))

    return job


def folder_thumbnails_job(paths: list[Path], size: int) -> JobFactory:
    """Each image made small; each comes as a ``(path, image)`` preview."""

    def job(_device: DeviceInfo) -> Generator[Progress, None, None]:
        for index, path in enumerate(paths):
            try:
                image: Image.Image = load_image(path).image
            except ImageLoadError:
                continue  # the scan judged it readable; it changed since: no thumbnail
            image.thumbnail((size, size))
            yield Progress((index + 1) / len(paths), "Drawing thumbnails", preview=(path, image))

    return job


def estimate_job(settings: FinetuneSettings) -> JobFactory:
    def job(device: DeviceInfo) -> Generator[Progress, None, StepEstimate]:
        yield Progress(None, "Measuring a few training steps…")
        return estimate_step(settings, settings.run_device(device))

    return job


def export_folder_job(settings: FinetuneSettings, folder: Path) -> JobFactory:
    def job(_device: DeviceInfo) -> Generator[Progress, None, ExportedJob]:
        return (yield from export_job(settings, folder))

    return job


def training_job(settings: FinetuneSettings, run_dir: Path) -> JobFactory:
    """The run, trained into ``run_dir`` on the worker's device (unless the settings ask for
    another kind, such as the CPU beside a GPU)."""

    def job(device: DeviceInfo) -> Generator[Progress, None, FinetuneResult]:
        return (yield from finetune_job(settings, out_dir=run_dir, device=settings.run_device(device)))

    return job


def import_job(source: Path, name: str | None = None, *, remove: Path | None = None) -> JobFactory:
    """Bring ``source`` (a run or job folder, a model, a checkpoint) into the library as ``name``;
    then delete ``remove`` (the run folder the library now holds a copy of)."""

    def job(_device: DeviceInfo) -> Generator[Progress, None, Path]:
        yield Progress(None, f"Saving {name or source.name} to the library…")
        saved = import_checkpoint(source, name=name)
        if remove is not None:
            shutil.rmtree(remove, ignore_errors=True)
        return saved

    return job
