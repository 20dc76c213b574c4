"""The one reader for JSON that comes from the user's files: never an exception, whatever is in them.

Bookmarks, the explorer's session, a preference that holds JSON and the settings a PNG carries
in its text chunk are all read here. A file or a text that cannot be used gives ``None`` and a
reason in plain words ("not UTF-8 text", "nested more than 64 levels deep"), never a
``RecursionError``, an ``OverflowError`` or a traceback; a value that does come back is a plain
JSON value of the expected kind, with finite numbers only and no deeper than :data:`MAX_DEPTH`,
so the code that reads it further cannot recurse or overflow on it.

A damaged file is moved aside with :func:`set_aside` (renamed, never deleted or overwritten),
so whatever could still be rescued by hand is kept.
"""

from __future__ import annotations

import json
import math
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os

# More than any file of the studio's needs (bookmarks carry small thumbnails), small enough
# that reading a stray huge file cannot exhaust memory.
MAX_BYTES = 64 * 1024 * 1024
# The studio's own files nest four or five levels; this leaves room and keeps recursion safe.
MAX_DEPTH = 64

_KINDS = {dict: "a JSON object", list: "a JSON list", str: "text", int: "a number", float: "a number"}


class UserJsonError(ValueError):
    """JSON that cannot be used; the message says why in plain words (without the file name)."""


@dataclass(frozen=True)
class UserJson:
    """What :func:`read_user_json` found: the value, or None and why (``problem``)."""

    path: Path
    value: Any = None
    problem: str | None = None  # plain words naming the file; None when read or missing
    missing: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.missing


def _no_constant(name: str) -> Any:
    raise UserJsonError(f"it holds {name}, which is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UserJsonError(f"it holds the number {text[:20]}, too large to use")
    return value


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), "null" if value is None else type(value).__name__)


def _too_deep(value: Any, max_depth: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_json(text: str | bytes, expect: type | tuple[type, ...] = dict, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in ``text``, of the type ``expect``; :class:`UserJsonError` otherwise.

    Refuses what Python's json module would let through and later code would trip on: NaN,
    Infinity, numbers too large for a float, nesting deeper than ``max_depth``.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise UserJsonError("it is not UTF-8 text") from None
    if not isinstance(text, str):
        raise UserJsonError(f"it holds {type(text).__name__}, not text")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except UserJsonError:
        raise
    except RecursionError:
        raise UserJsonError(f"it is nested more than {max_depth} levels deep") from None
    except MemoryError:
        raise UserJsonError("it is too large to read") from None
    except json.JSONDecodeError as exc:
        raise UserJsonError(f"it is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise UserJsonError(f"it holds a value that cannot be read ({str(exc)[:80]})") from None
    if not isinstance(value, expect) or isinstance(value, bool):
        wanted = " or ".join(_KINDS.get(t, t.__name__) for t in (expect if isinstance(expect, tuple) else (expect,)))
        raise UserJsonError(f"it holds {_kind(value)} where {wanted} belongs")
    if _too_deep(value, max_depth):
        raise UserJsonError(f"it is nested more than {max_depth} levels deep")
    return value


def read_user_json(
    path: str | os.PathLike[str], expect: type | tuple[type, ...] = dict, max_bytes: int = MAX_BYTES
) -> UserJson:
    """Read the JSON file at ``path``; never raises. A missing file is ``missing``, not a problem."""
    file = Path(path)
    try:
        info = file.stat()
    except FileNotFoundError:
        return UserJson(file, missing=True)
    except OSError as exc:
        return UserJson(file, problem=f"cannot read {file}: {exc.strerror or exc}")
    if stat.S_ISDIR(info.st_mode):
        return UserJson(file, problem=f"cannot read {file}: it is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        return UserJson(file, problem=f"cannot read {file}: it is not a regular file")
    if info.st_size > max_bytes:
        return UserJson(file, problem=f"cannot read {file}: it is {info.st_size:,} bytes, more than {max_bytes:,}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        return UserJson(file, problem=f"cannot read {file}: {exc.strerror or exc}")
    try:
        return UserJson(file, value=parse_json(data, expect))
    except UserJsonError as exc:
        return UserJson(file, problem=f"cannot read {file}: {exc}")


def set_aside(path: str | os.PathLike[str]) -> Path | None:
    """Rename a damaged file to ``<name>.unreadable-<time><suffix>`` beside it (never over
    another file); the new path, or None when it could not be moved (it is then left as it is)."""
    file = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for number in range(100):
        extra = f"-{number}" if number else ""
        aside = file.with_name(f"{file.stem}.unreadable-{stamp}{extra}{file.suffix}")
        if aside.exists():
            continue
        try:
            file.rename(aside)
        except OSError:
            return None
        return aside
    return None


def recorded_sha256(card: str | os.PathLike[str]) -> str | None:
    """The sha256 a model's JSON card records for its file, without hashing the file; None when
    the card is missing, unreadable, hostile (any depth) or records none."""
    value = read_user_json(card).value
    sha = value.get("sha256") if isinstance(value, dict) else None
    return sha if isinstance(sha, str) else None
