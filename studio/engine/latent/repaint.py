"""Masked repainting: new latent points whose picture keeps the unmasked part and redraws the rest.

The artist marks a region (a mask, 1 = repaint). :func:`repaint_job` searches from several starts
at once for pictures whose *unmasked* part stays close to the current picture: pixel L1 + L2 plus
a VGG19 feature distance (the style transfer's network), each weighted by the feathered inverse
mask, so the mask's edge blends. A hinge asks each candidate's masked part to differ from the
current picture by at least ``_REPAINT_GOAL`` (so the search cannot settle on the original), and
another from the nearest other candidate by ``_APART_GOAL``; each start is another random seed's,
so the candidates differ from each other there.

What is searched:

* GAN v2 ("style"): one w offset per synthesis layer (w+, ``LatentState.layers``), z stays. One
  w for the whole picture cannot change the mouth without the eyes (measured: the best-kept
  candidates changed the mask by 2-3/255); per-layer w can (Abdal et al. 2020, Image2StyleGAN++:
  local embedding in W+ with a masked loss). The 4 px layers stay tied (they set the layout, and
  freeing them moves the whole face); every later layer is free, the 8-32 px ones (features)
  starting at a random seed's w, the larger ones (colour, texture) at the picture's own, which
  smudges the kept part less.
* GAN v1 and VAE (one vector for the picture): z. A GAN starts part of the way toward a random
  seed's point; a VAE encodes the current picture with the masked region filled by another seed's
  picture (the encoder-guided start), so the encoder already proposes something that fits around it.

A candidate is a latent state: the model draws the whole picture, nothing is pasted. Each one
reports how much its unmasked part changed (mean absolute difference past the feathered edge)
and how much its masked part did.
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
    from collections.abc import Callable, Generator

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
# The masked part's mean change (0..1 of the colour range) a candidate is asked for: about 25/255.
_REPAINT_GOAL = 0.1
_REPAINT_WEIGHT = 1.0
_APART_GOAL = 0.08  # and each candidate's from the nearest other candidate's, about 20/255
_APART_WEIGHT = 1.0
_TIED_UP_TO = 4  # px: per-layer search leaves the layers up to this size at the picture's w
_START_UP_TO = 32  # px: the free layers up to this size start at another seed's w, larger ones at the picture's


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
    try:
        model.check_layers(state)
    except ValueError as exc:
        raise RepaintError(str(exc)) from exc
    size = model.image_size
    mask_values = mask_array(mask, size)
    check_mask(mask_values)
    keep, core = feathered_keep(mask_values)
    device = model.device
    target = _draw_state(model, state).to(device)
    search = _search(model, state, mask_values, candidates, seed, target)
    vgg = _vgg(device)
    weight = torch.from_numpy(keep).to(device)[None, None]
    inside = torch.from_numpy((mask_values >= 0.5).astype(np.float32)).to(device)[None, None]
    with torch.inference_mode():
        target_features = _features(vgg, target)
    feature_weights = {name: _resized_weight(weight, f.shape[-1]) for name, f in target_features.items()}
    target_features = {name: f.clone() for name, f in target_features.items()}
    target = target.clone()

    x = search.start.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    best_x = x.detach().clone()
    best_loss = torch.full((candidates,), math.inf, device=device)
    steps_done, cancelled = 0, False
    try:
        for step in range(steps):
            with torch.enable_grad():
                optimiser.zero_grad(set_to_none=True)
                images = search.draw(x)
                losses = _loss(images, target, weight, vgg, target_features, feature_weights)
                losses = losses + _REPAINT_WEIGHT * _repaint_shortfall(images, target, inside)
                if candidates > 1:
                    losses = losses + _APART_WEIGHT * _apart_shortfall(images, inside)
                if search.space == "z" and not model.style_based:
                    losses = losses + _NORM_WEIGHT * (x.pow(2).mean(dim=1) - 1.0).pow(2)
                losses.sum().backward()
            with torch.no_grad():
                better = losses.detach() < best_loss
                best_loss = torch.where(better, losses.detach(), best_loss)
                best_x[better] = x.detach()[better]
            optimiser.step()
            steps_done = step + 1
            preview = None
            if step % _PREVIEW_EVERY == 0 or step == steps - 1:
                preview = model.render(search.state(best_x[0]))
            yield Progress(
                steps_done / steps,
                f"Repainting: step {steps_done} of {steps}, {candidates} candidates, "
                f"kept-part error {float(best_loss.min()):.4f}",
                preview,
            )
    except JobCancelled:
        cancelled = True
    states = [search.state(row) for row in best_x]
    return _result(model, state, states, mask_values, core, steps_done, cancelled)


@dataclass
class _Search:
    """What one repaint searches: ``start`` (candidates x ...), drawn by ``draw``, a state by ``state``."""

    space: str  # "layers" (GAN v2: per-layer w offsets) or "z"
    start: torch.Tensor
    draw: Callable[[torch.Tensor], torch.Tensor]
    state: Callable[[torch.Tensor], LatentState]


def _draw_state(model: LatentModel, state: LatentState) -> torch.Tensor:
    """The picture of ``state`` (1 x C x H x W in [-1, 1]) as the model draws it."""
    import torch

    with torch.inference_mode():
        if model.style_based:
            return model._style_generator.synthesis(model.state_ws(state))
        index = model._class(state.class_index)
        labels = None if index is None else torch.full((1,), index, dtype=torch.long, device=model.device)
        return model._generate(torch.from_numpy(state.z_array()[None]).to(model.device), labels, state.psi)


def _search(
    model: LatentModel,
    state: LatentState,
    mask: np.ndarray,
    count: int,
    seed: int,
    target: torch.Tensor | None = None,
) -> _Search:
    """The space, starts and drawing of one repaint: see the module's docstring."""
    import torch

    index = model._class(state.class_index)
    device = model.device
    # Drawn from their own stream: a start is never the seed the current picture came from.
    rng = np.random.default_rng((int(seed), _START_STREAM))
    randoms = model.sample_latents(rng, count, None if index is None else [index] * count).astype(np.float32)
    if model.style_based:
        with torch.inference_mode():
            base = model.state_ws(state).clone()  # 1 x layers x w_dim, the state's own offsets included
            # Each start takes a random seed's w (same class and psi) in the 8-32 px layers.
            others = model._w(torch.from_numpy(randoms).to(device), index, state.psi)
        sizes = torch.tensor(model._style_generator.layer_sizes(), device=device)[None, :, None]
        free = (sizes > _TIED_UP_TO).to(base.dtype)
        jump = free * (sizes <= _START_UP_TO).to(base.dtype)
        start = (others[:, None, :] - base) * jump
        own = state.layers_array()
        own_layers = None if own is None else torch.from_numpy(own).to(device)
        synthesis = model._style_generator.synthesis

        def draw_layers(x: torch.Tensor) -> torch.Tensor:
            return synthesis(base + x * free)

        def layers_state(x: torch.Tensor) -> LatentState:
            offsets = (x * free)[0] if x.ndim == 3 else x * free[0]
            total = offsets if own_layers is None else offsets + own_layers
            rows = tuple(
                tuple(float(v) for v in row) for row in total.detach().float().cpu().numpy().astype(np.float64)
            )
            return dataclasses.replace(state, layers=rows, seed=None)

        return _Search("layers", start.contiguous(), draw_layers, layers_state)

    labels = None if index is None else torch.full((count,), index, dtype=torch.long, device=device)
    current = state.z_array()
    if model.kind != "vae" or target is None:
        starts = (current + _GAN_START_MIX * (randoms - current)).astype(np.float32)
    else:
        with torch.inference_mode():
            others = model.generate_tensor(randoms, None if index is None else [index] * count, state.psi).to(device)
            region = torch.from_numpy(mask).to(device)[None, None]
            filled = target * (1.0 - region) + others * region
            starts = model._vae.encode(filled)[0].float().cpu().numpy()

    def draw_z(x: torch.Tensor) -> torch.Tensor:
        return model._generate(x, labels, state.psi)

    def z_state(x: torch.Tensor) -> LatentState:
        values = x.detach().float().cpu().numpy().astype(np.float64).reshape(-1)
        return dataclasses.replace(state, z=tuple(float(v) for v in values), seed=None)

    return _Search("z", torch.from_numpy(np.ascontiguousarray(starts, dtype=np.float32)).to(device), draw_z, z_state)


def _repaint_shortfall(images: torch.Tensor, target: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """Per candidate: how far the masked part's mean change (0..1) falls short of ``_REPAINT_GOAL``."""
    change = ((images - target).abs() * inside).sum(dim=(1, 2, 3)) / (inside.sum() * images.shape[1] * 2.0)
    return (_REPAINT_GOAL - change).clamp_min(0.0)


def _apart_shortfall(images: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """Per candidate: how far its masked part's mean difference (0..1) from the nearest other
    candidate (held still) falls short of ``_APART_GOAL``, so the candidates repaint differently."""
    import torch

    flat = (images * inside).flatten(1)
    held = flat.detach()
    apart = (flat[:, None, :] - held[None, :, :]).abs().sum(dim=2) / (inside.sum() * images.shape[1] * 2.0)
    apart = apart + torch.eye(len(images), device=images.device) * 1e3  # not from itself
    return (_APART_GOAL - apart.min(dim=1).values).clamp_min(0.0)


def _result(
    model: LatentModel,
    state: LatentState,
    states: list[LatentState],
    mask: np.ndarray,
    core: np.ndarray,
    steps_done: int,
    cancelled: bool,
) -> RepaintResult:
    before = _pixels(model.render(state))
    inside = mask >= 0.5
    found = []
    for candidate in states:
        difference = np.abs(_pixels(model.render(candidate)) - before).mean(axis=2)
        found.append(RepaintCandidate(candidate, float(difference[core].mean()), float(difference[inside].mean())))
    found.sort(key=lambda c: c.unmasked_change)
    return RepaintResult(found, steps_done, cancelled)


def _pixels(picture: Image.Image) -> np.ndarray:
    """A rendered picture as H x W x 3 in 0..1: what the saved PNG holds."""
    return np.asarray(picture.convert("RGB"), dtype=np.float32) / 255.0


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
