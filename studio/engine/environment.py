"""What is installed: the models, bundled and in the library, for the explorer and `studio info`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.engine.checkpoints import card_path, list_models
from studio.files.paths import models_dir
from studio.files.resources import bundled_models_dir

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path
    origin: str  # "bundled" or "library"
    architecture: str = ""
    featured: bool = False  # the bundled model the studio opens on: the best by its card's measures
    score: float | None = None  # that measure: the precision of its samples (studio evaluate)


def _describe(path: Path, origin: str) -> InstalledModel:
    name, architecture, score = path.stem, "", None
    try:
        card = json.loads(card_path(path).read_text(encoding="utf-8"))
        if isinstance(card, dict):
            name = str(card.get("name") or name)
            architecture = str(card.get("architecture") or "")
            score = _sample_precision(card)
    except (OSError, ValueError, RecursionError):
        pass  # a model without a readable card is still listed by its file name
    return InstalledModel(name, path, origin, architecture, score=score)


def _sample_precision(card: dict) -> float | None:
    """The share of a model's random samples that look like its training data (VGG19 features)."""
    try:
        value = card["evaluation"]["train"]["vgg19"]["precision"]
    except (KeyError, TypeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def installed_models() -> list[InstalledModel]:
    """Bundled models first, then the user's library, each sorted by file name."""
    found: list[InstalledModel] = []
    for folder, origin in ((bundled_models_dir(), "bundled"), (models_dir(create=False), "library")):
        found.extend(_describe(path, origin) for path in list_models([folder]))
    scores = {m.path: m.score for m in found if m.origin == "bundled" and m.score is not None}
    if scores:
        best_path = max(scores, key=scores.__getitem__)
        best = next(m for m in found if m.path == best_path)
        found = [dataclasses.replace(m, featured=True) if m is best else m for m in found]
    return found
