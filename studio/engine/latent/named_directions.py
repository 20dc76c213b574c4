"""Directions an artist defines by example (InterFaceGAN, Shen et al. 2020), saved with the model.

Latent codes of pictures that have a trait (positive) and pictures that do not (negative) are
split by a linear classifier (L2-regularised logistic regression, fitted by Newton's method in
numpy); the unit normal of its boundary is the direction. A code's value along it is its signed
distance from the boundary in units of the spread of the codes along the normal (sigma), so 0
is the boundary and +2 is well inside the trait. The direction can be made orthogonal to
chosen existing ones (Gram-Schmidt): moving along it then leaves their values unchanged.

The codes are w offsets for a style-based GAN (``space`` "w", what LatentModel.random_z gives)
and z for a VAE or a GAN v1 (``space`` "z").

A model ``foo.safetensors`` keeps its named directions in ``foo.directions.safetensors`` beside
it: float32 tensors ``vectors`` and ``normals`` [k, latent_dim] and the metadata ``directions``, a JSON list
of ``{"name", "description", "accuracy", "space", "offset", "scale"}`` in row order. Bundled
models are read-only: the directions an artist makes for one go to the user's data folder,
under the model's name and hash, and are read together with any the bundle ships.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.engine.checkpoints import DIRECTIONS_SUFFIX
from studio.engine.jobs import Progress
from studio.engine.latent.state import is_number
from studio.spec.bounds import NAMED_DIRECTIONS

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

DIRECTIONS_FORMAT = 1
SPACES = ("w", "z")
MAX_NAME_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 1000
MIN_EXAMPLES = 2  # of each kind: positive and negative
_RIDGE = 1e-2  # L2 weight of the logistic regression: a unique boundary when the classes separate
_NEWTON_STEPS = 50
_FOLDS = 5
_UNIT_TOLERANCE = 1e-3
_MIN_ALIGNMENT = 1e-3  # normal . vector: a move along the vector must change the value


class DirectionError(ValueError):
    """Examples or a request that cannot give a direction; the message says what to change."""


@dataclass(frozen=True, eq=False)
class NamedDirection:
    """One named direction: the way a code moves, the classifier's boundary, and its unit.

    ``normal`` is the boundary's unit normal: a code's value is ``(normal . code - offset) /
    scale``. ``vector`` is the unit direction a code moves along to change its value: the
    normal itself for the directions :func:`fit_direction_job` makes (the file keeps both, so a
    direction may move along another line that crosses the boundary). Moving along ``vector``
    leaves the value of every direction whose normal it is orthogonal to unchanged.
    """

    name: str
    vector: np.ndarray  # [latent_dim] float32, unit length: the move
    offset: float  # value 0: normal . code == offset (the boundary)
    scale: float  # one sigma: the spread of the examples' codes along the normal
    space: str  # "w" or "z"
    accuracy: float | None = None  # held-out accuracy of the classifier when it was made
    description: str = ""
    normal: np.ndarray | None = None  # [latent_dim] float32, unit length; None: the vector

    def __post_init__(self) -> None:
        normal = self.vector if self.normal is None else self.normal
        problem = _problem(
            self.name, self.vector, self.offset, self.scale, self.space, self.accuracy, self.description, normal
        )
        if problem:
            raise ValueError(problem)
        for name, array in (("vector", self.vector), ("normal", normal)):
            copy = np.array(array, dtype=np.float32)
            copy.setflags(write=False)
            object.__setattr__(self, name, copy)
        object.__setattr__(self, "offset", float(self.offset))
        object.__setattr__(self, "scale", float(self.scale))

    def value(self, code: np.ndarray) -> float:
        """The code's value along this direction, in sigma (0 on the boundary, > 0 on the trait's side)."""
        assert self.normal is not None  # __post_init__ fills it in
        normal = self.normal.astype(np.float64)
        return (float(normal @ np.asarray(code, dtype=np.float64)) - self.offset) / self.scale

    def moved_to(self, code: np.ndarray, value: float) -> np.ndarray:
        """``code`` moved along this direction until it reads ``value``; nothing orthogonal changes."""
        assert self.normal is not None  # __post_init__ fills it in
        vector = self.vector.astype(np.float64)
        code64 = np.asarray(code, dtype=np.float64)
        step = (value - self.value(code)) * self.scale / float(self.normal.astype(np.float64) @ vector)
        return (code64 + step * vector).astype(np.float32)

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "accuracy": self.accuracy,
            "space": self.space,
            "offset": self.offset,
            "scale": self.scale,
        }


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a direction, or None."""
    if not isinstance(name, str) or not name.strip() or name != name.strip() or len(name) > MAX_NAME_LENGTH:
        return f"a direction's name is 1 to {MAX_NAME_LENGTH} characters without spaces at its ends, got {name!r}"
    if any(ch in name for ch in "=,\n\r\t") or not name.isprintable():
        return f"the direction name {name!r} holds '=', ',' or a control character"
    return None


def _problem(
    name: Any, vector: Any, offset: Any, scale: Any, space: Any, accuracy: Any, description: Any, normal: Any
) -> str | None:
    problem = name_problem(name)
    if problem:
        return problem
    for what, array in (("vector", vector), ("normal", normal)):
        if not isinstance(array, np.ndarray) or array.ndim != 1 or not array.size:
            return f"the direction {name!r} has no {what} of numbers"
        if not np.issubdtype(array.dtype, np.floating) or array.shape != np.shape(vector):
            return f"the direction {name!r} has no {what} of numbers"
        norm = float(np.linalg.norm(array.astype(np.float64)))
        if not np.all(np.isfinite(array)) or abs(norm - 1.0) > _UNIT_TOLERANCE:
            return f"the direction {name!r} has a {what} that is not a finite unit vector"
    if float(np.asarray(normal, dtype=np.float64) @ np.asarray(vector, dtype=np.float64)) < _MIN_ALIGNMENT:
        return (
            f"the direction {name!r} moves across its own boundary too little (vector . normal below {_MIN_ALIGNMENT})"
        )
    if not is_number(offset):
        return f"the direction {name!r} has no finite offset, got {offset!r}"
    if not is_number(scale) or not scale > 0:
        return f"the direction {name!r} needs a positive scale, got {scale!r}"
    if space not in SPACES:
        return f"the direction {name!r} is in space {space!r}; expected one of {', '.join(SPACES)}"
    if accuracy is not None and not (is_number(accuracy) and 0.0 <= accuracy <= 1.0):
        return f"the direction {name!r} has accuracy {accuracy!r}; expected a number from 0 to 1"
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        return (
            f"the direction {name!r} has a description that is not text of at most {MAX_DESCRIPTION_LENGTH} characters"
        )
    return None


# --- fitting -----------------------------------------------------------------------------------


def _logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression (labels 0/1), by Newton's method."""
    n, d = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    ridge = _RIDGE * np.eye(d + 1)
    ridge[d, d] = 0.0  # the bias is not shrunk
    for _ in range(_NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -50, 50)))
        gradient = design.T @ (p - y) + ridge @ theta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return theta[:d], float(theta[d])


def _orthogonal_to(vector: np.ndarray, others: np.ndarray | None) -> np.ndarray:
    """``vector`` without its part along the rows of ``others`` (Gram-Schmidt), unit length."""
    v = np.asarray(vector, dtype=np.float64)
    if others is not None and len(others):
        q, _ = np.linalg.qr(np.asarray(others, dtype=np.float64).T)  # orthonormal basis of their span
        v = v - q @ (q.T @ v)
    norm = float(np.linalg.norm(v))
    if norm < 1e-6:
        raise DirectionError("the examples differ only along the directions it must stay orthogonal to")
    return v / norm


def _fit(x: np.ndarray, y: np.ndarray, others: np.ndarray | None) -> tuple[np.ndarray, float]:
    """The unit normal of the boundary between the classes (made orthogonal to the rows of
    ``others``, so a move along it leaves their values unchanged) and the boundary's offset along it."""
    weights, _ = _logistic(x - x.mean(axis=0), y)
    if not np.any(weights):
        raise DirectionError("the positive and negative examples cannot be told apart")
    normal = _orthogonal_to(weights, others)
    # The boundary along the normal: a one-dimensional logistic fit.
    projected = (x @ normal)[:, None]
    centre = float(projected.mean())
    spread = float(projected.std()) or 1.0
    slope, bias = _logistic((projected - centre) / spread, y)
    if slope[0] <= 0:  # orthogonalisation can leave a direction that no longer points to the trait
        raise DirectionError("once orthogonal to the chosen directions, nothing is left that tells the examples apart")
    return normal, centre - spread * bias / float(slope[0])


def fit_direction_job(
    name: str,
    positive: np.ndarray,
    negative: np.ndarray,
    space: str,
    orthogonal_to: Sequence[NamedDirection] = (),
    description: str = "",
    folds: int = _FOLDS,
    seed: int = 0,
) -> Generator[Progress, None, NamedDirection]:
    """A job: the direction that separates ``positive`` from ``negative`` codes ([n, latent_dim]
    each), with its held-out accuracy (k-fold cross-validation, k = ``folds`` or fewer when an
    example set is small): the share of held-out codes on their side of the boundary along the
    direction. The last fit uses every example."""
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    if pos.ndim != 2 or neg.ndim != 2 or pos.shape[1] != neg.shape[1]:
        raise DirectionError("positive and negative examples need codes of one size")
    if len(pos) < MIN_EXAMPLES or len(neg) < MIN_EXAMPLES:
        raise DirectionError(
            f"give at least {MIN_EXAMPLES} positive and {MIN_EXAMPLES} negative examples, got {len(pos)} and {len(neg)}"
        )
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(neg))):
        raise DirectionError("an example's code holds NaN or Inf")
    for other in orthogonal_to:
        if other.vector.shape != (pos.shape[1],):
            raise DirectionError(
                f"the direction {other.name!r} has {other.vector.size} values, the codes {pos.shape[1]}"
            )
    others = np.stack([o.normal for o in orthogonal_to if o.normal is not None]) if orthogonal_to else None
    x = np.vstack([pos, neg])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    k = max(2, min(folds, len(pos), len(neg)))
    rng = np.random.default_rng(seed)
    # Stratified folds: each holds its share of positives and negatives.
    fold_of = np.empty(len(x), dtype=int)
    for label in (1.0, 0.0):
        where = np.flatnonzero(y == label)
        fold_of[rng.permutation(where)] = np.arange(len(where)) % k
    correct = 0
    for fold in range(k):
        train, test = fold_of != fold, fold_of == fold
        normal, offset = _fit(x[train], y[train], others)
        correct += int(np.sum(((x[test] @ normal) > offset) == (y[test] == 1.0)))
        yield Progress((fold + 1) / (k + 1), f"Direction {name!r}: fold {fold + 1} of {k} checked")
    normal, offset = _fit(x, y, others)
    scale = float(np.std(x @ normal))
    if not scale > 1e-8:
        raise DirectionError("the examples have no spread along the direction")
    yield Progress(1.0, f"Direction {name!r}: held-out accuracy {correct / len(x):.2f}")
    # Moving along the normal changes the value most: the move and the normal are one vector.
    return NamedDirection(name, normal.astype(np.float32), offset, scale, space, correct / len(x), description)


# --- files -------------------------------------------------------------------------------------


def directions_path(model_path: str | Path) -> Path:
    """``foo.safetensors`` -> ``foo.directions.safetensors`` beside it."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(path.suffix) + DIRECTIONS_SUFFIX)


def user_directions_path(model_path: str | Path, sha256: str) -> Path:
    """Where the artist's directions for a read-only (bundled) model go: the user's data folder."""
    from studio.files.paths import data_dir

    stem = Path(model_path).name.removesuffix(Path(model_path).suffix)
    return data_dir() / "directions" / f"{stem}-{sha256[:16]}{DIRECTIONS_SUFFIX}"


def is_bundled(model_path: str | Path) -> bool:
    from studio.files.resources import bundled_models_dir

    try:
        return Path(model_path).resolve().parent == bundled_models_dir().resolve()
    except OSError:
        return False


def writable_directions_path(model_path: str | Path, sha256: str) -> Path:
    return user_directions_path(model_path, sha256) if is_bundled(model_path) else directions_path(model_path)


def write_directions(path: str | Path, directions: Sequence[NamedDirection]) -> Path:
    """Write ``directions`` as a directions file, atomically (the old file stays on failure)."""
    from safetensors.numpy import save

    from studio.files.atomic import atomic_write_bytes

    target = Path(path)
    if not directions:
        raise DirectionError("there are no directions to write")
    NAMED_DIRECTIONS.check(len(directions))
    names = [d.name for d in directions]
    if len(set(names)) != len(names):
        raise DirectionError("two directions have the same name")
    vectors = np.stack([d.vector for d in directions]).astype(np.float32)
    normals = np.stack([d.normal for d in directions if d.normal is not None]).astype(np.float32)
    metadata = {
        "format_version": str(DIRECTIONS_FORMAT),
        "directions": json.dumps([d.metadata() for d in directions], ensure_ascii=False),
    }
    atomic_write_bytes(target, _metadata_in_order(save({"vectors": vectors, "normals": normals}, metadata=metadata)))
    return target


def _metadata_in_order(blob: bytes) -> bytes:
    """``blob`` (a safetensors file) with its metadata in the order they were given: safetensors
    writes them in hash-map order, which changes from run to run, so the same directions would
    not always give the same bytes (the shipped file is rebuilt and compared)."""
    length = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + length])
    header["__metadata__"] = {
        "format_version": header["__metadata__"]["format_version"],
        "directions": header["__metadata__"]["directions"],
    }
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # as safetensors pads it: the tensors start 8-byte aligned
    return len(text).to_bytes(8, "little") + text + blob[8 + length :]


def read_directions(path: str | Path, latent_dim: int, space: str) -> list[NamedDirection]:
    """The directions in a directions file, every field checked; ModelFileError naming the file."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from studio.engine.checkpoints import ModelFileError, validate_safetensors

    file = Path(path)

    def bad(detail: str) -> ModelFileError:
        return ModelFileError(f"{file.name}: not a usable directions file ({detail})")

    header = validate_safetensors(file)
    metadata = header.get("__metadata__") or {}
    if metadata.get("format_version") != str(DIRECTIONS_FORMAT):
        raise bad(f"format version {metadata.get('format_version')!r}; this studio reads {DIRECTIONS_FORMAT}")
    if set(header) - {"__metadata__"} != {"vectors", "normals"}:
        raise bad("it must hold exactly two tensors, 'vectors' and 'normals'")
    entry = header["vectors"]
    for key in ("vectors", "normals"):
        if header[key]["dtype"] != "F32" or len(header[key]["shape"]) != 2 or header[key]["shape"] != entry["shape"]:
            raise bad("'vectors' and 'normals' must be float32 tables [directions, latent size] of one shape")
    count, dims = entry["shape"]
    if dims != latent_dim:
        raise bad(f"its vectors have {dims} values, the model's latent vector {latent_dim}")
    problem = NAMED_DIRECTIONS.problem(count)
    if problem:
        raise bad(problem)
    try:
        described = json.loads(metadata.get("directions", ""))
    except (ValueError, RecursionError) as exc:
        raise bad("its list of directions is not JSON") from exc
    if not isinstance(described, list) or len(described) != count:
        raise bad(
            f"it describes {len(described) if isinstance(described, list) else 'no'} directions for {count} vectors"
        )
    try:
        tensors = load_file(file)
        vectors, normals = tensors["vectors"], tensors["normals"]
    except (OSError, SafetensorError) as exc:
        raise bad(str(exc)) from exc
    found: list[NamedDirection] = []
    for row, item in enumerate(described):
        if not isinstance(item, dict) or set(item) != {"name", "description", "accuracy", "space", "offset", "scale"}:
            raise bad(f"entry {row + 1} needs exactly name, description, accuracy, space, offset and scale")
        values = (item["name"], vectors[row], item["offset"], item["scale"], item["space"])
        problem = _problem(*values, item["accuracy"], item["description"], normals[row])
        if problem:
            raise bad(problem)
        if item["space"] != space:
            raise bad(f"the direction {item['name']!r} is in {item['space']}, this model's codes are {space}")
        if any(d.name == item["name"] for d in found):
            raise bad(f"two directions are named {item['name']!r}")
        found.append(NamedDirection(*values, item["accuracy"], item["description"], normals[row]))
    return found


def model_directions(model_path: str | Path, sha256: str, latent_dim: int, space: str) -> list[NamedDirection]:
    """A model's named directions: the file beside it, then (bundled models) the user's ones, which
    replace any bundled direction of the same name. None: an empty list."""
    found: dict[str, NamedDirection] = {}
    paths = [directions_path(model_path)]
    if is_bundled(model_path):
        paths.append(user_directions_path(model_path, sha256))
    for path in paths:
        if path.is_file():
            for direction in read_directions(path, latent_dim, space):
                found[direction.name] = direction
    return list(found.values())


def save_direction(model_path: str | Path, sha256: str, latent_dim: int, space: str, direction: NamedDirection) -> Path:
    """Add (or replace, by name) ``direction`` in the model's writable directions file."""
    target = writable_directions_path(model_path, sha256)
    existing = read_directions(target, latent_dim, space) if target.is_file() else []
    kept = [d for d in existing if d.name != direction.name]
    return write_directions(target, [*kept, direction])


def own_direction_names(model_path: str | Path, sha256: str, latent_dim: int, space: str) -> list[str]:
    """The names of the directions the artist made for the model (those in its writable file, which
    :func:`delete_direction` can remove); a bundled model's shipped ones are not among them."""
    target = writable_directions_path(model_path, sha256)
    return [d.name for d in read_directions(target, latent_dim, space)] if target.is_file() else []


def delete_direction(model_path: str | Path, sha256: str, latent_dim: int, space: str, name: str) -> Path:
    """Remove the artist's direction ``name`` (any case) from the model's writable directions file,
    atomically; the file goes when it is left empty. A direction shipped beside a bundled model is
    refused (its file is never written). Returns the file changed or removed; a failure is a
    SaveError naming it, a name the model lacks a DirectionError listing the ones it has."""
    from studio.files.atomic import SaveError, failure_reason

    target = writable_directions_path(model_path, sha256)
    existing = read_directions(target, latent_dim, space) if target.is_file() else []
    kept = [d for d in existing if d.name.casefold() != name.casefold()]
    if len(kept) == len(existing):
        # Not in the writable file: any direction the model still has is one it ships.
        names = [d.name for d in model_directions(model_path, sha256, latent_dim, space)]
        if any(n.casefold() == name.casefold() for n in names):
            raise DirectionError(
                f"the direction {name!r} comes with the model ({directions_path(model_path).name}) and cannot be "
                "deleted; only directions you made can be"
            )
        raise DirectionError(
            f"there is no direction named {name!r} to delete; its named directions: {', '.join(names) or 'none yet'}"
        )
    if kept:
        return write_directions(target, kept)
    try:
        target.unlink()
    except OSError as exc:
        raise SaveError(exc.errno, f"cannot remove {target}: {failure_reason(exc)}") from exc
    return target
