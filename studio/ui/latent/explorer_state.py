"""The Latent Explorer's observable state: the loaded model, the current point, its picture.

Widgets change this object; it asks the worker for renders through its own
:class:`RenderChannel` and announces what changed. It never touches torch itself: loading a
model, computing its directions and rendering all run inside functions handed to the worker.

A slider drag calls :meth:`ExplorerState.apply` once per ``valueChanged``. Those calls only
record the state and (re)start a 0 ms timer, so all the moves delivered in one pass of the
event loop become one render request; the worker's render slot then drops every request but
the newest. No backlog can build up, and the last state asked for is always the one drawn.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from studio.engine.environment import InstalledModel, installed_models
from studio.spec.ranges import MAX_SEED
from studio.ui.latent.render_channel import RenderChannel
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image
    from PySide6.QtGui import QImage

    from studio.services.worker import Worker

log = logging.getLogger(__name__)

# Rendered pictures kept for recent states: undo, redo and bookmark restores are instant.
IMAGE_CACHE_SIZE = 48
DEFAULT_SEED = 0
# Loaded models kept for switching back at once (each holds its weights on the device).
KEPT_MODELS = 2


@dataclass(frozen=True)
class Rendered:
    state: Any  # LatentState
    image: Image.Image
    qimage: QImage  # converted on the worker: showing it costs the GUI thread nothing


@dataclass(frozen=True)
class Loaded:
    info: InstalledModel
    model: Any  # LatentModel
    directions: Any  # Directions
    first: Rendered
    problem: str | None = None  # why the state asked for could not be shown


def render_state(model, state) -> Rendered:
    """Worker side: one picture of ``state``."""
    image = model.render(state)
    return Rendered(state, image, to_qimage(image))


def directions_for(model, state):
    """The slider axes for ``state``: the class's own for a model whose classes have their own."""
    return model.directions(class_index=state.class_index if model.directions_depend_on_class else None)


def state_problem(model, state) -> str | None:
    """Why ``state`` cannot be shown with ``model`` (a hand-edited PNG, say), or None."""
    if len(state.z) != model.latent_dim:
        return f"This point has {len(state.z)} latent values; {model.name} takes {model.latent_dim}."
    classes = len(model.class_names)
    if classes and state.class_index is not None and not 0 <= state.class_index < classes:
        return f"This point asks for class {state.class_index}; {model.name} has classes 0 to {classes - 1}."
    return None


def card_sha256(info: InstalledModel) -> str | None:
    """The sha256 a model's card records, without hashing the file (None if the card has none)."""
    try:
        card = json.loads(info.path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = card.get("sha256") if isinstance(card, dict) else None
    return value if isinstance(value, str) else None


class ExplorerState(QObject):
    modelsChanged = Signal()
    loadingChanged = Signal(bool)
    modelLoaded = Signal()
    directionsChanged = Signal()  # self.directions are other axes (a VAE's class changed)
    stateChanged = Signal(object)  # LatentState
    imageReady = Signal()  # self.image / self.qimage now show self.state
    errorOccurred = Signal(str)

    def __init__(self, worker: Worker, *, list_models=installed_models, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self._list_models = list_models
        self.models: list[InstalledModel] = []
        self.info: InstalledModel | None = None
        self.model = None  # LatentModel, used only inside worker functions
        self.directions = None
        self.state = None  # LatentState
        self.image: Image.Image | None = None
        self.qimage: QImage | None = None
        self.shown_state = None  # the state self.image shows
        self.loading = False
        self._last_state: dict[str, Any] = {}  # per model sha256, for switching back
        self._kept_models: dict[tuple, Any] = {}  # recently loaded LatentModels, by file identity
        self._cache: OrderedDict[Any, Rendered] = OrderedDict()
        self._sha_by_path: dict[Path, str] = {}

        self.preview = RenderChannel(worker, self, show_intermediate=True)
        self.preview.done.connect(self._on_rendered)
        self.preview.failed.connect(self._on_failed)
        self.loader = RenderChannel(worker, self)
        self.loader.done.connect(self._on_loaded)
        self.loader.failed.connect(self._on_load_failed)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._request_render)

    # ----- models -------------------------------------------------------------------------
    def refresh_models(self) -> list[InstalledModel]:
        # A model without a card ("") is listed too: its file may still hold a VAE or a GAN.
        found = [m for m in self._list_models() if m.architecture in ("vae", "gan-generator", "")]
        if found != self.models:
            self.models = found
            self.modelsChanged.emit()
        return self.models

    def model_for_sha(self, sha256: str) -> InstalledModel | None:
        if self.model is not None and self.model.sha256 == sha256:
            return self.info
        for info in self.refresh_models():
            if self._sha_of(info) == sha256:
                return info
        return None

    def _sha_of(self, info: InstalledModel) -> str | None:
        if info.path not in self._sha_by_path:
            sha = card_sha256(info)
            if sha is None:
                from studio.engine.checkpoints import model_sha256

                try:
                    sha = model_sha256(info.path)
                except (OSError, ValueError):
                    return None
            self._sha_by_path[info.path] = sha
        return self._sha_by_path[info.path]

    def load(self, info: InstalledModel, state=None) -> None:
        """Load ``info`` on the worker, then show ``state`` (or the model's first sample)."""
        self._render_timer.stop()
        self.preview.forget()
        self._set_loading(True)
        sha = self._sha_by_path.get(info.path)
        if state is None and sha is not None:
            state = self._last_state.get(sha)  # back where the artist left this model
        key = _file_key(info.path)
        kept = self._kept_models.get(key)
        device_of = _device_name

        def load_on_worker(device):
            from studio.engine.latent import LatentModel

            model = kept if kept is not None else LatentModel.load(info.path, device_of(device))
            first, problem = state, None
            if state is not None and state.model_sha256 == model.sha256:
                problem = state_problem(model, state)
            if first is None or first.model_sha256 != model.sha256 or problem is not None:
                first = _initial_state(model)
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
    def _on_loaded(self, loaded: Loaded) -> None:
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
        self._set_loading(False)
        self.modelLoaded.emit()
        self.stateChanged.emit(self.state)
        self._show(loaded.first)
        if loaded.problem is not None:
            self.errorOccurred.emit(loaded.problem)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self._set_loading(False)
        self.errorOccurred.emit(message)

    # ----- the current point --------------------------------------------------------------
    def apply(self, state) -> None:
        """Make ``state`` current and draw it: at once if its picture is known, else soon.

        A state of another installed model loads that model first (undo across a model
        switch, a PNG made with another model).
        """
        if self.model is None or state.model_sha256 != self.model.sha256:
            info = self.model_for_sha(state.model_sha256)
            if info is None:
                self.errorOccurred.emit(
                    f"The model “{state.model_name}” that made this is not installed "
                    "(put it in the model library to open it)."
                )
                return
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

    @property
    def busy(self) -> bool:
        """True while a render or a load is on its way."""
        return self.loading or self._render_timer.isActive() or self.preview.pending

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

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.errorOccurred.emit(message)

    def remember(self, rendered: Rendered) -> None:
        self._cache[rendered.state] = rendered
        self._cache.move_to_end(rendered.state)
        while len(self._cache) > IMAGE_CACHE_SIZE:
            self._cache.popitem(last=False)

    def _show(self, rendered: Rendered) -> None:
        self.image = rendered.image
        self.qimage = rendered.qimage
        self.shown_state = rendered.state
        self.imageReady.emit()

    # ----- helpers the panel uses ---------------------------------------------------------
    def coordinates(self, state=None) -> np.ndarray:
        state = state or self.state
        return np.asarray(self.model.coordinates(state.z_array(), self.directions), dtype=np.float64)

    def with_coordinate(self, index: int, value: float, state=None):
        state = state or self.state
        z = self.model.with_coordinate(state.z_array(), index, value, self.directions)
        return _replace(state, z=_as_tuple(z))

    def with_seed(self, seed: int, state=None):
        state = state or self.state
        return _replace(state, z=_as_tuple(self.model.random_z(seed, state.class_index)), seed=seed)

    def with_class(self, class_index: int, state=None):
        """``state`` in another class. A seeded point of a GAN v2 becomes that seed's point in the
        new class (its latent vector depends on the class); any other point keeps its vector."""
        state = _replace(state or self.state, class_index=class_index)
        if state.seed is not None and self.model.seed_depends_on_class:
            return self.with_seed(state.seed, state)
        return state


def _file_key(path: Path) -> tuple:
    """A model file's identity: a file saved over the old one is loaded afresh."""
    try:
        stat = path.stat()
    except OSError:
        return (str(path),)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _device_name(device) -> str:
    return getattr(device, "torch_device", None) or str(device)


def _as_tuple(z) -> tuple:
    return tuple(float(v) for v in np.asarray(z, dtype=np.float64).reshape(-1))


def _replace(state, **changes):
    import dataclasses

    return dataclasses.replace(state, **changes)


def _initial_state(model):
    """The model's first picture: the seed (and class) its card shows it with, else seed 0."""
    seed, class_index = DEFAULT_SEED, None
    showcase = model.card.get("showcase") if isinstance(model.card, dict) else None
    if isinstance(showcase, dict):
        shown_seed, shown_class = showcase.get("seed"), showcase.get("class_index")
        if isinstance(shown_seed, int) and not isinstance(shown_seed, bool) and 0 <= shown_seed <= MAX_SEED:
            seed = shown_seed
        if (
            isinstance(shown_class, int)
            and not isinstance(shown_class, bool)
            and 0 <= shown_class < len(model.class_names)
        ):
            class_index = shown_class
    return model.state(model.random_z(seed, class_index), class_index, seed=seed)
