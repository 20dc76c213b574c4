"""Training the generative models: one loop for every kind and recipe.

- :mod:`.config`: :class:`TrainConfig`, the run as a frozen dataclass, and its defaults;
- :mod:`.trainers`: what one step does per model kind (VAE, GAN with any of the four losses);
- :mod:`.loop`: :func:`train_job`, the job generator the GUI worker and ``studio train`` drive,
  over :class:`TrainingRun` (the run's phases); :mod:`.card` the cards it writes, :mod:`.kid`
  its KID measurements (:class:`KidResult`);
- :mod:`.checkpoint` and :mod:`.state`: resumable checkpoints as safetensors + JSON, no pickle;
- :mod:`.sampler`: shuffled batches whose position is part of the checkpoint;
- :mod:`.grid`: the sample grids shown while training;
- fine-tuning on the same loop: the package :mod:`.finetune` (:func:`finetune_job`,
  :class:`FinetuneSettings`, :func:`load_base`, :func:`estimate_step`),
  :mod:`.freezing` (:data:`FREEZE_PRESETS`, :func:`model_blocks`), :mod:`.augment` (DiffAugment),
  :mod:`.distributed` (DDP under torchrun) and :mod:`.jobfolder` (export a job, import its result).
"""

from studio.engine.training.checkpoint import (
    checkpoint_path,
    load_checkpoint,
    model_path,
    read_checkpoint_config,
    samples_path,
)
from studio.engine.training.config import TrainConfig, TrainingError, default_config
from studio.engine.training.finetune.base import load_base
from studio.engine.training.finetune.estimate import StepEstimate, estimate_step
from studio.engine.training.finetune.job import FinetuneResult, finetune_job
from studio.engine.training.finetune.settings import FinetuneSettings, library_path
from studio.engine.training.freezing import FREEZE_PRESETS, ModelBlock, model_blocks, presets_for
from studio.engine.training.jobfolder import export_job_folder, import_checkpoint
from studio.engine.training.kid import KidResult
from studio.engine.training.loop import (
    TrainingDiverged,
    TrainingOutOfMemory,
    TrainingRun,
    TrainProgress,
    TrainResult,
    train_job,
)
from studio.engine.training.state import flatten_state, unflatten_state

__all__ = [
    "FREEZE_PRESETS",
    "FinetuneResult",
    "FinetuneSettings",
    "KidResult",
    "ModelBlock",
    "StepEstimate",
    "estimate_step",
    "export_job_folder",
    "finetune_job",
    "import_checkpoint",
    "library_path",
    "load_base",
    "model_blocks",
    "presets_for",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "TrainingDiverged",
    "TrainingError",
    "TrainingOutOfMemory",
    "TrainingRun",
    "checkpoint_path",
    "default_config",
    "flatten_state",
    "load_checkpoint",
    "model_path",
    "read_checkpoint_config",
    "samples_path",
    "train_job",
    "unflatten_state",
]
