"""What a training run is: one frozen dataclass, written into every checkpoint and model card.

:func:`default_config` gives the defaults per model kind and GAN loss (learning rates, Adam
betas and critic steps differ between them); :meth:`TrainConfig.to_dict` and
:meth:`TrainConfig.from_dict` carry a config through JSON, so a checkpoint rebuilds its run.

Fine-tuning recipes are settings of the same run, not a second kind of run: ``freeze`` (block
names, see :mod:`.freezing`), the real-image augmentations ``flip``, ``jitter`` and
``random_crop``, ``diffaugment`` (policies applied to everything a GAN's discriminator sees,
see :mod:`.augment`), ``fixed_class`` (one class of a conditional model trained on unlabelled
images) and ``kid_at_checkpoints``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from studio.spec.bounds import (
    ADAM_BETA,
    BATCH,
    CLASS_INDEX,
    COLOUR_JITTER,
    EMA_DECAY,
    EVAL_SAMPLES,
    FEATURE_LOSS,
    LEARNING_RATE,
    LECAM,
    LOSS_WEIGHT,
    N_CRITIC,
    SEED,
    STEP_INTERVAL,
    TRAINING_STEPS,
    Bound,
    first_problem,
    pair_problem,
)
from studio.spec.models import GANConfig, VAEConfig
from studio.spec.options import cli_option

KINDS = ("vae", "gan")
LR_SCHEDULES = ("constant", "cosine")
DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")
MAX_JITTER = float(COLOUR_JITTER.high)

# Per GAN loss: (generator lr, discriminator lr, Adam betas, critic steps per generator step).
# hinge: SAGAN/BigGAN's two time-scale rule; wgan-gp: Gulrajani et al.; the others: DCGAN.
GAN_DEFAULTS: dict[str, tuple[float, float, tuple[float, float], int]] = {
    "hinge": (1e-4, 4e-4, (0.0, 0.999), 1),
    "wgan-gp": (1e-4, 1e-4, (0.0, 0.9), 5),
    "nonsaturating": (2e-4, 2e-4, (0.5, 0.999), 1),
    "lsgan": (2e-4, 2e-4, (0.5, 0.999), 1),
}
VAE_DEFAULTS = (1e-3, (0.9, 0.999))
V2_LECAM = 0.1
MAX_FEATURE_LOSS = float(FEATURE_LOSS.high)


class TrainingError(ValueError):
    """A training run cannot start or go on; the message is for the user."""


# Every number of a stored config and its bound (studio.spec.bounds); those that may be None
# are optional (d_lr: the generator's; ema_decay: no average; fixed_class: every class). A
# checkpoint's card is a file like any other: a batch of 10**9 or a NaN learning rate in it is
# refused by name before the trainer is built.
_NUMBERS: dict[str, tuple[Bound, bool]] = {
    "steps": (TRAINING_STEPS, False),
    "batch": (BATCH, False),
    "lr": (LEARNING_RATE, False),
    "d_lr": (LEARNING_RATE, True),
    "n_critic": (N_CRITIC, False),
    "gp_weight": (LOSS_WEIGHT, False),
    "ema_decay": (EMA_DECAY, True),
    **{name: (STEP_INTERVAL, False) for name in ("log_every", "sample_every", "checkpoint_every")},
    "seed": (SEED, False),
    "eval_samples": (EVAL_SAMPLES, False),
    "jitter": (COLOUR_JITTER, False),
    "fixed_class": (CLASS_INDEX, True),
    "lecam": (LECAM, False),
    "feature_loss": (FEATURE_LOSS, False),
}
_TEXTS = ("kind", "lr_schedule", "device", "name")
_SWITCHES = ("amp", "evaluate", "flip", "random_crop", "kid_at_checkpoints", "keep_best")


def _check_stored(values: dict[str, Any]) -> None:
    """Raise :class:`TrainingError` naming the first field of a stored config that is out of
    its bound or of the wrong type (a list, a string, NaN from a hand-edited or crafted card)."""
    problem = first_problem(values, _NUMBERS) or pair_problem("betas", values.get("betas"), ADAM_BETA)
    if problem is not None:
        raise TrainingError(problem)
    for name in _TEXTS:
        if name in values and not isinstance(values[name], str):
            raise TrainingError(f"{name} must be text, got {values[name]!r}"[:200])
    for name in _SWITCHES:
        if name in values and not isinstance(values[name], bool):
            raise TrainingError(f"{name} must be true or false, got {values[name]!r}"[:200])
    if not isinstance(values.get("model"), dict):
        raise TrainingError(f"model must be a JSON object of the model's settings, got {values.get('model')!r}"[:200])


def read_decay(decay: float) -> float | None:
    """``--ema DECAY``: 0 switches the weight average off (None)."""
    return decay if decay > 0 else None


def read_cond_ramp(text: str) -> tuple[int, int] | None:
    """``--cond-ramp START:END``; ``0:0`` is fully conditional from the start (None)."""
    try:
        start, end = (int(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"--cond-ramp takes two step numbers, START:END, got {text!r}") from None
    return None if start == end == 0 else (start, end)


@dataclass(frozen=True)
class TrainConfig:
    kind: str  # "vae" or "gan"
    model: VAEConfig | GANConfig
    # The fields with a cli_option are `studio train`'s options (studio.commands.train).
    steps: int = field(  # generator updates for a GAN, optimiser steps for a VAE
        default=10_000,
        metadata=cli_option(
            "--steps", "optimiser steps (generator steps for a GAN); default 10000", type=TRAINING_STEPS.argument()
        ),
    )
    batch: int = field(default=64, metadata=cli_option("--batch", "images per step; default 64", type=BATCH.argument()))
    lr: float = field(  # the VAE's, or the generator's
        default=2e-4,
        metadata=cli_option("--lr", "learning rate (the generator's for a GAN)", type=LEARNING_RATE.argument()),
    )
    d_lr: float | None = field(  # the discriminator's; None: same as lr
        default=None,
        metadata=cli_option("--d-lr", "the discriminator's learning rate (GAN)", type=LEARNING_RATE.argument()),
    )
    betas: tuple[float, float] = (0.5, 0.999)
    lr_schedule: str = field(  # "cosine": to zero at `steps`
        default="constant", metadata=cli_option("--lr-schedule", "default constant", choices=LR_SCHEDULES)
    )
    n_critic: int = field(  # discriminator steps per generator step
        default=1,
        metadata=cli_option(
            "--n-critic",
            "discriminator steps per generator step (5 for wgan-gp, else 1)",
            type=N_CRITIC.argument(),
            group="GAN",
        ),
    )
    gp_weight: float = field(  # wgan-gp only
        default=10.0,
        metadata=cli_option(
            "--gp-weight", "wgan-gp gradient penalty weight (10)", type=LOSS_WEIGHT.argument(), group="GAN"
        ),
    )
    ema_decay: float | None = field(  # generator weight average; None: sample from the raw G
        default=0.999,
        metadata=cli_option(
            "--ema",
            "generator weight average decay (0.999; 0 switches it off)",
            type=EMA_DECAY.argument(),
            read=read_decay,
            group="GAN",
        ),
    )
    log_every: int = field(  # losses are read back from the device this often, no more
        default=50,
        metadata=cli_option(
            "--log-every", "read losses back every N steps (default 50)", type=STEP_INTERVAL.argument()
        ),
    )
    sample_every: int = field(
        default=500,
        metadata=cli_option(
            "--sample-every", "write a sample grid every N steps (default 500)", type=STEP_INTERVAL.argument()
        ),
    )
    checkpoint_every: int = field(
        default=1000,
        metadata=cli_option(
            "--checkpoint-every", "write a checkpoint every N steps (default 1000)", type=STEP_INTERVAL.argument()
        ),
    )
    seed: int = field(
        default=0,
        metadata=cli_option("--seed", "seed for weights, noise and batch order; default 0", type=SEED.argument()),
    )
    device: str = field(  # auto, cpu, cuda, cuda:N, mps
        default="auto", metadata=cli_option("--device", "auto, cpu, cuda, cuda:N or mps (default auto)")
    )
    amp: bool = field(  # autocast (bf16, else fp16 with loss scaling) on CUDA; ignored elsewhere
        default=False, metadata=cli_option("--amp", "mixed precision on CUDA", switch=True)
    )
    evaluate: bool = field(  # `studio evaluate`'s measures on the card when training ends
        default=True,
        metadata=cli_option("--no-eval", "skip the measures (studio evaluate) at the end", switch=True),
    )
    eval_samples: int = 2000  # samples those measures draw
    name: str = field(  # the model's name in the library; empty: the output file's name
        default="", metadata=cli_option("--name", "the model's name in the library (default: OUT's file name)")
    )
    # Fine-tuning (defaults: plain training, as before these existed).
    freeze: tuple[str, ...] = ()  # block names whose parameters do not train (see .freezing)
    flip: bool = False  # random horizontal flips of the real images
    jitter: float = 0.0  # colour jitter of the real images: brightness, contrast, saturation +- this
    random_crop: bool = False  # a random 80-100 % crop of each real image, scaled back to full size
    diffaugment: tuple[str, ...] = ()  # GAN: DiffAugment policies on real and generated images alike
    fixed_class: int | None = None  # conditional GAN: every sample and preview in this one class
    kid_at_checkpoints: bool = False  # KID on the held-out split at step 0 and at every checkpoint
    keep_best: bool = field(  # KID at every checkpoint, and the best weights so far kept as OUT-best.safetensors
        default=False,
        metadata=cli_option(
            "--keep-best",
            "measure KID on the held-out images at every checkpoint and keep the best weights as OUT-best.safetensors",
            switch=True,
        ),
    )
    # GAN regularisers for small data sets (GAN v2 turns them on by default, see default_config).
    lecam: float = field(  # LeCam regularisation weight (Tseng et al. 2021); 0: off
        default=0.0,
        metadata=cli_option(
            "--lecam", "LeCam regularisation weight (0.1 for v2, else 0: off)", type=LECAM.argument(), group="GAN"
        ),
    )
    # Conditional GAN v2: the class's weight rises linearly from 0 at the first step number to 1
    # at the second (Shahbazi et al. 2022); None: fully conditional from the start.
    cond_ramp: tuple[int, int] | None = field(
        default=None,
        metadata=cli_option(
            "--cond-ramp",
            "GAN v2, conditional: bring the classes in linearly between these steps "
            "(default: a fifth and half of --steps); 0:0 for fully conditional from the start",
            read=read_cond_ramp,
            metavar="START:END",
            group="GAN",
        ),
    )
    # VAE: weight of the VGG19 feature term in the reconstruction loss, which then also turns
    # the pixel term from squared to L1 error (DFC-VAE, Hou et al. 2017); 0: the plain ELBO.
    feature_loss: float = field(
        default=0.0,
        metadata=cli_option(
            "--feature-loss",
            "VAE: add a VGG19 feature term to the reconstruction loss, with an L1 pixel term (DFC-VAE); "
            "0.5 weighs the two alike (default 0: off)",
            type=FEATURE_LOSS.argument(),
            metavar="WEIGHT",
            group="model",
        ),
    )

    def __post_init__(self) -> None:
        if isinstance(self.cond_ramp, list):  # from JSON
            object.__setattr__(self, "cond_ramp", tuple(self.cond_ramp))
        if self.kind not in KINDS:
            raise TrainingError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        expected = VAEConfig if self.kind == "vae" else GANConfig
        if not isinstance(self.model, expected):
            raise TrainingError(f"a {self.kind} run needs a {expected.__name__}, got {type(self.model).__name__}")
        for name in ("steps", "batch", "n_critic", "log_every", "sample_every", "checkpoint_every", "eval_samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TrainingError(f"{name} must be a positive whole number, got {value!r}")
        for name in ("lr", "d_lr"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise TrainingError(f"{name} must be a positive number, got {value!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise TrainingError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise TrainingError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise TrainingError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")
        if not self.gp_weight >= 0:
            raise TrainingError(f"gp_weight must be >= 0, got {self.gp_weight!r}")
        if not isinstance(self.freeze, tuple) or not all(isinstance(b, str) for b in self.freeze):
            raise TrainingError(f"freeze must be a tuple of block names, got {self.freeze!r}")
        if not isinstance(self.jitter, (int, float)) or not 0.0 <= self.jitter <= MAX_JITTER:
            raise TrainingError(f"jitter must be between 0 and {MAX_JITTER}, got {self.jitter!r}")
        if not isinstance(self.diffaugment, tuple) or any(p not in DIFFAUGMENT_POLICIES for p in self.diffaugment):
            raise TrainingError(
                f"diffaugment must list policies from {', '.join(DIFFAUGMENT_POLICIES)}, got {self.diffaugment!r}"
            )
        if self.diffaugment and self.kind != "gan":
            raise TrainingError("DiffAugment is for GANs (it augments what the discriminator sees)")
        if not isinstance(self.lecam, (int, float)) or isinstance(self.lecam, bool) or not 0.0 <= self.lecam <= 10.0:
            raise TrainingError(f"lecam must be a weight between 0 and 10, got {self.lecam!r}")
        if self.lecam and self.kind != "gan":
            raise TrainingError("LeCam regularisation is for GANs")
        if (
            not isinstance(self.feature_loss, (int, float))
            or isinstance(self.feature_loss, bool)
            or not 0.0 <= self.feature_loss <= MAX_FEATURE_LOSS
        ):
            raise TrainingError(
                f"feature_loss must be a weight between 0 and {MAX_FEATURE_LOSS}, got {self.feature_loss!r}"
            )
        if self.feature_loss and self.kind != "vae":
            raise TrainingError("the VGG19 feature loss is for VAEs")
        if self.cond_ramp is not None:
            ramp = self.cond_ramp
            if (
                not isinstance(ramp, tuple)
                or len(ramp) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ramp)
                or ramp[0] > ramp[1]
            ):
                raise TrainingError(f"cond_ramp must be two step numbers, start <= end, got {ramp!r}")
            if not (isinstance(self.model, GANConfig) and self.model.style_based and self.model.num_classes):
                raise TrainingError("the conditioning ramp is for a conditional GAN v2 (architecture 'style')")
        if self.fixed_class is not None:
            classes = getattr(self.model, "num_classes", 0)
            if not classes:
                raise TrainingError("fixed_class is for a conditional GAN; this model has no classes")
            if isinstance(self.fixed_class, bool) or not isinstance(self.fixed_class, int):
                raise TrainingError(f"fixed_class must be a class number, got {self.fixed_class!r}")
            if not 0 <= self.fixed_class < classes:
                raise TrainingError(f"fixed_class must be in 0..{classes - 1}, got {self.fixed_class}")

    @property
    def loss(self) -> str | None:
        """The GAN loss (it lives in the model config, which the discriminator is built for)."""
        return self.model.loss if isinstance(self.model, GANConfig) else None

    @property
    def conditional(self) -> bool:
        return isinstance(self.model, GANConfig) and self.model.num_classes > 0

    def cond_strength(self, step: int) -> float:
        """How much the class counts after ``step`` steps: 0 unconditional, 1 fully conditional."""
        if self.cond_ramp is None:
            return 1.0
        start, end = self.cond_ramp
        if step >= end:
            return 1.0
        if step <= start:
            return 0.0
        return (step - start) / (end - start)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model"}
        out["betas"] = list(self.betas)
        out["freeze"] = list(self.freeze)
        out["diffaugment"] = list(self.diffaugment)
        out["cond_ramp"] = None if self.cond_ramp is None else list(self.cond_ramp)
        out["model"] = dataclasses.asdict(self.model)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from :meth:`to_dict`'s output (a checkpoint's card); every number is checked
        against its bound first, and :class:`TrainingError` names the field that is wrong."""
        if not isinstance(data, dict):
            raise TrainingError(f"the training config must be a JSON object, not {type(data).__name__}")
        _check_stored(data)
        try:
            values = dict(data)
            kind = values["kind"]
            model_cls = VAEConfig if kind == "vae" else GANConfig
            try:
                values["model"] = model_cls(**values["model"])
            except (TypeError, ValueError) as exc:  # OutOfRange from the model's own bounds
                raise TrainingError(f"model: {exc}") from exc
            values["betas"] = tuple(values["betas"])
            for key in ("freeze", "diffaugment"):  # absent from checkpoints older than fine-tuning
                if key in values:
                    values[key] = tuple(values[key])
            known = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in values.items() if k in known})
        except TrainingError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise TrainingError(f"the training config is invalid ({exc})") from exc


def default_config(kind: str, model: VAEConfig | GANConfig | None = None, **changes: Any) -> TrainConfig:
    """The recommended run for ``kind`` (and, for a GAN, for its loss); ``changes`` win."""
    if kind == "vae":
        model = model if model is not None else VAEConfig()
        lr, betas = VAE_DEFAULTS
        base = TrainConfig(kind="vae", model=model, lr=lr, betas=betas, ema_decay=None)
    elif kind == "gan":
        model = model if model is not None else GANConfig()
        if not isinstance(model, GANConfig):
            raise TrainingError(f"a gan run needs a GANConfig, got {type(model).__name__}")
        g_lr, d_lr, betas, n_critic = GAN_DEFAULTS[model.loss]
        base = TrainConfig(kind="gan", model=model, lr=g_lr, d_lr=d_lr, betas=betas, n_critic=n_critic)
        if model.style_based:
            # GAN v2 is built for small data sets: DiffAugment on everything D sees and LeCam
            # (Zhao et al. 2020; Tseng et al. 2021), and a ramp that brings a conditional model's
            # classes in gradually. The hinge loss's two time-scale learning rates stay: with
            # equal rates the generator's diversity fell faster in short trials on the faces.
            steps = changes.get("steps", base.steps)
            ramp = (steps // 5, steps // 2) if model.num_classes else None
            base = dataclasses.replace(base, diffaugment=DIFFAUGMENT_POLICIES, lecam=V2_LECAM, cond_ramp=ramp)
    else:
        raise TrainingError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return dataclasses.replace(base, **changes) if changes else base


def check_resumable(saved: TrainConfig, wanted: TrainConfig) -> None:
    """Refuse to resume ``saved`` as ``wanted`` when they describe different models.

    Everything else may change on resume (steps, batch, learning rates, device, cadences...):
    the checkpoint's weights, optimiser moments and random states carry on under the new values;
    except the frozen blocks, which decide what the optimisers hold.
    """
    if saved.kind != wanted.kind:
        raise TrainingError(f"the checkpoint trains a {saved.kind}, not a {wanted.kind}")
    if sorted(saved.freeze) != sorted(wanted.freeze):
        raise TrainingError(
            f"the checkpoint froze {', '.join(saved.freeze) or 'no blocks'}, not {', '.join(wanted.freeze) or 'none'}: "
            "resume with the same freezing, or train into a new output"
        )
    old, new = dataclasses.asdict(saved.model), dataclasses.asdict(wanted.model)
    changed = [f"{k} ({old[k]!r} in the checkpoint, {new.get(k)!r} now)" for k in old if old[k] != new.get(k)]
    if changed:
        raise TrainingError(
            "the checkpoint holds a different model: "
            + "; ".join(changed)
            + ". Resume with the checkpoint's settings, or train into a new --out file"
        )
