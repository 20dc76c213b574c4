"""The Style Transfer panel's controller: the run's inputs and settings, the run, and its result.

A :class:`StyleRun` holds a photo, the paintings (each with a weight) and one
:class:`~studio.spec.style_settings.StyleSettings` value. :meth:`StyleRun.start` snapshots
them and submits the engine's stylize job through a :class:`~studio.ui.job_link.JobLink` that
owns the job's failure (so it is shown once, by the panel). While the job runs, the run emits
what changed: progress with an ETA, loss values and previews (throttled, the last one kept);
then the finished or stopped result with the PNG settings that made it, or the failure.

Edits made while a job runs change the inputs and settings for the next run, not this one;
:attr:`StyleRun.changedDuringRun` says so once. Restoring a saved PNG's settings goes through
:meth:`StyleRun.restore`.

No widgets: the panel binds to these signals and sends intents. The settings and their PNG
form are torch-free; the style transfer itself imports torch on the worker, when a run starts.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal
from superqt.utils import qthrottled

from studio.spec.png import STYLE_KEY
from studio.spec.style_settings import PRESETS, StyleSettings, StyleSettingsError, png_settings, settings_from_png
from studio.ui.job_link import JobLink

if TYPE_CHECKING:
    from collections.abc import Generator

    from PIL import Image

    from studio.engine.devices import DeviceInfo
    from studio.engine.jobs import Progress
    from studio.engine.style.transfer import StyleResult
    from studio.files.images import LoadedImage
    from studio.services.worker import Worker

log = logging.getLogger(__name__)

MAX_STYLES = 4
PREVIEW_MIN_INTERVAL_MS = 300  # previews reach the view at most this often during a run
SETTINGS_PREF = "style/settings"


@dataclass
class Painting:
    """A painting slot's content: an image (None while the slot is empty) and its weight."""

    image: LoadedImage | None = None
    weight: float = 1.0

    @property
    def name(self) -> str:
        return "" if self.image is None else self.image.path.name


@dataclass(frozen=True)
class RunProgress:
    fraction: float | None  # 0..1, or None while the job gives no measure (busy)
    message: str
    eta_s: float | None  # seconds left, once an estimate is worth showing


@dataclass(frozen=True)
class StyleOutcome:
    """A run's picture and the PNG settings that made it (what a saved PNG carries)."""

    image: Image.Image
    png: dict
    name: str  # a file name to suggest when saving
    stopped: bool = False  # stopped early: the best picture so far
    seconds: float = 0.0  # wall time from Start
    device: str = ""
    notes: list[str] = field(default_factory=list)  # fallbacks the engine reported
    losses: list[float] = field(default_factory=list)  # total loss per step
    changed_during_run: bool = False
    missing: list[str] = field(default_factory=list)  # a restored PNG's paintings not loaded here


class StyleRun(QObject):
    inputsChanged = Signal()  # the photo or the paintings (images or weights)
    settingsChanged = Signal(object)  # StyleSettings
    started = Signal(int)  # the job id
    progressed = Signal(object)  # RunProgress
    lossAdded = Signal(int, float)  # step, total loss
    previewReady = Signal(object)  # a PIL image, at most every PREVIEW_MIN_INTERVAL_MS
    finished = Signal(object)  # StyleOutcome
    cancelled = Signal(object)  # StyleOutcome (the best picture so far), or None if there was none
    failed = Signal(str)  # the job's readable error; the previous result stays
    refused = Signal(str)  # Start could not start, and why
    changedDuringRun = Signal()  # an edit during a run: it applies to the next one

    def __init__(self, worker: Worker | None, prefs: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self._prefs = prefs
        self.photo: LoadedImage | None = None
        self.paintings: list[Painting] = []
        self.result: StyleOutcome | None = None
        self._settings: StyleSettings | None = None  # loaded on first use (the engine imports torch)
        self._link: JobLink | None = None
        self._names: tuple[str, list[str]] = ("", [])
        self._started = 0.0
        self._losses_seen = 0
        self._changed_during_run = False
        self._emit_preview = qthrottled(self._show_preview, PREVIEW_MIN_INTERVAL_MS, leading=True, parent=self)

    # ----- inputs ------------------------------------------------------------------------------
    def set_photo(self, loaded: LoadedImage | None) -> None:
        if loaded is not self.photo:
            self.photo = loaded
            self.inputsChanged.emit()

    def add_painting(self, loaded: LoadedImage | None = None, weight: float = 1.0) -> int | None:
        """Add a painting slot; its index, or None when there are already :data:`MAX_STYLES`."""
        if len(self.paintings) >= MAX_STYLES:
            return None
        self.paintings.append(Painting(loaded, weight))
        self.inputsChanged.emit()
        return len(self.paintings) - 1

    def set_painting(self, index: int, loaded: LoadedImage | None) -> None:
        if self.paintings[index].image is not loaded:
            self.paintings[index].image = loaded
            self.inputsChanged.emit()

    def set_weight(self, index: int, weight: float) -> None:
        if self.paintings[index].weight != weight:
            self.paintings[index].weight = weight
            self._note_change()
            self.inputsChanged.emit()

    def remove_painting(self, index: int) -> None:
        """Remove a painting slot; the last one stays, emptied, at weight 1."""
        if len(self.paintings) <= 1:
            self.paintings[index] = Painting()
        else:
            del self.paintings[index]
        self.inputsChanged.emit()

    def free_painting(self) -> int | None:
        """The first empty painting slot, else a new one; None when every slot is taken."""
        empty = next((i for i, p in enumerate(self.paintings) if p.image is None), None)
        return empty if empty is not None else self.add_painting()

    def take_image(self, loaded: LoadedImage) -> None:
        """An opened image: the photo if there is none, else a painting (the last one is replaced when full)."""
        if self.photo is None:
            self.set_photo(loaded)
            return
        index = self.free_painting()
        self.set_painting(len(self.paintings) - 1 if index is None else index, loaded)

    def styles(self) -> list[Painting]:
        """The paintings that have an image."""
        return [p for p in self.paintings if p.image is not None]

    def ready(self) -> bool:
        """A photo, a painting and a worker: Start can run."""
        return self.worker is not None and self.photo is not None and bool(self.styles())

    # ----- settings ------------------------------------------------------------------------------
    def settings(self) -> StyleSettings:
        if self._settings is None:
            self._settings = self._saved_settings()
        return self._settings

    def set_settings(self, settings: StyleSettings) -> None:
        if settings == self.settings():
            return
        self._settings = settings
        if self._prefs is not None:
            self._prefs.setValue(SETTINGS_PREF, json.dumps(settings.to_dict()))
        self._note_change()
        self.settingsChanged.emit(settings)

    def _saved_settings(self) -> StyleSettings:
        raw = self._prefs.value(SETTINGS_PREF, "") if self._prefs is not None else ""
        if raw:
            try:
                return StyleSettings.from_dict(json.loads(str(raw)))
            except (StyleSettingsError, ValueError, TypeError):
                log.warning("Ignoring unusable saved style settings")
        return PRESETS["preview"]

    def _note_change(self) -> None:
        if self.running and not self._changed_during_run:
            self._changed_during_run = True
            self.changedDuringRun.emit()

    # ----- the run -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._link is not None

    def start(self) -> int | None:
        """Submit a run of the current inputs and settings; its job id, or None if it cannot start."""
        if self.running or not self.ready():
            return None
        styles = self.styles()
        if not any(p.weight > 0 for p in styles):
            self.refused.emit("Give at least one painting a weight above 0.")
            return None
        # A snapshot: edits made while the job runs apply to the next run.
        settings = self.settings()
        content = self.photo.image.copy()
        pairs = [(p.image.image.copy(), p.weight) for p in styles]
        self._names = (self.photo.path.name, [p.name for p in styles])
        self._started = time.monotonic()
        self._losses_seen = 0
        self._changed_during_run = False
        self._link = JobLink(
            self.worker,
            f"Style transfer: {self.photo.path.name}",
            lambda device: _stylize(content, pairs, settings, device),
            self,
            progress=self._on_progress,
            finished=self._on_finished,
            failed=self._on_failed,
            cancelled=self._on_cancelled,
        )
        self.started.emit(self._link.job_id)
        return self._link.job_id

    def stop(self) -> bool:
        """Ask the job to stop after its current step (the best picture so far is kept)."""
        if self._link is None:
            return False
        self._link.cancel()
        return True

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _on_progress(self, progress: Progress) -> None:
        fraction = None if progress.fraction is None else min(max(float(progress.fraction), 0.0), 1.0)
        self.progressed.emit(RunProgress(fraction, progress.message, self._eta(fraction)))
        losses = getattr(progress, "losses", None) or {}
        if "total" in losses:
            self.lossAdded.emit(getattr(progress, "step", self._losses_seen), float(losses["total"]))
            self._losses_seen += 1
        if progress.preview is not None:
            self._emit_preview(progress.preview)

    def _show_preview(self, preview: Image.Image) -> None:
        self.previewReady.emit(preview)

    def _eta(self, fraction: float | None) -> float | None:
        elapsed = self.elapsed()
        if fraction is None or fraction <= 0.02 or elapsed < 1.0:
            return None
        return elapsed * (1.0 - fraction) / fraction

    def _on_finished(self, result: StyleResult | None) -> None:
        self._end(result, stopped=False)

    def _on_cancelled(self, partial: StyleResult | None) -> None:
        self._end(partial, stopped=True)

    def _on_failed(self, message: str) -> None:
        self._close()
        self.failed.emit(message)

    def _close(self) -> None:
        self._link = None
        # A preview still due is dropped (the result or the failure replaces it), and the next
        # run's first preview shows at once.
        self._emit_preview.cancel()
        self._emit_preview.flush(restart_timer=False)

    def _end(self, result: StyleResult | None, *, stopped: bool) -> None:
        elapsed = self.elapsed()
        self._close()
        if result is None or getattr(result, "image", None) is None:
            self.cancelled.emit(None)
            return
        content_name, style_names = self._names
        stopped = stopped or result.cancelled
        # The engine's record of the run (every setting, the weights, what ran where) plus the
        # file names: the same PNG metadata `studio stylize` writes, so either restores here.
        png = png_settings(result, content_name, style_names)
        content = Path(content_name).stem or "photo"
        first_style = Path((style_names or ["style"])[0]).stem
        self.result = StyleOutcome(
            image=result.image,
            png=png,
            name=f"{content} in the style of {first_style}.png",
            stopped=stopped,
            seconds=elapsed,
            device=result.device,
            notes=list(result.notes),
            losses=[row["total"] for row in result.loss_history if "total" in row],
            changed_during_run=self._changed_during_run,
        )
        (self.cancelled if stopped else self.finished).emit(self.result)

    # ----- a saved PNG ----------------------------------------------------------------------------
    def restore(self, loaded: LoadedImage) -> StyleOutcome | None:
        """Take back the settings and style weights a PNG from this panel (or `studio stylize`)
        carries, and its picture as the result; None if it carries none that can be used."""
        png = loaded.settings or {}
        run = png.get(STYLE_KEY)
        if not isinstance(run, dict):
            return None
        try:
            restored = settings_from_png(png)
        except (StyleSettingsError, ValueError, TypeError) as exc:
            log.warning("%s: unusable style settings (%s); treating it as a plain image", loaded.path.name, exc)
            return None
        if restored is None:
            return None
        self.set_settings(restored)
        names = [str(name) for name in run.get("styles") or []]
        weights = run.get("style_weights") or []
        by_name = {name: float(w) for name, w in zip(names, weights, strict=False) if isinstance(w, (int, float))}
        for index, painting in enumerate(self.paintings):
            if painting.name in by_name:
                self.set_weight(index, by_name[painting.name])
        here = {p.name for p in self.paintings}
        self.result = StyleOutcome(
            image=loaded.image,
            png={key: value for key, value in png.items() if key != "panel"},
            name=loaded.path.name,
            missing=[name for name in names if name not in here],
        )
        return self.result


def _stylize(
    content: Image.Image, styles: list[tuple[Image.Image, float]], settings: StyleSettings, device: DeviceInfo
) -> Generator[Progress, None, StyleResult]:
    """Worker side: the style transfer job (torch is imported here, on the worker thread)."""
    from studio.engine.style.transfer import stylize_job

    return stylize_job(content, styles, settings, device)
