"""Every number a user types or a file says, with the range the studio accepts.

One table, shared by the command line (``Bound.argument`` is an argparse type), the GUI's
forms (spin boxes take ``low``/``high``), restoring a PNG's state and loading a model card
(``Bound.check``). Out of range is a plain message naming the number, never an overflow, an
allocation failure or a segfault further down (RELIABILITY.md item 30).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


class OutOfRange(ValueError):
    """A number outside its bound, or not a number at all; the message is meant for the user."""


@dataclass(frozen=True)
class Bound:
    """The range of one kind of number; ``what`` names it in a message ("the seed")."""

    what: str
    low: int | float
    high: int | float
    integer: bool = True

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not acceptable, or None when it is."""
        # bool is an int subclass; true in a hand-edited file must not pass for 1.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{self.what} must be a number, got {_shown(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{self.what} must be a finite number, got {value}"
        if self.integer and isinstance(value, float):
            if not value.is_integer():
                return f"{self.what} must be a whole number, got {_shown(value)}"
        if not self.low <= value <= self.high:
            return f"{self.what} must be {_number(self.low)} to {_number(self.high)}, got {_shown(value)}"
        return None

    def check(self, value: object) -> int | float:
        """``value`` as this bound's type (int or float); raises :class:`OutOfRange`."""
        problem = self.problem(value)
        if problem is not None:
            raise OutOfRange(problem)
        assert isinstance(value, (int, float))
        return int(value) if self.integer else float(value)

    def clamp(self, value: int | float) -> int | float:
        return min(self.high, max(self.low, value))

    def parse(self, text: str) -> int | float:
        """A number typed as text; raises :class:`OutOfRange`."""
        try:
            value: int | float = int(text) if self.integer else float(text)
        except (TypeError, ValueError):
            kind = "a whole number" if self.integer else "a number"
            raise OutOfRange(f"{self.what} must be {kind}, got {_shown(text)}") from None
        return self.check(value)

    def argument(self) -> Callable[[str], int | float]:
        """An argparse ``type=``: a bad value exits 2 with this bound's message."""

        def parse(text: str) -> int | float:
            try:
                return self.parse(text)
            except OutOfRange as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None

        parse.__name__ = self.what  # argparse names the type in some messages
        return parse


def first_problem(values: Mapping[str, object], fields: Mapping[str, tuple[Bound, bool]]) -> str | None:
    """ "NAME: why" for the first of ``fields`` (name: its bound, whether None is allowed) whose
    value in ``values`` is out of its bound; a field ``values`` lacks is skipped. None if all fit."""
    for name, (bound, optional) in fields.items():
        if name not in values or (values[name] is None and optional):
            continue
        problem = bound.problem(values[name])
        if problem is not None:
            return f"{name}: {problem}"
    return None


def pair_problem(name: str, value: object, bound: Bound) -> str | None:
    """Why ``value`` is not two numbers within ``bound`` (Adam's betas), or None."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return f"{name}: two numbers are needed, got {_shown(value)}"
    problem = bound.problem(value[0]) or bound.problem(value[1])
    return None if problem is None else f"{name}: {problem}"


def _number(value: int | float) -> str:
    return str(int(value)) if isinstance(value, int) or value.is_integer() else f"{value:g}"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# Seeds are 31-bit: Qt's spin boxes hold a signed 32-bit int, and every seeded generator
# (Python's, numpy's, torch's) accepts them.
SEED = Bound("the seed", 0, 2**31 - 1)
# torch.set_num_threads with a huge count crashes the process (segfault) instead of refusing.
THREADS = Bound("the number of CPU threads", 1, 256)
FRAMES = Bound("the number of frames", 2, 10_000)
FPS = Bound("frames per second", 0.1, 100.0, integer=False)
BATCH = Bound("the batch size", 1, 4096)
TRAINING_STEPS = Bound("the number of training steps", 1, 10_000_000)
# Latent sliders span +-3 sigma of the standard normal prior.
SLIDER = Bound("a slider value", -3.0, 3.0, integer=False)
# The GAN truncation slider: 0 gives the mean image, 1 no truncation, above 1 wilder pictures.
PSI = Bound("the variety", 0.0, 1.5, integer=False)

# Model card fields: large enough for any model the studio trains or could, small enough that
# a tampered card cannot ask for gigabytes before a layer is built.
LATENT_DIM = Bound("latent_dim", 1, 4096)
NUM_CLASSES = Bound("num_classes", 0, 10_000)
CHANNELS = Bound("a channel count", 1, 4096)
MAPPING_LAYERS = Bound("mapping_layers", 1, 32)
# The width of a style GAN's w; the same reasoning as latent_dim.
W_DIM = Bound("w_dim", 1, 4096)
# A VAE's mixture prior: one set of components per class, a handful per class in practice.
PRIOR_COMPONENTS = Bound("prior_components", 0, 256)
# A VAE's KL weight: above a few hundred the model learns nothing; infinity poisons every loss.
BETA = Bound("beta", 0.0, 1000.0, integer=False)

# An image's long side over its short side, for style transfer: a 13:1 panorama is painted (its
# short side enlarged to what the networks need); a strip of a pixel or two is refused by name.
ASPECT_RATIO = Bound("the long side over the short side", 1.0, 64.0, integer=False)
# An exported picture's long side: below 16 is no picture anyone exports, above 8192 a typo or
# a memory error on the way (studio.spec.export_size's MIN_SIDE/MAX_SIDE).
EXPORT_SIDE = Bound("a pixel size", 16, 8192)
# studio sample --grid: rows and columns of pictures (64 x 64 tiles is already a poster).
GRID_SIDE = Bound("the number of grid rows or columns", 1, 64)
# Style transfer's long side: the same ceiling as an export; each scale's memory grows with its square.
STYLE_SIZE = Bound("the size", 16, 8192)
# Its first (coarsest) scale; larger than STYLE_SIZE only means one scale.
STYLE_MIN_SIZE = Bound("the first scale's size (min_size)", 16, 8192)
STYLE_STEPS = Bound("the number of steps per scale", 1, 10_000)
# Content, style and smoothness weights: losses are normalised, so past 1e9 is a typo.
STYLE_WEIGHT = Bound("a weight", 0.0, 1e9, integer=False)
# L-BFGS step (1 = the plain quasi-Newton step); Adam: 1 = 0.02 per step. 0 never moves.
STYLE_LEARNING_RATE = Bound("the learning rate", 0.001, 10.0, integer=False)
STYLE_SCALE = Bound("the style scale", 0.05, 8.0, integer=False)
# The instant painting's strength: 0 the photo's own style, 1 the painting's.
STRENGTH = Bound("the strength", 0.0, 1.0, integer=False)
# Seconds between live previews of a style run (0: every step).
PREVIEW_INTERVAL = Bound("the preview interval in seconds", 0.0, 60.0, integer=False)
# A training or fine-tune learning rate: 0 never moves, above 1 diverges at once.
LEARNING_RATE = Bound("the learning rate", 1e-8, 1.0, integer=False)
# Adam's betas: 1 would never forget.
ADAM_BETA = Bound("an Adam beta", 0.0, 0.9999, integer=False)
# A class's number in a conditional model (below NUM_CLASSES's ceiling).
CLASS_INDEX = Bound("the class number", 0, 9_999)
# How often a run logs, samples or checkpoints, in steps.
STEP_INTERVAL = Bound("a step interval", 1, 10_000_000)
# Discriminator steps per generator step (wgan-gp uses 5).
N_CRITIC = Bound("the discriminator steps per generator step", 1, 100)
# Loss weights given on the command line (the gradient penalty; the VAE's beta has BETA).
LOSS_WEIGHT = Bound("a loss weight", 0.0, 1e6, integer=False)
# The generator's weight average decay; 0 switches it off, 1 would never move.
EMA_DECAY = Bound("the weight average decay (--ema)", 0.0, 0.99999, integer=False)
# LeCam regularisation weight (TrainConfig checks the same ceiling).
LECAM = Bound("the LeCam weight", 0.0, 10.0, integer=False)
# The part of a folder or data set kept out of training; 0.9 would leave too little to learn from.
HELDOUT = Bound("the held-out part", 0.0, 0.8, integer=False)
# Samples drawn by studio evaluate (and a run's closing measures).
EVAL_SAMPLES = Bound("the number of samples", 2, 100_000)
# Gaussians per class when fitting a VAE's prior.
PER_CLASS = Bound("the number of Gaussians per class", 1, 64)
# The VAE's VGG19 feature term's weight (TrainConfig's MAX_FEATURE_LOSS).
FEATURE_LOSS = Bound("the feature loss weight", 0.0, 100.0, integer=False)
# A data set's image side (studio data emoji --size).
DATA_IMAGE_SIZE = Bound("the image size", 8, 1024)
# studio data emoji --limit.
DATA_LIMIT = Bound("the number of images", 1, 1_000_000)
# latent-studio --self-test --timeout, in seconds (a day at most).
SELF_TEST_TIMEOUT = Bound("the time-out in seconds", 1.0, 86_400.0, integer=False)
# A training run's colour jitter of the real images (brightness, contrast, saturation +- this);
# TrainConfig's MAX_JITTER, checked in a checkpoint's stored config.
COLOUR_JITTER = Bound("the colour jitter", 0.0, 0.5, integer=False)
# Named directions in one model's directions file, and in one PNG's latent state (issue 15).
NAMED_DIRECTIONS = Bound("the number of named directions", 1, 256)
# studio repaint --candidates: pictures searched side by side (each costs a batch row per step).
REPAINT_CANDIDATES = Bound("the number of candidates", 1, 16)
# studio repaint --steps: optimisation steps (the default 40 takes a few seconds at 64 px on a CPU).
REPAINT_STEPS = Bound("the number of repaint steps", 1, 10_000)

MAX_SEED = int(SEED.high)
SLIDER_RANGE = float(SLIDER.high)
PSI_RANGE = (float(PSI.low), float(PSI.high))
