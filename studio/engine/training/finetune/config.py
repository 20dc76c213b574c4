"""The training run a fine-tune's settings make for its base model: one loop, one :class:`TrainConfig`.

- :func:`frozen_blocks` ``(settings, base) -> (preset or "custom", block names)``;
- :func:`finetune_config` ``(settings, base, device=None) -> TrainConfig``;
- :func:`class_names` ``(base, fixed_class, data_name)``: the new model's classes.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from studio.engine.training.config import TrainConfig, TrainingError, default_config
from studio.engine.training.finetune.settings import JITTER, normalise_augment
from studio.engine.training.freezing import preset_blocks
from studio.spec.finetune import DEFAULT_AUGMENT, DEFAULT_FREEZE
from studio.spec.models import GANConfig

if TYPE_CHECKING:
    from studio.engine.devices import DeviceInfo
    from studio.engine.training.finetune.base import BaseModel
    from studio.engine.training.finetune.settings import FinetuneSettings


def frozen_blocks(settings: FinetuneSettings, base: BaseModel) -> tuple[str, tuple[str, ...]]:
    """(preset or "custom", block names) that ``settings.freeze`` means for ``base``."""
    freeze = settings.freeze
    if freeze == "auto":
        freeze = DEFAULT_FREEZE[base.kind]
        if base.kind == "gan" and base.checkpoint is None:
            freeze = "all"  # FreezeD keeps a discriminator's features; a new one has none yet
    if isinstance(freeze, str):
        return freeze, preset_blocks(freeze, base.config)
    return "custom", tuple(freeze)


def finetune_config(settings: FinetuneSettings, base: BaseModel, device: DeviceInfo | None = None) -> TrainConfig:
    """The training run ``settings`` make for ``base`` on ``device``: mixed precision only on a
    CUDA GPU, and off while the device is not known yet (checking settings, a job folder)."""
    model = base.config
    if base.kind == "gan" and settings.loss is not None:
        assert isinstance(model, GANConfig)  # a GAN base has a GAN config
        model = dataclasses.replace(model, loss=settings.loss)
    elif base.kind == "vae" and settings.loss is not None:
        raise TrainingError("--loss is for GANs; a VAE has one loss")
    if base.kind == "vae" and settings.d_lr is not None:
        raise TrainingError("a VAE has no discriminator learning rate")
    augment = DEFAULT_AUGMENT[base.kind] if settings.augment is None else normalise_augment(settings.augment)
    diffaugment = tuple(a for a in augment if a in ("color", "translation", "cutout"))
    if diffaugment and base.kind != "gan":
        raise TrainingError("DiffAugment (color, translation, cutout) is for GANs; a VAE can use flip and jitter")
    _, blocks = frozen_blocks(settings, base)
    fixed_class = None
    if base.conditional:
        fixed_class = 0 if settings.class_index is None else settings.class_index
        if not 0 <= fixed_class < len(base.class_names):
            raise TrainingError(
                f"{base.name} has classes 0..{len(base.class_names) - 1}, not {fixed_class}: "
                + ", ".join(f"{i} {n}" for i, n in enumerate(base.class_names))
            )
    elif settings.class_index is not None:
        raise TrainingError(f"{base.name} has no classes; drop the class choice")
    cuda = device is not None and device.kind == "cuda"
    cadence = settings.cadence()
    changes: dict[str, Any] = {
        "steps": settings.steps,
        "batch": settings.batch,
        "seed": settings.seed,
        "sample_every": cadence.sample_every,
        "checkpoint_every": cadence.checkpoint_every,
        "log_every": cadence.log_every,
        "device": settings.device,
        "amp": bool(settings.amp and cuda),
        "evaluate": settings.kid,
        "kid_at_checkpoints": settings.kid,
        "name": settings.name,
        "freeze": blocks,
        "flip": "flip" in augment,
        "jitter": JITTER if "jitter" in augment else 0.0,
        "random_crop": settings.resize == "random-crop",
        "diffaugment": diffaugment,
        "fixed_class": fixed_class,
    }
    if settings.lr is not None:
        changes["lr"] = settings.lr
    if settings.d_lr is not None:
        changes["d_lr"] = settings.d_lr
    if settings.betas is not None:
        changes["betas"] = tuple(settings.betas)
    if base.kind == "gan":
        changes["ema_decay"] = settings.ema if settings.ema else None
    return default_config(base.kind, model, **changes)


def class_names(base: BaseModel, fixed_class: int | None, data_name: str) -> list[str]:
    """The new model's classes: the folder's name alone, or in place of the class it trains."""
    if fixed_class is None:
        return [data_name]
    names = list(base.class_names)
    names[fixed_class] = data_name
    return names
