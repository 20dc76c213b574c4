"""The model a fine-tune starts from: found, checked and its starting weights made ready.

- :class:`BaseModel` and :func:`load_base` ``(name_or_path) -> BaseModel``: a model from the
  library (or a path), with its config, classes and, when one matches, its training
  checkpoint (whose discriminator FreezeD needs);
- :func:`base_init` ``(base, config) -> (weights per trainer module, where D came from)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from studio.engine.checkpoints import ModelFileError, inspect_model, load_model, model_sha256
from studio.engine.latent.state import ModelNotFoundError, find_model
from studio.engine.models.gan import generator_class
from studio.engine.models.layers import plain_state_dict
from studio.engine.models.store import check_model_weights
from studio.engine.training.checkpoint import checkpoint_path, load_checkpoint, read_checkpoint_config
from studio.engine.training.config import TrainConfig, TrainingError
from studio.spec.models import GANConfig, VAEConfig

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class BaseModel:
    path: Path
    card: dict[str, Any] = field(repr=False)
    kind: str  # "gan" or "vae"
    config: GANConfig | VAEConfig
    sha256: str
    name: str
    class_names: list[str]
    checkpoint: Path | None  # its training checkpoint (with the discriminator), when it matches

    @property
    def conditional(self) -> bool:
        return isinstance(self.config, GANConfig) and self.config.num_classes > 0

    def class_index(self, text: str) -> int:
        """The class ``text`` names: its number or its name (any case)."""
        names = self.class_names
        text = text.strip()
        if not names:
            raise TrainingError(f"{self.name} has no classes; drop --class")
        folded = [n.casefold() for n in names]
        if text.isdigit() and int(text) < len(names):
            return int(text)
        if text.casefold() in folded:
            return folded.index(text.casefold())
        choices = ", ".join(f"{i} {n}" for i, n in enumerate(names))
        raise TrainingError(f"{self.name} has no class {text!r}; its classes: {choices}")


def load_base(name_or_path: str) -> BaseModel:
    """A model to fine-tune, by library name or path; :class:`TrainingError` names what is wrong."""
    try:
        path = find_model(name_or_path)
    except ModelNotFoundError as exc:
        raise TrainingError(str(exc)) from exc
    try:
        card = inspect_model(path)["card"]
    except ModelFileError as exc:
        raise TrainingError(str(exc)) from exc
    architecture = card.get("architecture")
    kinds = {"gan-generator": "gan", "vae": "vae"}
    if not isinstance(architecture, str) or architecture not in kinds:  # a list in a card is no architecture
        raise TrainingError(f"{path.name} is not a VAE or GAN generator the studio can fine-tune")
    try:
        config = (GANConfig if kinds[architecture] == "gan" else VAEConfig)(**card["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainingError(f"{path.name}: its card's model config cannot be read ({exc})") from exc
    num_classes = getattr(config, "num_classes", 0)
    names = card.get("class_names")
    if not (isinstance(names, list) and len(names) == num_classes and all(isinstance(n, str) for n in names)):
        names = [f"class {i}" for i in range(num_classes)]
    ckpt = checkpoint_path(path)
    matching = ckpt if ckpt.is_file() and _checkpoint_matches(ckpt, config, card) else None
    return BaseModel(
        path=path,
        card=card,
        kind=kinds[architecture],
        config=config,
        sha256=model_sha256(path),
        name=str(card.get("name") or path.stem),
        class_names=list(names),
        checkpoint=matching,
    )


def _checkpoint_matches(ckpt: Path, config: GANConfig | VAEConfig, card: dict[str, Any]) -> bool:
    try:
        saved, step = read_checkpoint_config(ckpt)
    except (ModelFileError, TrainingError, OSError):
        return False
    steps = card.get("steps")
    return saved.model == config and (steps is None or steps == step)


def _gan_state_from_plain(config: GANConfig, plain: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A saved (folded) generator's weights in the layout of a generator that trains with
    spectral norm: loaded into a plain one, then normalised, so the norm's power iteration
    starts from these weights (they have unit spectral norm already: the images barely move)."""
    with torch.random.fork_rng(devices=[]):
        plain_config = dataclasses.replace(config, g_spectral_norm=False)
        g = generator_class(plain_config)(plain_config)
        g.load_state_dict(plain, strict=True)
        if config.g_spectral_norm:
            g.add_spectral_norm()
    return {k: v.detach().clone() for k, v in g.state_dict().items()}


def base_init(base: BaseModel, config: TrainConfig) -> tuple[dict[str, dict[str, torch.Tensor]], str]:
    """Starting weights per trainer module, and where the discriminator's came from.

    The generator (and its average) start from the base's averaged generator, the model the
    artist sees in the Latent Explorer. The discriminator comes from the base's training
    checkpoint when it has one, else it starts new.
    """
    tensors, _ = load_model(base.path)
    # A base whose weights do not fit its card, or went NaN/Inf, is a model-file error naming it.
    check_model_weights(base.path, tensors, base.config, f"the {base.kind} its card describes")
    if base.kind == "vae":
        return {"vae": tensors}, ""
    model = config.model
    assert isinstance(model, GANConfig)  # the run's kind is the base's (TrainConfig checks the model against it)
    if base.checkpoint is not None:
        state = load_checkpoint(base.checkpoint).state["trainer"]["modules"]
        g_state = state.get("g_ema") or state["g"]
        if _same_weights(model, g_state, tensors):
            d_source = f"the base model's training checkpoint ({base.checkpoint.name})"
            return {"g": g_state, "g_ema": g_state, "d": state["d"]}, d_source
    g_state = _gan_state_from_plain(model, tensors)
    return {"g": g_state, "g_ema": g_state}, "new (the base model has no training checkpoint with its discriminator)"


def _same_weights(config: GANConfig, g_state: dict[str, torch.Tensor], plain: dict[str, torch.Tensor]) -> bool:
    with torch.random.fork_rng(devices=[]):
        g = generator_class(config)(config)
    try:
        g.load_state_dict(g_state, strict=True)
    except RuntimeError:
        return False
    folded = plain_state_dict(g)
    return folded.keys() == plain.keys() and all(torch.allclose(folded[k], plain[k], atol=1e-6) for k in plain)
