"""Freezing blocks of a model for transfer learning: what already works is kept, the rest trains.

Public API:

- :data:`FREEZE_PRESETS` ``{key: FreezePreset}``: ``"freeze-d"`` (FreezeD, Mo et al. 2020:
  the discriminator's lower blocks, nearest the image, stay as they are), ``"last-blocks"``
  (every network trains only its second half: the generator keeps its layout and learns new
  textures and colours), ``"all"`` (train everything);
- :func:`presets_for` ``(kind) -> list[FreezePreset]``: the presets that fit a model kind;
- :func:`model_blocks` ``(config, frozen=()) -> list[ModelBlock]``: a model's blocks in the
  order data flows through them, with parameter counts and whether each is frozen; for the
  wizard's per-block check boxes;
- :func:`preset_blocks` ``(preset, config) -> tuple[str, ...]``: the block names a preset freezes;
- :func:`freeze_blocks` ``(kind, modules, frozen) -> int``: switches ``requires_grad`` off for
  those blocks' parameters (before the optimisers are built, so they are not in them either).

Block names: ``g.4x4`` ... ``g.64x64``, ``g.attention``, ``g.rgb`` (generator, latent to image);
``d.32x32`` ... ``d.4x4``, ``d.attention``, ``d.output`` (discriminator, image to score);
``encoder.32x32`` ... ``encoder.4x4``, ``encoder.latent``, ``decoder.4x4`` ... ``decoder.64x64``,
``decoder.rgb`` (VAE). A frozen block's parameters get no gradients and never change; its
running statistics (batch norm, spectral norm's estimate) still follow the new data, which is
what lets a frozen block serve new images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from studio.engine.models import VAE, build_gan
from studio.engine.models.gan import Discriminator
from studio.engine.models.layers import SelfAttention
from studio.engine.training.config import TrainingError
from studio.spec.finetune import FREEZE_PRESETS, FreezePreset
from studio.spec.models import GANConfig, VAEConfig

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class ModelBlock:
    name: str  # "g.8x8"
    network: str  # "generator", "discriminator", "encoder" or "decoder"
    label: str  # "Generator 8×8"
    parameters: int
    frozen: bool = False


@dataclass(frozen=True)
class _Block:
    name: str
    network: str
    label: str
    module: str  # the trainer's module name: "g", "d" or "vae"
    prefixes: tuple[str, ...]  # parameter name prefixes inside that module


_NETWORK_LABELS = {"g": "Generator", "d": "Discriminator", "encoder": "Encoder", "decoder": "Decoder"}
_NETWORKS = {"g": "generator", "d": "discriminator", "encoder": "encoder", "decoder": "decoder"}


def _block(short: str, part: str, module: str, prefixes: Iterable[str]) -> _Block:
    shown = (
        part.replace("x", "×")
        if part[0].isdigit()
        else {"rgb": "to RGB", "latent": "to latent", "mapping": "mapping network"}.get(part, part)
    )
    return _Block(f"{short}.{part}", _NETWORKS[short], f"{_NETWORK_LABELS[short]} {shown}", module, tuple(prefixes))


def _sequential_blocks(
    short: str, module: str, attribute: str, sequence: nn.Sequential, sizes: list[int]
) -> list[_Block]:
    """A block per convolution (with the norm after it), and one per attention layer."""
    blocks: list[_Block] = []
    sizes = list(sizes)
    for index, layer in enumerate(sequence):
        prefix = f"{attribute}.{index}."
        if isinstance(layer, SelfAttention):
            blocks.append(_block(short, "attention", module, [prefix]))
        elif isinstance(layer, (nn.Conv2d, nn.Linear)):
            size = sizes.pop(0)
            blocks.append(_block(short, f"{size}x{size}", module, [prefix]))
        elif any(True for _ in layer.parameters(recurse=False)):  # a norm: joins the block before it
            last = blocks[-1]
            blocks[-1] = _Block(last.name, last.network, last.label, last.module, (*last.prefixes, prefix))
    return blocks


def _style_gan_blocks(config: GANConfig) -> list[_Block]:
    """GAN v2: the mapping network, one block per resolution (with the excitation gating it),
    the RGB layer; the discriminator's input layer, its residual blocks, decoder and head."""
    sizes = [4 * 2**k for k in range(_log2(config.image_size) - 1)]
    blocks = [_block("g", "mapping", "g", ["mapping_network."])]
    for index, size in enumerate(sizes):
        prefixes = [f"blocks.{index}.", f"excitations.{size}."] + (["constant"] if index == 0 else [])
        blocks.append(_block("g", f"{size}x{size}", "g", prefixes))
    blocks.append(_block("g", "rgb", "g", ["to_rgb."]))
    half = config.image_size // 2
    blocks.append(_block("d", f"{half}x{half}", "d", ["from_rgb."]))
    d_sizes = [half // 2**k for k in range(1, _log2(half) - 1)]
    for index, size in enumerate(d_sizes):
        extra = ["final_conv."] if size == 4 else []
        blocks.append(_block("d", f"{size}x{size}", "d", [f"blocks.{index}.", *extra]))
    blocks.append(_block("d", "decoder", "d", ["decoder."]))
    blocks.append(_block("d", "output", "d", ["output.", "class_embedding."]))
    return blocks


def _gan_blocks(config: GANConfig, d: nn.Module) -> list[_Block]:
    if config.style_based:
        return _style_gan_blocks(config)
    assert isinstance(d, Discriminator)  # GAN v1's, as build_gan makes it
    blocks = [_block("g", "4x4", "g", ["first_layer.", "first_norm."])]
    size = 4
    for index in range(_log2(config.image_size) - 2):
        size *= 2
        blocks.append(_block("g", f"{size}x{size}", "g", [f"blocks.{index}."]))
        if config.attention_res == size:
            blocks.append(_block("g", "attention", "g", ["attention."]))
    blocks.append(_block("g", "rgb", "g", ["to_rgb."]))
    d_sizes = [config.image_size // 2**k for k in range(1, _log2(config.image_size) - 1)]
    blocks += _sequential_blocks("d", "d", "features", d.features, d_sizes)
    blocks.append(_block("d", "output", "d", ["output.", "class_embedding."]))
    return blocks


def _vae_blocks(config: VAEConfig, vae: VAE) -> list[_Block]:
    down = [config.image_size // 2**k for k in range(1, _log2(config.image_size) - 1)]
    blocks = _sequential_blocks("encoder", "vae", "encoder", vae.encoder, down)
    blocks.append(_block("encoder", "latent", "vae", ["to_posterior."]))
    blocks.append(_block("decoder", "4x4", "vae", ["from_latent."]))
    up = [size for size in reversed(down)][1:] + [config.image_size]
    decoder = _sequential_blocks("decoder", "vae", "decoder", vae.decoder, [*up, 0])
    last = decoder[-1]  # the final convolution makes the RGB image
    decoder[-1] = _Block("decoder.rgb", "decoder", "Decoder to RGB", last.module, last.prefixes)
    return blocks + decoder


def _log2(value: int) -> int:
    return value.bit_length() - 1


def _build(config: GANConfig | VAEConfig) -> dict[str, nn.Module]:
    with torch.random.fork_rng(devices=[]):  # building must not move the caller's random state
        if isinstance(config, GANConfig):
            g, d = build_gan(config)
            return {"g": g, "d": d}
        return {"vae": VAE(config)}


def _blocks(config: GANConfig | VAEConfig, modules: dict[str, nn.Module]) -> list[_Block]:
    if isinstance(config, GANConfig):
        return _gan_blocks(config, modules["d"])
    vae = modules["vae"]
    assert isinstance(vae, VAE)  # as _build makes it
    return _vae_blocks(config, vae)


def _kind(config: GANConfig | VAEConfig) -> str:
    return "gan" if isinstance(config, GANConfig) else "vae"


def _parameters(block: _Block, modules: dict[str, nn.Module]) -> list[tuple[str, nn.Parameter]]:
    return [
        (name, param) for name, param in modules[block.module].named_parameters() if name.startswith(block.prefixes)
    ]


def model_blocks(config: GANConfig | VAEConfig, frozen: Iterable[str] = ()) -> list[ModelBlock]:
    """The model's blocks in the order data flows, with their parameter counts (from ``config``)."""
    frozen = set(frozen)
    modules = _build(config)
    blocks = _blocks(config, modules)
    _check_names(config, blocks, frozen)
    return [
        ModelBlock(b.name, b.network, b.label, sum(p.numel() for _, p in _parameters(b, modules)), b.name in frozen)
        for b in blocks
    ]


def block_names(config: GANConfig | VAEConfig) -> list[str]:
    return [b.name for b in _blocks(config, _build(config))]


def presets_for(kind: str) -> list[FreezePreset]:
    return [p for p in FREEZE_PRESETS.values() if kind in p.kinds]


def preset_blocks(preset: str, config: GANConfig | VAEConfig) -> tuple[str, ...]:
    """The blocks ``preset`` freezes in a model of ``config``."""
    if preset not in FREEZE_PRESETS:
        raise TrainingError(f"unknown freeze preset {preset!r}; choose from {', '.join(FREEZE_PRESETS)}")
    kind = _kind(config)
    if kind not in FREEZE_PRESETS[preset].kinds:
        label = FREEZE_PRESETS[preset].label
        valid = ", ".join(p.key for p in presets_for(kind))
        raise TrainingError(f"{label!r} is for GANs; for a {kind.upper()} choose one of {valid}")
    if preset == "all":
        return ()
    blocks = _blocks(config, _build(config))
    networks = ("discriminator",) if preset == "freeze-d" else tuple(dict.fromkeys(b.network for b in blocks))
    frozen: list[str] = []
    for network in networks:
        frozen += _first_half(b for b in blocks if b.network == network)
    return tuple(frozen)


def _first_half(blocks: Iterable[_Block]) -> list[str]:
    """The first half (rounded down) of a network's blocks, in the order data flows."""
    ordered = list(blocks)
    return [b.name for b in ordered[: len(ordered) // 2]]


def _check_names(config: GANConfig | VAEConfig, blocks: list[_Block], frozen: set[str]) -> None:
    known = {b.name for b in blocks}
    unknown = sorted(frozen - known)
    if unknown:
        raise TrainingError(
            f"this {_kind(config).upper()} has no block {unknown[0]!r}; "
            f"its blocks are {', '.join(b.name for b in blocks)}"
        )
    # Each trained module needs something left to train (an optimiser cannot be empty); the
    # VAE's encoder may freeze whole, as long as some of the decoder trains.
    for module in dict.fromkeys(b.module for b in blocks):
        names = {b.name for b in blocks if b.module == module}
        if names <= frozen:
            what = {"g": "generator", "d": "discriminator", "vae": "VAE"}[module]
            raise TrainingError(f"every block of the {what} is frozen: leave at least one to train")


def freeze_blocks(config: GANConfig | VAEConfig, modules: dict[str, nn.Module], frozen: Iterable[str]) -> int:
    """Switch off gradients for the parameters of the ``frozen`` blocks; returns how many values that is.

    ``modules`` are the trainer's (``g``, ``d`` or ``vae``); call before building optimisers.
    """
    frozen = set(frozen)
    blocks = _blocks(config, modules)
    _check_names(config, blocks, frozen)
    count = 0
    for block in blocks:
        if block.name in frozen:
            for _, param in _parameters(block, modules):
                param.requires_grad_(False)
                count += param.numel()
    return count


def trainable_parameters(modules: dict[str, nn.Module], names: Iterable[str] = ("g", "d", "vae")) -> int:
    return sum(p.numel() for n in names if n in modules for p in modules[n].parameters() if p.requires_grad)
