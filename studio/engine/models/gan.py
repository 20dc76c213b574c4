"""A DCGAN-style GAN with spectral norm, optional SAGAN attention and optional classes.

Generator: z -> linear -> 4x4 map -> (nearest upsample, 3x3 conv, batch norm, ReLU) per
doubling -> 3x3 conv -> tanh. Upsample+conv instead of transposed convolutions avoids the
checkerboard artefacts of overlapping strides (Odena et al. 2016). Channels start at
``g_channels`` at 4x4 and halve at every doubling (never below 16): the last layers run on
the most pixels, and keeping them thin is what lets one image decode in a few milliseconds on
a laptop CPU while a slider moves, and lets the bundled model train on a CPU in about an hour.

Discriminator: (4x4 stride-2 conv, leaky ReLU) per halving from ``d_channels`` at the input
resolution, doubling up to 8x, then global sum pooling and a linear output. With classes it is
a projection discriminator (Miyato & Koyama 2018): the logit gains <embed(y), features>.
Spectral norm is on every layer of D and, by default, of G (SAGAN).

Images are N x 3 x H x W in [-1, 1].
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

import torch
from torch import nn

from studio.engine.models.layers import (
    ConditionalBatchNorm2d,
    SelfAttention,
    add_spectral_norm,
    check_labels,
)

if TYPE_CHECKING:
    from studio.engine.models.stylegan import ResidualDiscriminator, StyleGenerator
    from studio.spec.models import GANConfig

RGB = 3
BASE_RESOLUTION = 4
MIN_G_CHANNELS = 16
D_MAX_MULTIPLIER = 8


def _resolutions(config: GANConfig) -> list[int]:
    """4, 8, ..., image_size."""
    sizes = [BASE_RESOLUTION]
    while sizes[-1] < config.image_size:
        sizes.append(sizes[-1] * 2)
    return sizes


def generator_channels(config: GANConfig) -> dict[int, int]:
    """Channels of the generator's feature map at each resolution."""
    return {size: max(MIN_G_CHANNELS, config.g_channels // 2**step) for step, size in enumerate(_resolutions(config))}


def discriminator_channels(config: GANConfig) -> dict[int, int]:
    """Channels of the discriminator's feature map at each resolution it produces (image_size/2 down to 4)."""
    sizes = _resolutions(config)[-2::-1]
    return {size: config.d_channels * min(2**step, D_MAX_MULTIPLIER) for step, size in enumerate(sizes)}


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick for a N(0, I) latent: pull ``z`` toward the mean (0) by ``psi``.

    ``psi=1`` leaves ``z`` unchanged, smaller values trade variety for typical, cleaner images,
    ``psi=0`` gives the mean image. It is simply ``z * psi``.
    """
    return z * psi


class _UpBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, num_classes: int) -> None:
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        # No conv bias: batch norm right after removes it anyway.
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm = ConditionalBatchNorm2d(out_channels, num_classes) if num_classes else nn.BatchNorm2d(out_channels)
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        x = self.conv(self.upsample(x))
        x = self.norm(x, labels) if labels is not None else self.norm(x)
        return self.activation(x)


class Generator(nn.Module):
    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        channels = generator_channels(config)
        sizes = list(channels)
        base = channels[BASE_RESOLUTION]
        self.first_layer = nn.Linear(config.latent_dim, base * BASE_RESOLUTION**2, bias=False)
        self.first_norm = (
            ConditionalBatchNorm2d(base, config.num_classes) if config.num_classes else nn.BatchNorm2d(base)
        )
        self.blocks = nn.ModuleList(
            _UpBlock(channels[low], channels[high], config.num_classes) for low, high in pairwise(sizes)
        )
        res = config.attention_res
        self.attention = SelfAttention(channels[res]) if res is not None else None
        self.to_rgb = nn.Conv2d(channels[config.image_size], RGB, 3, padding=1)
        if config.g_spectral_norm:
            self.add_spectral_norm()

    def add_spectral_norm(self) -> Generator:
        """Spectral norm on every layer (SAGAN); GAN v2's generator has its own rule."""
        add_spectral_norm(self)
        return self

    def early_features(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The activations after the first block (N x C x 4 x 4): the space GANSpace runs PCA in."""
        check_labels(labels, z.shape[0], self.config.num_classes)
        x = self.first_layer(z).view(z.shape[0], -1, BASE_RESOLUTION, BASE_RESOLUTION)
        x = self.first_norm(x, labels) if labels is not None else self.first_norm(x)
        return torch.relu(x)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.early_features(z, labels)
        size = BASE_RESOLUTION
        for block in self.blocks:
            x = block(x, labels)
            size *= 2
            if self.attention is not None and size == self.config.attention_res:
                x = self.attention(x)
        return torch.tanh(self.to_rgb(x))

    @torch.no_grad()
    def sefa_weight(self) -> torch.Tensor:
        """The matrix mapping z to the first layer, [out_features, latent_dim], for SeFa.

        With spectral norm this is the normalised weight the layer really uses. Reading it in
        eval mode keeps it from taking a power-iteration step as a side effect.
        """
        was_training = self.first_layer.training
        self.first_layer.eval()
        try:
            return self.first_layer.weight.detach().clone()
        finally:
            self.first_layer.train(was_training)


class Discriminator(nn.Module):
    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        channels = discriminator_channels(config)
        layers: list[nn.Module] = []
        previous = RGB
        for size, width in channels.items():
            layers += [nn.Conv2d(previous, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            if size == config.attention_res:
                layers.append(SelfAttention(width))
            previous = width
        self.features = nn.Sequential(*layers)
        self.output = nn.Linear(previous, 1)
        self.class_embedding = nn.Embedding(config.num_classes, previous) if config.num_classes else None
        add_spectral_norm(self)
        if self.class_embedding is not None:
            nn.utils.parametrizations.spectral_norm(self.class_embedding)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(labels, x.shape[0], self.config.num_classes)
        # Global sum pooling, then linear + projection, as in SNGAN's projection discriminator.
        features = self.features(x).sum(dim=(2, 3))
        logits = self.output(features).squeeze(1)
        if self.class_embedding is not None:
            logits = logits + (self.class_embedding(labels) * features).sum(dim=1)
        return logits


def generator_class(config: GANConfig) -> type[Generator] | type[StyleGenerator]:
    if config.style_based:
        from studio.engine.models.stylegan import StyleGenerator

        return StyleGenerator
    return Generator


def build_gan(
    config: GANConfig,
) -> tuple[Generator, Discriminator] | tuple[StyleGenerator, ResidualDiscriminator]:
    """The generator and discriminator of ``config``'s architecture, freshly initialised."""
    if config.style_based:
        from studio.engine.models.stylegan import ResidualDiscriminator, StyleGenerator

        return StyleGenerator(config), ResidualDiscriminator(config)
    return Generator(config), Discriminator(config)
