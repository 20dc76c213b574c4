"""The draft of a fine-tune run: what the wizard's pages have chosen so far, typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from studio.engine.training.finetune.settings import FinetuneSettings

if TYPE_CHECKING:
    from pathlib import Path

    from studio.engine.data.folder import FolderScan
    from studio.ui.finetune.jobs import LoadedBase


@dataclass(frozen=True)
class TrainingOptions:
    """What the settings page chooses (the rest of :class:`FinetuneSettings` keeps its defaults)."""

    steps: int = 1000
    batch: int = 16
    lr: float | None = None  # None: the recipe's default
    loss: str | None = None  # None: the base model's
    augment: tuple[str, ...] | None = None  # None: the default for the model kind
    device: str = "auto"  # "auto" (the studio's device) or a device kind such as "cpu"
    kid: bool = True


@dataclass
class FinetuneDraft:
    """What has been chosen so far; :meth:`settings` turns it into the engine's settings."""

    base_path: Path | None = None
    base: LoadedBase | None = None  # read on the worker, for base_path
    folder: Path | None = None
    scan: FolderScan | None = None  # of folder, when its check has finished
    freeze: str | tuple[str, ...] = "auto"  # a preset key or the frozen blocks' names
    options: TrainingOptions = field(default_factory=TrainingOptions)
    run_name: str = ""

    def settings(self, name: str | None = None) -> FinetuneSettings:
        """Raises :class:`TrainingError` naming what is wrong. How often the run logs, makes
        samples and checkpoints is the settings' policy for its length (FinetuneSettings.cadence)."""
        return FinetuneSettings(
            base=str(self.base_path),
            data=str(self.folder),
            name=name or self.run_name or "run",
            freeze=self.freeze,
            steps=self.options.steps,
            batch=self.options.batch,
            lr=self.options.lr,
            loss=self.options.loss,
            augment=self.options.augment,
            device=self.options.device,
            kid=self.options.kid,
        )
