"""An artist's own folder of images as a training set, read through the one safe image loader.

Public API:

- :func:`scan_image_folder` ``(folder) -> FolderScan``: every file under ``folder``
  (recursively, hidden files and folders left out) opened with
  :func:`studio.files.images.load_image`; the readable images, and each skipped file with
  its reason (empty, not an image, truncated, unreadable, not a regular file...);
  :func:`scan_job` is the same as a job generator with progress, for the worker;
- :class:`FolderScan`: ``images``, ``skipped`` (:class:`SkippedFile` ``(path, reason)``),
  ``count``, ``skipped_count``, :meth:`~FolderScan.report` lines and :meth:`~FolderScan.to_card`;
- :func:`folder_dataset_job` ``(folder, *, image_size, resize, heldout, seed, label,
  class_names, minimum) -> (ImageDataset, FolderScan)``: reads every image once, resized
  (:data:`RESIZE_MODES`), into an in-memory :class:`~studio.engine.data.dataset.ImageDataset`
  with a seeded held-out split; :func:`load_folder_dataset` runs it to the end;
- :data:`MIN_IMAGES` (16) and :class:`FolderDataError`, whose message says what is missing.

Files are opened one at a time and closed at once; none stays open, so the artist can keep
working in the folder. Nothing here imports Qt.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from studio.engine.data.dataset import HELDOUT, TRAIN, ImageDataset
from studio.engine.jobs import Progress, run_to_end
from studio.files.images import IMAGE_SUFFIXES, ImageLoadError, load_image
from studio.files.paths import user_path
from studio.spec.finetune import MIN_IMAGES, RESIZE_MODES

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

PAD_COLOUR = (255, 255, 255)
_PROGRESS_EVERY_S = 0.25
_REPORT_LIMIT = 200  # skipped files named in a model card; the count is always exact


class FolderDataError(ValueError):
    """A folder cannot be used as training data; the message is for the user."""


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass(frozen=True)
class FolderScan:
    folder: Path
    images: tuple[Path, ...]  # readable images, in a stable (sorted) order
    skipped: tuple[SkippedFile, ...]

    @property
    def count(self) -> int:
        return len(self.images)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    def enough(self, minimum: int = MIN_IMAGES) -> bool:
        return self.count >= minimum

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.folder).as_posix()
        except ValueError:
            return str(path)

    def summary(self) -> str:
        text = f"{self.count} image{'s' if self.count != 1 else ''}"
        if self.skipped:
            text += f", {self.skipped_count} file{'s' if self.skipped_count != 1 else ''} skipped"
        return text

    def report(self, limit: int | None = 20) -> list[str]:
        """One line per skipped file, ``"name: reason"``, and a last line for any left out."""
        shown = self.skipped if limit is None else self.skipped[:limit]
        lines = [f"{self.relative(s.path)}: {s.reason}" for s in shown]
        if len(self.skipped) > len(shown):
            lines.append(f"... and {len(self.skipped) - len(shown)} more")
        return lines

    def to_card(self) -> dict[str, Any]:
        """What a model card records about the folder: counts and the skipped files."""
        return {
            "folder": str(self.folder),
            "count": self.count,
            "skipped_count": self.skipped_count,
            "skipped": [{"file": self.relative(s.path), "reason": s.reason} for s in self.skipped[:_REPORT_LIMIT]],
        }


# --- walking the folder -----------------------------------------------------------------------


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise FolderDataError(f"The folder {folder} does not exist")
    if not folder.is_dir():
        raise FolderDataError(f"{folder} is a file, not a folder: choose the folder that holds your images")


def _candidates(folder: Path) -> tuple[list[Path], list[SkippedFile]]:
    """Files that may be images (by suffix), and the other files with why they are left out."""
    candidates: list[Path] = []
    skipped: list[SkippedFile] = []
    seen_dirs: set[str] = set()

    def unreadable(error: OSError) -> None:
        name = Path(error.filename) if error.filename else folder
        skipped.append(SkippedFile(name, f"folder cannot be read ({error.strerror or error})"))

    for root, dirs, files in os.walk(folder, onerror=unreadable, followlinks=True):
        real = os.path.realpath(root)
        if real in seen_dirs:  # a link back up the tree: walked once only
            dirs[:] = []
            continue
        seen_dirs.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue  # .DS_Store and friends: not the artist's pictures
            path = Path(root) / name
            reason = _not_a_candidate(path)
            if reason is None:
                candidates.append(path)
            else:
                skipped.append(SkippedFile(path, reason))
    return candidates, skipped


def _not_a_candidate(path: Path) -> str | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return "file not found (a broken link?)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):
        # A pipe or device would block or never end when read.
        return "not a regular file"
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        suffix = path.suffix.lower() or "no extension"
        return f"not an image file ({suffix})"
    if info.st_size == 0:
        return "empty file"
    return None


def _progress(done: int, total: int, what: str) -> Progress:
    return Progress(done / total if total else 1.0, f"{what} {done}/{total}…")


def scan_job(folder: str | os.PathLike[str]) -> Generator[Progress, None, FolderScan]:
    """Open every image under ``folder`` once (fully decoded: truncation shows only then)."""
    root = user_path(folder, FolderDataError)
    _check_folder(root)
    candidates, skipped = _candidates(root)
    good: list[Path] = []
    last = time.monotonic()
    for index, path in enumerate(candidates, 1):
        try:
            load_image(path)
            good.append(path)
        except ImageLoadError as exc:
            skipped.append(SkippedFile(path, exc.reason))
        if time.monotonic() - last >= _PROGRESS_EVERY_S:
            last = time.monotonic()
            yield _progress(index, len(candidates), "Checking images")
    return FolderScan(root, tuple(good), tuple(sorted(skipped, key=lambda s: str(s.path))))


def scan_image_folder(folder: str | os.PathLike[str]) -> FolderScan:
    """:func:`scan_job` run to its end on the calling thread."""
    return run_to_end(scan_job(folder))


def check_enough(scan: FolderScan, minimum: int = MIN_IMAGES) -> None:
    """Raise :class:`FolderDataError` saying what is missing when the folder has too few images."""
    if scan.count >= minimum:
        return
    kinds = "PNG, JPEG, WebP, BMP, TIFF or GIF"
    skipped = ""
    if scan.skipped:
        first = "; ".join(scan.report(limit=3))
        skipped = f" {scan.skipped_count} file{'s were' if scan.skipped_count != 1 else ' was'} skipped ({first})."
    if scan.count == 0:
        raise FolderDataError(
            f"No usable images in {scan.folder} (looked for {kinds} files, in subfolders too).{skipped} "
            f"Fine-tuning needs at least {minimum}."
        )
    raise FolderDataError(
        f"Only {scan.count} usable image{'s' if scan.count != 1 else ''} in {scan.folder}; fine-tuning needs at "
        f"least {minimum}.{skipped} Add more images to the folder (more is better: 100 or more works well)."
    )


# --- reading the images --------------------------------------------------------------------------


def fit_image(image: Image.Image, size: int, resize: str) -> np.ndarray:
    """An RGB picture as a ``size`` x ``size`` x 3 uint8 array, by ``resize`` (see :data:`RESIZE_MODES`)."""
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
    width, height = image.size
    if resize == "pad":
        scale = size / max(width, height)
        new = (max(1, round(width * scale)), max(1, round(height * scale)))
        canvas = Image.new("RGB", (size, size), PAD_COLOUR)
        canvas.paste(image.resize(new, Image.Resampling.LANCZOS), ((size - new[0]) // 2, (size - new[1]) // 2))
        return np.asarray(canvas, dtype=np.uint8)
    # centre-crop (random-crop trains on random parts of this centre square)
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def split_heldout(count: int, fraction: float, seed: int) -> torch.Tensor:
    """A uint8 split (0 train, 1 held out): a seeded ``fraction`` of the images, at least 2 if any."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the held-out fraction must be in [0, 1), got {fraction!r}")
    split = torch.full((count,), TRAIN, dtype=torch.uint8)
    if fraction == 0.0 or count < 3:
        return split
    wanted = min(count - 1, max(2, round(count * fraction)))
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    split[order[:wanted]] = HELDOUT
    return split


def folder_dataset_job(
    folder: str | os.PathLike[str],
    *,
    image_size: int,
    resize: str = "center-crop",
    heldout: float = 0.1,
    seed: int = 0,
    label: int = 0,
    class_names: Sequence[str] = ("images",),
    minimum: int = MIN_IMAGES,
) -> Generator[Progress, None, tuple[ImageDataset, FolderScan]]:
    """Read the folder's images once into a training set; the scan reports what was skipped.

    Every image gets class ``label`` (a folder has no labels; a conditional model trains one
    of its classes). Raises :class:`FolderDataError` when fewer than ``minimum`` images are usable.
    """
    if resize not in RESIZE_MODES:
        raise FolderDataError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
    if not 0 <= label < len(class_names):
        raise FolderDataError(f"label {label} is not one of the {len(class_names)} classes")
    root = user_path(folder, FolderDataError)
    _check_folder(root)
    candidates, skipped = _candidates(root)
    good: list[Path] = []
    arrays: list[np.ndarray] = []
    last = time.monotonic()
    for index, path in enumerate(candidates, 1):
        try:
            loaded = load_image(path)
        except ImageLoadError as exc:
            skipped.append(SkippedFile(path, exc.reason))
        else:
            arrays.append(fit_image(loaded.image, image_size, resize))
            good.append(path)
            del loaded
        if time.monotonic() - last >= _PROGRESS_EVERY_S:
            last = time.monotonic()
            yield _progress(index, len(candidates), "Reading images")
    scan = FolderScan(root, tuple(good), tuple(sorted(skipped, key=lambda s: str(s.path))))
    check_enough(scan, minimum)
    images = torch.from_numpy(np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2)))
    dataset = ImageDataset(
        images=images,
        labels=torch.full((scan.count,), label, dtype=torch.long),
        class_names=list(class_names),
        names=[scan.relative(p) for p in good],
        split=split_heldout(scan.count, heldout, seed),
    )
    return dataset, scan


def load_folder_dataset(folder: str | os.PathLike[str], **options: Any) -> tuple[ImageDataset, FolderScan]:
    """:func:`folder_dataset_job` run to its end on the calling thread."""
    return run_to_end(folder_dataset_job(folder, **options))
