"""Named directions rebuilt from a labels file: seeds marked as having a trait or not.

A labels file (JSON; resources/models/emoji-faces.direction-labels.json is the one the bundled
Emoji Faces directions come from) names the model by its sha256 and lists directions in order,
each with ``name``, ``description``, ``orthogonal_to`` (names of earlier directions in the file),
``positive_seeds`` and ``negative_seeds``. Each direction is fitted exactly as ``studio direction
create --positive-seeds ... --negative-seeds ... --orthogonal-to ...`` fits it (5-fold held-out
accuracy), on the seeds below ``fit_seeds_below``; the seeds from there up are kept back for a
fresh held-out measure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.engine.jobs import run_to_end
from studio.engine.latent.named_directions import DirectionError, NamedDirection, fit_direction_job

if TYPE_CHECKING:
    from studio.engine.latent.model import LatentModel


@dataclass(frozen=True)
class LabelledDirection:
    name: str
    description: str
    orthogonal_to: tuple[str, ...]
    positive: tuple[int, ...]
    negative: tuple[int, ...]


@dataclass(frozen=True)
class DirectionLabels:
    model_sha256: str
    fit_seeds_below: int
    directions: tuple[LabelledDirection, ...]

    def split(self, seeds: tuple[int, ...], heldout: bool) -> list[int]:
        """The seeds fitted on (below ``fit_seeds_below``), or the ones kept back (``heldout``)."""
        return [s for s in seeds if (s >= self.fit_seeds_below) == heldout]


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        raise DirectionError(f"{where}: expected a list of seeds (whole numbers from 0)")
    return tuple(value)


def read_labels(path: str | Path) -> DirectionLabels:
    """The labels file at ``path``; DirectionError naming what is wrong."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DirectionError(f"{file.name}: not a readable labels file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("directions"), list):
        raise DirectionError(f"{file.name}: expected an object with a list of directions")
    found: list[LabelledDirection] = []
    for row, item in enumerate(data["directions"]):
        where = f"{file.name}, direction {row + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise DirectionError(f"{where}: needs a name")
        others = tuple(item.get("orthogonal_to", []))
        missing = [o for o in others if o not in {d.name for d in found}]
        if missing:
            raise DirectionError(f"{where}: orthogonal to {', '.join(missing)}, which no earlier direction is named")
        positive = _seeds(item.get("positive_seeds"), f"{where}, positive_seeds")
        negative = _seeds(item.get("negative_seeds"), f"{where}, negative_seeds")
        if set(positive) & set(negative):
            raise DirectionError(
                f"{where}: seeds {sorted(set(positive) & set(negative))} are both positive and negative"
            )
        found.append(LabelledDirection(item["name"], str(item.get("description", "")), others, positive, negative))
    return DirectionLabels(str(data.get("model_sha256", "")), int(data.get("fit_seeds_below", 1 << 62)), tuple(found))


def fit_labelled(model: LatentModel, labels: DirectionLabels) -> list[NamedDirection]:
    """Every direction in ``labels``, in order, fitted on its seeds below ``fit_seeds_below``."""
    if labels.model_sha256 and labels.model_sha256 != model.sha256:
        raise DirectionError(
            f"the labels are for another model (sha256 {labels.model_sha256[:12]}...), not {model.name}"
        )
    done: dict[str, NamedDirection] = {}
    for item in labels.directions:
        positive = np.stack([model.random_z(s) for s in labels.split(item.positive, heldout=False)])
        negative = np.stack([model.random_z(s) for s in labels.split(item.negative, heldout=False)])
        others = [done[name] for name in item.orthogonal_to]
        job = fit_direction_job(item.name, positive, negative, model.latent_space, others, item.description)
        done[item.name] = run_to_end(job)
    return list(done.values())
