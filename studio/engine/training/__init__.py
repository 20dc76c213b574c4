"""Training the generative models: one loop for every kind and recipe.

- :mod:`.config`: :class:`TrainConfig`, the run as a frozen dataclass, and its defaults;
- :mod:`.trainers`: what one step does per model kind (VAE, GAN with any of the four losses);
- :mod:`.loop`: :func:`train_job`, the job generator the GUI worker and ``studio train`` drive;
- :mod:`.checkpoint` and :mod:`.state`: resumable checkpoints as safetensors + JSON, no pickle;
- :mod:`.sampler`: shuffled batches whose position is part of the checkpoint;
- :mod:`.grid`: the sample grids shown while training;
- fine-tuning on the same loop: :mod:`.finetune` (:func:`finetune_job`, :class:`FinetuneSettings`),
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
from studio.engine.training.finetune import (
    FinetuneResult,
    FinetuneSettings,
    StepEstimate,
    estimate_step,
    finetune_job,
    library_path,
    load_base,
)
from studio.engine.training.freezing import FREEZE_PRESETS, ModelBlock, model_blocks, presets_for
from studio.engine.training.jobfolder import export_job_folder, import_checkpoint
from studio.engine.training.loop import (
    TrainingDiverged,
    TrainingOutOfMemory,
    TrainProgress,
    TrainResult,
    train_job,
)
from studio.engine.training.state import flatten_state, unflatten_state

__all__ = [
    "FREEZE_PRESETS",
    "FinetuneResult",
    "FinetuneSettings",
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
