"""Training checkpoints: everything a run needs to go on, as safetensors plus a JSON card.

``foo.safetensors`` (the finished model) has its checkpoint beside it as
``foo.ckpt.safetensors`` (card ``foo.ckpt.json``). The tensors are the modules, optimiser
moments, sampler position and random states (see :mod:`studio.engine.training.state`); the
card holds the run's config, the step, the training time so far and the skeleton that puts
the tensors back in place. Writes go through :func:`studio.engine.checkpoints.save_model`, so
they are atomic: a crash or a full disk leaves the previous checkpoint whole.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.engine.checkpoints import (
    TRAINING_CHECKPOINT_SUFFIX,
    ModelFileError,
    check_weights,
    load_model,
    save_model,
    validate_safetensors,
)
from studio.engine.training.config import TrainConfig, TrainingError
from studio.engine.training.state import StateError, flatten_state, unflatten_state
from studio.spec.models import GANConfig, VAEConfig

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator

    from studio.engine.models import VAE
    from studio.engine.models.gan import Generator
    from studio.engine.models.stylegan import StyleGenerator

CHECKPOINT_ARCHITECTURE = "training-checkpoint"
CHECKPOINT_FORMAT = 1
# What a slim checkpoint keeps: the weights fine-tuning starts from (FreezeD needs the trained
# discriminator), not the optimiser moments, sampler and random states that only resuming needs.
SLIM_MODULES = {"gan": ("g_ema", "d"), "vae": ("vae",)}
CHECKPOINT_SUFFIX = TRAINING_CHECKPOINT_SUFFIX
SAMPLES_SUFFIX = "-samples.png"


def model_path(out: str | os.PathLike[str]) -> Path:
    """The finished model's file for ``--out PATH``: PATH itself, with ``.safetensors`` added if missing."""
    path = Path(out)
    return path if path.suffix.lower() == ".safetensors" else path.with_name(path.name + ".safetensors")


def checkpoint_path(out: str | os.PathLike[str]) -> Path:
    model = model_path(out)
    return model.with_name(model.name[: -len(".safetensors")] + CHECKPOINT_SUFFIX)


def samples_path(out: str | os.PathLike[str]) -> Path:
    model = model_path(out)
    return model.with_name(model.name[: -len(".safetensors")] + SAMPLES_SUFFIX)


@dataclass(frozen=True)
class Checkpoint:
    config: TrainConfig
    step: int
    elapsed_s: float  # training time of every session so far
    state: dict[str, Any]  # {"trainer": ..., "sampler": ...}
    card: dict[str, Any]
    file: Path | None = None  # where it was read from, for messages


@contextlib.contextmanager
def checkpoint_weights(file: Path, use: str) -> Iterator[None]:
    """Put a checkpoint's tensors into modules; what torch raises becomes a :class:`ModelFileError`.

    Resuming (``use`` "resumed") and importing ("imported") go through here: a crafted or
    damaged checkpoint (a tensor of the wrong shape, a module's weights missing, state of the
    wrong type) is a model-file error naming the file, not a RuntimeError or KeyError
    traceback. Running out of memory keeps its own type, so the caller can retry or say so.
    """
    from studio.engine.devices import is_out_of_memory

    try:
        yield
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        if is_out_of_memory(exc):
            raise
        # KeyError's text is its key in quotes; torch's size mismatches run to pages: the start says enough.
        detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        detail = " ".join(str(detail).split())
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        raise ModelFileError(f"{file.name} cannot be {use}: {detail}") from exc


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    config: TrainConfig,
    step: int,
    elapsed_s: float,
    state: dict[str, Any],
    info: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically; raises :class:`~studio.files.atomic.SaveError` with the old one intact."""
    tensors, skeleton = flatten_state(state, prefix="")
    card = {
        **(info or {}),
        "architecture": CHECKPOINT_ARCHITECTURE,
        "checkpoint_format": CHECKPOINT_FORMAT,
        "step": step,
        "elapsed_s": elapsed_s,
        "train_config": config.to_dict(),
        "state": skeleton,
    }
    return save_model(path, tensors, card)


def _config_from_card(path: Path, card: dict[str, Any]) -> TrainConfig:
    if card.get("architecture") != CHECKPOINT_ARCHITECTURE:
        raise ModelFileError(f"{path.name}: not a training checkpoint")
    if card.get("checkpoint_format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{path.name}: checkpoint format {card.get('checkpoint_format')!r} is not supported")
    try:
        return TrainConfig.from_dict(card["train_config"])
    except (KeyError, TrainingError) as exc:
        raise ModelFileError(f"{path.name}: its training config cannot be read ({exc})") from exc


def _embedded_card(file: Path) -> dict[str, Any]:
    # The card inside the tensor file, not the sidecar: both are replaced atomically but one
    # after the other, and a kill between the two renames leaves a sidecar describing the
    # previous checkpoint. The embedded copy is always the tensors' own.
    header = validate_safetensors(file)
    try:
        card = json.loads(header["__metadata__"]["card"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{file.name}: not a training checkpoint (no card inside)") from exc
    if not isinstance(card, dict):
        raise ModelFileError(f"{file.name}: not a training checkpoint (its card is not a JSON object)")
    return card


def read_checkpoint_config(path: str | os.PathLike[str]) -> tuple[TrainConfig, int]:
    """The run's config and step from a checkpoint's header, without loading its tensors."""
    file = Path(path)
    card = _embedded_card(file)
    return _config_from_card(file, card), int(card.get("step", 0))


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint (tensors on the CPU); :class:`ModelFileError` names the file if it is damaged."""
    file = Path(path)
    card = _embedded_card(file)
    tensors, _ = load_model(file)
    config = _config_from_card(file, card)
    try:
        state = unflatten_state(card["state"], tensors)
        step = int(card["step"])
        elapsed = float(card.get("elapsed_s", 0.0))
    except (KeyError, TypeError, ValueError, StateError) as exc:
        raise ModelFileError(f"{file.name}: corrupt or incomplete checkpoint ({exc})") from exc
    return Checkpoint(config=config, step=step, elapsed_s=elapsed, state=state, card=card, file=file)


def is_slim(card: dict[str, Any]) -> bool:
    return bool(card.get("slim"))


def slim_checkpoint(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write a checkpoint that keeps only the modules a fine-tune starts from.

    The bundled models ship one beside them (``emoji-gan.ckpt.safetensors``, about a quarter
    of the full checkpoint's size), so FreezeD works from a clean install. It cannot resume
    training: :func:`~studio.engine.training.loop.train_job` says so. ``out`` defaults to
    ``path`` (replaced atomically).
    """
    source = Path(path)
    checkpoint = load_checkpoint(source)
    if is_slim(checkpoint.card):
        raise TrainingError(f"{source.name} is already slim")
    modules = checkpoint.state["trainer"]["modules"]
    kind = checkpoint.config.kind
    kept = {}
    for name in SLIM_MODULES.get(kind, ()):
        found = modules.get(name) or (modules.get("g") if name == "g_ema" else None)
        if found is None:
            raise TrainingError(f"{source.name} has no {name!r} module to keep")
        kept[name] = found
    info = {
        k: v
        for k, v in checkpoint.card.items()
        if k not in ("architecture", "checkpoint_format", "step", "elapsed_s", "train_config", "state")
    }
    info.update(
        slim=True,
        slimmed_from=source.name,
        description="the weights a fine-tune starts from; the optimiser state was left out, so it cannot resume",
    )
    return save_checkpoint(
        out if out is not None else source,
        config=checkpoint.config,
        step=checkpoint.step,
        elapsed_s=checkpoint.elapsed_s,
        state={"trainer": {"modules": kept}},
        info=info,
    )


def _modules(checkpoint: Checkpoint) -> dict[str, Any]:
    """The trainer's module weights by name (inside :func:`checkpoint_weights`: a damaged
    checkpoint's KeyError or TypeError becomes a model-file error)."""
    modules = checkpoint.state["trainer"]["modules"]
    if not isinstance(modules, dict):
        raise TypeError("its modules are not a map of weights")
    return modules


def _described(model: VAEConfig | GANConfig) -> str:
    kind = "gan generator" if isinstance(model, GANConfig) else "vae"
    return f"the {kind} its training config describes"


def check_checkpoint_weights(checkpoint: Checkpoint) -> None:
    """Refuse a checkpoint to resume whose modules do not fit its config or hold NaN/Inf,
    before the trainer is built (:func:`~studio.engine.models.store.check_model_weights` for
    the generator, its average and the VAE; the discriminator against one built on torch's
    meta device, which allocates nothing). Raises :class:`ModelFileError` naming the file.
    """
    import dataclasses

    import torch

    from studio.engine.models.gan import build_gan
    from studio.engine.models.store import check_model_weights

    file = checkpoint.file or Path("the checkpoint")
    model = checkpoint.config.model
    with checkpoint_weights(file, "resumed"):
        for name, weights in _modules(checkpoint).items():
            if not isinstance(weights, dict):
                raise TypeError(f"the {name!r} module is not a map of weights")
            if name == "d" and isinstance(model, GANConfig):
                with torch.device("meta"):
                    _, discriminator = build_gan(model)
                what = "the gan discriminator its training config describes"
                check_weights(file, weights, discriminator.state_dict(), what, dataclasses.asdict(model))
            elif name in (("g", "g_ema") if isinstance(model, GANConfig) else ("vae",)):
                check_model_weights(file, weights, model, _described(model), folded=False)


def model_from_checkpoint(checkpoint: Checkpoint) -> VAE | Generator | StyleGenerator:
    """The model a checkpoint would finish as: the averaged generator of a GAN (else its
    generator), or the VAE; in eval mode, on the CPU.

    Its weights are checked against the run's config before the model is built
    (:func:`~studio.engine.models.store.build_checked`: shapes, dtypes, NaN/Inf), so a crafted
    or diverged checkpoint is a :class:`ModelFileError` naming the file.
    """
    from studio.engine.models.store import build_checked

    file = checkpoint.file or Path("the checkpoint")
    config = checkpoint.config
    with checkpoint_weights(file, "imported"):
        modules = _modules(checkpoint)
        # kind "gan" (TrainConfig checks the model against its kind): the averaged generator if kept.
        names = ("g_ema", "g") if isinstance(config.model, GANConfig) else ("vae",)
        weights = next((modules[name] for name in names if modules.get(name)), None)
        if not isinstance(weights, dict):
            raise KeyError(f"it holds no weights for {' or '.join(repr(n) for n in names)}")
        module = build_checked(file, weights, config.model, _described(config.model), folded=False)
    return module
