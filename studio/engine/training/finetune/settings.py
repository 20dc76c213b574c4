"""A fine-tune run's settings: every choice, each named once with its command-line option.

- :class:`FinetuneSettings`: base, data, name, steps, freeze preset or blocks, loss, batch,
  learning rates, betas, EMA, augmentations, resize mode, class, held-out fraction, cadences,
  device, mixed precision, KID; ``to_dict``/``from_dict``;
- each field's :class:`~studio.spec.options.CliOption` (its ``studio finetune`` flag, help and
  type, in the field's metadata) makes the command's arguments
  (:func:`studio.commands.options.add_options`), the settings from them
  (:meth:`FinetuneSettings.from_options`) and the reproducible command line
  (:meth:`FinetuneSettings.command_line`);
- :class:`Cadence`: how often a run logs, makes samples and checkpoints, decided here for the
  wizard and the command alike (:meth:`FinetuneSettings.cadence`);
- :func:`normalise_augment`.

The library paths and the settings of a run that can be resumed are in :mod:`.library`.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import MISSING, dataclass, field
from typing import TYPE_CHECKING, Any

from studio.engine.devices import DeviceInfo, select_device
from studio.engine.training.config import TrainingError, read_decay
from studio.spec.bounds import (
    ADAM_BETA,
    BATCH,
    CLASS_INDEX,
    EMA_DECAY,
    HELDOUT,
    LEARNING_RATE,
    SEED,
    STEP_INTERVAL,
    TRAINING_STEPS,
    Bound,
    OutOfRange,
    first_problem,
    pair_problem,
)
from studio.spec.finetune import AUGMENT_ALIASES, AUGMENTATIONS, FREEZE_PRESETS, RESIZE_MODES
from studio.spec.models import LOSSES
from studio.spec.options import cli_option, given_options, options_of

if TYPE_CHECKING:
    from collections.abc import Mapping

JITTER = 0.1  # "mild": brightness, contrast and saturation within +-10 %
FREEZE_CHOICES = "freeze-d, last-blocks, all (or block names, comma-separated; see --list-blocks)"
CADENCES = ("log_every", "sample_every", "checkpoint_every")


# --- the command-line options --------------------------------------------------------------------


def _read_freeze(text: str) -> str | tuple[str, ...]:
    presets = ("auto", *FREEZE_PRESETS)
    return text if text in presets else tuple(b.strip() for b in text.split(",") if b.strip())


def _write_freeze(value: str | tuple[str, ...]) -> str:
    return value if isinstance(value, str) else ",".join(value)


def _read_betas(text: str) -> tuple[float, float]:
    try:
        first, second = (ADAM_BETA.parse(b) for b in text.split(","))
    except OutOfRange as exc:
        raise TrainingError(f"--betas: {exc}") from None
    except ValueError as exc:
        raise TrainingError(f"--betas takes two numbers, e.g. 0,0.999; got {text!r}") from exc
    return first, second


# Every number of the settings and its bound (studio.spec.bounds); those that may be None are
# optional ("the recipe's default", "the policy for the run's length", "switched off").
_NUMBERS: dict[str, tuple[Bound, bool]] = {
    "steps": (TRAINING_STEPS, False),
    "batch": (BATCH, False),
    "lr": (LEARNING_RATE, True),
    "d_lr": (LEARNING_RATE, True),
    "ema": (EMA_DECAY, True),
    "class_index": (CLASS_INDEX, True),
    "heldout": (HELDOUT, False),
    "seed": (SEED, False),
    **{name: (STEP_INTERVAL, True) for name in ("log_every", "sample_every", "checkpoint_every")},
}


def _check_numbers(settings: FinetuneSettings) -> None:
    """Raise :class:`TrainingError` naming the first number of ``settings`` outside its bound
    (or no number at all: a list, a string, NaN from a hand-edited file)."""
    values = {name: getattr(settings, name) for name in _NUMBERS}
    problem = first_problem(values, _NUMBERS)
    if problem is None and settings.betas is not None:  # None: the recipe's own
        problem = pair_problem("betas", settings.betas, ADAM_BETA)
    if problem is not None:
        raise TrainingError(problem)


# --- the cadence policy ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cadence:
    """How often a run reads its losses back, makes a sample grid and writes a checkpoint (with KID)."""

    log_every: int
    sample_every: int
    checkpoint_every: int

    @classmethod
    def for_steps(cls, steps: int) -> Cadence:
        """About 100 points on the loss curves, 20 sample grids and 4 checkpoints per run,
        whatever its length, but no more often than every 1, 10 and 50 steps and no less often
        than every 10, 100 and 500 (a run of 2,000 steps or more)."""
        return cls(
            log_every=max(1, min(10, steps // 100)),
            sample_every=max(10, min(100, steps // 20)),
            checkpoint_every=max(50, min(500, steps // 4)),
        )


# --- the settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FinetuneSettings:
    # A model's name in the library (bundled or the user's) or a path to one.
    base: str = field(
        metadata=cli_option(
            "--base",
            "the model to start from: a name from `studio info` or a .safetensors path",
            group="what",
            always=True,
        )
    )
    # The folder of images (or a prepared data set from a job folder).
    data: str = field(
        metadata=cli_option("--data", "the folder of images (searched recursively)", group="what", always=True)
    )
    name: str = field(metadata=cli_option("--out", "the new model's name in the library", group="what", always=True))
    steps: int = field(
        default=1000,
        metadata=cli_option(
            "--steps",
            "training steps (generator steps for a GAN); default 1000",
            type=TRAINING_STEPS.argument(),
            always=True,
        ),
    )
    # A FREEZE_PRESETS key, block names, or "auto".
    freeze: str | tuple[str, ...] = field(
        default="auto",
        metadata=cli_option(
            "--freeze",
            f"what stays frozen: {FREEZE_CHOICES}; default freeze-d (GAN), last-blocks (VAE)",
            read=_read_freeze,
            write=_write_freeze,
        ),
    )
    # GAN: one of LOSSES; None keeps the base model's.
    loss: str | None = field(
        default=None, metadata=cli_option("--loss", "GAN loss (default: the base model's)", choices=LOSSES)
    )
    batch: int = field(default=16, metadata=cli_option("--batch", "images per step; default 16", type=BATCH.argument()))
    # None: the recipe's default for the loss.
    lr: float | None = field(
        default=None,
        metadata=cli_option("--lr", "learning rate (the generator's for a GAN)", type=LEARNING_RATE.argument()),
    )
    d_lr: float | None = field(
        default=None,
        metadata=cli_option("--d-lr", "the discriminator's learning rate (GAN)", type=LEARNING_RATE.argument()),
    )
    betas: tuple[float, float] | None = field(
        default=None,
        metadata=cli_option(
            "--betas",
            "Adam betas, e.g. 0,0.999 (default: the loss's recipe)",
            read=_read_betas,
            write=lambda betas: f"{betas[0]},{betas[1]}",
        ),
    )
    # The generator's weight average; None switches it off.
    ema: float | None = field(
        default=0.999,
        metadata=cli_option(
            "--ema",
            "generator weight average decay (0.999; 0 switches it off)",
            type=EMA_DECAY.argument(),
            read=read_decay,
            write=lambda decay: "0" if decay is None else str(decay),
        ),
    )
    # AUGMENTATIONS; None: the default for the model kind.
    augment: tuple[str, ...] | None = field(
        default=None,
        metadata=cli_option(
            "--augment",
            "comma-separated: flip, jitter, color, translation, cutout, diffaugment (= the last three), none; "
            "default flip,diffaugment (GAN), flip (VAE)",
            read=lambda text: tuple(a.strip() for a in text.split(",")),
            write=lambda augment: ",".join(augment) or "none",
        ),
    )
    resize: str = field(
        default="center-crop", metadata=cli_option("--resize", "how pictures become squares", choices=RESIZE_MODES)
    )
    # A conditional base: the class the folder becomes; None: the first. The option takes the
    # class's name or number: which number a name is, the base model says (BaseModel.class_index).
    class_index: int | None = field(
        default=None,
        metadata=cli_option("--class", "conditional base: the class your folder becomes (default: the first)"),
    )
    # The part of the folder kept out of training, for KID.
    heldout: float = field(
        default=0.1,
        metadata=cli_option("--heldout", "part of the folder kept for KID (default 0.1)", type=HELDOUT.argument()),
    )
    seed: int = field(
        default=0,
        metadata=cli_option(
            "--seed", "seed for noise, batches and the held-out split (default 0)", type=SEED.argument()
        ),
    )
    # The cadences; None: the policy for the run's length (Cadence.for_steps).
    sample_every: int | None = field(
        default=None,
        metadata=cli_option(
            "--sample-every",
            "write a sample grid every N steps (default: 20 in a run, at most every 100 steps)",
            type=STEP_INTERVAL.argument(),
        ),
    )
    checkpoint_every: int | None = field(
        default=None,
        metadata=cli_option(
            "--checkpoint-every",
            "checkpoint (and KID) every N steps (default: 4 in a run, at least every 50 and at most every 500 steps)",
            type=STEP_INTERVAL.argument(),
        ),
    )
    log_every: int | None = field(
        default=None,
        metadata=cli_option(
            "--log-every",
            "read losses back every N steps (default: 100 times a run, at most every 10 steps)",
            type=STEP_INTERVAL.argument(),
        ),
    )
    device: str = field(
        default="auto", metadata=cli_option("--device", "auto, cpu, cuda, cuda:N or mps (default auto)")
    )
    # Mixed precision on CUDA GPUs (ignored elsewhere).
    amp: bool = field(default=True, metadata=cli_option("--amp", "mixed precision on CUDA (default on)", switch=True))
    # KID on the held-out images before training and at every checkpoint.
    kid: bool = field(default=True, metadata=cli_option("--no-kid", "skip the held-out KID measurements", switch=True))

    def __post_init__(self) -> None:
        if not str(self.name).strip():
            raise TrainingError("the new model needs a name")
        if self.loss is not None and self.loss not in LOSSES:
            raise TrainingError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.resize not in RESIZE_MODES:
            raise TrainingError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {self.resize!r}")
        _check_numbers(self)
        if self.augment is not None:
            normalise_augment(self.augment)
        if isinstance(self.freeze, str) and self.freeze != "auto" and self.freeze not in FREEZE_PRESETS:
            raise TrainingError(f"freeze must be one of auto, {', '.join(FREEZE_PRESETS)} or a list of blocks")

    def cadence(self) -> Cadence:
        """How often this run logs, makes samples and checkpoints: the cadences set, and the
        policy for its length (:meth:`Cadence.for_steps`) for the rest."""
        policy = Cadence.for_steps(self.steps)
        chosen = {name: getattr(self, name) for name in CADENCES if getattr(self, name) is not None}
        return dataclasses.replace(policy, **chosen)

    def run_device(self, handed: DeviceInfo) -> DeviceInfo:
        """The device a run of these settings trains on when the worker hands it ``handed``:
        that one, unless the settings name another (the wizard's "CPU" while the studio runs
        on a GPU)."""
        if self.device in ("auto", handed.kind, handed.torch_device):
            return handed
        return select_device(self.device)

    def replace(self, **changes: Any) -> FinetuneSettings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("freeze", "betas", "augment"):
            if isinstance(out[key], tuple):
                out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FinetuneSettings:
        """Settings from :meth:`to_dict`'s output (a job folder, a draft); every number is
        checked against its bound, and :class:`TrainingError` names the field that is wrong."""
        if not isinstance(data, dict):
            raise TrainingError(f"the fine-tune settings must be a JSON object, not {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("freeze", "betas", "augment"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        try:
            return cls(**values)
        except (TypeError, AttributeError) as exc:  # a missing field, text where a list belongs
            raise TrainingError(f"the fine-tune settings are invalid ({exc})") from exc

    # --- the command line ----------------------------------------------------------------------------

    @classmethod
    def from_options(cls, given: Mapping[str, Any], saved: FinetuneSettings | None = None) -> FinetuneSettings:
        """The settings that command-line options make: ``given`` maps field names to what the
        options parsed to (None: not given). Over ``saved`` (the settings of a run being
        resumed, whose name stays) when there is one; else ``--base``, ``--data`` and
        ``--out`` are needed. A class (``class_index``) must be a number here."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if saved is None:
            missing = [
                option.flag
                for name, option in options_of(cls)
                if fields[name].default is MISSING and given.get(name) is None
            ]
            if missing:
                raise TrainingError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} needed")
            values: dict[str, Any] = {}
        else:
            values = saved.to_dict()
        changes = given_options(cls, given)
        if saved is not None:
            changes.pop("name", None)  # a resumed run keeps its name
        return cls.from_dict({**values, **changes})

    def command_line(self) -> str:
        """The ``studio finetune`` command that runs these settings (for cards and job folders)."""
        parts = ["studio", "finetune"]
        for f in dataclasses.fields(self):
            option = f.metadata["option"]
            value = getattr(self, f.name)
            if option.always or value != f.default:
                parts += option.words(value)
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
