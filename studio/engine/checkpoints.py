"""Model files: safetensors plus a JSON model card, and nothing is ever unpickled.

A model ``foo.safetensors`` has its card ``foo.json`` beside it (architecture, config, the
data it was trained on, the command that made it, licence). A copy of the card also rides in
the safetensors metadata, so a file copied on its own still says what it is.

Pickles can run code when loaded, so a pickle is refused whatever its name. Legacy ``.pt``
state dicts are read only through ``torch.load(weights_only=True)``, never retried unsafely.
Every write goes through :mod:`studio.files.atomic`, so a crash or a full disk leaves the
previous model in place.

torch and safetensors are imported inside the functions that need them: listing, hashing and
validating model files (About dialog, ``studio info``) should not pay for importing torch.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.files.atomic import SaveError, atomic_write_bytes

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import torch

CARD_SUFFIX = ".json"
SAFETENSORS_SUFFIX = ".safetensors"
# Training checkpoints (studio train --resume) sit beside the model they will become; they are
# not models to explore, so listings skip them.
TRAINING_CHECKPOINT_SUFFIX = ".ckpt.safetensors"
# A model's named directions (studio direction create) sit beside it too, and are not models.
DIRECTIONS_SUFFIX = ".directions.safetensors"
LEGACY_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".bin"})
FORMAT_VERSION = 1
LEGACY_FORMAT = "legacy .pt"

# The same cap safetensors itself puts on the header; a larger claim is a damaged file.
MAX_HEADER_BYTES = 100_000_000
# torch.load(weights_only=True) had code-execution bugs before 2.10 (RELIABILITY.md item 6).
MIN_TORCH_FOR_PT = (2, 10)

# safetensors dtype -> (torch's name for it, bytes per element).
_DTYPES: dict[str, tuple[str, int]] = {
    "BOOL": ("bool", 1),
    "U8": ("uint8", 1),
    "I8": ("int8", 1),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E4M3FNUZ": ("float8_e4m3fnuz", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "F8_E5M2FNUZ": ("float8_e5m2fnuz", 1),
    "I16": ("int16", 2),
    "U16": ("uint16", 2),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "I32": ("int32", 4),
    "U32": ("uint32", 4),
    "F32": ("float32", 4),
    "I64": ("int64", 8),
    "U64": ("uint64", 8),
    "F64": ("float64", 8),
    "C64": ("complex64", 8),
}


class ModelFileError(ValueError):
    """A model file cannot be used; the message is meant for the user and names the file."""


def card_path(path: str | os.PathLike[str]) -> Path:
    """The model card that sits beside a model file: ``foo.safetensors`` -> ``foo.json``."""
    return Path(path).with_suffix(CARD_SUFFIX)


def _corrupt(path: Path, detail: str) -> ModelFileError:
    return ModelFileError(f"{path.name}: corrupt or incomplete file ({detail})")


def _unreadable(path: Path, exc: OSError) -> ModelFileError:
    return ModelFileError(f"{path.name}: cannot be read ({exc.strerror or exc})")


def _pickle_refused(path: Path) -> ModelFileError:
    return ModelFileError(
        f"{path.name} is a pickled PyTorch checkpoint, not safetensors; refused (pickles can run code)"
    )


def _looks_like_pickle(start: bytes) -> bool:
    # Protocol 2+ pickles open with PROTO (0x80) and the protocol number; torch.save's default
    # format is a zip archive holding a pickle.
    return (len(start) >= 2 and start[0] == 0x80 and 2 <= start[1] <= 5) or start.startswith(b"PK\x03\x04")


def validate_safetensors(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check a safetensors file's structure without loading its tensors; return its header.

    The header maps each tensor name to ``{"dtype", "shape", "data_offsets"}`` and may hold
    ``"__metadata__"`` (a dict of strings). Raises :class:`ModelFileError` for a pickle or for
    any damage the safetensors loader would trip over, before that loader sees the file.
    """
    file = Path(path)
    try:
        with open(file, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = handle.read(9)
            header_len = struct.unpack("<Q", start[:8])[0] if len(start) >= 8 else 0
            # A genuine header can begin with byte 0x80 (a header of 128 bytes, 384...), so a
            # pickle signature only counts when the bytes do not also read as safetensors.
            plausible = len(start) == 9 and header_len <= size - 8 and start[8:9] == b"{"
            if _looks_like_pickle(start) and not plausible:
                raise _pickle_refused(file)
            if size < 8:
                raise _corrupt(file, f"only {size} bytes long")
            if header_len > MAX_HEADER_BYTES:
                raise _corrupt(file, f"header length {header_len} is over the {MAX_HEADER_BYTES} byte limit")
            if header_len > size - 8:
                raise _corrupt(file, f"header length {header_len} runs past the end of the {size} byte file")
            handle.seek(8)
            raw = handle.read(header_len)
    except OSError as exc:
        raise _unreadable(file, exc) from exc
    if len(raw) != header_len:
        raise _corrupt(file, "file shrank while being read")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _corrupt(file, "header is not JSON") from exc
    if not isinstance(header, dict):
        raise _corrupt(file, "header is not a JSON object")
    _check_entries(file, header, data_size=size - 8 - header_len)
    return header


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_entries(file: Path, header: dict[str, Any], data_size: int) -> None:
    ranges: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise _corrupt(file, "metadata is not a map of strings")
            continue
        if not isinstance(entry, dict):
            raise _corrupt(file, f"tensor {name!r} has no description")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise _corrupt(file, f"tensor {name!r} has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise _corrupt(file, f"tensor {name!r} has an invalid shape")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
            raise _corrupt(file, f"tensor {name!r} has invalid data offsets")
        begin, end = offsets
        if not 0 <= begin <= end:
            raise _corrupt(file, f"tensor {name!r} has invalid data offsets")
        if end > data_size:
            raise _corrupt(file, f"tensor {name!r} ends past the end of the file")
        expected = math.prod(shape) * _DTYPES[dtype][1]
        if end - begin != expected:
            raise _corrupt(file, f"tensor {name!r} holds {end - begin} bytes, its shape and dtype need {expected}")
        ranges.append((begin, end, name))
    # The safetensors loader wants the tensors to tile the data exactly: no overlap, no gap,
    # nothing after the last one. Checking it here gives the user our message, not its error.
    position = 0
    for begin, end, name in sorted(ranges):
        if begin < position:
            raise _corrupt(file, f"tensor {name!r} overlaps another tensor")
        if begin > position:
            raise _corrupt(file, f"unused bytes before tensor {name!r}")
        position = end
    if position != data_size:
        raise _corrupt(file, f"{data_size - position} unused bytes after the last tensor")


def _card_from_json(text: str, source: Path, what: str) -> dict[str, Any]:
    try:
        card = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{source.name}: {what} is not valid JSON") from exc
    if not isinstance(card, dict):
        raise ModelFileError(f"{source.name}: {what} is not a JSON object")
    return card


def _read_card(file: Path, header: dict[str, Any]) -> dict[str, Any]:
    # The sidecar wins: it is what the user can edit, and it carries the file's sha256.
    sidecar = card_path(file)
    try:
        text = sidecar.read_text(encoding="utf-8")
    except FileNotFoundError:
        embedded = header.get("__metadata__", {}).get("card")
        return {} if embedded is None else _card_from_json(embedded, file, "model card in the file")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{sidecar.name}: model card cannot be read ({exc})") from exc
    return _card_from_json(text, sidecar, "model card")


def _check_torch_version(file: Path) -> None:
    import torch

    version = str(torch.__version__)
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None or (int(match[1]), int(match[2])) < MIN_TORCH_FOR_PT:
        needed = ".".join(map(str, MIN_TORCH_FOR_PT))
        raise ModelFileError(
            f"{file.name}: reading .pt checkpoints needs PyTorch {needed} or newer (this is {version}); "
            "older versions can run code hidden in such files"
        )


def _is_tensor_dict(value: Any) -> bool:
    import torch

    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def _load_legacy(file: Path) -> dict[str, torch.Tensor]:
    import torch

    _check_torch_version(file)
    try:
        # weights_only=True is the whole defence; there is deliberately no unsafe retry.
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise _unreadable(file, exc) from exc
    except pickle.UnpicklingError as exc:
        raise ModelFileError(f"{file.name} contains Python objects or code, not plain tensors; refused") from exc
    except Exception as exc:  # torch reports damage as RuntimeError, KeyError, EOFError...
        raise _corrupt(file, f"not a readable PyTorch checkpoint: {type(exc).__name__}") from exc
    if _is_tensor_dict(loaded):
        return dict(loaded)
    # Training checkpoints keep the weights one level down, beside the optimiser and epoch.
    for key in ("state_dict", "model"):
        if isinstance(loaded, dict) and _is_tensor_dict(loaded.get(key)):
            return dict(loaded[key])
    raise ModelFileError(f"{file.name} does not hold a plain dict of tensors; refused")


def _load_safetensors(file: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    header = validate_safetensors(file)
    card = _read_card(file, header)
    try:
        tensors = load_file(file, device="cpu")
    except OSError as exc:
        raise _unreadable(file, exc) from exc
    except SafetensorError as exc:  # the file changed after validation
        raise _corrupt(file, str(exc)) from exc
    return tensors, card


def load_model(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a model's tensors onto ``device`` and its card (``{}`` when it has none).

    ``.safetensors`` is the studio's format; ``.pt``/``.pth``/``.ckpt``/``.bin`` state dicts of
    plain tensors are accepted read-only. Anything else raises :class:`ModelFileError`.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        tensors, card = _load_safetensors(file)
    elif suffix in LEGACY_SUFFIXES:
        tensors, card = _load_legacy(file), {"format": LEGACY_FORMAT}
    else:
        raise ModelFileError(f"{file.name}: not a model file (expected .safetensors or a .pt state dict)")
    # Moving happens outside the loaders so a device problem (out of memory) keeps its own type.
    if str(device) != "cpu":
        tensors = {name: tensor.to(device) for name, tensor in tensors.items()}
    return tensors, card


def _shape(shape: Iterable[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _guilty_field(
    expected: tuple[int, ...], found: tuple[int, ...], fields: Mapping[str, object]
) -> tuple[str, object, int] | None:
    """The card field a mis-shaped tensor contradicts: one whose value is the size the card
    needs where the weights have another (latent_dim 4000 against weights made for 16)."""
    if len(expected) != len(found):
        return None
    for want, have in zip(expected, found, strict=True):
        if want == have:
            continue
        for name, value in fields.items():
            if isinstance(value, int) and not isinstance(value, bool) and value == want:
                return name, value, have
    return None


def _first_few(label: str, names: list[str]) -> str:
    return f"{label} {', '.join(names[:3])}" + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def check_weights(
    file: Path,
    tensors: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    what: str,
    fields: Mapping[str, object] | None = None,
) -> None:
    """Refuse weights that do not fit a model before it is built, or that hold no usable numbers.

    ``expected`` is the model's state dict, on the meta device where it is not built yet (its
    shapes and dtypes cost no memory); ``what`` names the model ("the gan-generator its card
    describes") and ``fields`` its card's config, so a mis-shaped tensor names the field that
    does not match. Raises :class:`ModelFileError`: missing or extra tensors, a shape that does
    not fit, a dtype that is not a number of the right kind (bool, complex, int where floats
    belong), and NaN or Inf anywhere in the weights (a model that draws flat grey pictures).
    """
    missing = [name for name in expected if name not in tensors]
    extra = [name for name in tensors if name not in expected]
    if missing or extra:
        parts = [_first_few(label, names) for label, names in (("missing", missing), ("unexpected", extra)) if names]
        raise ModelFileError(f"{file.name}: its weights do not match {what} ({'; '.join(parts)})")
    for name, want in expected.items():
        have = tensors[name]
        if tuple(have.shape) != tuple(want.shape):
            guilty = _guilty_field(tuple(want.shape), tuple(have.shape), fields or {})
            sizes = f"{name} is {_shape(have.shape)}, the card needs {_shape(want.shape)}"
            if guilty is not None:
                field, value, actual = guilty
                raise ModelFileError(
                    f"{file.name}: its card says {field} {value} but its weights were made for {actual} ({sizes})"
                )
            raise ModelFileError(f"{file.name}: its weights do not match {what} ({sizes})")
        wants_float = want.dtype.is_floating_point
        if have.dtype.is_floating_point != wants_float or have.dtype.is_complex or have.dtype == _bool_dtype():
            kind = "floating-point numbers" if wants_float else "whole numbers"
            dtype = str(have.dtype).removeprefix("torch.")
            raise ModelFileError(f"{file.name}: the weight {name} holds {dtype} values where the model needs {kind}")
    bad = non_finite(tensors)
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise ModelFileError(
            f"{file.name}: this model's weights contain NaN/Inf (in {bad[0]}{more}); "
            "it cannot draw pictures (a training run that diverged saves such weights)"
        )


def non_finite(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """The names of the floating-point tensors that hold NaN or Inf (weights that diverged)."""
    return [name for name, tensor in tensors.items() if tensor.dtype.is_floating_point and not _finite(tensor)]


def _bool_dtype() -> torch.dtype:
    import torch

    return torch.bool


def _finite(tensor: torch.Tensor) -> bool:
    import torch

    if tensor.dtype.itemsize == 1:  # float8: not every kernel takes it
        tensor = tensor.float()
    return bool(torch.isfinite(tensor).all())


def _detach_for_saving(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    prepared: dict[str, torch.Tensor] = {}
    seen_storages: set[int] = set()
    for name, tensor in tensors.items():
        tensor = tensor.detach().to("cpu").contiguous()
        storage = tensor.untyped_storage().data_ptr()
        # safetensors refuses tensors that share memory (tied weights); each gets its own copy.
        if storage in seen_storages:
            tensor = tensor.clone()
        else:
            seen_storages.add(storage)
        prepared[name] = tensor
    return prepared


def save_model(path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], card: dict[str, Any]) -> Path:
    """Write ``tensors`` as safetensors and ``card`` as the JSON beside it, each atomically.

    The card gains ``format_version`` (if absent) and the ``sha256`` of the tensor file; a copy
    (without the hash, which cannot describe the file holding it) goes in the file's metadata.
    Raises :class:`~studio.files.atomic.SaveError` ("disk full"...) with the old model intact.
    """
    from safetensors.torch import save

    target = Path(path)
    if target.suffix.lower() != SAFETENSORS_SUFFIX:
        raise ModelFileError(f"{target.name}: models are saved as {SAFETENSORS_SUFFIX} files")
    full_card = {key: value for key, value in card.items() if key != "sha256"}
    full_card.setdefault("format_version", FORMAT_VERSION)
    # Serialised before anything is written, so a card that is not JSON leaves no half model.
    embedded = json.dumps(full_card, ensure_ascii=False)
    data = save(_detach_for_saving(tensors), metadata={"card": embedded})
    full_card["sha256"] = hashlib.sha256(data).hexdigest()
    card_text = json.dumps(full_card, indent=2, ensure_ascii=False) + "\n"

    atomic_write_bytes(target, data)
    sidecar = card_path(target)
    try:
        atomic_write_bytes(sidecar, card_text.encode("utf-8"))
    except SaveError:
        # The old card describes tensors that are gone; without it, loading falls back to the
        # card inside the new file, which is current.
        try:
            sidecar.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    return target


def model_sha256(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in chunks so large models need no extra memory."""
    file = Path(path)
    try:
        with open(file, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise _unreadable(file, exc) from exc


def inspect_model(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a model without keeping its tensors.

    Returns ``{"file", "format", "tensors", "parameters", "dtypes", "size_bytes", "card"}``,
    where ``dtypes`` counts tensors per dtype (torch's names: ``{"float32": 12}``). A
    safetensors file is described from its header alone.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    shapes: list[tuple[str, list[int]]] = []
    if suffix == SAFETENSORS_SUFFIX:
        header = validate_safetensors(file)
        card, fmt = _read_card(file, header), "safetensors"
        for name, entry in header.items():
            if name != "__metadata__":
                shapes.append((_DTYPES[entry["dtype"]][0], entry["shape"]))
    elif suffix in LEGACY_SUFFIXES:
        card, fmt = {"format": LEGACY_FORMAT}, LEGACY_FORMAT
        for tensor in _load_legacy(file).values():
            shapes.append((str(tensor.dtype).removeprefix("torch."), list(tensor.shape)))
    else:
        raise ModelFileError(f"{file.name}: not a model file (expected .safetensors or a .pt state dict)")
    dtypes: dict[str, int] = {}
    for dtype, _ in shapes:
        dtypes[dtype] = dtypes.get(dtype, 0) + 1
    return {
        "file": str(file),
        "format": fmt,
        "tensors": len(shapes),
        "parameters": sum(math.prod(shape) for _, shape in shapes),
        "dtypes": dict(sorted(dtypes.items())),
        "size_bytes": file.stat().st_size,
        "card": card,
    }


def _human_size(size: int) -> str:
    if size < 1000:
        return f"{size} bytes"
    exponent = min((len(str(size)) - 1) // 3, 4)
    unit = ("KB", "MB", "GB", "TB")[exponent - 1]
    return f"{size / 1000**exponent:.1f} {unit} ({size:,} bytes)"


def format_inspection(info: dict[str, Any]) -> str:
    """Readable text for :func:`inspect_model`'s result (``studio info``, the About dialog)."""
    dtypes = ", ".join(f"{name} x{count}" for name, count in info["dtypes"].items()) or "none"
    lines = [
        f"File:       {info['file']}",
        f"Format:     {info['format']}",
        f"Size:       {_human_size(info['size_bytes'])}",
        f"Tensors:    {info['tensors']:,}",
        f"Parameters: {info['parameters']:,}",
        f"Dtypes:     {dtypes}",
    ]
    card = info.get("card") or {}
    if card:
        lines += ["Card:", json.dumps(card, indent=2, ensure_ascii=False)]
    else:
        lines.append("Card:       (none)")
    return "\n".join(lines)


def list_models(folders: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The ``.safetensors`` files directly inside each folder, folder by folder, sorted by name.

    Folders that do not exist are skipped: the user library may not have been created yet.
    """
    found: list[Path] = []
    for folder in folders:
        directory = Path(folder)
        if not directory.is_dir():
            continue
        found += sorted(
            entry
            for entry in directory.iterdir()
            if entry.suffix.lower() == SAFETENSORS_SUFFIX
            and not entry.name.lower().endswith((TRAINING_CHECKPOINT_SUFFIX, DIRECTIONS_SUFFIX))
            and entry.is_file()
        )
    return found
