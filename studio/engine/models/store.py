"""Saving and loading the generative models as safetensors plus a model card.

The card records ``architecture`` ("vae" or "gan-generator") and ``config`` (the dataclass as
a dict), which is all it takes to rebuild the model before its weights are loaded.

Spectral norm is folded into the weights on saving: the file holds each layer's effective,
normalised weight under its plain name (``first_layer.weight``), not the parametrization's
raw weight and power-iteration vectors. A loaded model is therefore a plain module that
computes exactly what the saved one computed in eval mode, and does not pay for the
normalisation on every forward pass. To train it further with spectral norm, call
:func:`studio.engine.models.layers.add_spectral_norm` on it first. Its weights already have
unit spectral norm, so that changes its images only slightly: the power iteration's estimate
of that norm starts afresh.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.engine.checkpoints import ModelFileError, check_weights, load_model, save_model
from studio.engine.models.gan import Generator, generator_class
from studio.engine.models.layers import fold_spectral_norm, plain_state_dict
from studio.engine.models.stylegan import StyleGenerator
from studio.engine.models.vae import VAE
from studio.spec.models import GANConfig, VAEConfig

if TYPE_CHECKING:
    import os

    import torch
    from torch import nn

ARCHITECTURES: dict[str, tuple[type[VAE] | type[Generator], type]] = {
    "vae": (VAE, VAEConfig),
    "gan-generator": (Generator, GANConfig),
}


@dataclass(frozen=True)
class LoadedModel:
    model: VAE | Generator | StyleGenerator  # in eval mode, spectral norm folded into its weights
    card: dict[str, Any]
    architecture: str
    config: VAEConfig | GANConfig


def _architecture_of(model: nn.Module) -> str:
    if type(model) is StyleGenerator:  # GAN v2: the same card architecture, told apart by its config
        return "gan-generator"
    for name, (cls, _) in ARCHITECTURES.items():
        if type(model) is cls:
            return name
    raise TypeError(f"cannot save a {type(model).__name__}: expected a VAE or a GAN Generator")


def save_generative_model(
    path: str | os.PathLike[str], model: VAE | Generator | StyleGenerator, card: dict[str, Any]
) -> Path:
    """Save ``model`` and its card atomically; returns the path of the ``.safetensors`` file.

    ``card`` carries whatever describes the model (name, class_names, data, command, licence,
    metrics...); ``architecture`` and ``config`` are filled in from the model and win over
    any the caller passes.
    """
    full_card = {**card, "architecture": _architecture_of(model), "config": dataclasses.asdict(model.config)}
    return save_model(path, plain_state_dict(model), full_card)


def _config(file: Path, card: dict[str, Any]) -> tuple[str, VAEConfig | GANConfig]:
    architecture = card.get("architecture")
    # A list or a dict from a hand-edited card is no architecture (and cannot be looked up).
    if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
        expected = " or ".join(repr(name) for name in ARCHITECTURES)
        found = "no architecture" if architecture is None else f"architecture {architecture!r}"
        raise ModelFileError(f"{file.name}: not a generative model; its card gives {found} (expected {expected})")
    _, config_cls = ARCHITECTURES[architecture]
    raw = card.get("config")
    if not isinstance(raw, dict):
        raise ModelFileError(f"{file.name}: its card has no model config, so the {architecture} cannot be rebuilt")
    try:
        config = config_cls(**raw)  # every number checked against studio.spec.bounds
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{file.name}: the {architecture} config in its card is invalid ({exc})") from exc
    return architecture, config


def _model_class(config: VAEConfig | GANConfig) -> type[VAE] | type[Generator] | type[StyleGenerator]:
    return generator_class(config) if isinstance(config, GANConfig) else VAE


def check_model_weights(
    file: Path, tensors: dict[str, torch.Tensor], config: VAEConfig | GANConfig, what: str, *, folded: bool = True
) -> None:
    """Refuse ``tensors`` that are not the weights of the model ``config`` describes, or hold
    NaN/Inf or the wrong dtypes, without building it (:func:`build_checked` says more)."""
    import torch

    # Spectral norm only reparametrizes weights a loaded model holds folded: without it the
    # skeleton has the folded model's names and shapes, and builds without a power iteration.
    plain = dataclasses.replace(config, g_spectral_norm=False) if folded and isinstance(config, GANConfig) else config
    with torch.device("meta"):
        skeleton = _model_class(config)(plain)  # type: ignore[arg-type]  # the class generator_class picked
    check_weights(file, tensors, skeleton.state_dict(), what, dataclasses.asdict(config))


def build_checked(
    file: Path, tensors: dict[str, torch.Tensor], config: VAEConfig | GANConfig, what: str, *, folded: bool = True
) -> VAE | Generator | StyleGenerator:
    """The model ``config`` describes with ``tensors`` as its weights, in eval mode on the CPU.

    The weights are checked against the model's shapes before a layer is built (on torch's meta
    device, which allocates nothing), so a card whose sizes do not match its weights fails with
    a message naming the field instead of first allocating what the card asks for; NaN/Inf and
    wrong dtypes are refused too (:func:`~studio.engine.checkpoints.check_weights`). ``what``
    names the model in messages ("the vae its card describes"). ``folded``: the weights are a
    model file's (spectral norm folded in); False for a training checkpoint's module, which keeps
    spectral norm's parametrization and is returned with it.
    """
    check_model_weights(file, tensors, config, what, folded=folded)
    model_cls = _model_class(config)
    model = model_cls(config).eval()  # type: ignore[arg-type]
    if folded:
        model = fold_spectral_norm(model)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        # load_state_dict lists every missing, unexpected and mis-shaped tensor; the first lines say enough.
        detail = " ".join(str(exc).split())[:300]
        raise ModelFileError(f"{file.name}: its weights do not match {what} ({detail})") from exc
    return model


def load_generative_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild a VAE or GAN generator from its card and load its weights, in eval mode on ``device``.

    Raises :class:`~studio.engine.checkpoints.ModelFileError`, naming the file, when the file is
    damaged or refused, or when its card or weights do not describe a model this studio builds.
    """
    file = Path(path)
    tensors, card = load_model(file)
    architecture, config = _config(file, card)
    model = build_checked(file, tensors, config, f"the {architecture} its card describes")
    return LoadedModel(model=model.to(device), card=card, architecture=architecture, config=config)
