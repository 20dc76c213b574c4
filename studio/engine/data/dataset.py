"""A labelled image data set in memory, loaded from the npz the data builders write.

Files are read with ``np.load(..., allow_pickle=False)``: the names are plain unicode arrays,
so nothing is ever unpickled, and a file that would need it is refused as corrupt.
:func:`save_image_dataset` writes the same format (a fine-tune job folder carries its data so).
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from studio.files.paths import UserPathError, user_path

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator, Sequence

TRAIN, HELDOUT = 0, 1
_REQUIRED = ("images", "labels", "split", "names")


class DatasetError(ValueError):
    """A data set could not be loaded; the message is for the user and names the file."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Could not load the data set {self.path}: {reason}")


@dataclass
class ImageDataset:
    images: torch.Tensor  # uint8 N×3×H×W
    labels: torch.Tensor  # int64 N, indices into class_names
    class_names: list[str]
    names: list[str]
    split: torch.Tensor  # uint8 N: 0 train, 1 held out

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 N×3×H×W, got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (n,) or self.split.shape != (n,) or len(self.names) != n:
            raise ValueError("images, labels, split and names must have one entry per image")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def subset(self, indices: torch.Tensor | Sequence[int]) -> ImageDataset:
        index = torch.as_tensor(indices, dtype=torch.long)
        return ImageDataset(
            images=self.images[index],
            labels=self.labels[index],
            class_names=list(self.class_names),
            names=[self.names[i] for i in index.tolist()],
            split=self.split[index],
        )

    def train(self) -> ImageDataset:
        return self.subset(torch.nonzero(self.split == TRAIN).flatten())

    def heldout(self) -> ImageDataset:
        return self.subset(torch.nonzero(self.split == HELDOUT).flatten())

    def batch(self, indices: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """Float32 B×3×H×W in [-1, 1], the range the generative models work in."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.images[index].float().div_(127.5).sub_(1.0)


def load_image_dataset(path: str | os.PathLike[str]) -> ImageDataset:
    """Load a data set from its folder (the one ``dataset.json`` names) or from its npz."""
    try:
        source = user_path(path)
    except UserPathError as exc:  # "~nosuchuser/x", a name too long for the file system
        raise DatasetError(exc.shown, exc.reason) from exc
    npz_path = _find_npz(source)
    try:
        data = np.load(npz_path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):  # a bare .npy array
            raise DatasetError(npz_path, "not a studio data set (expected an .npz archive)")
        with data:
            missing = [key for key in _REQUIRED if key not in data.files]
            if missing:
                raise DatasetError(npz_path, f"not a studio data set (no {', '.join(missing)})")
            images, labels, split = data["images"], data["labels"], data["split"]
            names = [str(n) for n in data["names"]]
            classes = [str(c) for c in data["classes"]] if "classes" in data.files else None
    except DatasetError:
        raise
    except FileNotFoundError as exc:
        raise DatasetError(npz_path, "file not found") from exc
    except PermissionError as exc:
        raise DatasetError(npz_path, "permission denied") from exc
    except IsADirectoryError as exc:
        raise DatasetError(npz_path, "this is a folder, not a data set file") from exc
    except MemoryError as exc:
        raise DatasetError(npz_path, "not enough memory to load it") from exc
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        # allow_pickle=False raises ValueError for object arrays: refused, never unpickled.
        raise DatasetError(npz_path, "corrupt or incomplete file") from exc
    if classes is None:
        classes = _classes_from_card(npz_path)

    n = len(images) if images.ndim else 0
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3 or n == 0:
        raise DatasetError(npz_path, f"images must be uint8 N×H×W×3, got {images.dtype} {images.shape}")
    if labels.shape != (n,) or split.shape != (n,) or len(names) != n:
        raise DatasetError(npz_path, "images, labels, split and names have different lengths")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= len(classes):
        raise DatasetError(npz_path, f"labels must be class numbers below {len(classes)}")
    if not np.isin(split, (TRAIN, HELDOUT)).all():
        raise DatasetError(npz_path, "split must hold only 0 (train) and 1 (held out)")
    return ImageDataset(
        images=torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))),
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=classes,
        names=names,
        split=torch.from_numpy(split.astype(np.uint8)),
    )


def save_image_dataset(
    dataset: ImageDataset, folder: str | os.PathLike[str], card: dict | None = None, file: str = "images.npz"
) -> Path:
    """Write ``dataset`` as ``folder/file`` plus ``dataset.json`` (``card`` with ``file`` and
    ``classes`` filled in), each atomically; :func:`load_image_dataset` reads it back."""
    from studio.files.atomic import atomic_write_bytes

    target = Path(folder)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        images=dataset.images.permute(0, 2, 3, 1).contiguous().numpy(),
        labels=dataset.labels.numpy(),
        split=dataset.split.numpy(),
        names=np.array(dataset.names, dtype=str),
        classes=np.array(dataset.class_names, dtype=str),
    )
    atomic_write_bytes(target / file, buffer.getvalue())
    full_card = {**(card or {}), "file": file, "classes": list(dataset.class_names), "count": len(dataset)}
    atomic_write_bytes(
        target / "dataset.json", (json.dumps(full_card, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    )
    return target / file


def sample_batches(
    dataset: ImageDataset, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless (images in [-1, 1], labels) batches from the train split, reshuffled each epoch.

    Every batch is full: the index stream runs through one seeded permutation after another,
    so each example is seen once per epoch even when the batch size does not divide it.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    train = dataset.train()
    if len(train) == 0:
        raise ValueError("the data set has no training examples")
    pending = torch.empty(0, dtype=torch.long)
    while True:
        while len(pending) < batch_size:
            pending = torch.cat([pending, torch.randperm(len(train), generator=generator)])
        index, pending = pending[:batch_size], pending[batch_size:]
        yield train.batch(index), train.labels[index]


def _find_npz(path: Path) -> Path:
    if not path.is_dir():
        if not path.exists():
            raise DatasetError(path, "file not found")
        return path
    card = path / "dataset.json"
    if card.is_file():
        try:
            name = json.loads(card.read_text(encoding="utf-8")).get("file")
        except (OSError, ValueError, AttributeError) as exc:
            raise DatasetError(card, "dataset.json is not a valid card") from exc
        if isinstance(name, str) and name and Path(name).name == name:
            return path / name
    found = sorted(path.glob("*.npz"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise DatasetError(path, "no data set here (no .npz file); build one with: studio data emoji --out FOLDER")
    raise DatasetError(path, f"several data sets here ({', '.join(p.name for p in found)}); name the .npz file")


def _classes_from_card(npz_path: Path) -> list[str]:
    card = npz_path.parent / "dataset.json"
    try:
        classes = json.loads(card.read_text(encoding="utf-8"))["classes"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(npz_path, "its class names are missing (no classes in the file or dataset.json)") from exc
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise DatasetError(npz_path, "dataset.json's classes must be a list of names")
    return classes
