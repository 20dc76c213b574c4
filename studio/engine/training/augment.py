"""Augmentations for training on small folders: real-image augmentations and DiffAugment.

Public API:

- :func:`augment_real` ``(images, *, flip, jitter, random_crop) -> images``: what the data
  loader would do to each real image (horizontal flip, mild colour jitter, a random 80-100 %
  crop scaled back). The generator learns these variations too, so they are kept mild;
- :func:`diff_augment` ``(images, policies) -> images``: DiffAugment (Zhao et al. 2020), the
  same random, differentiable transforms applied to *every* image the discriminator sees, real
  and generated alike, so it cannot memorise a few dozen images and the generator is not taught
  the transforms. Policies: ``"color"`` (brightness, saturation, contrast), ``"translation"``
  (shift by up to an eighth of the size, edges repeated) and ``"cutout"`` (a square of half the
  size set to mid grey);
- :func:`real_augmenter` / :func:`diffaugmenter` ``(config) -> callable or None``: the ones a
  :class:`~studio.engine.training.config.TrainConfig` asks for.

Images are N x 3 x H x W in [-1, 1], on any device, in any float dtype. The random numbers
come from torch's global generator on the images' device, which the trainer swaps for its own
(checkpointed) state while a step runs, so a resumed run augments exactly as the uninterrupted
one. Everything is batched: a few elementwise operations and one gather, no Python loop per image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from studio.engine.training.config import DIFFAUGMENT_POLICIES, TrainConfig

Augment = Callable[[torch.Tensor], torch.Tensor]

TRANSLATION = 0.125  # largest shift, as a fraction of the size
CUTOUT = 0.5  # side of the cut-out square, as a fraction of the size
CROP_MIN = 0.8  # smallest random crop, as a fraction of the side


def _uniform(count: int, low: float, high: float, like: torch.Tensor) -> torch.Tensor:
    """``count`` numbers in [low, high), shaped to broadcast over N x C x H x W."""
    values = torch.rand(count, 1, 1, 1, device=like.device, dtype=torch.float32)
    return (low + (high - low) * values).to(like.dtype)


# --- DiffAugment ------------------------------------------------------------------------------


def _color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + _uniform(n, -0.5, 0.5, x)  # brightness: +-a quarter of the range
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * _uniform(n, 0.0, 2.0, x) + grey  # saturation: from grey to twice as vivid
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(n, 0.5, 1.5, x) + mean  # contrast


def _shift_indices(size: int, shifts: torch.Tensor) -> torch.Tensor:
    """N x size source indices for shifting each row by ``shifts`` pixels, edges repeated."""
    positions = torch.arange(size, device=shifts.device)
    return (positions[None, :] - shifts[:, None]).clamp_(0, size - 1)


def _translation(x: torch.Tensor, fraction: float = TRANSLATION) -> torch.Tensor:
    n, _, h, w = x.shape
    max_y, max_x = int(h * fraction + 0.5), int(w * fraction + 0.5)
    sy = torch.randint(-max_y, max_y + 1, (n,), device=x.device)
    sx = torch.randint(-max_x, max_x + 1, (n,), device=x.device)
    rows, cols = _shift_indices(h, sy), _shift_indices(w, sx)
    batch = torch.arange(n, device=x.device)
    # Advanced indices around a slice: the result is N x H x W x C. Differentiable in x.
    shifted = x[batch[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return shifted.permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, fraction: float = CUTOUT) -> torch.Tensor:
    n, _, h, w = x.shape
    half_h, half_w = h * fraction / 2, w * fraction / 2
    cy = torch.rand(n, 1, device=x.device) * h
    cx = torch.rand(n, 1, device=x.device) * w
    ys = torch.arange(h, device=x.device, dtype=torch.float32)[None, :] + 0.5
    xs = torch.arange(w, device=x.device, dtype=torch.float32)[None, :] + 0.5
    inside = ((ys - cy).abs() < half_h)[:, :, None] & ((xs - cx).abs() < half_w)[:, None, :]
    return x * (~inside).unsqueeze(1).to(x.dtype)  # 0 is mid grey in [-1, 1]


_POLICIES: dict[str, Augment] = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(images: torch.Tensor, policies: Sequence[str]) -> torch.Tensor:
    """Apply the DiffAugment ``policies`` (in the canonical order) to a batch, differentiably."""
    unknown = [p for p in policies if p not in _POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown[0]!r}; valid: {', '.join(DIFFAUGMENT_POLICIES)}")
    out = images
    for name in DIFFAUGMENT_POLICIES:  # a fixed order, whatever order the caller lists them in
        if name in policies:
            out = _POLICIES[name](out)
    return out.contiguous(memory_format=_memory_format(images))


# --- real images -------------------------------------------------------------------------------


def _flip(x: torch.Tensor) -> torch.Tensor:
    flipped = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(flipped, x.flip(3), x)


def _jitter(x: torch.Tensor, strength: float) -> torch.Tensor:
    n = x.shape[0]
    x = x + _uniform(n, -strength, strength, x)  # brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * _uniform(n, 1.0 - strength, 1.0 + strength, x) + mean  # contrast
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * _uniform(n, 1.0 - strength, 1.0 + strength, x) + grey  # saturation
    return x.clamp(-1.0, 1.0)


def _random_crop(x: torch.Tensor, smallest: float = CROP_MIN) -> torch.Tensor:
    n = x.shape[0]
    scale = smallest + (1.0 - smallest) * torch.rand(n, device=x.device)
    # The crop's centre may move as far as keeps the crop inside the image ([-1, 1] coordinates).
    room = 1.0 - scale
    tx = (torch.rand(n, device=x.device) * 2 - 1) * room
    ty = (torch.rand(n, device=x.device) * 2 - 1) * room
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = scale, scale, tx, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.to(x.dtype)


def augment_real(
    images: torch.Tensor, *, flip: bool = False, jitter: float = 0.0, random_crop: bool = False
) -> torch.Tensor:
    """The real-image augmentations a config asks for; ``images`` itself is not changed."""
    out = images
    if random_crop:
        out = _random_crop(out)
    if flip:
        out = _flip(out)
    if jitter > 0:
        out = _jitter(out, jitter)
    return out.contiguous(memory_format=_memory_format(images))


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


def real_augmenter(config: TrainConfig) -> Augment | None:
    """The real-image augmentation ``config`` asks for, or None (then nothing draws random numbers)."""
    if not (config.flip or config.jitter > 0 or config.random_crop):
        return None
    flip, jitter, crop = config.flip, float(config.jitter), config.random_crop
    return lambda images: augment_real(images, flip=flip, jitter=jitter, random_crop=crop)


def diffaugmenter(config: TrainConfig) -> Augment | None:
    """DiffAugment with ``config.diffaugment``'s policies, or None when it lists none."""
    if not config.diffaugment:
        return None
    policies = tuple(config.diffaugment)
    return lambda images: diff_augment(images, policies)
