"""Training the generative models: one loop for every kind and recipe (import the modules: this
package imports nothing, so the fine-tune settings load without torch).

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
