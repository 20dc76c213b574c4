"""A convolutional VAE (Kingma & Welling 2014) with a beta-weighted KL term (Higgins et al. 2017).

Encoder: (4x4 stride-2 conv, batch norm, leaky ReLU) per halving down to 4x4, then a linear
layer to the mean and log-variance of q(z|x). Decoder: linear to a 4x4 map, then (nearest
upsample, 3x3 conv, batch norm, leaky ReLU) per doubling and a 3x3 conv with tanh. Channels
start at ``base_channels`` after the first halving, double per halving up to 8x, and the
decoder mirrors them with half of ``base_channels`` at full resolution: the full-size layers
are the expensive ones, and decoding has to keep up with a slider on a CPU.

Images are N x C x H x W in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from studio.spec.models import VAEConfig

# (reconstruction, original) -> {"recon": per-image error averaged over the batch, parts...}
ReconstructionError = Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]

BASE_RESOLUTION = 4
MAX_MULTIPLIER = 8
# exp(logvar) overflows float32 near 88; one bad batch early in training must not give inf.
LOGVAR_RANGE = (-30.0, 20.0)


def vae_channels(config: VAEConfig) -> dict[int, int]:
    """Channels at each resolution from image_size/2 down to 4, in the encoder and the decoder alike."""
    channels: dict[int, int] = {}
    size, multiplier = config.image_size // 2, 1
    while size >= BASE_RESOLUTION:
        channels[size] = config.base_channels * multiplier
        size, multiplier = size // 2, min(multiplier * 2, MAX_MULTIPLIER)
    return channels


def kl_elementwise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per image and latent dimension."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)


class VAE(nn.Module):
    # Registered buffers, present when config.prior_components > 0 (see __init__).
    prior_means: torch.Tensor
    prior_axes: torch.Tensor
    prior_stds: torch.Tensor
    prior_weights: torch.Tensor
    prior_classes: torch.Tensor

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        channels = vae_channels(config)
        down: list[nn.Module] = []
        previous = config.channels
        for index, width in enumerate(channels.values()):
            down.append(nn.Conv2d(previous, width, 4, stride=2, padding=1, bias=index == 0))
            # No norm on the first layer (DCGAN): it would normalise away the image's own colour statistics.
            if index:
                down.append(nn.BatchNorm2d(width))
            down.append(nn.LeakyReLU(0.2))
            previous = width
        self.encoder = nn.Sequential(*down, nn.Flatten())
        self.to_posterior = nn.Linear(previous * BASE_RESOLUTION**2, 2 * config.latent_dim)

        widths = [*reversed(channels.values()), max(1, config.base_channels // 2)]
        self.from_latent = nn.Sequential(
            nn.Linear(config.latent_dim, widths[0] * BASE_RESOLUTION**2, bias=False),
            nn.Unflatten(1, (widths[0], BASE_RESOLUTION, BASE_RESOLUTION)),
            nn.BatchNorm2d(widths[0]),
            nn.LeakyReLU(0.2),
        )
        up: list[nn.Module] = []
        for low, high in zip(widths, widths[1:], strict=False):
            up += [
                # Upsample+conv rather than transposed convs: no checkerboard artefacts.
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(low, high, 3, padding=1, bias=False),
                nn.BatchNorm2d(high),
                nn.LeakyReLU(0.2),
            ]
        self.decoder = nn.Sequential(*up, nn.Conv2d(widths[-1], config.channels, 3, padding=1), nn.Tanh())
        k, d = config.prior_components, config.latent_dim
        if k:
            # The fitted prior: component means, principal axes (rows), standard deviations
            # along them, mixture weights and the class each component was fitted on.
            self.register_buffer("prior_means", torch.zeros(k, d))
            self.register_buffer("prior_axes", torch.eye(d).repeat(k, 1, 1))
            self.register_buffer("prior_stds", torch.ones(k, d))
            self.register_buffer("prior_weights", torch.full((k,), 1.0 / k))
            self.register_buffer("prior_classes", torch.zeros(k, dtype=torch.long))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior q(z|x) of each image: (mu, logvar), each N x latent_dim."""
        mu, logvar = self.to_posterior(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def reparameterize(
        self, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """A sample z = mu + sigma * eps, differentiable in mu and logvar; ``generator`` seeds eps."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + eps * (0.5 * logvar).exp()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.from_latent(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction, mu, logvar). Training samples z; eval mode uses z = mu, so that
        reconstructing an image twice gives the same picture."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar

    def loss(self, x: torch.Tensor, reconstruction_error: ReconstructionError | None = None) -> dict[str, torch.Tensor]:
        """The negative ELBO per image, averaged over the batch: ``total = recon + beta * kl``.

        ``recon`` is the squared error summed over an image's pixels and channels (a Gaussian
        likelihood with fixed variance), ``kl`` is summed over the latent dimensions. Summing
        per image, not averaging per pixel, keeps the two terms on the scale the ELBO gives
        them; a per-pixel mean would let the KL term win and the decoder ignore z.

        ``reconstruction_error(recon, x)`` replaces the squared error: it returns ``recon`` (on
        the same per-image scale) and any of its parts worth logging.
        """
        recon, mu, logvar = self(x)
        if reconstruction_error is None:
            terms = {"recon": (recon - x).pow(2).flatten(1).sum(dim=1).mean()}
        else:
            terms = reconstruction_error(recon, x)
        kl = kl_elementwise(mu, logvar).sum(dim=1).mean()
        return {"total": terms["recon"] + self.config.beta * kl, **terms, "kl": kl}

    @staticmethod
    def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """The KL of each latent dimension averaged over the batch (latent_dim,): the dimensions
        the model really uses have large values, the collapsed ones near zero."""
        return kl_elementwise(mu, logvar).mean(dim=0)
