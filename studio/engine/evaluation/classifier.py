"""A small emoji-group classifier: the second feature space of the quality measures.

VGG19 was trained on photographs; a 64 px emoji is far from them, and its features see
colour and texture better than "is this a face". A network trained on the emoji themselves
(their Unicode groups, on the training split only) gives features that know what an emoji
group looks like: its penultimate layer is the embedding, and its prediction tells whether a
conditional model's class-c samples look like class c.

Four (3x3 conv, batch norm, ReLU, 2x2 max pool) stages, 32 to 256 channels, global average
pooling to the 256-d embedding, dropout and a linear layer to the classes. Trained with
flips, small shifts and mild colour changes, so that a generated emoji that is a little off
centre or off colour is still judged by its content.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from studio.engine.checkpoints import ModelFileError, load_model, save_model
from studio.engine.jobs import Progress

if TYPE_CHECKING:
    import os
    from collections.abc import Generator

    from studio.engine.data.dataset import ImageDataset

ARCHITECTURE = "emoji-classifier"
CHANNELS = (32, 64, 128, 256)
EMBEDDING_DIM = CHANNELS[-1]
MAX_CLASSES = 1000
SHIFT = 4  # pixels of random shift while training


class EmojiClassifier(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or not 2 <= num_classes <= MAX_CLASSES:
            raise ValueError(f"a classifier needs 2 to {MAX_CLASSES} classes, got {num_classes!r}")
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        previous = 3
        for index, width in enumerate(CHANNELS):
            layers += [nn.Conv2d(previous, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            if index < len(CHANNELS) - 1:
                layers.append(nn.MaxPool2d(2))
            previous = width
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(EMBEDDING_DIM, num_classes)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W in [-1, 1] -> the N x 256 penultimate features."""
        return self.features(images).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(images)))


@dataclass(frozen=True)
class LoadedClassifier:
    model: EmojiClassifier  # eval mode
    class_names: list[str]
    card: dict[str, Any]
    path: Path


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n = images.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(3), images)
    padded = F.pad(images, (SHIFT,) * 4, mode="replicate")
    dy, dx = torch.randint(0, 2 * SHIFT + 1, (2,), generator=generator).tolist()
    size = images.shape[-1]
    images = padded[:, :, dy : dy + size, dx : dx + size]
    scale = 1.0 + 0.2 * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
    shift = 0.2 * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
    return (images * scale + shift).clamp(-1, 1)


@torch.no_grad()
def accuracy(model: EmojiClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    predictions = torch.cat([model(images[i : i + 256]).argmax(1) for i in range(0, len(images), 256)])
    return float((predictions == labels).double().mean())


def train_classifier_job(
    dataset: ImageDataset,
    out_path: str | os.PathLike[str],
    *,
    steps: int = 1500,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    command: str | None = None,
) -> Generator[Progress, None, Path]:
    """Train the classifier on ``dataset``'s training split; writes it with a card, returns its path."""
    if dataset.num_classes < 2:
        raise ValueError("a classifier needs a data set with at least 2 classes")
    started = time.monotonic()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = EmojiClassifier(dataset.num_classes)
    train, heldout = dataset.train(), dataset.heldout()
    images = train.batch(range(len(train)))
    labels = train.labels
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps)
    model.train()
    for step in range(1, steps + 1):
        index = torch.randint(0, len(images), (batch,), generator=generator)
        loss = F.cross_entropy(model(_augment(images[index], generator)), labels[index], label_smoothing=0.1)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 50 == 0 or step == steps:
            yield Progress(
                step / steps, f"Training the emoji classifier: step {step}/{steps}, loss {float(loss.detach()):.3f}"
            )
    model.eval()
    scores = {"train_accuracy": accuracy(model, images, labels)}
    if len(heldout):
        scores["heldout_accuracy"] = accuracy(model, heldout.batch(range(len(heldout))), heldout.labels)
    card = {
        "name": "Emoji group classifier",
        "architecture": ARCHITECTURE,
        "num_classes": dataset.num_classes,
        "class_names": list(dataset.class_names),
        "purpose": "features and class agreement for `studio evaluate`; not a generative model",
        "data": {"count": len(dataset), "train": len(train), "heldout": len(heldout)},
        "steps": steps,
        "batch": batch,
        "seed": seed,
        "wall_time_s": round(time.monotonic() - started, 1),
        "command": command,
        "licence": "MIT (the weights); trained on renderings of Noto Color Emoji (SIL OFL 1.1)",
        **scores,
    }
    return save_model(out_path, {k: v.detach() for k, v in model.state_dict().items()}, card)


def load_classifier(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LoadedClassifier:
    file = Path(path)
    tensors, card = load_model(file)
    if card.get("architecture") != ARCHITECTURE:
        raise ModelFileError(f"{file.name}: not an emoji classifier (its card says {card.get('architecture')!r})")
    try:
        model = EmojiClassifier(int(card.get("num_classes", "missing")))  # a bad card is caught below
        model.load_state_dict(tensors, strict=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{file.name}: its weights do not match an emoji classifier ({exc})") from exc
    names = card.get("class_names")
    if not isinstance(names, list) or len(names) != model.num_classes:
        names = [f"class {i}" for i in range(model.num_classes)]
    return LoadedClassifier(model.eval().to(device), [str(n) for n in names], card, file)
