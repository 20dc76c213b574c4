"""Where fine-tuned models go in the user's library, and the settings of a run there to resume."""

from __future__ import annotations

import re
from pathlib import Path

from studio.engine.checkpoints import ModelFileError
from studio.engine.training.checkpoint import _embedded_card, checkpoint_path, model_path
from studio.engine.training.config import TrainingError
from studio.engine.training.finetune.settings import FinetuneSettings
from studio.files.paths import models_dir


def library_file_name(name: str) -> str:
    """A safe file stem for a model name: letters, digits, ``-``, ``_`` and ``.``."""
    stem = re.sub(r"[^\w.-]+", "-", name.strip(), flags=re.UNICODE).strip("-.").lower()[:80]
    return stem or "model"


def library_path(name: str, out_dir: str | Path | None = None) -> Path:
    """Where the fine-tuned model ``name`` is saved: the user's model library, unless ``out_dir``."""
    folder = Path(out_dir) if out_dir is not None else models_dir()
    return model_path(folder / library_file_name(name))


def saved_settings(name: str, out_dir: str | Path | None = None) -> FinetuneSettings | None:
    """The settings of the fine-tune run ``name`` that has a checkpoint (to resume it), or None."""
    ckpt = checkpoint_path(library_path(name, out_dir))
    if not ckpt.is_file():
        return None
    try:
        card = _embedded_card(ckpt)
    except ModelFileError as exc:
        raise TrainingError(str(exc)) from exc
    data = card.get("finetune_settings")
    if not isinstance(data, dict):
        return None
    try:
        return FinetuneSettings.from_dict(data)
    except TrainingError as exc:  # a hand-edited or crafted card: name the file it came from
        raise TrainingError(f"{ckpt.name}: its fine-tune settings cannot be read ({exc})") from exc
