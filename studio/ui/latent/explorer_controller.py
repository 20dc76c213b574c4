"""The Latent Explorer's controller: the loaded model, the current point, its picture, its jobs.

A QObject without widgets. The panel and the widgets in :mod:`studio.ui.latent` bind to its
signals and properties and send it intents ("seed set", "slider moved", "encode this file",
"project", "cancel projection", "bookmark"); it turns them into undo steps on the shared undo
stack, asks the worker for renders and jobs, owns their results and failures, and announces
what changed. It never touches torch itself: loading a model, hashing model files, computing
directions, rendering, encoding and projecting all run inside functions handed to the worker
(:mod:`studio.ui.latent.explorer_work` holds those that are not the engine's own jobs).

**Only the controller sets the picture** (:attr:`ExplorerController.qimage`): renders of the
current point, and a projection's previews while it runs. When the projection ends without a
new point the picture goes back to the current point's, here, in one place.

A slider drag calls :meth:`ExplorerController.apply` once per ``valueChanged``. Those calls
only record the state and (re)start a 0 ms timer, so all the moves delivered in one pass of the
event loop become one render request; the worker's render slot then drops every request but
the newest. No backlog can build up, and the last state asked for is always the one drawn.

Each direction slider shows the picture at its two ends (:attr:`ExplorerController.direction_previews`).
They are drawn on the worker, every direction asked for in one batch, once the point has
settled (:data:`PREVIEW_SETTLE_MS` after the last change, and after the picture itself), and
kept per point: undo and redo back to a point show its ends at once.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from studio.engine.environment import InstalledModel, installed_models
from studio.engine.latent.state import LatentState, LatentStateError, state_png_settings
from studio.files.atomic import SaveError
from studio.files.images import ImageLoadError, load_image
from studio.files.paths import models_dir
from studio.services.settings import open_preferences, text_preference
from studio.spec.bounds import MAX_SEED, SEED
from studio.spec.png import LATENT_KEY
from studio.ui.job_link import JobLink
from studio.ui.latent.bookmark_store import Bookmark, BookmarkStore, thumbnail_png
from studio.ui.latent.commands import SetLatentState
from studio.ui.latent.direction_names import VARIETY, change_label
from studio.ui.latent.explorer_work import (
    DirectionPreview,
    DirectionPreviews,
    Encoded,
    Loaded,
    Rendered,
    device_name,
    directions_for,
    hash_files,
    initial_state,
    render_direction_previews,
    render_state,
    state_problem,
)
from studio.ui.latent.render_channel import RenderChannel
from studio.ui.latent.session_store import SessionStore, remembered_problem
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable
    from pathlib import Path

    from PIL import Image
    from PySide6.QtGui import QImage, QUndoStack

    from studio.engine.devices import DeviceInfo
    from studio.engine.jobs import Progress
    from studio.engine.latent.directions import Directions
    from studio.engine.latent.model import LatentModel
    from studio.files.images import LoadedImage
    from studio.services.worker import Worker

log = logging.getLogger(__name__)

# Rendered pictures kept for recent states: undo, redo and bookmark restores are instant.
IMAGE_CACHE_SIZE = 48
PROJECTION_STEPS = 200
# Loaded models kept for switching back at once (each holds its weights on the device).
KEPT_MODELS = 2
# The -/+ pictures of the directions are drawn once the point has been still this long: a drag
# asks for none of them, only the pictures of its points.
PREVIEW_SETTLE_MS = 250
# Points whose direction pictures are kept (undo, redo and Reset show them at once).
PREVIEW_CACHE_POINTS = 8
_LAST_MODEL_KEY = "latent/model"
_LAST_FOLDER_KEY = "files/last_folder"
# The point is written this long after the artist's last change (a drag writes once, at its end).
SESSION_SAVE_DELAY_MS = 600


class ExplorerController(QObject):
    modelsChanged = Signal()
    loadingChanged = Signal(bool)
    modelLoaded = Signal()
    directionsChanged = Signal()  # self.directions are other axes (a VAE's class changed)
    stateChanged = Signal(object)  # LatentState
    imageReady = Signal()  # self.image now shows self.shown_state (a picture of a point)
    pictureChanged = Signal()  # self.qimage, what the view shows, changed (a render or a preview)
    noticeChanged = Signal(str)  # a passing line for the caption; "" when it should name the point again
    errorOccurred = Signal(str)
    errorCleared = Signal()
    bookmarksChanged = Signal()
    projectingChanged = Signal(bool)
    previewsChanged = Signal()  # self.direction_previews has pictures of the current point
    namedDirectionsChanged = Signal()  # a direction was taught (saved with the model): named sliders reread

    def __init__(
        self,
        worker: Worker,
        undo_stack: QUndoStack,
        *,
        list_models: Callable[[], list[InstalledModel]] | None = None,
        bookmarks: BookmarkStore | None = None,
        session: SessionStore | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker = worker
        self.undo_stack = undo_stack
        self.bookmarks = bookmarks if bookmarks is not None else BookmarkStore()
        self.prefs = open_preferences()
        self._list_models = list_models or installed_models
        self.models: list[InstalledModel] = []
        self.info: InstalledModel | None = None
        self.model: LatentModel | None = None  # used only inside worker functions and for its facts
        self.directions: Directions | None = None
        self.state: LatentState | None = None
        self.qimage: QImage | None = None  # the picture on screen
        self.loading = False
        self.started = False
        self.drag_serial = 0  # one per slider drag: the moves of one drag merge into one undo step
        self.origin: LatentState | None = None  # where the slider edits started: Reset goes back here
        self.pending_bookmark: str | None = None  # named before its picture arrived
        self._shown: Rendered | None = None  # the newest picture of a point
        self._queued_image: tuple[Image.Image, str] | None = None  # encoded once the model is ready
        self._projection: JobLink | None = None
        self._projection_model: str | None = None  # the sha256 of the model a projection runs on
        # Per model sha256, where the artist left it: for switching back, and after a restart.
        self.session = session if session is not None else SessionStore()
        self._last_state: dict[str, LatentState] = self.session.load()
        self._kept_models: dict[tuple, LatentModel] = {}  # recently loaded models, by file identity
        self._cache: OrderedDict[LatentState, Rendered] = OrderedDict()
        self._sha_by_path: dict[Path, str | None] = {}  # hashed on the worker
        self._after_hashing: list[Callable[[], None]] = []
        self.preview_count = 0  # how many directions' -/+ pictures the view wants (0: none)
        self._previews: OrderedDict[LatentState, dict[int, DirectionPreview]] = OrderedDict()

        # The one channel for pictures of points; loads and encodings (whose results are new
        # points) and file hashes have their own, so a slider render never displaces them.
        self.preview = RenderChannel(worker, self, show_intermediate=True)
        self.preview.done.connect(self._on_rendered)
        self.preview.failed.connect(self.errorOccurred)
        self.loader = RenderChannel(worker, self)
        self.loader.done.connect(self._on_loaded)
        self.loader.failed.connect(self._on_load_failed)
        self._hasher = RenderChannel(worker, self)
        self._hasher.done.connect(self._on_hashed)
        self._hasher.failed.connect(self._on_hash_failed)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._request_render)
        self._session_timer = QTimer(self)
        self._session_timer.setSingleShot(True)
        self._session_timer.setInterval(SESSION_SAVE_DELAY_MS)
        self._session_timer.timeout.connect(self.save_session)
        self.stateChanged.connect(self._remember_point)
        # The directions' -/+ pictures: their own channel, asked once the point settles.
        self.previewer = RenderChannel(worker, self)
        self.previewer.done.connect(self._on_previews)
        self.previewer.failed.connect(lambda message: log.warning("Direction previews failed: %s", message))
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_SETTLE_MS)
        self._preview_timer.timeout.connect(self._request_previews)

    # ----- the picture --------------------------------------------------------------------
    @property
    def image(self) -> Image.Image | None:
        """The newest picture of a point (what exports and bookmarks use)."""
        return self._shown.image if self._shown is not None else None

    @property
    def shown_state(self) -> LatentState | None:
        """The point :attr:`image` shows."""
        return self._shown.state if self._shown is not None else None

    @property
    def busy(self) -> bool:
        """True while a render, a load, an encoding, a file hash or a projection is on its way."""
        return (
            self.loading
            or self.loader.pending
            or self._render_timer.isActive()
            or self.preview.pending
            or self._hasher.pending
            or self._projection is not None
        )

    @property
    def projecting(self) -> bool:
        return self._projection is not None

    def _set_picture(self, qimage: QImage | None) -> None:
        if qimage is not self.qimage:
            self.qimage = qimage
            self.pictureChanged.emit()

    def _show(self, rendered: Rendered) -> None:
        self._shown = rendered
        self._set_picture(rendered.qimage)
        self.imageReady.emit()
        if self.pending_bookmark is not None and rendered.state == self.state:
            name, self.pending_bookmark = self.pending_bookmark, None
            self.add_bookmark(name)

    def _show_point_again(self) -> None:
        """Back from a projection's previews to the current point's picture (unless that
        picture is on its way), and the caption names the point again."""
        on_its_way = self.loading or self._render_timer.isActive() or self.preview.pending
        if not on_its_way and self._shown is not None:
            self._set_picture(self._shown.qimage)
        self.noticeChanged.emit("")

    def remember(self, rendered: Rendered) -> None:
        """Keep a picture of a point (a sample grid's cell, say) so showing it needs no render."""
        self._cache[rendered.state] = rendered
        self._cache.move_to_end(rendered.state)
        while len(self._cache) > IMAGE_CACHE_SIZE:
            self._cache.popitem(last=False)

    def png_settings(self) -> dict | None:
        """What an exported PNG of the shown point carries (None without one)."""
        if self._shown is None or self.model is None:
            return None
        return state_png_settings(self.model, self._shown.state)

    def picture_name(self) -> str:
        state = self.shown_state
        seed = f"seed{state.seed}" if state is not None and state.seed is not None else "point"
        return f"{self.model.name if self.model is not None else 'latent'}-{seed}.png"

    # ----- models -------------------------------------------------------------------------
    def refresh_models(self) -> list[InstalledModel]:
        # A model without a card ("") is listed too: its file may still hold a VAE or a GAN.
        found = [m for m in self._list_models() if m.architecture in ("vae", "gan-generator", "")]
        if found != self.models:
            self.models = found
            self.modelsChanged.emit()
        self._hash_unknown()
        return self.models

    def start(self) -> None:
        """List the models and load the last one used (first call only; later calls refresh)."""
        self.refresh_models()
        if self.started:
            return
        self.started = True
        if not self.models or self.model is not None or self.loading:
            return  # nothing to load, or an opened PNG already chose the model
        last = text_preference(self.prefs, _LAST_MODEL_KEY)
        featured = next((i for i, m in enumerate(self.models) if m.featured), 0)
        self.load_model(next((i for i, m in enumerate(self.models) if str(m.path) == last), featured))

    def load_model(self, index: int) -> None:
        """Load the listed model ``index`` (afresh if its file changed since it was loaded)."""
        self.load(self.models[index])

    def _unknown(self) -> list[InstalledModel]:
        return [m for m in self.models if m.path not in self._sha_by_path]

    def _hash_unknown(self) -> None:
        unknown = self._unknown()
        if unknown and not self._hasher.pending:
            self._hasher.request(lambda _device: hash_files(unknown))

    def _when_hashed(self, action: Callable[[], None]) -> None:
        """Run ``action`` once every listed model's sha256 is known (now, if it is)."""
        if not self._unknown():
            action()
            return
        self._after_hashing.append(action)
        self._hash_unknown()

    @Slot(object)
    def _on_hashed(self, hashes: dict[Path, str | None]) -> None:
        self._sha_by_path.update(hashes)
        if self._unknown():  # the library changed meanwhile
            self._hash_unknown()
            return
        waiting, self._after_hashing = self._after_hashing, []
        for action in waiting:
            action()

    @Slot(str)
    def _on_hash_failed(self, message: str) -> None:
        self._after_hashing.clear()
        self.errorOccurred.emit(message)

    def model_for_sha(self, sha256: str) -> InstalledModel | None:
        """The installed model with this sha256, among those hashed so far."""
        if self.model is not None and self.model.sha256 == sha256:
            return self.info
        return next((m for m in self.models if self._sha_by_path.get(m.path) == sha256), None)

    def load(self, info: InstalledModel, state: LatentState | None = None) -> None:
        """Load ``info`` on the worker, then show ``state`` (or the model's first sample)."""
        self._render_timer.stop()
        self.preview.forget()
        self._set_loading(True)
        # Without a state asked for, the model opens where the artist left it (this session or
        # an earlier one); its sha256 may not be known yet, so the worker picks it once loaded.
        remembered = dict(self._last_state) if state is None else {}
        key = _file_key(info.path)
        kept = self._kept_models.get(key)

        def load_on_worker(device: DeviceInfo) -> Loaded:
            from studio.engine.latent.model import LatentModel

            model = kept if kept is not None else LatentModel.load(info.path, device_name(device))
            first, problem = state, None
            if state is not None and state.model_sha256 == model.sha256:
                problem = state_problem(model, state)
            elif state is None and (last := remembered.get(model.sha256)) is not None:
                # A remembered point that no longer fits opens the usual first picture, quietly.
                why = state_problem(model, last) or remembered_problem(last)
                if why is None:
                    first = last
                else:
                    log.warning("Not restoring the last point of %s: %s", model.name, why)
            if first is None or first.model_sha256 != model.sha256 or problem is not None:
                first = initial_state(model)
            if model.directions_depend_on_class:
                # Every class's axes now, on the worker: switching class then costs the GUI nothing.
                for index in range(len(model.class_names)):
                    model.directions(class_index=index)
            return Loaded(info, model, directions_for(model, first), render_state(model, first), problem)

        self.loader.request(load_on_worker)

    def _set_loading(self, loading: bool) -> None:
        if loading != self.loading:
            self.loading = loading
            self.loadingChanged.emit(loading)

    @Slot(object)
    def _on_loaded(self, result: Loaded | Encoded) -> None:
        if isinstance(result, Encoded):
            self._on_encoded(result)
            return
        loaded = result
        if self.model is not None and self.state is not None:
            self._last_state[self.model.sha256] = self.state
        key = _file_key(loaded.info.path)
        self._kept_models.pop(key, None)
        self._kept_models[key] = loaded.model
        while len(self._kept_models) > KEPT_MODELS:
            self._kept_models.pop(next(iter(self._kept_models)))
        # Everything switches before any signal, so no listener sees a new model with an old state.
        self.info = loaded.info
        self.model = loaded.model
        self.directions = loaded.directions
        self.state = loaded.first.state
        self._sha_by_path[loaded.info.path] = loaded.model.sha256
        self.remember(loaded.first)
        self.prefs.setValue(_LAST_MODEL_KEY, str(loaded.info.path))  # only a model that loads is reopened
        self._set_loading(False)
        self.errorCleared.emit()
        self.bookmarksChanged.emit()
        self.modelLoaded.emit()
        self.stateChanged.emit(self.state)
        self._show(loaded.first)
        if self._projection is not None and self._projection_model != self.model.sha256:
            self.cancel_projection()  # its point would be of the model before: no use letting it run on
        self._schedule_previews()
        if loaded.problem is not None:
            self.errorOccurred.emit(loaded.problem)
        if self._queued_image is not None:
            (image, name), self._queued_image = self._queued_image, None
            self.encode_image(image, name)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self._set_loading(False)
        self.errorOccurred.emit(message)

    # ----- remembered across restarts -----------------------------------------------------
    @Slot(object)
    def _remember_point(self, state: LatentState) -> None:
        self._last_state.pop(state.model_sha256, None)  # the newest goes last
        self._last_state[state.model_sha256] = state
        self._session_timer.start()

    def save_session(self) -> None:
        """Write where the artist is in each model now (the debounced save, or at quit)."""
        self._session_timer.stop()
        try:
            self.session.save(self._last_state)
        except OSError as exc:  # SaveError too; the session is a convenience, never an error dialog
            log.warning("Could not keep the explorer's point for the next start: %s", exc)

    @property
    def session_unsaved(self) -> bool:
        """True while a change waits for the debounced save."""
        return self._session_timer.isActive()

    # ----- the current point --------------------------------------------------------------
    def apply(self, state: LatentState) -> None:
        """Make ``state`` current and draw it: at once if its picture is known, else soon.

        A state of another installed model loads that model first (undo across a model
        switch, a PNG made with another model).
        """
        if self.model is None or state.model_sha256 != self.model.sha256:
            info = self.model_for_sha(state.model_sha256)
            if info is None and self._unknown():
                self._when_hashed(lambda: self.apply(state))
            elif info is None:
                self.errorOccurred.emit(
                    f"The model “{state.model_name}” that made this is not installed "
                    "(put it in the model library to open it)."
                )
            else:
                self.load(info, state)
            return
        problem = state_problem(self.model, state)
        if problem is not None:
            self.errorOccurred.emit(problem)
            return
        self.state = state
        directions = directions_for(self.model, state)
        if directions is not self.directions:
            self.directions = directions  # before stateChanged: the sliders read coordinates on it
            self.directionsChanged.emit()
        self.stateChanged.emit(state)
        cached = self._cache.get(state)
        if cached is not None:
            self._render_timer.stop()
            self.preview.forget()
            self._cache.move_to_end(state)
            self._show(cached)
        else:
            self._render_timer.start()
        self._schedule_previews()

    def _request_render(self) -> None:
        model, state = self.model, self.state
        if model is None or state is None:
            return
        self.preview.request(lambda _device: render_state(model, state))

    @Slot(object)
    def _on_rendered(self, rendered: Rendered) -> None:
        if self.model is None or rendered.state.model_sha256 != self.model.sha256:
            return
        self.remember(rendered)
        self._show(rendered)

    # ----- the directions' -/+ pictures ---------------------------------------------------
    @property
    def direction_previews(self) -> dict[int, DirectionPreview]:
        """The -/+ pictures drawn so far from the current point, by direction index."""
        return self._previews.get(self.state, {}) if self.state is not None else {}

    def want_previews(self, count: int) -> None:
        """Show the -/+ pictures of the first ``count`` directions (the sliders on screen)."""
        if count != self.preview_count:
            self.preview_count = count
            self._schedule_previews()

    def _missing_previews(self) -> list[int]:
        if self.directions is None or self.state is None:
            return []
        have = self.direction_previews
        return [i for i in range(min(self.preview_count, len(self.directions.labels))) if i not in have]

    def _schedule_previews(self) -> None:
        """The point (or the sliders wanted) changed: show what is known, draw the rest later."""
        self.previewer.forget()  # a batch for an earlier point is of no use any more
        if self.direction_previews:
            self.previewsChanged.emit()  # this point's, kept from before
        if self._missing_previews():
            self._preview_timer.start()
        else:
            self._preview_timer.stop()

    def _request_previews(self) -> None:
        model, state, directions = self.model, self.state, self.directions
        missing = self._missing_previews()
        if model is None or state is None or directions is None or not missing:
            return
        if self.loading or self._render_timer.isActive() or self.preview.pending or self.projecting:
            self._preview_timer.start()  # the picture first; its ends when it is on screen
            return
        worker = self.worker

        def draw(_device: DeviceInfo) -> DirectionPreviews:
            asked = worker.latest_stamp  # this request's; a newer one means the artist moved on
            return render_direction_previews(
                model, state, directions, missing, should_stop=lambda: worker.latest_stamp != asked
            )

        self.previewer.request(draw)

    @Slot(object)
    def _on_previews(self, drawn: DirectionPreviews) -> None:
        if self.model is None or drawn.state.model_sha256 != self.model.sha256:
            return
        kept = self._previews.setdefault(drawn.state, {})
        kept.update({p.index: p for p in drawn.previews})
        self._previews.move_to_end(drawn.state)
        while len(self._previews) > PREVIEW_CACHE_POINTS:
            self._previews.popitem(last=False)
        if drawn.state == self.state:
            self.previewsChanged.emit()
            if self._missing_previews():  # cut short by another render: the rest later
                self._preview_timer.start()

    # ----- intents: each change is an undo step -------------------------------------------
    def _push(self, new: LatentState, text: str, merge_key: Hashable | None = None) -> None:
        old, model = self.state, self.model
        if old is None or new == old:
            return
        if model is not None and new.model_sha256 == model.sha256 and (problem := state_problem(model, new)):
            self.errorOccurred.emit(problem)  # refused before it becomes an undo step that does nothing
            return
        self.errorCleared.emit()
        self.undo_stack.push(SetLatentState(self, old, new, text, merge_key))

    def change(self, new: LatentState, text: str, merge_key: Hashable | None = None) -> None:
        """An edit of the current point from a section with a controller of its own (style
        mixing): one undo step named ``text``, refused with a message when ``new`` cannot be shown."""
        self._push(new, text, merge_key)

    def new_drag(self) -> None:
        """A slider drag begins or ends: the next moves are another undo step."""
        self.drag_serial += 1

    def move_direction(self, index: int, value: float) -> None:
        if self.state is None or self.directions is None:
            return
        self._push(
            self.with_coordinate(index, value), f"Move {change_label(index)}", ("direction", index, self.drag_serial)
        )

    def set_psi(self, value: float) -> None:
        if self.state is not None:
            new = dataclasses.replace(self.state, psi=round(float(value), 4))
            self._push(new, f"Set {VARIETY}", ("psi", self.drag_serial))

    def set_class(self, index: int) -> None:
        state = self.state
        if state is not None and self.model is not None and 0 <= index < len(self.model.class_names):
            if index != state.class_index:
                self._push(self.with_class(index), f"Class {self.model.class_names[index]}")

    def set_seed(self, seed: int) -> None:
        if self.state is not None:
            new = self.with_seed(seed)
            self.origin = new
            self._push(new, f"Seed {seed}", ("seed",))

    def randomize(self) -> None:
        if self.state is None or self.loading:
            return
        new = self.with_seed(random.randint(0, MAX_SEED))
        self.origin = new
        self._push(new, "Randomize")

    def reset(self) -> None:
        """Back to the sample, bookmark or image the slider moves started from."""
        state = self.state
        if state is None:
            return
        origin = self.origin
        if origin is None or origin.model_sha256 != state.model_sha256:
            origin = self.with_seed(state.seed) if state.seed is not None else None
        if origin is not None:
            # A style mix stays: Reset undoes the slider moves of the first picture only.
            self._push(
                dataclasses.replace(origin, class_index=state.class_index, psi=state.psi, mix=state.mix), "Reset"
            )

    def adopt(self, state: LatentState, text: str = "Adopt sample") -> None:
        """Continue from ``state`` (a sample, an encoded image): Reset comes back to it."""
        self.origin = state
        self._push(state, text)

    # ----- bookmarks ----------------------------------------------------------------------
    def model_bookmarks(self) -> list[Bookmark]:
        return self.bookmarks.for_model(self.model.sha256) if self.model is not None else []

    def default_bookmark_name(self) -> str:
        """An automatic name, renamable later: "Seed 1234" for a sample ("Seed 1234 (2)" for a
        second point of that seed), "Bookmark 3" for a point of the artist's own (an image)."""
        taken = {b.name for b in self.model_bookmarks()}
        seed = self.state.seed if self.state is not None else None
        if seed is None:
            number = len(taken) + 1
            while f"Bookmark {number}" in taken:
                number += 1
            return f"Bookmark {number}"
        name, number = f"Seed {seed}", 1
        while name in taken:
            number += 1
            name = f"Seed {seed} ({number})"
        return name

    def add_bookmark(self, name: str | None = None) -> Bookmark | None:
        """Bookmark the current point; its thumbnail is the picture of exactly that point
        (None when that picture is still on its way: the bookmark is made when it arrives)."""
        state = self.state
        if state is None:
            return None
        if name is None or not name.strip():
            name = self.default_bookmark_name()
        if self._shown is None or self._shown.state != state:
            self.pending_bookmark = name
            return None
        try:
            bookmark = self.bookmarks.add(Bookmark(name.strip(), state.to_settings(), thumbnail_png(self._shown.image)))
        except (OSError, SaveError) as exc:
            self.errorOccurred.emit(str(exc))
            return None
        self.bookmarksChanged.emit()
        self.noticeChanged.emit(f"Bookmarked “{bookmark.name}”")
        return bookmark

    def restore_bookmark(self, bookmark_id: str) -> None:
        bookmark = self.bookmarks.get(bookmark_id)
        if bookmark is None:
            return
        try:
            state = bookmark.state()
        except (ValueError, TypeError, OverflowError) as exc:  # LatentStateError is a ValueError
            self.errorOccurred.emit(f"The bookmark “{bookmark.name}” cannot be restored: {exc}")
            return
        state, note = seed_in_range(state, f"The bookmark “{bookmark.name}”")
        self.origin = state
        self._push(state, f"Go to bookmark “{bookmark.name}”")
        if note is not None:  # after the step, which clears the message
            self.errorOccurred.emit(note)

    def rename_bookmark(self, bookmark_id: str, name: str) -> None:
        try:
            self.bookmarks.rename(bookmark_id, name)
        except OSError as exc:
            self.errorOccurred.emit(str(exc))
        self.bookmarksChanged.emit()

    def delete_bookmark(self, bookmark_id: str) -> None:
        try:
            self.bookmarks.remove(bookmark_id)
        except OSError as exc:
            self.errorOccurred.emit(str(exc))
        self.bookmarksChanged.emit()

    # ----- images in: PNG states, encoding, projection ------------------------------------
    @property
    def library_folder(self) -> Path:
        """Where the artist's own models go."""
        return models_dir()

    @property
    def last_folder(self) -> str:
        return text_preference(self.prefs, _LAST_FOLDER_KEY)

    def open_image(self, loaded: LoadedImage) -> bool:
        """An opened or dropped image: a PNG of the explorer restores its state; another image
        is encoded (VAE) or projected (GAN). False, without models: it is not the explorer's."""
        if not self.refresh_models():
            return False
        state, note = _state_in(loaded)
        if state is None:
            self.encode_image(loaded.image, loaded.path.name)
            if not self.started:
                self.start()
            if note is not None:  # after encode_image, which clears the message
                self.errorOccurred.emit(note)
            return True
        self._when_hashed(lambda: self._open_state(state, loaded.path.name, note))
        return True

    def _open_state(self, state: LatentState, name: str, note: str | None = None) -> None:
        if self.model_for_sha(state.model_sha256) is None:
            self.errorOccurred.emit(f"{name} was made with the model “{state.model_name}”, which is not installed.")
            return
        self.started = True  # the PNG decides which model loads first
        if self.state is None:
            self.origin = state
            self.apply(state)  # nothing to undo back to yet
        else:
            self.adopt(state, f"Open {name}")
        if note is not None:  # after the step, which clears the message
            self.errorOccurred.emit(note)

    def encode_file(self, path: str | Path) -> None:
        """Encode (or project) the image file at ``path``."""
        try:
            loaded = load_image(path)
        except ImageLoadError as exc:
            self.errorOccurred.emit(str(exc))
            return
        self.encode_image(loaded.image, loaded.path.name)

    def encode_image(self, image: Image.Image, name: str = "image") -> None:
        """VAE: encode on the worker (a render, so it runs at once even beside a long job).
        GAN: projection, a job with progress previews and Stop. Either becomes an undo step."""
        model, state = self.model, self.state
        if model is None or state is None or self.loading:
            self._queued_image = (image, name)
            return
        self.errorCleared.emit()
        if model.kind == "vae":
            self.noticeChanged.emit(f"Encoding {name}…")

            def encode(_device: DeviceInfo) -> Encoded:
                new = model.state(model.encode(image), state.class_index, state.psi)
                return Encoded(name, render_state(model, new))

            self.loader.request(encode)
            return
        self.cancel_projection()
        template = state
        self._projection_model = model.sha256
        self._projection = JobLink(
            self.worker,
            f"Projecting {name}",
            lambda _device: model.project_job(image, PROJECTION_STEPS, class_index=template.class_index),
            self,
            progress=lambda progress: self._on_projection_progress(progress, template),
            finished=lambda z: self._on_projected(z, template, name),
            cancelled=lambda z: self._on_projected(z, template, name),  # the best point so far
            failed=self._on_projection_failed,
        )
        self.projectingChanged.emit(True)

    def cancel_projection(self) -> None:
        """Stop the projection; the best point found so far becomes the current one."""
        if self._projection is not None:
            self._projection.cancel()

    def _end_projection(self) -> None:
        self._projection = None
        self._projection_model = None
        self.projectingChanged.emit(False)

    def _on_encoded(self, encoded: Encoded) -> None:
        rendered = encoded.rendered
        if self.model is None or rendered.state.model_sha256 != self.model.sha256:
            return
        self.remember(rendered)
        self.adopt(rendered.state, f"Encode {encoded.name}")
        if self.state != rendered.state:  # refused, or the same point as before
            self._show_point_again()

    def _on_projection_progress(self, progress: Progress, template: LatentState) -> None:
        if self.model is None or template.model_sha256 != self.model.sha256:
            return  # stopping: another model is loaded now, whose picture stays
        if progress.preview is not None:
            self._set_picture(to_qimage(progress.preview))
            self.noticeChanged.emit(progress.message)

    def _on_projected(self, z: np.ndarray | None, template: LatentState, name: str) -> None:
        self._end_projection()
        model = self.model
        if z is not None and model is not None and template.model_sha256 == model.sha256:
            self.adopt(model.state(z, template.class_index, template.psi), f"Project {name}")
        self._show_point_again()

    def _on_projection_failed(self, message: str) -> None:
        self._end_projection()
        self._show_point_again()
        self.errorOccurred.emit(message)

    # ----- reading the point --------------------------------------------------------------
    def coordinates(self, state: LatentState | None = None) -> np.ndarray:
        state = state or self.state
        return np.asarray(self.model.coordinates(state.z_array(), self.directions), dtype=np.float64)

    def with_coordinate(self, index: int, value: float, state: LatentState | None = None) -> LatentState:
        return self.model.state_with_coordinate(state or self.state, index, value, self.directions)

    def with_seed(self, seed: int, state: LatentState | None = None) -> LatentState:
        state = state or self.state
        return state.reseeded(_as_tuple(self.model.random_z(seed, state.class_index)), seed)

    def with_class(self, class_index: int, state: LatentState | None = None) -> LatentState:
        """``state`` in another class. A seeded point of a GAN v2 becomes that seed's point in the
        new class (its latent vector depends on the class); any other point keeps its vector."""
        state = dataclasses.replace(state or self.state, class_index=class_index)
        if state.seed is not None and self.model.seed_depends_on_class:
            return self.with_seed(state.seed, state)
        return state


def _state_in(loaded: LoadedImage) -> tuple[LatentState | None, str | None]:
    """The latent state a PNG carries (None for a plain picture) and what to tell the artist
    about it: a state that cannot be used makes it a plain picture, named in the message."""
    settings = loaded.settings or {}
    if LATENT_KEY not in settings:
        return None, None
    try:
        state = LatentState.from_settings(settings)
    except (LatentStateError, ValueError, TypeError, OverflowError) as exc:
        note = f"{loaded.path.name} carries an explorer point that cannot be used ({exc}); it was opened as a picture."
        log.warning("%s", note)
        return None, note
    return seed_in_range(state, loaded.path.name)


def seed_in_range(state: LatentState, name: str) -> tuple[LatentState, str | None]:
    """``state`` with a seed the seed box can hold, and a note when its seed was dropped.

    A PNG of an older ``studio sample --seed 3000000000`` carries its exact latent vector, so
    the picture opens exactly; only the seed, which the seed box cannot show, is left out.
    """
    problem = SEED.problem(state.seed) if state.seed is not None else None
    if problem is None:
        return state, None
    note = f"{name}: {problem}; its exact point is shown, without a seed."
    log.warning("%s", note)
    return dataclasses.replace(state, seed=None), note


def _file_key(path: Path) -> tuple:
    """A model file's identity: a file saved over the old one is loaded afresh."""
    try:
        stat = path.stat()
    except OSError:
        return (str(path),)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _as_tuple(z: np.ndarray) -> tuple:
    return tuple(float(v) for v in np.asarray(z, dtype=np.float64).reshape(-1))
