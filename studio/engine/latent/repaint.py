"""Masked repainting: new latent points whose picture keeps the unmasked part and redraws the rest.

The artist marks a region (a mask, 1 = repaint). :func:`repaint_job` searches the latent space
(the explorer's vector: w's offset for a GAN v2, z for a GAN v1 and a VAE) from several starts at
once for pictures whose *unmasked* part stays close to the current picture: pixel L1 + L2 plus a
VGG19 feature distance (the style transfer's network), each weighted by the feathered inverse
mask, so the mask's edge blends. The masked part is free, so each start ends somewhere else there.

A candidate is a latent state: the model draws the whole picture, nothing is pasted. Each one
reports how much its unmasked part changed (mean absolute difference past the feathered edge).

Starts: a GAN moves the current point part of the way toward a random seed's point; a VAE
encodes the current picture with the masked region filled by another seed's picture (the
encoder-guided start), so the encoder already proposes something that fits around it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from studio.engine.jobs import JobCancelled, Progress

if TYPE_CHECKING:
    from collections.abc import Generator

    import torch

    from studio.engine.latent.model import LatentModel
    from studio.engine.latent.state import LatentState

DEFAULT_CANDIDATES = 4
DEFAULT_STEPS = 40
DEFAULT_LR = 0.1
FEATHER = 0.06  # the feathering blur's radius as a part of the picture's side (4 px at 64 px)
_VGG_LAYERS = ("relu1_2", "relu2_1")  # cheap at 64 px; deeper layers see past the mask's edge
_VGG_WEIGHT = 0.02
_GAN_START_MIX = 0.5  # how far a GAN start moves from the current point toward a random seed's
_NORM_WEIGHT = 0.01  # keeps N(0, I) latents on their typical shell, as projection does
_PREVIEW_EVERY = 10
_START_STREAM = 0x5EED  # the random starts' stream, apart from the seeds'


class RepaintError(ValueError):
    """A mask or request repainting cannot use; the message says why in plain words."""


@dataclass(frozen=True)
class RepaintCandidate:
    state: LatentState
    unmasked_change: float  # mean |difference| (0..1 scale) of the unmasked part past the feathered edge
    masked_change: float  # the same inside the mask: how much was repainted


@dataclass(frozen=True)
class RepaintResult:
    candidates: list[RepaintCandidate]
    steps_done: int
    cancelled: bool = False


def mask_array(mask: Image.Image | np.ndarray, size: int) -> np.ndarray:
    """A mask (any image mode or an H x W array in [0, 1]; 1 / white = repaint) as size x size float32.

    A picture of another size is resized (bilinear); colour is read as its brightness; an alpha
    channel counts as transparent = keep.
    """
    if isinstance(mask, Image.Image):
        image = mask
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            grey = np.asarray(rgba.convert("L"), dtype=np.float32) * (np.asarray(rgba.getchannel("A")) / 255.0)
            image = Image.fromarray(grey.astype(np.uint8), "L")
        else:
            image = image.convert("L")
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.float32) / 255.0
    else:
        array = np.asarray(mask, dtype=np.float32)
        if array.ndim != 2:
            raise RepaintError(f"a mask is one channel, height x width; got shape {array.shape}")
        if not np.isfinite(array).all():
            raise RepaintError("the mask holds values that are not numbers")
        if array.shape != (size, size):
            image = Image.fromarray(np.clip(array, 0.0, 1.0) * 255.0).convert("L")
            array = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    array = np.clip(array, 0.0, 1.0)
    array[array < 1.0 / 255.0] = 0.0  # resampling crumbs are not strokes
    return np.ascontiguousarray(array)


def check_mask(mask: np.ndarray) -> None:
    """Refuse a mask with nothing to repaint, or nothing to keep."""
    if not (mask >= 0.5).any():
        if mask.max() <= 0.0:
            raise RepaintError("the mask is empty (all black): nothing to repaint; paint the region to redraw white")
        raise RepaintError(
            f"the mask is too faint to repaint anything (its brightest pixel is {mask.max():.0%}); "
            "paint the region to redraw white"
        )
    if (mask >= 0.5).all():
        raise RepaintError(
            "the mask covers the whole picture: nothing is left to keep, so this is a new random picture, "
            "not a repaint; leave part of the picture black"
        )


def feathered_keep(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(weight, core): the feathered keep weight (1 far from the mask, 0 inside it) and the unmasked
    pixels past the feathered edge (where the change is measured)."""
    import torch
    import torch.nn.functional as F

    size = mask.shape[-1]
    radius = max(1, round(FEATHER * size))
    hard = torch.from_numpy((mask >= 0.5).astype(np.float32))[None, None]
    # Grow the mask by the radius, then blur by it: the keep weight reaches 0 at the mask's edge.
    grown = F.max_pool2d(hard, 2 * radius + 1, stride=1, padding=radius)
    kernel = torch.ones(1, 1, 2 * radius + 1, 2 * radius + 1) / (2 * radius + 1) ** 2
    soft = F.conv2d(
        F.pad(torch.maximum(grown, torch.from_numpy(mask)[None, None]), [radius] * 4, mode="replicate"), kernel
    )
    weight = (1.0 - soft).clamp(0.0, 1.0)[0, 0].numpy()
    core = F.max_pool2d(grown, 2 * radius + 1, stride=1, padding=radius)[0, 0].numpy() < 0.5
    if not core.any():  # a mask that leaves only a thin rim: measure wherever something is kept
        core = weight > 0.5 if (weight > 0.5).any() else mask < 0.5
    return weight.astype(np.float32), core


def repaint_job(
    model: LatentModel,
    state: LatentState,
    mask: Image.Image | np.ndarray,
    candidates: int = DEFAULT_CANDIDATES,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    seed: int = 0,
) -> Generator[Progress, None, RepaintResult]:
    """A job searching for ``candidates`` latent states that keep the unmasked part of ``state``'s
    picture and redraw the masked part; returns them, best kept part first.

    Cancelling returns the candidates as they stand (their best step so far).
    """
    import torch

    if state.model_sha256 != model.sha256:
        raise RepaintError(f"this picture was made by another model than {model.name}")
    if candidates < 1:
        raise RepaintError("repainting needs at least one candidate")
    if steps < 1:
        raise RepaintError("repainting needs at least one step")
    size = model.image_size
    mask_values = mask_array(mask, size)
    check_mask(mask_values)
    keep, core = feathered_keep(mask_values)
    device = model.device
    index = model._class(state.class_index)
    labels = None if index is None else torch.full((candidates,), index, dtype=torch.long, device=device)
    current = state.z_array()
    with torch.inference_mode():
        target = model.generate_tensor(current[None], None if index is None else [index], state.psi).to(device)
    starts = _starts(model, state, mask_values, candidates, seed, target)
    vgg = _vgg(device)
    weight = torch.from_numpy(keep).to(device)[None, None]
    with torch.inference_mode():
        target_features = _features(vgg, target)
    feature_weights = {name: _resized_weight(weight, f.shape[-1]) for name, f in target_features.items()}
    target_features = {name: f.clone() for name, f in target_features.items()}
    target = target.clone()

    z = torch.from_numpy(starts).to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=lr)
    best_z = z.detach().clone()
    best_loss = torch.full((candidates,), math.inf, device=device)
    steps_done, cancelled = 0, False
    try:
        for step in range(steps):
            with torch.enable_grad():
                optimiser.zero_grad(set_to_none=True)
                images = model._generate(z, labels, state.psi)
                losses = _loss(images, target, weight, vgg, target_features, feature_weights)
                if not model.style_based:
                    losses = losses + _NORM_WEIGHT * (z.pow(2).mean(dim=1) - 1.0).pow(2)
                losses.sum().backward()
            with torch.no_grad():
                better = losses.detach() < best_loss
                best_loss = torch.where(better, losses.detach(), best_loss)
                best_z[better] = z.detach()[better]
            optimiser.step()
            steps_done = step + 1
            preview = None
            if step % _PREVIEW_EVERY == 0 or step == steps - 1:
                preview = model.render(best_z[0].cpu().numpy(), index, state.psi)
            yield Progress(
                steps_done / steps,
                f"Repainting: step {steps_done} of {steps}, {candidates} candidates, "
                f"kept-part error {float(best_loss.min()):.4f}",
                preview,
            )
    except JobCancelled:
        cancelled = True
    return _result(model, state, best_z.cpu().numpy(), mask_values, core, steps_done, cancelled)


def _result(
    model: LatentModel,
    state: LatentState,
    zs: np.ndarray,
    mask: np.ndarray,
    core: np.ndarray,
    steps_done: int,
    cancelled: bool,
) -> RepaintResult:
    classes = None if state.class_index is None else [state.class_index]
    before = _unit(model.generate_tensor(state.z_array()[None], classes, state.psi))[0]
    after = _unit(model.generate_tensor(zs, None if classes is None else classes * len(zs), state.psi))
    inside = mask >= 0.5
    found = []
    for z, picture in zip(zs, after, strict=True):
        difference = np.abs(picture - before).mean(axis=0)
        found.append(
            RepaintCandidate(
                dataclasses.replace(state, z=tuple(float(v) for v in z.astype(np.float64)), seed=None),
                float(difference[core].mean()),
                float(difference[inside].mean()),
            )
        )
    found.sort(key=lambda c: c.unmasked_change)
    return RepaintResult(found, steps_done, cancelled)


def _unit(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] images as 0..1 numpy, quantised as the saved PNG is (so the figure is what the user sees)."""
    pixels = images.float().add(1.0).mul(127.5).clamp(0.0, 255.0).add(0.5).floor() / 255.0
    if pixels.shape[1] == 1:
        pixels = pixels.expand(-1, 3, -1, -1)
    return pixels.cpu().numpy()


def _starts(
    model: LatentModel, state: LatentState, mask: np.ndarray, count: int, seed: int, target: torch.Tensor
) -> np.ndarray:
    """One start per candidate: see the module's docstring."""
    import torch

    current = state.z_array()
    index = model._class(state.class_index)
    # Drawn from their own stream: a start is never the seed the current picture came from.
    rng = np.random.default_rng((int(seed), _START_STREAM))
    randoms = model.sample_latents(rng, count, None if index is None else [index] * count).astype(np.float32)
    if model.kind != "vae":
        return (current + _GAN_START_MIX * (randoms - current)).astype(np.float32)
    with torch.inference_mode():
        others = model.generate_tensor(randoms, None if index is None else [index] * count, state.psi).to(model.device)
        region = torch.from_numpy(mask).to(model.device)[None, None]
        filled = target * (1.0 - region) + others * region
        encoded = model._vae.encode(filled)[0].float().cpu().numpy()
    return np.ascontiguousarray(encoded, dtype=np.float32)


def _resized_weight(weight: torch.Tensor, side: int) -> torch.Tensor:
    import torch.nn.functional as F

    return weight if weight.shape[-1] == side else F.adaptive_avg_pool2d(weight, side)


def _vgg(device: str):
    from studio.engine.style.vgg import load_vgg19

    return load_vgg19(_VGG_LAYERS, "avg", device)


def _features(vgg, images: torch.Tensor) -> dict[str, torch.Tensor]:
    from studio.engine.style.vgg import preprocess

    rgb = images if images.shape[1] == 3 else images.expand(-1, 3, -1, -1)
    return vgg(preprocess(rgb.add(1.0).mul(0.5)))


def _loss(images, target, weight, vgg, target_features, feature_weights) -> torch.Tensor:
    """Per candidate: weighted pixel L1 + L2 and VGG feature L2 over the kept part."""
    total_weight = weight.sum()
    difference = images - target
    loss = (weight * (difference.abs() + difference.pow(2))).sum(dim=(1, 2, 3)) / (total_weight * images.shape[1])
    features = _features(vgg, images)
    for name, value in features.items():
        w = feature_weights[name]
        squared = (value - target_features[name]).pow(2).mean(dim=1, keepdim=True)
        scale = target_features[name].pow(2).mean().clamp_min(1e-6)
        loss = loss + _VGG_WEIGHT * (w * squared).sum(dim=(1, 2, 3)) / (w.sum() * scale) * 100.0
    return loss


def contact_sheet(
    model: LatentModel, state: LatentState, mask: Image.Image | np.ndarray, result: RepaintResult
) -> Image.Image:
    """One row: the current picture, it with the mask shown in red, then each candidate (a 2 px gap)."""
    size, gap = model.image_size, 2
    current = model.render(state).convert("RGB")
    region = mask_array(mask, size)
    red = Image.new("RGB", (size, size), (255, 0, 0))
    shown = Image.composite(red, current, Image.fromarray((region * 140).astype(np.uint8), "L"))
    tiles = [current, shown, *(model.render(c.state).convert("RGB") for c in result.candidates)]
    sheet = Image.new("RGB", (len(tiles) * (size + gap) - gap, size), (255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (i * (size + gap), 0))
    return sheet
