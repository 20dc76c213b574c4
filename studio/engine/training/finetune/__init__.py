"""Fine-tuning: adapt a bundled or library model to an artist's own folder of images.

- :mod:`.settings`: :class:`~.settings.FinetuneSettings` (every choice of a run, each with its
  ``studio finetune`` option), the cadence policy;
- :mod:`.library`: where fine-tuned models go, and a saved run's settings;
- :mod:`.base`: the base model (:func:`~.base.load_base`) and its starting weights;
- :mod:`.config`: the :class:`~studio.engine.training.config.TrainConfig` the settings make;
- :mod:`.job`: :func:`~.job.finetune_job`, the job the wizard and ``studio finetune`` drive;
- :mod:`.estimate`: :func:`~.estimate.estimate_step`, time and memory per step.
"""
