"""GAN v2: a StyleGAN-style generator with a mapping network, and a residual discriminator that
also has to redraw the real image from its own features.

Generator (Karras et al. 2019, slimmed for a CPU): a mapping MLP turns z (and, for a
conditional model, an embedding of the class) into w; one w per layer sets that layer's
per-channel scale and shift after instance normalisation (AdaIN). The picture grows from a
learnt 4x4 constant: two 3x3 convolutions at 4x4 and 8x8 (where the layout is decided and
where extra channels cost little), one per doubling after that. Skip-layer excitation (Liu et
al. 2021, FastGAN) gates the channels of the 32x32 and 64x64 maps by what the 8x8 and 16x16
maps hold, so the fine layers learn from the coarse ones directly. The channel plan halves at
every doubling (``g_channels`` at 4x4): one 64 px image costs about 0.1 GMAC, which is what
lets a slider redraw it within a screen refresh on a laptop CPU. Spectral norm sits on the
generator's convolutions (not on the mapping network: see :meth:`StyleGenerator.add_spectral_norm`);
without it, in trials on the face emoji, the generator followed the discriminator so fast that
the discriminator never told real from generated.

Per-layer w (``ws``, N x num_ws x w_dim) is what style mixing and truncation work on:
:meth:`StyleGenerator.mapping` gives w, :meth:`StyleGenerator.synthesis` draws ``ws``.

Discriminator: pre-activation residual blocks that halve the size (BigGAN), spectral norm on
every layer, StyleGAN's minibatch standard deviation before the last convolution, global sum
pooling and a projection head for the class (Miyato & Koyama 2018).
A small decoder redraws the real image at a quarter of its area from the 8x8 features, an L1
task that keeps the discriminator describing the whole image instead of memorising a few
cues (FastGAN's self-supervised discriminator), which is what overfits first on a small data
set.

``cond_strength`` (0..1) scales the class's part in both networks: 0 is an unconditional GAN,
1 fully conditional. Training raises it gradually (Shahbazi et al. 2022: hard conditioning on a
small data set collapses; starting unconditional and bringing the classes in does not).
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import nn

from studio.engine.models.layers import add_spectral_norm, check_labels

if TYPE_CHECKING:
    from studio.spec.models import GANConfig

RGB = 3
BASE_RESOLUTION = 4
# Two convolutions at these sizes, one at every other: the coarse layers are cheap per pixel.
DOUBLE_CONV_SIZES = (4, 8)
# Skip-layer excitation: the map at the key size gates the map at the value size.
EXCITATION = {32: 8, 64: 16, 128: 32}
RECONSTRUCTION_SIZE = 8  # the discriminator's decoder reads its 8x8 features
SLOPE = 0.2
STYLE_INIT = 0.5


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each row scaled to unit root-mean-square, so z's length does not reach the mapping network."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z (+ class) -> w: an MLP of ``layers`` leaky-ReLU layers, ``w_dim`` wide."""

    def __init__(self, latent_dim: int, w_dim: int, num_classes: int, layers: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.class_embedding = nn.Embedding(num_classes, latent_dim) if num_classes else None
        width = latent_dim * (2 if num_classes else 1)
        stack: list[nn.Module] = []
        for _ in range(layers):
            linear = nn.Linear(width, w_dim)
            # He initialisation for the leaky ReLU: w keeps z's scale through every layer. The
            # default (uniform, a = sqrt(5)) shrinks it about threefold per layer, and after four
            # layers the styles would barely change with z: every sample would be the same picture.
            nn.init.kaiming_normal_(linear.weight, a=SLOPE, nonlinearity="leaky_relu")
            nn.init.zeros_(linear.bias)
            stack += [linear, nn.LeakyReLU(SLOPE)]
            width = w_dim
        self.net = nn.Sequential(*stack)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None, cond_strength: float = 1.0) -> torch.Tensor:
        check_labels(labels, z.shape[0], self.num_classes)
        x = normalize_2nd_moment(z)
        if self.class_embedding is not None:
            embedded = normalize_2nd_moment(self.class_embedding(labels)) * cond_strength
            x = torch.cat([x, embedded], dim=1)
        return self.net(x)


class StyledConv(nn.Module):
    """(Upsample,) 3x3 conv, leaky ReLU, instance norm, then w's scale and shift per channel."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, upsample: bool) -> None:
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.style = nn.Linear(w_dim, 2 * out_channels)
        # Styles start at scale 1 +- STYLE_INIT and shift 0 +- STYLE_INIT for a unit-scale w, so z
        # changes every layer from the first step (StyleGAN's affine layers start the same way).
        nn.init.normal_(self.style.weight, std=STYLE_INIT / w_dim**0.5)
        nn.init.zeros_(self.style.bias)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.leaky_relu(self.conv(x), SLOPE)
        # Instance norm by hand: F.instance_norm has no channels-last fast path on the CPU.
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = (x - mean).square().mean(dim=(2, 3), keepdim=True)
        x = (x - mean) * (var + 1e-5).rsqrt()
        scale, shift = self.style(w).chunk(2, dim=1)
        return x * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None]


class SkipExcitation(nn.Module):
    """FastGAN's skip-layer excitation: a channel gate for a large map computed from a small one."""

    def __init__(self, low_channels: int, high_channels: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(low_channels, high_channels, 4),
            nn.LeakyReLU(0.1),
            nn.Conv2d(high_channels, high_channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)


def _sizes(image_size: int) -> list[int]:
    sizes = [BASE_RESOLUTION]
    while sizes[-1] < image_size:
        sizes.append(sizes[-1] * 2)
    return sizes


class StyleGenerator(nn.Module):
    """GAN v2's generator: ``forward(z, labels)`` like v1's, plus ``mapping`` and ``synthesis``."""

    def __init__(self, config: GANConfig) -> None:
        from studio.engine.models.gan import generator_channels

        super().__init__()
        self.config = config
        channels = generator_channels(config)
        sizes = list(channels)
        self.mapping_network = MappingNetwork(
            config.latent_dim, config.w_dim, config.num_classes, config.mapping_layers
        )
        self.constant = nn.Parameter(torch.randn(1, channels[BASE_RESOLUTION], BASE_RESOLUTION, BASE_RESOLUTION))
        self.blocks = nn.ModuleList()
        previous = channels[BASE_RESOLUTION]
        for size in sizes:
            convs = [StyledConv(previous, channels[size], config.w_dim, upsample=size != BASE_RESOLUTION)]
            if size in DOUBLE_CONV_SIZES:
                convs.append(StyledConv(channels[size], channels[size], config.w_dim, upsample=False))
            self.blocks.append(nn.ModuleList(convs))
            previous = channels[size]
        self.excitations = nn.ModuleDict(
            {
                str(high): SkipExcitation(channels[low], channels[high])
                for high, low in EXCITATION.items()
                if high in channels
            }
        )
        self.to_rgb = nn.Conv2d(previous, RGB, 3, padding=1)
        self.sizes = sizes
        self.num_ws = sum(len(block) for block in self._styled_blocks())
        if config.g_spectral_norm:
            self.add_spectral_norm()

    def add_spectral_norm(self) -> StyleGenerator:
        """Spectral norm on the convolutions only (as SAGAN and FastGAN). On the mapping network
        and the style layers it would shrink z's part of w at every layer while the biases stay
        free, and the generator would soon draw the same picture for every z."""
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d) and not nn.utils.parametrize.is_parametrized(layer, "weight"):
                nn.utils.parametrizations.spectral_norm(layer)
        return self

    def _styled_blocks(self) -> list[nn.ModuleList]:
        """``self.blocks`` as what __init__ puts there: a ModuleList of StyledConvs per resolution."""
        return [cast("nn.ModuleList", block) for block in self.blocks]

    def layer_sizes(self) -> list[int]:
        """The resolution each w of ``ws`` drives, in order (for style mixing by layer group)."""
        return [size for size, block in zip(self.sizes, self._styled_blocks(), strict=False) for _ in block]

    def mapping(self, z: torch.Tensor, labels: torch.Tensor | None = None, cond_strength: float = 1.0) -> torch.Tensor:
        """w for each z (N x w_dim)."""
        return self.mapping_network(z, labels, cond_strength)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """The images for per-layer w (N x num_ws x w_dim), or one w for every layer (N x w_dim)."""
        if ws.ndim == 2:
            ws = ws[:, None, :].expand(-1, self.num_ws, -1)
        if ws.shape[1] != self.num_ws:
            raise ValueError(f"this generator takes {self.num_ws} w vectors per image, got {ws.shape[1]}")
        x = self.constant.expand(ws.shape[0], -1, -1, -1)
        features: dict[int, torch.Tensor] = {}
        layer = 0
        for size, block in zip(self.sizes, self._styled_blocks(), strict=False):
            for conv in block:
                x = conv(x, ws[:, layer])
                layer += 1
            if str(size) in self.excitations:
                x = self.excitations[str(size)](features[EXCITATION[size]], x)
            features[size] = x
        return torch.tanh(self.to_rgb(x))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, cond_strength: float = 1.0) -> torch.Tensor:
        return self.synthesis(self.mapping(z, labels, cond_strength))

    @torch.no_grad()
    def sefa_weight(self) -> torch.Tensor:
        """The style weights of the first layer [2 x channels, w_dim]: SeFa's matrix, on w."""
        first = self._styled_blocks()[0][0]
        assert isinstance(first, StyledConv)
        return first.style.weight.detach().clone()


class _ResidualDown(nn.Module):
    """Pre-activation residual block that halves the size. The first conv runs at the input size,
    the second after pooling, at a quarter of the cost of BigGAN's two full-size convs."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv1(F.leaky_relu(x, SLOPE)), 2)
        h = self.conv2(F.leaky_relu(h, SLOPE))
        return h + self.skip(F.avg_pool2d(x, 2))


class _Decoder(nn.Module):
    """From the discriminator's 8x8 features to a 32x32 picture (upsample, conv, twice)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.LeakyReLU(SLOPE),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(32, 16, 3, padding=1),
            nn.LeakyReLU(SLOPE),
            nn.Conv2d(16, RGB, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


RECONSTRUCTED_SIZE = RECONSTRUCTION_SIZE * 4
STD_GROUP = 4


def minibatch_std(x: torch.Tensor, group: int = STD_GROUP) -> torch.Tensor:
    """``x`` with one more channel: the mean standard deviation over each group of consecutive images.

    Groups are consecutive, so a batch of reals followed by as many fakes (a multiple of the
    group size each) never mixes the two in one group.
    """
    n, c, h, w = x.shape
    size = max(d for d in range(1, min(group, n) + 1) if n % d == 0)
    grouped = x.reshape(n // size, size, c, h, w).float()
    spread = (grouped.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # one number per group
    channel = spread.repeat_interleave(size)[:, None, None, None].expand(n, 1, h, w).to(x.dtype)
    return torch.cat([x, channel], dim=1)


def reconstruction_target(images: torch.Tensor) -> torch.Tensor:
    """What the discriminator's decoder must redraw: the image shrunk to 32x32 by averaging."""
    return F.adaptive_avg_pool2d(images, RECONSTRUCTED_SIZE)


class ResidualDiscriminator(nn.Module):
    def __init__(self, config: GANConfig) -> None:
        from studio.engine.models.gan import discriminator_channels

        super().__init__()
        self.config = config
        channels = discriminator_channels(config)  # image_size/2 ... 4
        sizes = list(channels)
        self.from_rgb = nn.Conv2d(RGB, channels[sizes[0]], 4, stride=2, padding=1)
        self.blocks = nn.ModuleList(_ResidualDown(channels[high], channels[low]) for high, low in pairwise(sizes))
        self.block_sizes = sizes[1:]  # the size each block outputs
        last = channels[sizes[-1]]
        # StyleGAN's minibatch standard deviation: one more channel saying how much the images of
        # a small group differ, so a generator that draws the same picture for every z is caught.
        self.final_conv = nn.Conv2d(last + 1, last, 3, padding=1)
        self.output = nn.Linear(last, 1)
        self.class_embedding = nn.Embedding(config.num_classes, last) if config.num_classes else None
        self.decoder = _Decoder(channels[RECONSTRUCTION_SIZE])
        add_spectral_norm(self)
        if self.class_embedding is not None:
            nn.utils.parametrizations.spectral_norm(self.class_embedding)

    def forward(
        self,
        x: torch.Tensor,
        labels: torch.Tensor | None = None,
        cond_strength: float = 1.0,
        reconstruct: int = 0,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits (N,); with ``reconstruct=k``, also the decoder's picture of the first k images."""
        check_labels(labels, x.shape[0], self.config.num_classes)
        h = self.from_rgb(x)
        redrawn = None
        for size, block in zip(self.block_sizes, self.blocks, strict=False):
            h = block(h)
            if size == RECONSTRUCTION_SIZE and reconstruct:
                redrawn = self.decoder(h[:reconstruct])
        h = self.final_conv(F.leaky_relu(minibatch_std(h), SLOPE))
        features = F.leaky_relu(h, SLOPE).sum(dim=(2, 3))
        logits = self.output(features).squeeze(1)
        if self.class_embedding is not None:
            logits = logits + cond_strength * (self.class_embedding(labels) * features).sum(dim=1)
        if reconstruct:
            assert redrawn is not None  # every image size in IMAGE_SIZES has an 8x8 block
            return logits, redrawn
        return logits
