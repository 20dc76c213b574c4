"""The cards a training run writes beside its files: what it was, how it was made, on what data.

- :func:`data_summary`: the ``data`` entry (name, counts, classes, licences);
- :func:`run_info`: what every checkpoint's card says about the run (and the best model's);
- :func:`model_card`: the finished model's card, before the evaluation adds its measures;
- :func:`best_card`: the card of ``OUT-best.safetensors``, the run's best weights by KID.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from collections.abc import Sequence

    from studio.engine.data.dataset import ImageDataset
    from studio.engine.training.config import TrainConfig
    from studio.engine.training.kid import KidResult

MODEL_LICENCE = "MIT (the weights); the training data's own licences are listed under data.licences"


def data_summary(
    dataset: ImageDataset, data_card: dict[str, Any] | None = None, source: str | None = None
) -> dict[str, Any]:
    """What a model card says about its training data: name, counts, classes, licences."""
    card = data_card or {}
    train, heldout = int((dataset.split == 0).sum()), int((dataset.split == 1).sum())
    summary: dict[str, Any] = {
        "name": card.get("name") or (Path(source).name if source else "unnamed data set"),
        "count": len(dataset),
        "train": train,
        "heldout": heldout,
        "image_size": list(dataset.image_size),
        "classes": list(dataset.class_names),
    }
    if source:
        summary["source"] = str(source)
    for key in ("licences", "command"):
        if key in card:
            summary[key] = card[key]
    return summary


def run_info(
    config: TrainConfig, out: Path, dataset: ImageDataset, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The run's name, kind and classes, after ``extra`` (a fine-tune's settings and lineage)."""
    return {
        **(extra or {}),
        "name": config.name or out.stem,
        "kind": config.kind,
        "class_names": list(dataset.class_names),
    }


def best_card(info: dict[str, Any], step: int, kid: KidResult, command: str | None) -> dict[str, Any]:
    return {
        **info,
        "description": f"best of the run by held-out KID, at step {step}",
        "steps": step,
        "kid": kid.card_entry(),
        "command": command,
        "licence": MODEL_LICENCE,
    }


def model_card(
    *,
    config: TrainConfig,
    out: Path,
    dataset: ImageDataset,
    data_card: dict[str, Any] | None,
    data_source: str | None,
    command: str | None,
    device_label: str,
    step: int,
    wall_time_s: float,
    final_losses: dict[str, float],
    kid: KidResult | None,
    kid_note: str | None,
    kid_history: Sequence[KidResult],
    frozen_parameters: int | None,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    """The finished model's card; ``extra`` (a fine-tune's lineage) is merged in last.
    ``frozen_parameters`` is None when nothing was frozen."""
    card: dict[str, Any] = {
        "name": config.name or out.stem,
        "description": f"{config.kind.upper()} trained with Latent Studio",
        "class_names": list(dataset.class_names),
        "data": data_summary(dataset, data_card, data_source),
        "command": command,
        # The weights are the trainer's own work; what the data allows is recorded under data.
        "licence": MODEL_LICENCE,
        "training": {**config.to_dict(), "torch": torch.__version__, "platform": platform.platform()},
        "steps": step,
        "batch": config.batch,
        "device": device_label,
        "wall_time_s": round(wall_time_s, 1),
        "final_losses": final_losses,
        "kid": None if kid is None else kid.card_entry(),
    }
    if kid_history:
        card["kid_history"] = [entry.history_entry() for entry in kid_history]
    if frozen_parameters is not None:
        card["frozen_parameters"] = frozen_parameters
    if kid_note:
        card["kid_note"] = kid_note
    card.update(extra or {})
    return card
