"""Autosave of the Style panel's work, and the offer to take it back after a crash.

A :class:`StyleAutosave` watches a :class:`~studio.ui.style.style_run.StyleRun`: a second after
the last change of the photo, a painting, a weight, the strength or the settings, and at once
after each finished or stopped Refine, it writes the work to the user data folder
(:mod:`studio.files.autosave`: atomic files, the pictures as PNGs, the result with its
settings). The files are written on a thread of its own, never the GUI thread and never the
worker (whose jobs must not wait behind a save); a picture already written is not written again.

At start it takes the autosave's lock file (one running app owns it; a second window neither
autosaves nor offers), and work left by a session that did not end cleanly becomes
:attr:`offer`. :meth:`restore` refills the run exactly; :meth:`discard` removes it. A clean quit
calls :meth:`end_session`, which removes this session's autosave.

No widgets: the panel shows the offer and sends the artist's answer.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLockFile, QObject, QTimer, Signal

from studio.files import autosave as files
from studio.files.images import LoadedImage
from studio.files.paths import autosave_dir
from studio.spec.style_settings import StyleSettings, StyleSettingsError
from studio.ui.style.style_run import BUILTIN_FORMAT, Painting, StyleOutcome

if TYPE_CHECKING:
    from concurrent.futures import Future

    from studio.ui.style.style_run import StyleRun

log = logging.getLogger(__name__)

AUTOSAVE_DELAY_MS = 1000  # after the last change; a finished result is saved at once
LOCK_FILE = "style.lock"


class RecoveryError(Exception):
    """The recovered work could not be put back; the message is for the artist."""


class StyleAutosave(QObject):
    saved = Signal()  # a write finished (emitted on the GUI thread)
    _writeEnded = Signal(str)  # from the autosave thread: "" or why the write failed

    def __init__(self, run: StyleRun, parent: QObject | None = None, *, delay_ms: int = AUTOSAVE_DELAY_MS) -> None:
        super().__init__(parent)
        self.run = run
        self.offer: files.RecoveredWork | None = None
        self.unreadable: list[str] = []  # pictures of the restored work that could not be read
        self._delay_ms = delay_ms
        self._written: dict[int, tuple[object, str]] = {}  # id(image) -> (image, its file)
        self._counter = 0
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.save_now)
        self._writeEnded.connect(self._on_write_ended)
        self.enabled = False
        try:
            folder = autosave_dir()
        except OSError as exc:  # an unwritable data folder: the app still starts, without autosave
            log.warning("The Style work is not autosaved: cannot create its folder (%s)", exc)
            return
        # Made once here: a save (on the GUI thread, every change) does not make its folders again.
        self._folder = folder / files.CURRENT
        self._lock = QLockFile(str(folder / LOCK_FILE))
        self._lock.setStaleLockTime(0)  # stale only when its process is gone, however old
        self.enabled = self._lock.tryLock(0)
        if not self.enabled:
            if self._lock.error() == QLockFile.LockError.LockFailedError:
                log.info("Another Latent Studio window keeps the Style autosave; this one does not autosave")
            else:
                log.warning("The Style work is not autosaved: cannot write %s", folder / LOCK_FILE)
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="style-autosave")
        if files.keep_unfinished():
            self.offer = files.read_work(files.recovered_folder(), pictures=False)
        for signal in (run.inputsChanged, run.strengthChanged, run.settingsChanged, run.instantReady):
            signal.connect(self._changed)
        run.finished.connect(self._result_ended)
        run.cancelled.connect(self._result_ended)

    # ----- saving ---------------------------------------------------------------------------------
    def _changed(self, *_args: object) -> None:
        self._timer.start(self._delay_ms)

    def _result_ended(self, *_args: object) -> None:
        self._timer.start(0)

    @property
    def pending(self) -> bool:
        """A change waits for its save, or a save is being written."""
        return self._timer.isActive() or (self._pending is not None and not self._pending.done())

    def save_now(self) -> Future | None:
        """Snapshot the run's work (here, on the GUI thread) and write it on the autosave thread."""
        self._timer.stop()
        if self._executor is None:
            return None
        manifest, pictures = self._snapshot()
        if manifest is None:
            self._pending = self._executor.submit(files.remove, self._folder)
        else:
            self._pending = self._executor.submit(files.write_work, self._folder, manifest, pictures)
        self._pending.add_done_callback(self._written_off_thread)
        return self._pending

    def _written_off_thread(self, future: Future) -> None:
        exc = future.exception()
        problem = "" if exc is None else (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
        self._writeEnded.emit(problem)  # queued to the GUI thread

    def _on_write_ended(self, problem: str) -> None:
        if problem:
            # The autosave is a safety copy, never an error dialog; the log says why.
            log.warning("The Style autosave was not written: %s", problem)
            self._written.clear()  # the pictures of that write may be missing: write them all next time
        else:
            self.saved.emit()

    def _file_for(self, image: object, prefix: str, pictures: list[files.Picture], settings: dict | None = None) -> str:
        known = self._written.get(id(image))
        if known is not None and known[0] is image:
            return known[1]
        self._counter += 1
        name = f"{prefix}-{self._counter}.png"
        pictures.append(files.Picture(name, image, settings))  # type: ignore[arg-type]
        self._written[id(image)] = (image, name)
        return name

    def _snapshot(self) -> tuple[dict[str, Any] | None, list[files.Picture]]:
        run = self.run
        pictures: list[files.Picture] = []
        result = run.result
        if run.photo is None and not run.styles() and result is None:
            self._written.clear()
            return None, pictures
        manifest: dict[str, Any] = {"photo": None, "paintings": [], "result": None}
        keep: set[int] = set()
        if run.photo is not None:
            image = run.photo.image
            keep.add(id(image))
            manifest["photo"] = {
                "file": self._file_for(image, "photo", pictures),
                "name": run.photo.path.name,
                "format": run.photo.source_format,
            }
        for painting in run.paintings:
            entry: dict[str, Any] = {"file": None, "name": painting.name, "weight": painting.weight}
            if painting.image is not None:
                keep.add(id(painting.image.image))
                entry["file"] = self._file_for(painting.image.image, "painting", pictures)
                entry["format"] = painting.image.source_format
                entry["builtin"] = painting.builtin
            manifest["paintings"].append(entry)
        manifest["strength"] = run.strength
        manifest["settings"] = run.settings().to_dict()
        if result is not None:
            keep.add(id(result.image))
            manifest["result"] = {
                "file": self._file_for(result.image, "result", pictures, result.png),
                "name": result.name,
                "kind": result.kind,
                "stopped": result.stopped,
            }
        # Only the pictures still shown are remembered (and kept alive for the identity check).
        self._written = {key: value for key, value in self._written.items() if key in keep}
        return manifest, pictures

    def end_session(self) -> None:
        """A clean quit: wait for a write in progress, then remove this session's autosave."""
        self._timer.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
            files.remove(self._folder)
        if self.enabled:
            self._lock.unlock()
            self.enabled = False

    # ----- the offer ------------------------------------------------------------------------------
    def restore(self) -> StyleOutcome | None:
        """Refill the run with the recovered work; its last picture (None if it had none).

        Raises :class:`RecoveryError` when it cannot be put back (the offer stays)."""
        if self.offer is None:
            raise RecoveryError("There is no Style work to restore.")
        if self.run.running:
            raise RecoveryError("Stop the Refine first: restoring replaces the photo and the paintings.")
        work = files.read_work(self.offer.folder)
        if work is None:
            raise RecoveryError(f"The last Style work could not be read back from {self.offer.folder}.")
        settings = None
        if work.settings is not None:
            try:
                settings = StyleSettings.from_dict(work.settings)
            except (StyleSettingsError, ValueError, TypeError) as exc:
                log.warning("The recovered Style settings are not usable (%s); keeping the current ones", exc)
        photo = _loaded(work.photo)
        paintings = [
            Painting(_loaded(saved, BUILTIN_FORMAT if saved.builtin is not None else None), saved.weight, saved.builtin)
            for saved in work.paintings
            if saved.image is not None
        ]
        result = None
        if work.result is not None and work.result.image is not None:
            picture = work.result.image
            result = StyleOutcome(
                image=picture.image,
                png=dict(picture.settings or {}),
                name=work.result.name or "result.png",
                stopped=work.result_stopped,
                kind="instant" if work.result_kind == "instant" else "refined",
            )
        outcome = self.run.refill(photo, paintings, work.strength, settings, result)
        self.offer = None
        files.remove(work.folder)
        self.unreadable = work.unreadable
        self._timer.start(0)  # the restored work is this session's now
        return outcome

    def discard(self) -> None:
        """The artist does not want the recovered work: remove it."""
        if self.offer is not None:
            files.remove(self.offer.folder)
        self.offer = None


def _loaded(saved: files.SavedImage | None, source_format: str | None = None) -> LoadedImage | None:
    """A recovered picture under the name and format the artist's file had."""
    if saved is None or saved.image is None:
        return None
    return LoadedImage(
        saved.image.image,
        None,
        Path(saved.name or saved.image.path.name),
        source_format or saved.source_format or saved.image.source_format,
        None,
    )
