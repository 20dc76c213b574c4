"""Atomic file writes: the old file or the new file exists afterwards, never a torn one.

Write to a temporary file in the destination's folder, fsync it, ``os.replace`` it over the
destination, then fsync the folder so the rename itself survives a power cut.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Callable


class SaveError(OSError):
    """A save failed; the message is meant for the user and names the file.

    ``str()`` is the message alone ("cannot write /x/out.png: disk full"), without OSError's
    "[Errno 28]" in front, so every caller can show it as it is.
    """

    def __str__(self) -> str:
        return self.strerror if self.strerror else super().__str__()


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once at import, before any threads start.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
NEW_FOLDER_MODE = 0o777 & ~_UMASK  # what a folder the user makes gets; mkdtemp's are private (0700)


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a folder for fsync; NTFS renames are journalled.
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Plain words for the causes a user can do something about; anything else is strerror.
_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "the folder does not exist (a missing drive?)",
    errno.ENOTDIR: "a part of the folder path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EIO: "input/output error (a failing or removed drive?)",
}


def save_error(target: str | os.PathLike[str], exc: OSError) -> SaveError:
    """The :class:`SaveError` for ``exc`` met while saving ``target``: "cannot write TARGET: REASON".

    The message names the file the user asked for, never a temporary file or a folder the
    save had to create on the way.
    """
    if isinstance(exc, SaveError):
        return exc
    return SaveError(exc.errno, f"cannot write {target}: {failure_reason(exc)}")


def failure_reason(exc: OSError) -> str:
    """Why ``exc`` happened, in plain words ("disk full"), without a file name."""
    return _REASONS.get(exc.errno or 0) or (exc.strerror or str(exc) or type(exc).__name__).lower()


def make_folder(folder: str | os.PathLike[str]) -> None:
    """Create ``folder`` and its parents (existing ones are fine).

    A file where one of its folders belongs raises ENOTDIR ("a part of the folder path is a
    file, not a folder"), not mkdir's misleading EEXIST ("file exists").
    """
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder)) from exc


def ensure_folder(folder: str | os.PathLike[str]) -> Path:
    """:func:`make_folder` for a folder the user will save into; a failure is the :class:`SaveError` naming it."""
    try:
        make_folder(folder)
    except OSError as exc:
        raise save_error(folder, exc) from exc
    return Path(folder)


# The studio's own temporary files: ".NAME.RANDOM.tmp" (tempfile.mkstemp's random part is 8
# characters of [a-z0-9_]); nothing a user names so by hand.
_TEMP_PREFIX = "."
_TEMP_SUFFIX = ".tmp"


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary file, then move it over ``path`` atomically.

    On any failure the temporary file is removed, ``path`` is left as it was, and every
    OSError on the way (creating the folder, the temporary file, writing, fsync, the rename)
    becomes a :class:`SaveError` naming ``path``: "cannot write PATH: disk full".
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    tmp: Path | None = None
    try:
        make_folder(folder)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{target.name}.", suffix=_TEMP_SUFFIX, dir=folder)
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as handle:
            # mkstemp makes the file private (0600); a saved image or model should get the
            # permissions the file had, or those any new file of the user's would get.
            try:
                mode = target.stat().st_mode & 0o777
            except FileNotFoundError:
                mode = 0o666 & ~_UMASK
            os.chmod(tmp, mode)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        tmp = None
        _fsync_dir(folder)
    except BaseException as exc:
        if tmp is not None:
            try:
                tmp.unlink()
            except OSError:  # the folder turned read-only: clean_stale_temps removes it later
                pass
        if isinstance(exc, OSError):
            raise save_error(target, exc) from exc
        raise
    return target


def clean_stale_temps(
    folder: str | os.PathLike[str], older_than: float = 120.0, *, suffix: str = _TEMP_SUFFIX, folders: bool = False
) -> list[Path]:
    """Remove the temporary files a killed save left in ``folder`` (not its subfolders).

    Only the studio's own pattern (``.NAME.RANDOM.tmp``, a plain file) older than
    ``older_than`` seconds is removed, so a save running at the same time is safe. Never
    raises: a folder that cannot be read or a file that cannot be removed is left alone.
    Returns the files removed.

    With ``folders``, the same for the staging folders a killed export left
    (``.NAME.RANDOM`` + ``suffix``, a real folder, not a link): one is stale when nothing in
    it changed for ``older_than`` seconds.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(_TEMP_PREFIX) and name.endswith(suffix)):
            continue
        stem = name[len(_TEMP_PREFIX) : -len(suffix)]
        # ".NAME." + 8 random characters: a dot with something on both sides of it.
        target_name, dot, random_part = stem.rpartition(".")
        if not (dot and target_name and random_part):
            continue
        try:
            if folders:
                if not entry.is_dir(follow_symlinks=False) or now - _newest_change(entry.path) < older_than:
                    continue
                shutil.rmtree(entry.path)
            else:
                if (
                    not entry.is_file(follow_symlinks=False)
                    or now - entry.stat(follow_symlinks=False).st_mtime < older_than
                ):
                    continue
                os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _newest_change(folder: str) -> float:
    """The newest modification time of ``folder`` and of anything in it (links not followed)."""
    newest = os.stat(folder, follow_symlinks=False).st_mtime
    for parent, names, files in os.walk(folder):
        for name in names + files:
            newest = max(newest, os.stat(os.path.join(parent, name), follow_symlinks=False).st_mtime)
    return newest


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return atomic_write(path, lambda handle: handle.write(data))
