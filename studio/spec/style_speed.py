"""How long a Refine will take: this machine's speed in seconds per optimiser step per megapixel.

A run's work is the sum over its scales of steps × megapixels (the presets run one scale, at
their size, from the instant painting). The speed is measured from the runs actually done
(:func:`measured_speed`, from what a StyleResult carries) and the panel remembers it in its
prefs; before any run, :data:`FIRST_GUESS_S_PER_STEP_MP` stands in for it, a conservative
figure for a 2-core CPU (a GPU is tens of times faster), so the first estimates err long.

Torch-free, Qt-free: the controller measures, the widgets only show the text.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from studio.spec.style_settings import StyleSettings

# Seconds per L-BFGS step per megapixel before anything was measured here: VGG19 forward and
# backward at 512 × 384 px on a 2-core CPU with some headroom (the Balanced preset: about 1½ min).
FIRST_GUESS_S_PER_STEP_MP = 8.0
DEFAULT_ASPECT = 0.75  # short side / long side when there is no photo yet (4:3)
# A new measurement counts this much against the remembered speed (runs vary: other load, OOM retries).
NEW_WEIGHT = 0.5


def step_megapixels(settings: StyleSettings, aspect: float = DEFAULT_ASPECT) -> float:
    """Steps × megapixels over every scale ``settings`` runs, for a photo of that aspect (short / long)."""
    aspect = min(max(float(aspect), 0.01), 1.0) if math.isfinite(aspect) else DEFAULT_ASPECT
    return sum(settings.steps * side * max(round(side * aspect), 1) / 1e6 for side in settings.scale_sizes())


def measured_speed(
    seconds: float, scales: Sequence[tuple[int, int]], loss_history: Sequence[Mapping[str, float]]
) -> float | None:
    """Seconds per step per megapixel of a finished (or stopped) run; None when it did no step.

    ``loss_history`` holds one row per step; its ``scale`` (an index into ``scales``) says where
    the step ran (rows without one count at the last scale).
    """
    if not scales or not loss_history or not (math.isfinite(seconds) and seconds > 0):
        return None
    last = len(scales) - 1
    counts = Counter(min(max(int(row.get("scale", last)), 0), last) for row in loss_history)
    work = sum(n * scales[i][0] * scales[i][1] / 1e6 for i, n in counts.items())
    return seconds / work if work > 0 else None


def blend(previous: float | None, measured: float) -> float:
    """The remembered speed after one more measured run."""
    if previous is None or not (math.isfinite(previous) and previous > 0):
        return measured
    return (1 - NEW_WEIGHT) * previous + NEW_WEIGHT * measured


def estimate_seconds(settings: StyleSettings, s_per_step_mp: float, aspect: float = DEFAULT_ASPECT) -> float:
    return step_megapixels(settings, aspect) * s_per_step_mp


def duration_text(seconds: float) -> str:
    """'about 40 s', 'about 3 min', 'about 1 h 20 min': rounded as a person would say it."""
    if seconds < 10:
        return f"about {max(1, round(seconds))} s"
    if seconds < 60:
        return f"about {round(seconds / 5) * 5} s"
    minutes = seconds / 60
    if minutes < 10:
        half = round(minutes * 2) / 2
        return f"about {half:g} min"
    if minutes < 60:
        return f"about {round(minutes)} min"
    hours, rest = divmod(round(minutes / 10) * 10, 60)
    return f"about {hours} h" + (f" {rest} min" if rest else "")
