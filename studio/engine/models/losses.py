"""GAN losses, chosen by name: each returns a scalar to minimise, averaged over the batch.

- ``nonsaturating``: the original GAN (Goodfellow et al. 2014) with the generator maximising
  log D(G(z)) instead of minimising log(1 - D(G(z))), which saturates early in training.
- ``lsgan``: least squares (Mao et al. 2017), targets 1 for real and 0 for fake.
- ``wgan-gp``: Wasserstein critic (Gulrajani et al. 2017); add :func:`gradient_penalty` to the
  discriminator loss, it is not part of :func:`discriminator_loss`.
- ``hinge``: as in SAGAN and BigGAN.

Logits are the discriminator's raw outputs, shape (N,).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.spec.models import LOSSES

GRADIENT_PENALTY_WEIGHT = 10.0  # lambda in Gulrajani et al.


def _check_kind(kind: str) -> None:
    if kind not in LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}; valid: {', '.join(LOSSES)}")


def discriminator_loss(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss: low when it scores real images high and generated ones low."""
    _check_kind(kind)
    if kind == "nonsaturating":
        # softplus(-x) = -log sigmoid(x), computed without overflow for large logits.
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "lsgan":
        return 0.5 * ((real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean())
    if kind == "wgan-gp":
        return fake_logits.mean() - real_logits.mean()
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def generator_loss(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's loss: low when the discriminator scores its images as real."""
    _check_kind(kind)
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()
    if kind == "lsgan":
        return 0.5 * (fake_logits - 1).pow(2).mean()
    return -fake_logits.mean()


def gradient_penalty(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    labels: torch.Tensor | None = None,
    weight: float = GRADIENT_PENALTY_WEIGHT,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP's penalty, weight included: ``weight * E[(||grad D(x_hat)|| - 1)^2]``.

    ``x_hat`` lies at a random point on the line between each real image and a generated one.
    Add the result to the discriminator loss. ``generator`` seeds that random point.
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype, generator=generator)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    logits = discriminator(mixed, labels)
    # create_graph: the penalty itself is differentiated when the discriminator steps.
    (grad,) = torch.autograd.grad(logits.sum(), mixed, create_graph=True)
    return weight * (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def lecam_regulariser(real_logits: torch.Tensor, fake_logits: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """LeCam regularisation (Tseng et al. 2021): keeps D's outputs near the other side's moving average.

    ``anchors`` holds the moving averages of D's mean output on real and on generated images.
    Penalising real logits above the generated anchor and generated logits below the real one
    stops the discriminator from pushing the two apart without bound, which is how it
    overfits a small data set.
    """
    real_anchor, fake_anchor = anchors[0].detach(), anchors[1].detach()
    return F.relu(real_logits - fake_anchor).pow(2).mean() + F.relu(real_anchor - fake_logits).pow(2).mean()
