"""The generative models' configs and the names they choose from.

Configs are frozen dataclasses that check themselves: a model file's card carries its config
as a dict, and a hand-edited or damaged card must fail here with a message naming the field,
not deep inside a layer constructor. The networks they describe live in
:mod:`studio.engine.models`.
"""

from __future__ import annotations

from dataclasses import dataclass

# GAN losses by name; studio.engine.models.losses says what each one computes.
LOSSES = ("nonsaturating", "lsgan", "wgan-gp", "hinge")
IMAGE_SIZES = (64, 128)  # both model families build these sizes
ATTENTION_RESOLUTIONS = (16, 32)
# "dcgan" (v1: DCGAN-style networks, models/gan.py) or "style" (v2, models/stylegan.py: a
# mapping network to w, per-layer styles, a residual discriminator with a decoder).
GAN_ARCHITECTURES = ("dcgan", "style")
MAX_PRIOR_COMPONENTS = 256


def _is_int(value: object, minimum: int) -> bool:
    # bool is an int subclass; "true" in a hand-edited card must not pass for 1.
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@dataclass(frozen=True)
class GANConfig:
    image_size: int = 64
    latent_dim: int = 128
    num_classes: int = 0  # 0: unconditional
    g_channels: int = 256  # at 4x4; halves at each doubling, never below 16
    d_channels: int = 32  # first layer, reading the full-resolution image; doubles per halving up to 8x
    attention_res: int | None = None  # 16 or 32: a self-attention block at that size, in G and D
    loss: str = "hinge"
    g_spectral_norm: bool = True
    architecture: str = "dcgan"  # one of GAN_ARCHITECTURES
    w_dim: int = 256  # style: the width of w and of the mapping network
    mapping_layers: int = 4  # style: layers of the mapping network

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {self.image_size!r}")
        for name in ("latent_dim", "g_channels", "d_channels"):
            if not _is_int(getattr(self, name), minimum=1):
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not _is_int(self.num_classes, minimum=0):
            raise ValueError(f"num_classes must be 0 (unconditional) or more, got {self.num_classes!r}")
        if self.attention_res is not None and self.attention_res not in ATTENTION_RESOLUTIONS:
            raise ValueError(
                f"attention_res must be None or one of {ATTENTION_RESOLUTIONS}, got {self.attention_res!r}"
            )
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if not isinstance(self.g_spectral_norm, bool):
            raise ValueError(f"g_spectral_norm must be true or false, got {self.g_spectral_norm!r}")
        if self.architecture not in GAN_ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(GAN_ARCHITECTURES)}, got {self.architecture!r}")
        for name in ("w_dim", "mapping_layers"):
            if not _is_int(getattr(self, name), minimum=1):
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.architecture == "style" and self.attention_res is not None:
            raise ValueError("self-attention is part of the dcgan architecture only")

    @property
    def style_based(self) -> bool:
        """GAN v2: a mapping network to w drives the generator's layers."""
        return self.architecture == "style"


@dataclass(frozen=True)
class VAEConfig:
    image_size: int = 64
    channels: int = 3
    latent_dim: int = 32
    base_channels: int = 32
    beta: float = 1.0  # weight of the KL term: >1 for more disentangled, blurrier models
    # Gaussians of the prior fitted on the training codes after training (see vae_prior.py);
    # 0: sample from N(0, I). Random samples come from this prior when it exists.
    prior_components: int = 0

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {self.image_size!r}")
        for name in ("channels", "latent_dim", "base_channels"):
            if not _is_int(getattr(self, name), minimum=1):
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not isinstance(self.beta, (int, float)) or isinstance(self.beta, bool) or not self.beta >= 0:
            raise ValueError(f"beta must be a number >= 0, got {self.beta!r}")
        if not (_is_int(self.prior_components, minimum=0) and self.prior_components <= MAX_PRIOR_COMPONENTS):
            raise ValueError(f"prior_components must be 0..{MAX_PRIOR_COMPONENTS}, got {self.prior_components!r}")
