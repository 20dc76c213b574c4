"""What the Latent Explorer's controller hands the worker: load a model, render a point, hash
model files. Plain functions and frozen results; they run on the worker thread, where torch
lives, and never touch a widget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.files.user_json import recorded_sha256
from studio.spec.bounds import MAX_SEED, SLIDER_RANGE
from studio.ui.latent.class_choice import class_choice
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from PIL import Image
    from PySide6.QtGui import QImage

    from studio.engine.devices import DeviceInfo
    from studio.engine.environment import InstalledModel
    from studio.engine.latent.directions import Directions
    from studio.engine.latent.model import LatentModel
    from studio.engine.latent.state import LatentState

DEFAULT_SEED = 0
# The -/+ pictures beside each direction slider: drawn this many pixels on a side (twice the
# 32 px they take on screen, so they stay sharp on a HiDPI screen).
PREVIEW_PIXELS = 64
# Directions drawn per forward pass: a newer render waits at most one pass for its turn.
PREVIEW_CHUNK = 2


@dataclass(frozen=True)
class Rendered:
    state: LatentState
    image: Image.Image
    qimage: QImage  # converted on the worker: showing it costs the GUI thread nothing


@dataclass(frozen=True)
class Loaded:
    info: InstalledModel
    model: LatentModel
    directions: Directions
    first: Rendered
    problem: str | None = None  # why the state asked for could not be shown


@dataclass(frozen=True)
class Encoded:
    name: str  # the file's name, for the undo step
    rendered: Rendered


def render_state(model: LatentModel, state: LatentState) -> Rendered:
    """Worker side: one picture of ``state``."""
    image = model.render(state)
    return Rendered(state, image, to_qimage(image))


@dataclass(frozen=True)
class DirectionPreview:
    """A direction's two ends from one point: the picture with that slider at its minimum and
    at its maximum (the others where they are), at most :data:`PREVIEW_PIXELS` on a side."""

    index: int
    minus: Image.Image
    plus: Image.Image
    minus_qimage: QImage  # the same pictures, converted on the worker
    plus_qimage: QImage


@dataclass(frozen=True)
class DirectionPreviews:
    state: LatentState  # the point they were drawn from
    previews: tuple[DirectionPreview, ...]


def render_direction_previews(
    model: LatentModel,
    state: LatentState,
    directions: Directions,
    indices: list[int],
    should_stop: Callable[[], bool] | None = None,
) -> DirectionPreviews:
    """Worker side: both ends of every direction in ``indices``, in one call.

    They are drawn a few directions per forward pass; between passes ``should_stop()`` (a newer
    render waiting: the artist moved on) ends the call early with the directions drawn so far.
    """
    import numpy as np

    previews: list[DirectionPreview] = []
    for start in range(0, len(indices), PREVIEW_CHUNK):
        if previews and should_stop is not None and should_stop():
            break
        chunk = indices[start : start + PREVIEW_CHUNK]
        ends = [
            model.state_with_coordinate(state, i, v, directions) for i in chunk for v in (-SLIDER_RANGE, SLIDER_RANGE)
        ]
        if state.mix is not None or state.layers:  # a mixed or repainted picture's ends keep it, one render each
            images = [model.render(end) for end in ends]
        else:
            images = model.render_batch(np.stack([end.z_array() for end in ends]), state.class_index, psi=state.psi)
        for n, index in enumerate(chunk):
            minus, plus = _small(images[2 * n]), _small(images[2 * n + 1])
            previews.append(DirectionPreview(index, minus, plus, to_qimage(minus), to_qimage(plus)))
    return DirectionPreviews(state, tuple(previews))


def _small(image: Image.Image) -> Image.Image:
    if max(image.size) <= PREVIEW_PIXELS:
        return image
    from PIL import Image as PILImage

    small = image.copy()
    small.thumbnail((PREVIEW_PIXELS, PREVIEW_PIXELS), PILImage.Resampling.LANCZOS)
    return small


def directions_for(model: LatentModel, state: LatentState) -> Directions:
    """The slider axes for ``state``: the class's own for a model whose classes have their own."""
    return model.directions(class_index=state.class_index if model.directions_depend_on_class else None)


def state_problem(model: LatentModel, state: LatentState) -> str | None:
    """Why ``state`` cannot be shown with ``model`` (a hand-edited PNG, say), or None."""
    if len(state.z) != model.latent_dim:
        return f"This point has {len(state.z)} latent values; {model.name} takes {model.latent_dim}."
    classes = len(model.class_names)
    if classes and state.class_index is not None and not 0 <= state.class_index < classes:
        return f"This point asks for class {state.class_index}; {model.name} has classes 0 to {classes - 1}."
    mix = state.mix
    if mix is not None:
        if not model.can_mix:
            return (
                f"This picture mixes the styles of two points, and {model.name} draws with one latent vector "
                "for the whole picture, so it cannot mix them (style mixing needs a GAN v2 such as Emoji Faces)."
            )
        if classes and mix.class_index is not None and not 0 <= mix.class_index < classes:
            return (
                f"The second picture of this mix asks for class {mix.class_index}; "
                f"{model.name} has classes 0 to {classes - 1}."
            )
    return None


def card_sha256(info: InstalledModel) -> str | None:
    """The sha256 a model's card records, without hashing the file (None if the card has none)."""
    return recorded_sha256(info.path.with_suffix(".json"))


def file_sha256(info: InstalledModel) -> str | None:
    """Worker side: a model file's sha256, from its card if it records one, else by hashing it
    (None for a file that cannot be read)."""
    sha = card_sha256(info)
    if sha is not None:
        return sha
    from studio.engine.checkpoints import model_sha256

    try:
        return model_sha256(info.path)
    except (OSError, ValueError):
        return None


def hash_files(infos: list[InstalledModel]) -> dict[Path, str | None]:
    """Worker side: the sha256 of each model file (None where unreadable)."""
    return {info.path: file_sha256(info) for info in infos}


def device_name(device: DeviceInfo) -> str:
    return getattr(device, "torch_device", None) or str(device)


def initial_state(model: LatentModel) -> LatentState:
    """The model's first picture: the seed (and class) its card shows it with, else seed 0 (of
    the class a fine-tune's folder trained, for one)."""
    seed, class_index = DEFAULT_SEED, class_choice(model.card, model.class_names).own
    showcase = model.card.get("showcase") if isinstance(model.card, dict) else None
    if isinstance(showcase, dict):
        shown_seed, shown_class = showcase.get("seed"), showcase.get("class_index")
        if isinstance(shown_seed, int) and not isinstance(shown_seed, bool) and 0 <= shown_seed <= MAX_SEED:
            seed = shown_seed
        if (
            isinstance(shown_class, int)
            and not isinstance(shown_class, bool)
            and 0 <= shown_class < len(model.class_names)
        ):
            class_index = shown_class
    return model.state(model.random_z(seed, class_index), class_index, seed=seed)
