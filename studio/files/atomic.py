"""Atomic file writes: the old file or the new file exists afterwards, never a torn one.

Write to a temporary file in the destination's folder, fsync it, ``os.replace`` it over the
destination, then fsync the folder so the rename itself survives a power cut.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Callable


class SaveError(OSError):
    """A save failed; the message is meant for the user and names the file."""


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once at import, before any threads start.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a folder for fsync; NTFS renames are journalled.
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary file, then move it over ``path`` atomically.

    On any failure the temporary file is removed, ``path`` is left as it was, and a
    :class:`SaveError` with a readable message is raised ("disk full" for ENOSPC).
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        # mkstemp makes the file private (0600); a saved image or model should get the
        # permissions the file had, or those any new file of the user's would get.
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(folder)
    except BaseException as exc:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, SaveError):
            if exc.errno == errno.ENOSPC:
                raise SaveError(errno.ENOSPC, f"Could not save {target.name}: disk full") from exc
            raise SaveError(exc.errno, f"Could not save {target.name}: {exc.strerror or exc}") from exc
        raise
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return atomic_write(path, lambda handle: handle.write(data))
