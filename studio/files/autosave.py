"""The Style panel's work, saved as the artist works, so that a crash (even kill -9) loses none of it.

In :func:`~studio.files.paths.autosave_dir`::

    style/              this session's work, rewritten a moment after each change
      work.json         the photo and paintings (original names, weights, built-in index), the
                        strength, the settings, and which picture is the last result
      photo-N.png, painting-N.png, result-N.png
                        the pictures; the result carries its PNG settings like a saved one
    style-recovered/    the work of a session that did not end cleanly, until the artist
                        restores or discards it (an unanswered offer is made again next time)

Every file is written atomically (:mod:`studio.files.atomic`), the pictures first and
``work.json`` last, so it never names a picture that is not there yet; pictures it no longer
names are removed after it. A clean quit removes ``style/``; after a crash the next start moves
it to ``style-recovered/`` (:func:`keep_unfinished`). Which running app owns ``style/`` is the
window's business (a lock file there). Reading never raises for what the folder holds: an
unusable ``work.json`` means nothing to recover, a picture that cannot be read is left out.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from studio.files.atomic import atomic_write_bytes
from studio.files.images import ImageLoadError, LoadedImage, load_image, save_png
from studio.files.paths import autosave_dir
from studio.files.user_json import read_user_json

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image

log = logging.getLogger(__name__)

CURRENT = "style"
RECOVERED = "style-recovered"
WORK_FILE = "work.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Picture:
    """A picture to write into the work folder (only the ones not written yet are passed)."""

    file: str
    image: Image.Image
    settings: dict | None = None  # PNG settings (the result's), None for the photo and paintings


@dataclass
class SavedImage:
    """One image of recovered work: the picture read back, and the name and format it had."""

    image: LoadedImage | None  # None when its file could not be read
    name: str
    source_format: str


@dataclass
class SavedPainting(SavedImage):
    weight: float = 1.0
    builtin: int | None = None


@dataclass
class RecoveredWork:
    """What :func:`read_work` found; names come from a file: show them as plain text."""

    folder: Path
    saved_at: str
    photo: SavedImage | None
    paintings: list[SavedPainting]
    strength: float
    settings: dict | None  # StyleSettings.to_dict() form, checked by whoever uses it
    result: SavedImage | None
    result_kind: str = "refined"
    result_stopped: bool = False
    unreadable: list[str] = field(default_factory=list)  # names of pictures that could not be read

    def summary(self) -> str:
        """ "photo.jpg, 2 paintings (a.jpg, b.png) and the last picture", for the offer."""
        parts = [f"the photo {self.photo.name}" if self.photo is not None else "no photo"]
        names = [p.name for p in self.paintings if p.name]
        if names:
            noun = "painting" if len(names) == 1 else "paintings"
            parts.append(f"{len(names)} {noun} ({', '.join(names)})")
        text = ", ".join(parts)
        return f"{text} and the last picture" if self.result is not None else text


def current_folder(*, create: bool = True) -> Path:
    return autosave_dir(create=create) / CURRENT


def recovered_folder(*, create: bool = True) -> Path:
    return autosave_dir(create=create) / RECOVERED


def write_work(folder: Path, manifest: dict[str, Any], pictures: list[Picture]) -> None:
    """Write the new ``pictures``, then ``manifest`` as work.json, then remove pictures it no
    longer names. Raises SaveError (the previous work.json stays whole); the atomic writes make
    the folder."""
    for picture in pictures:
        save_png(folder / picture.file, picture.image, picture.settings)
    payload = {"version": FORMAT_VERSION, "saved": datetime.now(timezone.utc).isoformat(), **manifest}
    atomic_write_bytes(folder / WORK_FILE, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    named = {WORK_FILE, *_files_named(manifest)}
    for path in folder.iterdir():
        if path.name not in named and path.is_file():
            try:
                path.unlink()
            except OSError as exc:
                log.warning("Could not remove the old autosave picture %s: %s", path, exc)


def remove(folder: Path) -> None:
    """Remove a work folder; a failure is logged (the work is only a copy)."""
    if not folder.exists():
        return
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        log.warning("Could not remove the autosave %s: %s", folder, exc)


def keep_unfinished() -> bool:
    """At start, by the app that owns the autosave: the work a session left in ``style/`` (it did
    not end cleanly) becomes ``style-recovered/``, replacing an older one. True when there is
    recovered work to offer (now or left from before)."""
    current, recovered = current_folder(), recovered_folder()
    if (current / WORK_FILE).is_file():
        remove(recovered)
        try:
            os.replace(current, recovered)
        except OSError as exc:
            log.warning("Could not keep the last session's Style work in %s: %s", recovered, exc)
    else:
        remove(current)  # pictures without a work.json: a write killed before it named them
    return (recovered / WORK_FILE).is_file()


def _files_named(manifest: dict[str, Any]) -> list[str]:
    entries = [manifest.get("photo"), *(manifest.get("paintings") or []), manifest.get("result")]
    return [entry["file"] for entry in entries if isinstance(entry, dict) and isinstance(entry.get("file"), str)]


def _text(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _number(value: object, default: float, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return min(max(float(value), low), high)


def _image(folder: Path, entry: object, unreadable: list[str]) -> tuple[LoadedImage | None, str, str] | None:
    """The picture an entry names (None for no entry); its LoadedImage is None when unreadable."""
    if not isinstance(entry, dict):
        return None
    name = _text(entry.get("name"))
    file = _text(entry.get("file"))
    if not file:
        return None, name, _text(entry.get("format"))
    if os.path.basename(file) != file:  # only files inside the work folder
        unreadable.append(name or file)
        return None, name, _text(entry.get("format"))
    try:
        loaded = load_image(folder / file)
    except (ImageLoadError, OSError) as exc:
        log.warning("Autosave picture left out: %s", exc)
        unreadable.append(name or file)
        return None, name, _text(entry.get("format"))
    return loaded, name, _text(entry.get("format"), loaded.source_format)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """work.json as a dict, or None when there is none or it is not usable (never raises)."""
    read = read_user_json(folder / WORK_FILE)
    if read.problem is not None:
        log.warning("Ignoring the autosave: %s", read.problem)
    data = read.value
    if data is None:
        return None
    if data.get("version") != FORMAT_VERSION:
        log.warning("Ignoring the autosave %s: not a version %d work file", folder / WORK_FILE, FORMAT_VERSION)
        return None
    return data


def read_work(folder: Path, *, pictures: bool = True) -> RecoveredWork | None:
    """The work saved in ``folder``, or None when there is none that can be used (never raises).

    ``pictures=False`` reads only the names (for the offer, without decoding any image).
    """
    data = read_manifest(folder)
    if data is None:
        return None
    unreadable: list[str] = []

    def image(entry: object) -> tuple[LoadedImage | None, str, str] | None:
        if not pictures:
            return (None, _text(entry.get("name")), _text(entry.get("format"))) if isinstance(entry, dict) else None
        return _image(folder, entry, unreadable)

    photo = image(data.get("photo"))
    paintings: list[SavedPainting] = []
    raw_paintings = data.get("paintings")
    for entry in raw_paintings if isinstance(raw_paintings, list) else []:
        found = image(entry)
        if found is None:
            continue
        builtin = entry.get("builtin")
        paintings.append(
            SavedPainting(
                *found,
                weight=_number(entry.get("weight"), 1.0, 0.0, 1e6),
                builtin=builtin
                if isinstance(builtin, int) and not isinstance(builtin, bool) and builtin >= 0
                else None,
            )
        )
    result_entry = data.get("result")
    result = image(result_entry)
    settings = data.get("settings")
    return RecoveredWork(
        folder=folder,
        saved_at=_text(data.get("saved")),
        photo=None if photo is None else SavedImage(*photo),
        paintings=paintings,
        strength=_number(data.get("strength"), 1.0, 0.0, 1.0),
        settings=settings if isinstance(settings, dict) else None,
        result=None if result is None or (pictures and result[0] is None) else SavedImage(*result),
        result_kind=_text(result_entry.get("kind"), "refined") if isinstance(result_entry, dict) else "refined",
        result_stopped=isinstance(result_entry, dict) and result_entry.get("stopped") is True,
        unreadable=unreadable,
    )


def unfinished_work() -> RecoveredWork | None:
    """Style work left by a session that did not end cleanly (or kept by one open now), names
    only, for `studio info`; None when there is none or the folder cannot be read."""
    # `studio info` only looks: it creates no folder.
    folders = [recovered_folder(create=False), current_folder(create=False)]
    return next((work for work in (read_work(f, pictures=False) for f in folders) if work is not None), None)
