"""The Style Transfer panel's controller: the run's inputs and settings, the run, and its result.

A :class:`StyleRun` holds a photo, the paintings (each with a weight, each a dropped image or
a built-in style), the strength and one :class:`~studio.spec.style_settings.StyleSettings`
value.

Whenever the photo, a painting, a weight or the strength changes and there is something to
paint, the run asks the worker's render slot for an *instant* picture (newest request wins;
requests are throttled, the last one always goes out): one pass of the instant style network at
:data:`~studio.ui.style.instant_work.PREVIEW_SIDE` px, whose style vectors are kept on the
worker so that dragging a slider runs only the network (:mod:`studio.ui.style.instant_work`).
Saving an instant picture paints it again at the photo's own size, as a job.

:meth:`StyleRun.start` (the panel's Refine) snapshots the inputs and submits the engine's
stylize job, starting from the instant picture, through a :class:`~studio.ui.job_link.JobLink`
that owns the job's failure (so it is shown once, by the panel). While the job runs, the run
emits what changed: progress with an ETA, loss values and previews (throttled, the last one
kept); then the finished or stopped result with the PNG settings that made it, or the failure.

Edits made while a job runs change the inputs and settings for the next run, not this one;
:attr:`StyleRun.changedDuringRun` says so once. Restoring a saved PNG's settings goes through
:meth:`StyleRun.restore`.

No widgets: the panel binds to these signals and sends intents. The settings and their PNG
form are torch-free; the style transfer itself imports torch on the worker, when a run starts.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal
from superqt.utils import qthrottled

from studio.files.images import ImageLoadError, LoadedImage, load_image
from studio.files.user_json import parse_json
from studio.services.settings import preference, text_preference
from studio.spec.bounds import SEED
from studio.spec.png import STYLE_KEY
from studio.spec.style_settings import (
    PRESETS,
    StyleSettings,
    StyleSettingsError,
    instant_from_png,
    instant_png_settings,
    png_settings,
    settings_from_png,
)
from studio.spec.style_speed import (
    DEFAULT_ASPECT,
    FIRST_GUESS_S_PER_STEP_MP,
    blend,
    estimate_seconds,
    measured_speed,
)
from studio.ui.job_link import JobLink
from studio.ui.latent.render_channel import RenderChannel
from studio.ui.style.instant_work import (
    FULL_SIDE,
    GalleryEntry,
    InstantPainter,
    InstantPicture,
    InstantRequest,
    StyleSource,
    gallery_entries,
)

if TYPE_CHECKING:
    from collections.abc import Generator

    from PIL import Image

    from studio.engine.devices import DeviceInfo
    from studio.engine.jobs import Progress
    from studio.engine.style.transfer import StyleResult
    from studio.services.worker import Worker

log = logging.getLogger(__name__)

MAX_STYLES = 4
PREVIEW_MIN_INTERVAL_MS = 300  # previews reach the view at most this often during a run
INSTANT_MIN_INTERVAL_MS = 60  # instant pictures are asked for at most this often while dragging
SETTINGS_PREF = "style/settings"
SPEED_PREF = "style/seconds_per_step_mp"  # this machine's Refine speed, measured from its runs
BUILTIN_FORMAT = "Built-in style"  # a built-in painting's LoadedImage.source_format

_keys = itertools.count(1)  # identities of photos and paintings: same key, same style vector


@dataclass
class Painting:
    """A painting slot's content: an image (None while the slot is empty) and its weight.

    A built-in style holds its thumbnail as ``image`` (what the slot shows) and its index as
    ``builtin``; its full style image is made on the worker when a run needs it.
    """

    image: LoadedImage | None = None
    weight: float = 1.0
    builtin: int | None = None
    key: int = field(default_factory=lambda: next(_keys))

    @property
    def name(self) -> str:
        return "" if self.image is None else self.image.path.name

    def source(self) -> StyleSource:
        """Where the worker gets this painting's style image (a built-in style's is made there)."""
        if self.builtin is not None:
            return StyleSource(("builtin", self.builtin), builtin=self.builtin)
        assert self.image is not None
        return StyleSource(self.key, self.image.image)


@dataclass(frozen=True)
class RunProgress:
    fraction: float | None  # 0..1, or None while the job gives no measure (busy)
    message: str
    eta_s: float | None  # seconds left, once an estimate is worth showing


@dataclass(frozen=True)
class StyleOutcome:
    """A picture on screen and the PNG settings that made it (what a saved PNG carries)."""

    image: Image.Image
    png: dict
    name: str  # a file name to suggest when saving
    stopped: bool = False  # stopped early: the best picture so far
    seconds: float = 0.0  # Refine: wall time from Start; instant: from the request to the picture
    device: str = ""
    notes: list[str] = field(default_factory=list)  # fallbacks the engine reported
    losses: list[float] = field(default_factory=list)  # total loss per step
    changed_during_run: bool = False
    missing: list[str] = field(default_factory=list)  # a restored PNG's paintings not loaded here
    kind: str = "refined"  # "instant" (one pass of the instant network) or "refined" (Gatys)
    request: InstantRequest | None = None  # an instant picture's request: Save paints it at full size


class StyleRun(QObject):
    inputsChanged = Signal()  # the photo or the paintings (images or weights)
    strengthChanged = Signal(float)  # 0..1
    settingsChanged = Signal(object)  # StyleSettings
    instantReady = Signal(object)  # StyleOutcome (kind "instant"): the picture for the current inputs
    instantFailed = Signal(str)
    instantAsked = Signal()  # an instant picture is on its way
    galleryChanged = Signal()  # the built-in styles arrived (see :attr:`gallery`)
    started = Signal(int)  # the job id
    progressed = Signal(object)  # RunProgress
    lossAdded = Signal(int, float)  # step, total loss
    previewReady = Signal(object)  # a PIL image, at most every PREVIEW_MIN_INTERVAL_MS
    finished = Signal(object)  # StyleOutcome
    cancelled = Signal(object)  # StyleOutcome (the best picture so far), or None if there was none
    failed = Signal(str)  # the job's readable error; the previous result stays
    refused = Signal(str)  # Start could not start, and why
    changedDuringRun = Signal()  # an edit during a run: it applies to the next one
    saveProgressed = Signal(object)  # RunProgress of a full-size save
    saved = Signal(object)  # the Path written
    saveFailed = Signal(str)
    speedChanged = Signal()  # a run measured this machine's speed: the time estimates changed

    def __init__(
        self,
        worker: Worker | None,
        prefs: QSettings | None = None,
        parent: QObject | None = None,
        *,
        instant: bool = True,
    ) -> None:
        """``instant``: paint an instant picture on every change, and let Refine start from it."""
        super().__init__(parent)
        self.worker = worker
        self._prefs = prefs
        self.instant = instant
        self.photo: LoadedImage | None = None
        self._photo_key = next(_keys)
        self.paintings: list[Painting] = []
        self.strength = 1.0
        self.result: StyleOutcome | None = None
        self.gallery: list[GalleryEntry] = []
        self._settings: StyleSettings | None = None  # loaded on first use (the engine imports torch)
        self._link: JobLink | None = None
        self._save_link: JobLink | None = None
        self._names: tuple[str, list[str]] = ("", [])
        self._started = 0.0
        self._losses_seen = 0
        self._changed_during_run = False
        self._speed: float | None = self._saved_speed()  # seconds per step per megapixel, measured
        self._quiet = False  # restoring a PNG: its picture stays on screen, no instant render
        self.unusable: str | None = None  # why the last PNG's run could not be restored
        self._emit_preview = qthrottled(self._show_preview, PREVIEW_MIN_INTERVAL_MS, leading=True, parent=self)
        # Worker side only: the networks' style vectors, kept between pictures.
        self._painter = InstantPainter()
        self._channel: RenderChannel | None = None
        self._gallery_channel: RenderChannel | None = None
        if worker is not None:
            # show_intermediate: while dragging, each finished picture shows, not only the newest.
            self._channel = RenderChannel(worker, self, show_intermediate=True)
            self._channel.done.connect(self._on_instant)
            self._channel.failed.connect(self.instantFailed)
        self.ask_instant = qthrottled(self._ask_instant, INSTANT_MIN_INTERVAL_MS, leading=True, parent=self)
        self.inputsChanged.connect(self._inputs_changed)

    # ----- inputs ------------------------------------------------------------------------------
    def set_photo(self, loaded: LoadedImage | None) -> None:
        if loaded is not self.photo:
            self.photo = loaded
            self._photo_key = next(_keys)
            self.inputsChanged.emit()

    def add_painting(self, loaded: LoadedImage | None = None, weight: float = 1.0) -> int | None:
        """Add a painting slot; its index, or None when there are already :data:`MAX_STYLES`."""
        if len(self.paintings) >= MAX_STYLES:
            return None
        self.paintings.append(Painting(loaded, weight))
        self.inputsChanged.emit()
        return len(self.paintings) - 1

    def set_painting(self, index: int, loaded: LoadedImage | None, builtin: int | None = None) -> None:
        painting = self.paintings[index]
        if painting.image is not loaded or painting.builtin != builtin:
            self.paintings[index] = Painting(loaded, painting.weight, builtin)
            self.inputsChanged.emit()

    def set_weight(self, index: int, weight: float) -> None:
        if self.paintings[index].weight != weight:
            self.paintings[index].weight = weight
            self._note_change()
            self.inputsChanged.emit()

    def set_strength(self, strength: float) -> None:
        """How much of the paintings' style: 0 is the photo's own style, 1 the paintings'."""
        strength = min(max(float(strength), 0.0), 1.0)
        if strength != self.strength:
            self.strength = strength
            self._note_change()
            self.strengthChanged.emit(strength)
            self._inputs_changed()

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

    # ----- the built-in styles ------------------------------------------------------------------
    def load_gallery(self) -> None:
        """Ask the worker for the built-in styles (names and thumbnail files); :attr:`galleryChanged` follows."""
        if self.worker is None or self._gallery_channel is not None:
            return
        self._gallery_channel = RenderChannel(self.worker, self)
        self._gallery_channel.done.connect(self._on_gallery)
        self._gallery_channel.failed.connect(lambda message: log.warning("No built-in styles: %s", message))
        self._gallery_channel.request(lambda _device: gallery_entries())

    def _on_gallery(self, entries: list[GalleryEntry]) -> None:
        self.gallery = list(entries)
        self.galleryChanged.emit()

    def add_builtin(self, index: int) -> int | None:
        """A built-in style as a painting (in the first free slot); its slot, or None when full or unknown.

        Its thumbnail is what the slot shows; its style image is made on the worker when needed.
        """
        entry = next((e for e in self.gallery if e.index == index), None)
        if entry is None:
            return None
        try:
            thumb = load_image(entry.thumbnail).image
        except ImageLoadError as exc:
            log.warning("%s: %s", entry.name, exc)
            thumb = None
        if thumb is None:
            from PIL import Image

            thumb = Image.new("RGB", (64, 64), (128, 128, 128))
        slot = self.free_painting()
        if slot is None:
            self.refused.emit(f"At most {MAX_STYLES} paintings; {entry.name} was not added.")
            return None
        name = entry.name.replace("/", "-").replace("\\", "-")
        self.set_painting(slot, LoadedImage(thumb, None, Path(name), BUILTIN_FORMAT, None), builtin=index)
        return slot

    # ----- the instant picture --------------------------------------------------------------------
    def _inputs_changed(self) -> None:
        if self.instant and not self._quiet:
            self.ask_instant()

    def instant_request(self) -> InstantRequest | None:
        """What an instant picture of the current inputs needs; None when there is nothing to paint."""
        styles = self.styles()
        if not self.ready() or not any(p.weight > 0 for p in styles):
            return None
        assert self.photo is not None
        return InstantRequest(
            self._photo_key,
            self.photo.image,
            tuple(p.source() for p in styles),
            tuple(float(p.weight) for p in styles),
            self.strength,
            asked=time.perf_counter(),
        )

    def _ask_instant(self) -> None:
        # During a Refine, the job's previews own the picture; the next change paints again.
        if self._channel is None or self.running:
            return
        request = self.instant_request()
        if request is None:
            return
        painter = self._painter
        self._channel.request(lambda device: painter.paint(request, device))
        self.instantAsked.emit()

    def _on_instant(self, picture: InstantPicture) -> None:
        if self.running or self._quiet:
            return
        request = picture.request
        names = [self._style_name(source) for source in request.sources]
        content = self.photo.path.name if self.photo is not None else "photo"
        png = instant_png_settings(
            strength=request.strength,
            weights=request.weights,
            style_names=names,
            content_name=content,
            size=picture.image.size,
            device=picture.device,
            seconds=picture.seconds,
        )
        self.result = StyleOutcome(
            image=picture.image,
            png=png,
            name=_suggested_name(content, names),
            seconds=time.perf_counter() - request.asked,
            device=picture.device,
            kind="instant",
            request=request,
        )
        self.instantReady.emit(self.result)

    def _style_name(self, source: StyleSource) -> str:
        for painting in self.paintings:
            if painting.image is not None and painting.source().key == source.key:
                return painting.name
        return next((e.name for e in self.gallery if e.index == source.builtin), "painting")

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
        raw = text_preference(self._prefs, SETTINGS_PREF) if self._prefs is not None else ""
        if raw:
            try:
                return StyleSettings.from_dict(parse_json(raw, expect=dict))
            except (StyleSettingsError, ValueError, TypeError, OverflowError) as exc:  # UserJsonError too
                log.warning("Ignoring unusable saved style settings: %s", exc)
        return PRESETS["preview"]

    # ----- how long a Refine takes ---------------------------------------------------------------
    def speed(self) -> tuple[float, bool]:
        """Seconds per optimiser step per megapixel, and whether runs here measured it (else the first guess)."""
        return (self._speed, True) if self._speed is not None else (FIRST_GUESS_S_PER_STEP_MP, False)

    def estimate(self, settings: StyleSettings | None = None) -> tuple[float, bool]:
        """Seconds a Refine with ``settings`` (by default the current ones) will take on the current
        photo, and whether that comes from measured runs."""
        speed, measured = self.speed()
        aspect = DEFAULT_ASPECT
        if self.photo is not None and min(self.photo.image.size) > 0:
            aspect = min(self.photo.image.size) / max(self.photo.image.size)
        return estimate_seconds(settings if settings is not None else self.settings(), speed, aspect), measured

    def _saved_speed(self) -> float | None:
        if self._prefs is None:
            return None
        try:
            value = float(preference(self._prefs, SPEED_PREF, 0.0))
        except (TypeError, ValueError, OverflowError):
            return None
        return value if math.isfinite(value) and value > 0 else None

    def _measure(self, result: StyleResult) -> None:
        measured = measured_speed(float(result.seconds), list(result.scales), list(result.loss_history))
        if measured is None:
            return
        self._speed = blend(self._speed, measured)
        if self._prefs is not None:
            self._prefs.setValue(SPEED_PREF, self._speed)
        self.speedChanged.emit()

    def _note_change(self) -> None:
        if self.running and not self._changed_during_run:
            self._changed_during_run = True
            self.changedDuringRun.emit()

    def run_settings(self) -> StyleSettings:
        """The settings Refine runs with: the chosen quality, starting from the instant picture."""
        settings = self.settings()
        if self.instant:
            settings = settings.replace(init="instant", strength=self.strength)
        return settings

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
        settings = self.run_settings()
        assert self.photo is not None
        content = self.photo.image.copy()
        sources = [(p.source(), p.weight) for p in styles]
        self._names = (self.photo.path.name, [p.name for p in styles])
        self._started = time.monotonic()
        self._losses_seen = 0
        self._changed_during_run = False
        if self._channel is not None:
            self._channel.forget()  # an instant picture on its way would cover the run's previews
        self.ask_instant.cancel()
        self._link = JobLink(
            self.worker,
            f"Style transfer: {self.photo.path.name}",
            lambda device: _stylize(content, [(s.style_image(device), w) for s, w in sources], settings, device),
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
        self._measure(result)
        content_name, style_names = self._names
        stopped = stopped or result.cancelled
        # The engine's record of the run (every setting, the weights, what ran where) plus the
        # file names: the same PNG metadata `studio stylize` writes, so either restores here.
        png = png_settings(result, content_name, style_names)
        self.result = StyleOutcome(
            image=result.image,
            png=png,
            name=_suggested_name(content_name, style_names),
            stopped=stopped,
            seconds=elapsed,
            device=result.device,
            notes=list(result.notes),
            losses=[row["total"] for row in result.loss_history if "total" in row],
            changed_during_run=self._changed_during_run,
        )
        (self.cancelled if stopped else self.finished).emit(self.result)

    # ----- saving an instant picture at full size -------------------------------------------------
    @property
    def saving(self) -> bool:
        return self._save_link is not None

    def save_full_size(self, path: str | Path, extra: dict | None = None) -> int | None:
        """Paint the instant picture on screen again at the photo's own size (up to 4096 px, in
        tiles above 1024) and write it to ``path`` with its settings (and ``extra``), as a job.
        Its id, or None when the picture on screen is not an instant one or a save is running."""
        outcome = self.result
        if self.worker is None or self.saving or outcome is None or outcome.request is None:
            return None
        request = dataclasses.replace(outcome.request, long_side=FULL_SIDE)
        painter, png, target = self._painter, outcome.png, Path(path)

        def job(device: DeviceInfo) -> Generator[Progress, None, Path]:
            from studio.files.recovery import save_png_keeping_result

            picture = yield from painter.full_size_job(request, device)
            record = dict(png[STYLE_KEY])
            record["instant"] = {**record["instant"], "size": list(picture.image.size)}
            # A target that cannot be written keeps the painting in the user data folder; the
            # failure message says where.
            return save_png_keeping_result(target, picture.image, {**(extra or {}), STYLE_KEY: record})

        self._save_link = JobLink(
            self.worker,
            f"Saving {target.name}",
            job,
            self,
            progress=self._on_save_progress,
            finished=self._on_saved,
            failed=self._on_save_failed,
            cancelled=self._on_save_cancelled,
        )
        return self._save_link.job_id

    def _on_save_progress(self, progress: Progress) -> None:
        self.saveProgressed.emit(RunProgress(progress.fraction, progress.message, None))

    def _on_save_cancelled(self, _partial: object) -> None:
        self._on_save_failed("The save was stopped; nothing was written.")

    def _on_saved(self, path: Path) -> None:
        self._save_link = None
        self.saved.emit(path)

    def _on_save_failed(self, message: str) -> None:
        self._save_link = None
        self.saveFailed.emit(message)

    # ----- a saved PNG ----------------------------------------------------------------------------
    def restore(self, loaded: LoadedImage) -> StyleOutcome | None:
        """Take back the settings and style weights a PNG from this panel (or `studio stylize`)
        carries, and its picture as the result; None if it carries none that can be used.

        A PNG whose run cannot be used (a hand-edited or damaged one) changes nothing here and
        leaves why, naming the file, in :attr:`unusable` for the panel to say.
        """
        self.unusable = None
        png = loaded.settings or {}
        run = png.get(STYLE_KEY)
        if not isinstance(run, dict):
            return None
        try:
            kind, restored, names, by_name, strength = self._restorable(png, run)
        except (StyleSettingsError, ValueError, TypeError, OverflowError, KeyError, AttributeError) as exc:
            self.unusable = (
                f"{loaded.path.name} carries style settings that cannot be used ({exc}); it was opened as a picture."
            )
            log.warning("%s", self.unusable)
            return None
        if restored is None and kind == "refined":
            return None
        self._quiet = True  # the PNG's picture stays on screen; the next edit paints again
        try:
            if restored is not None:
                self.set_settings(restored)
            if strength is not None:
                self.set_strength(strength)
            here = {p.name for p in self.paintings}
            for name in names:
                entry = next((e for e in self.gallery if e.name == name), None)
                if name not in here and entry is not None and self.add_builtin(entry.index) is not None:
                    here.add(name)
            for index, painting in enumerate(self.paintings):
                if painting.name in by_name:
                    self.set_weight(index, by_name[painting.name])
        finally:
            self._quiet = False
            self.ask_instant.cancel()
            if self._channel is not None:
                self._channel.forget()
        self.result = StyleOutcome(
            image=loaded.image,
            png={key: value for key, value in png.items() if key != "panel"},
            name=loaded.path.name,
            missing=[name for name in names if name not in here],
            kind=kind,
        )
        return self.result

    # ----- work saved before a crash --------------------------------------------------------------
    def refill(
        self,
        photo: LoadedImage | None,
        paintings: list[Painting],
        strength: float,
        settings: StyleSettings | None,
        result: StyleOutcome | None,
    ) -> StyleOutcome | None:
        """Put back work saved earlier (:mod:`studio.ui.style.autosave`) as it was: the photo, the
        paintings with their weights, the strength, the settings, and ``result`` as the picture
        (no instant picture is painted over it). Nothing changes while a run is on (check
        :attr:`running` first)."""
        if self.running:
            return None
        self._quiet = True
        try:
            if settings is not None:
                self.set_settings(settings)
            self.set_strength(strength)
            self.photo = photo
            self._photo_key = next(_keys)
            self.paintings = list(paintings[:MAX_STYLES]) or [Painting()]
            self.inputsChanged.emit()
        finally:
            self._quiet = False
            self.ask_instant.cancel()
            if self._channel is not None:
                self._channel.forget()
        if result is not None and result.kind == "instant":
            # Save PNG paints an instant picture again at full size: from these same inputs.
            result = dataclasses.replace(result, request=self.instant_request())
        self.result = result
        return result

    def _restorable(
        self, png: dict, run: dict
    ) -> tuple[str, StyleSettings | None, list[str], dict[str, float], float | None]:
        """What :meth:`restore` applies, every value checked first (so nothing is half applied);
        raises ValueError (or StyleSettingsError, TypeError, OverflowError) naming the bad field."""
        instant = instant_from_png(png)
        restored: StyleSettings | None = None
        if instant is not None:
            names, weights, strength = instant.get("styles"), instant.get("weights"), instant.get("strength")
            kind = "instant"
        else:
            restored = settings_from_png(png)
            if restored is None:
                return "refined", None, [], {}, None
            problem = SEED.problem(restored.seed)
            if problem is not None:
                raise ValueError(problem)
            names, weights = run.get("styles"), run.get("style_weights")
            # Refine starts from the instant picture at the panel's strength (run_settings), not
            # from the PNG's start: the strength goes to its slider, the quality settings keep
            # the panel's own start and strength.
            strength = restored.strength
            restored = restored.replace(init=self.settings().init, strength=self.settings().strength)
            kind = "refined"
        names = [] if names is None else names
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValueError("the painting names are not a list of names")
        weights = [] if weights is None else weights
        if not isinstance(weights, list):
            raise ValueError("the style weights are not a list of numbers")
        by_name = {name: _png_number("a style weight", w) for name, w in zip(names, weights, strict=False)}
        return kind, restored, names, by_name, None if strength is None else _png_number("the strength", strength)


def _png_number(what: str, value: object) -> float:
    """A weight or strength a PNG carries: a finite number, 0 or more; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {str(value)[:40]!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise ValueError(f"{what} is far too large") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{what} must be 0 or more, got {number}")
    return number


def _suggested_name(content_name: str, style_names: list[str]) -> str:
    content = Path(content_name).stem or "photo"
    first_style = Path((style_names or ["style"])[0]).stem
    return f"{content} in the style of {first_style}.png"


def _stylize(
    content: Image.Image, styles: list[tuple[Image.Image, float]], settings: StyleSettings, device: DeviceInfo
) -> Generator[Progress, None, StyleResult]:
    """Worker side: the style transfer job (torch is imported here, on the worker thread)."""
    from studio.engine.style.transfer import stylize_job

    return stylize_job(content, styles, settings, device)
