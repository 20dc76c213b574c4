"""Endless shuffled training batches whose position can be saved and restored exactly.

The same index stream as :func:`studio.engine.data.dataset.sample_batches` (one seeded
permutation after another, every batch full), but the indices still pending in the current
epoch are part of the state, so a resumed run draws exactly the batches the uninterrupted run
would have drawn. The images live on the training device as uint8 (a few tens of MB for the
bundled data sets) and become floats in [-1, 1] one batch at a time.
"""

from __future__ import annotations

import torch


class BatchSampler:
    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        seed: int,
        device: torch.device | str = "cpu",
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        if images.shape[0] == 0:
            raise ValueError("the data set has no training examples")
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size = batch_size
        self.memory_format = memory_format
        self.generator = torch.Generator().manual_seed(seed)
        self.pending = torch.empty(0, dtype=torch.long)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def next_indices(self) -> torch.Tensor:
        while len(self.pending) < self.batch_size:
            self.pending = torch.cat([self.pending, torch.randperm(len(self), generator=self.generator)])
        index, self.pending = self.pending[: self.batch_size], self.pending[self.batch_size :]
        return index

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (images B×3×H×W float in [-1, 1], labels B) on the training device."""
        index = self.next_indices().to(self.device, non_blocking=True)
        images = self.images[index].float().div_(127.5).sub_(1.0).contiguous(memory_format=self.memory_format)
        return images, self.labels[index]

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            "generator": self.generator.get_state(),
            "pending": self.pending.clone(),
            "size": torch.tensor([len(self)], dtype=torch.long),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> bool:
        """Restore the position; False when the data set changed size since, in which case the
        current epoch's remaining order is dropped and the next epoch starts at once."""
        self.generator.set_state(state["generator"].to(torch.uint8))
        if int(state["size"][0]) != len(self):
            self.pending = torch.empty(0, dtype=torch.long)
            return False
        self.pending = state["pending"].to(torch.long).clone()
        return True
