"""The generative models' configs and the names they choose from.

Configs are frozen dataclasses that check themselves: a model file's card carries its config
as a dict, and a hand-edited or damaged card must fail here with a message naming the field,
not deep inside a layer constructor. The networks they describe live in
:mod:`studio.engine.models`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from studio.spec.bounds import (
    BETA,
    CHANNELS,
    LATENT_DIM,
    MAPPING_LAYERS,
    NUM_CLASSES,
    PRIOR_COMPONENTS,
    W_DIM,
    Bound,
    OutOfRange,
)

# GAN losses by name; studio.engine.models.losses says what each one computes.
LOSSES = ("nonsaturating", "lsgan", "wgan-gp", "hinge")
IMAGE_SIZES = (64, 128)  # both model families build these sizes
ATTENTION_RESOLUTIONS = (16, 32)
# "dcgan" (v1: DCGAN-style networks, models/gan.py) or "style" (v2, models/stylegan.py: a
# mapping network to w, per-layer styles, a residual discriminator with a decoder).
GAN_ARCHITECTURES = ("dcgan", "style")
MAX_PRIOR_COMPONENTS = int(PRIOR_COMPONENTS.high)


def _check_numbers(config: object, bounds: dict[str, Bound]) -> None:
    """Each field's number against its row of the bounds table, the message naming the field.

    A card asking for a latent_dim of 10**9 must fail here, before a layer asks for terabytes.
    Whole numbers only where the bound says so: 16.0 in a hand-edited card is refused rather
    than reaching a layer constructor as a float.
    """
    for name, bound in bounds.items():
        value = getattr(config, name)
        problem = replace(bound, what=name).problem(value)
        if problem is not None or (bound.integer and not isinstance(value, int)):
            raise OutOfRange(problem or f"{name} must be a whole number, got {value!r}")


def _one_of(name: str, value: object, choices: tuple[object, ...]) -> None:
    # A list or a dict from a hand-edited card is simply not one of the choices (and never hashed).
    if isinstance(value, bool) or not any(type(value) is type(c) and value == c for c in choices):
        shown = ", ".join(str(c) for c in choices)
        raise ValueError(f"{name} must be one of {shown}, got {value!r}")


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
        _one_of("image_size", self.image_size, IMAGE_SIZES)
        _check_numbers(
            self,
            {
                "latent_dim": LATENT_DIM,
                "num_classes": NUM_CLASSES,
                "g_channels": CHANNELS,
                "d_channels": CHANNELS,
                "w_dim": W_DIM,
                "mapping_layers": MAPPING_LAYERS,
            },
        )
        if self.attention_res is not None:
            _one_of("attention_res", self.attention_res, ATTENTION_RESOLUTIONS)
        _one_of("loss", self.loss, LOSSES)
        if not isinstance(self.g_spectral_norm, bool):
            raise ValueError(f"g_spectral_norm must be true or false, got {self.g_spectral_norm!r}")
        _one_of("architecture", self.architecture, GAN_ARCHITECTURES)
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
        _one_of("image_size", self.image_size, IMAGE_SIZES)
        _check_numbers(
            self,
            {
                "channels": CHANNELS,
                "latent_dim": LATENT_DIM,
                "base_channels": CHANNELS,
                "beta": BETA,
                "prior_components": PRIOR_COMPONENTS,
            },
        )
