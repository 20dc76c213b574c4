"""How long a fine-tune's step takes and how much memory it needs, measured before the run.

:func:`estimate_step` ``(settings, device) -> StepEstimate``: a few real steps on synthetic
images (run it on the worker: it takes seconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from studio.engine.training.finetune.base import load_base
from studio.engine.training.finetune.config import finetune_config
from studio.engine.training.sampler import BatchSampler
from studio.engine.training.trainers import build_trainer

if TYPE_CHECKING:
    from studio.engine.devices import DeviceInfo
    from studio.engine.training.finetune.settings import FinetuneSettings


@dataclass(frozen=True)
class StepEstimate:
    seconds_per_step: float
    images_per_second: float
    memory_bytes: int  # peak (CUDA: measured; elsewhere: weights, gradients, optimiser and activations)
    total_seconds: float  # for settings.steps, without evaluation
    device: str
    measured_steps: int


def estimate_step(settings: FinetuneSettings, device: DeviceInfo, *, measure_steps: int = 3) -> StepEstimate:
    """Time and memory per step of ``settings`` on ``device``, from a few real steps on synthetic images.

    The model is the base's architecture with its blocks frozen as the settings say; weights
    and data do not change the cost, so neither is loaded.
    """
    base = load_base(settings.base)
    config = finetune_config(settings, base, device).replace(kid_at_checkpoints=False, evaluate=False)
    target = device.torch()
    size = config.model.image_size
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (max(config.batch, 2), 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.full((images.shape[0],), config.fixed_class or 0, dtype=torch.long)
    preview = images[:8].float().div(127.5).sub(1.0)
    trainer = build_trainer(config, target, preview)
    sampler = BatchSampler(images, labels, config.batch, seed=0, device=target, memory_format=trainer.memory_format)
    saved = [0]

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    if target.type == "cuda":
        torch.cuda.synchronize(target)
        torch.cuda.reset_peak_memory_stats(target)
        before = torch.cuda.memory_allocated(target)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        trainer.step(sampler, 0)  # warm-up; its saved activations are counted
    activations = saved[0]
    _sync(target)
    started = time.perf_counter()
    for step in range(1, measure_steps + 1):
        trainer.step(sampler, step)
    _sync(target)
    seconds = (time.perf_counter() - started) / measure_steps
    if target.type == "cuda":
        memory = int(torch.cuda.max_memory_allocated(target) - before)
    else:
        weights = sum(p.numel() * p.element_size() for m in trainer.modules.values() for p in m.parameters())
        trained = sum(
            p.numel() * p.element_size()
            for opt in trainer.optimizers.values()
            for g in opt.param_groups
            for p in g["params"]
        )
        memory = int(weights + 3 * trained + activations + images.numel())  # + grads and Adam's two moments
    return StepEstimate(
        seconds_per_step=seconds,
        images_per_second=config.batch * config.n_critic / seconds,
        memory_bytes=memory,
        total_seconds=seconds * settings.steps,
        device=device.label,
        measured_steps=measure_steps,
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
