"""The point an artist is looking at, as it travels in exported PNGs, and finding its model.

A :class:`LatentState` is the exact point shown (model hash, latent vector, class, psi). It
rides in exported PNGs as JSON, so opening one restores it; z values are float32 numbers
written as Python floats, which JSON carries exactly.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.files.paths import existing_file
from studio.files.user_json import recorded_sha256
from studio.spec.png import LATENT_KEY

if TYPE_CHECKING:
    from studio.engine.latent.mixing import StyleMix
    from studio.engine.latent.model import LatentModel

STATE_VERSION = 1
# A GAN v2 at 64 px draws with 7 w vectors, at 256 px with 13: a state never carries more.
MAX_LAYERS = 32


class LatentStateError(ValueError):
    """Settings or a PNG do not hold a usable latent state; the message names the cause."""


class ModelNotFoundError(LookupError):
    """No installed model has the given name; the message lists the ones that exist."""


def is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer of hundreds of digits in a hand-edited file
        return False


def normalise_point(point: LatentState | StyleMix, owner: str = "") -> None:
    """Check and normalise, in place, the ``z``, ``psi``, ``class_index`` and ``seed`` of a frozen
    LatentState or StyleMix; ValueError naming the field (after ``owner``, as "the second point's ")."""
    # A list or an array is accepted and stored as a tuple of floats, so states hash and
    # compare by value; float32 values survive float -> JSON -> float exactly.
    z = tuple(float(v) for v in np.asarray(point.z, dtype=np.float64).ravel())
    if not z or not all(math.isfinite(v) for v in z):
        raise ValueError(f"{owner or 'a '}latent vector needs at least one value, all finite")
    if not is_number(point.psi):
        raise ValueError(f"{owner}psi must be a finite number, got {point.psi!r}")
    for name in ("class_index", "seed"):
        value = getattr(point, name)
        if value is not None and not (is_int(value) and value >= 0):
            raise ValueError(f"{owner}{name} must be a non-negative whole number or None, got {value!r}")
        # numpy integers would not survive json.dumps in to_settings
        object.__setattr__(point, name, None if value is None else int(value))
    object.__setattr__(point, "z", z)
    object.__setattr__(point, "psi", float(point.psi))


@dataclass(frozen=True)
class LatentState:
    """One point of one model's latent space, with what else decides the image."""

    model_sha256: str
    model_name: str
    z: tuple[float, ...]
    class_index: int | None = None
    psi: float = 1.0
    seed: int | None = None  # the seed z came from, while it is unchanged
    mix: StyleMix | None = None  # a style mix with a second point (GAN v2), see studio.engine.latent.mixing
    # Named directions (studio direction create) the artist set, name -> value in sigma, in the
    # order set; z already holds their effect, so they are what the sliders show, not extra input.
    named: tuple[tuple[str, float], ...] = ()
    # Per-layer w offsets (GAN v2; what Repaint a region finds): one row per synthesis layer,
    # added to that layer's w after psi and after any mix, so layer i draws with
    # mean w + psi * z (or the mix's w for that layer) + layers[i]. Empty: every layer draws
    # with the same w.
    layers: tuple[tuple[float, ...], ...] = ()
    # What rides on the point (mix, named, layers) follows one rule, kept here:
    # * an edit of this picture (a slider, a named direction, psi, the class, dataclasses.replace)
    #   keeps all three, so a repainted region stays repainted and a mix stays mixed;
    # * another seed's picture (:meth:`reseeded`: Seed, Randomize, Reset to a seed, and the class
    #   of a seeded GAN v2 point, whose z depends on it) keeps the mix (the second point stays)
    #   and drops the repaint and the named values, which were of the old z;
    # * a point on its own (:meth:`plain`: a sample, the second point of a mix; an encoded or
    #   projected image, made by LatentModel.state) carries none.
    # Bookmarks, PNGs and the explorer's saved session carry all three (to_settings).

    def __post_init__(self) -> None:
        normalise_point(self)
        problem = layers_problem(self.layers, len(self.z))
        if problem:
            raise ValueError(problem)
        object.__setattr__(
            self, "layers", tuple(tuple(float(v) for v in np.asarray(row, dtype=np.float64)) for row in self.layers)
        )
        if self.mix is not None:
            from studio.engine.latent.mixing import StyleMix

            if not isinstance(self.mix, StyleMix):
                raise ValueError(f"mix must be a StyleMix or None, got {type(self.mix).__name__}")
            if len(self.mix.z) != len(self.z):
                raise ValueError(f"the second point has {len(self.mix.z)} latent values, the first {len(self.z)}")
        named = dict(self.named.items() if isinstance(self.named, dict) else self.named)
        problem = named_values_problem(named)
        if problem:
            raise ValueError(problem)
        object.__setattr__(self, "named", tuple((name, float(value)) for name, value in named.items()))

    def z_array(self) -> np.ndarray:
        return np.asarray(self.z, dtype=np.float32)

    def reseeded(self, z: Any, seed: int | None) -> LatentState:
        """Another seed's picture in this one's place: ``z`` and ``seed``, with this class, psi and
        mix, without the repaint and named values (they were of the old z)."""
        return replace(self, z=z, seed=seed, layers=(), named=())

    def plain(self) -> LatentState:
        """This point without what rides on it: its style mix, repainted layers and named values
        (a sample, or the second point of a mix, starts from a plain point)."""
        return LatentState(self.model_sha256, self.model_name, self.z, self.class_index, self.psi, self.seed)

    def layers_array(self) -> np.ndarray | None:
        """The per-layer w offsets (layers x latent values, float32), or None when there are none."""
        return np.asarray(self.layers, dtype=np.float32) if self.layers else None

    def to_settings(self) -> dict[str, Any]:
        latent: dict[str, Any] = {
            "version": STATE_VERSION,
            "model_sha256": self.model_sha256,
            "model_name": self.model_name,
            "z": list(self.z),
            "class_index": self.class_index,
            "psi": self.psi,
            "seed": self.seed,
        }
        # Only when set, so a state without a mix or named directions reads as it always did.
        if self.mix is not None:
            latent["mix"] = self.mix.to_settings()
        if self.named:
            latent["named"] = dict(self.named)
        if self.layers:  # a layer left as it was is written as null, which keeps the PNG small
            latent["layers"] = [list(row) if any(row) else None for row in self.layers]
        return {LATENT_KEY: latent}

    @classmethod
    def from_settings(cls, settings: Any) -> LatentState:
        """The state in ``settings`` (as :meth:`to_settings` wrote it); LatentStateError if malformed."""
        latent = settings.get(LATENT_KEY) if isinstance(settings, dict) else None
        if not isinstance(latent, dict):
            raise LatentStateError("no latent state in these settings")
        version = latent.get("version", STATE_VERSION)
        if not is_int(version) or version > STATE_VERSION:
            raise LatentStateError(f"latent state version {version!r} is newer than this studio understands")
        sha, name, z = latent.get("model_sha256"), latent.get("model_name", ""), latent.get("z")
        if not isinstance(sha, str) or not sha:
            raise LatentStateError("the latent state does not say which model made it (model_sha256)")
        if not isinstance(name, str):
            raise LatentStateError("the model name in the latent state is not text")
        if not isinstance(z, list) or not z or not all(is_number(v) for v in z):
            raise LatentStateError("the latent vector (z) is missing or holds something other than finite numbers")
        mix = None
        if latent.get("mix") is not None:  # older PNGs have none
            from studio.engine.latent.mixing import StyleMix

            try:
                mix = StyleMix.from_settings(latent["mix"])
            except ValueError as exc:
                raise LatentStateError(str(exc)) from exc
        named = latent.get("named", {})
        if not isinstance(named, dict):
            raise LatentStateError("the named direction values in the latent state are not a map of name to value")
        problem = named_values_problem(named)
        if problem:
            raise LatentStateError(problem)
        layers = latent.get("layers")
        if layers is None:  # older PNGs have none
            layers = []
        if not isinstance(layers, list) or not all(row is None or isinstance(row, list) for row in layers):
            raise LatentStateError(
                "the per-layer changes (layers) in the latent state are not a list of rows of numbers"
            )
        rows = [[0.0] * len(z) if row is None else row for row in layers]  # checked by the constructor
        try:
            return cls(
                sha,
                name,
                tuple(z),
                latent.get("class_index"),
                latent.get("psi", 1.0),
                latent.get("seed"),
                mix=mix,
                named=tuple(named.items()),
                layers=tuple(tuple(row) for row in rows),
            )
        except (ValueError, TypeError, OverflowError) as exc:  # class_index, psi, seed or layers
            raise LatentStateError(str(exc)) from exc


def named_values_problem(named: dict[Any, Any]) -> str | None:
    """Why ``named`` (direction name -> value in sigma) cannot be a state's named values, or None."""
    from studio.engine.latent.named_directions import MAX_NAME_LENGTH
    from studio.spec.bounds import NAMED_DIRECTIONS, SLIDER

    if len(named) > NAMED_DIRECTIONS.high:
        return f"the latent state names {len(named)} directions; at most {NAMED_DIRECTIONS.high:g}"
    for key, value in named.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_NAME_LENGTH:
            return (
                f"a named direction's name must be text of 1 to {MAX_NAME_LENGTH} characters, "
                f"got {str(key)[: MAX_NAME_LENGTH + 6]!r}"
            )
        problem = SLIDER.problem(value)
        if problem:
            return f"the named direction {key!r}: {problem}"
    return None


def layers_problem(layers: Any, width: int) -> str | None:
    """Why ``layers`` cannot be a state's per-layer w offsets for a latent vector of ``width`` values, or None."""
    if isinstance(layers, np.ndarray):
        layers = layers.tolist()
    if not isinstance(layers, (list, tuple)):
        return f"the per-layer changes (layers) must be a list of rows, got {type(layers).__name__}"
    if len(layers) > MAX_LAYERS:
        return f"the latent state has per-layer changes for {len(layers)} layers; at most {MAX_LAYERS}"
    for number, row in enumerate(layers, 1):
        values = row.tolist() if isinstance(row, np.ndarray) else row
        if not isinstance(values, (list, tuple)) or not all(is_number(v) for v in values):
            return f"the per-layer change of layer {number} holds something other than finite numbers"
        if len(values) != width:
            return f"the per-layer change of layer {number} has {len(values)} values; the latent vector has {width}"
    return None


def restore_state_from_png(path: str | os.PathLike[str]) -> LatentState:
    """The latent state an exported PNG carries; LatentStateError naming the file otherwise.

    An unreadable image raises :class:`~studio.files.images.ImageLoadError`, as opening it would.
    """
    from studio.files.images import read_png_settings

    file = Path(path)
    settings = read_png_settings(file)
    if not isinstance(settings, dict) or LATENT_KEY not in settings:
        raise LatentStateError(f"{file.name} holds no latent state (it was not exported from the Latent Explorer)")
    try:
        return LatentState.from_settings(settings)
    except (LatentStateError, ValueError) as exc:
        raise LatentStateError(f"{file.name}: {exc}") from exc


def find_model(name_or_path: str | os.PathLike[str]) -> Path:
    """A model file by path, card name or file name among the installed models (bundled + library)."""
    from studio.engine.environment import installed_models

    text = os.fspath(name_or_path)
    candidate = existing_file(text)
    if candidate is not None:
        return candidate
    key = text.casefold()
    models = installed_models()
    for model in models:
        if key in (model.name.casefold(), model.path.stem.casefold(), model.path.name.casefold()):
            return model.path
    available = ", ".join(sorted({m.name for m in models})) or "none installed"
    raise ModelNotFoundError(
        f"No model named {text!r}. Installed models: {available} (or give the path to a .safetensors file)"
    )


def find_model_for_state(state: LatentState) -> Path:
    """The installed model a state was made with, by file hash (the name alone could be another model)."""
    from studio.engine.checkpoints import card_path, model_sha256
    from studio.engine.environment import installed_models

    models = installed_models()
    for model in models:
        if recorded_sha256(card_path(model.path)) == state.model_sha256:
            return model.path
    for model in models:  # cards can be missing or stale; the file itself is the truth
        try:
            if model_sha256(model.path) == state.model_sha256:
                return model.path
        except ValueError:
            continue
    raise ModelNotFoundError(
        f"The model {state.model_name or 'that made this image'} (sha256 {state.model_sha256[:12]}...) is not installed"
    )


def state_png_settings(model: LatentModel, state: LatentState) -> dict[str, Any]:
    """The settings an exported PNG carries: the state, plus a readable note of the model and class."""
    from studio import __version__

    if state.model_sha256 != model.sha256:
        raise ValueError(f"this state belongs to another model than {model.name}")
    settings = state.to_settings()
    if state.class_index is not None and state.class_index < len(model.class_names):
        settings[LATENT_KEY]["class_name"] = model.class_names[state.class_index]
    settings["model"] = {"name": model.name, "sha256": model.sha256, "kind": model.kind, "latent_dim": model.latent_dim}
    settings["app"] = f"Latent Studio {__version__}"
    return settings
