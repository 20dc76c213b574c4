"""The one training loop on several processes: DistributedDataParallel under torchrun.

Public API:

- :func:`distributed_from_env` ``(device="auto") -> DistributedContext | None``: when this
  process was started by ``torchrun`` with more than one process in all (``WORLD_SIZE`` > 1),
  joins the process group (NCCL on CUDA GPUs, one GPU per process by ``LOCAL_RANK``; gloo on
  CPUs) and returns the context; None for a plain single process;
- :class:`DistributedContext`: ``rank``, ``world_size``, ``local_rank``, ``backend``,
  ``device_info``, ``is_main``; :meth:`~DistributedContext.wrap` (a module in DDP),
  :meth:`~DistributedContext.mean` (all-reduce average), :meth:`~DistributedContext.any`
  (does any process say yes: a Ctrl+C on one stops all at the same step),
  :meth:`~DistributedContext.barrier` and :meth:`~DistributedContext.close`.

How the loop uses it (:func:`studio.engine.training.train_job` with ``distributed=``): the
global batch is split between the processes, each draws its own batches and noise (seeds
offset by rank), DDP averages the gradients so every process holds the same weights, losses
are averaged at log steps only, and rank 0 alone writes checkpoints, sample grids, KID and the
finished model.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from studio.engine.devices import DeviceInfo, select_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    local_rank: int
    backend: str  # "nccl" or "gloo"
    device_info: DeviceInfo

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        return self.device_info.torch()

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` in DistributedDataParallel (gradients averaged over the processes)."""
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=device_ids)

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The average of ``tensor`` over the processes (a new tensor; every process gets it)."""
        out = tensor.detach().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out / self.world_size

    def any(self, flag: bool) -> bool:
        """True on every process when any process passes True (one small all-reduce)."""
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def barrier(self) -> None:
        if self.device.type == "cuda":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def is_distributed_launch() -> bool:
    """Whether torchrun started this process as one of several."""
    return _env_int("WORLD_SIZE", 1) > 1


def distributed_from_env(device: str = "auto") -> DistributedContext | None:
    """Join torchrun's process group, or None when this is a single process."""
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        return None
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    wanted = select_device(None if device == "auto" else device)
    if wanted.kind == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"process {rank} needs GPU {local_rank} but this machine has {torch.cuda.device_count()}; "
                "start as many processes per node as there are GPUs (--nproc_per_node)"
            )
        torch.cuda.set_device(local_rank)
        info = select_device(f"cuda:{local_rank}")
        backend = "nccl"
    else:
        if wanted.kind == "mps":
            log.warning("distributed training on Apple MPS is not supported; using the CPU (gloo)")
        info = select_device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistributedContext(rank, world_size, local_rank, backend, info)
