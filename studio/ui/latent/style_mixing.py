"""Style mixing in the Latent Explorer: the second picture (B) and which layer groups take its style.

A mixed picture is one :class:`~studio.engine.latent.state.LatentState` whose ``mix`` holds B
and, per layer group, the point the group takes its w from. So every change here is an ordinary
change of the explorer's point: one undo step (through :meth:`ExplorerController.change`), drawn
by the render slot, kept in exported PNGs and bookmarks. This controller holds no mix of its
own: it reads the current state's, so undo, redo and opening a PNG need nothing extra. What it
adds is B's thumbnail, drawn on the worker on a channel of its own.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from studio.engine.latent.mixing import GROUPS, StyleMix
from studio.engine.latent.state import LatentState
from studio.spec.bounds import SEED
from studio.ui.latent.explorer_work import Rendered, render_state
from studio.ui.latent.render_channel import RenderChannel

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

    from studio.ui.latent.explorer_controller import ExplorerController

# What each layer group changes, in the artist's words (the sizes come from mixing.GROUP_SIZES).
GROUP_NAMES = {"coarse": "Shape and layout", "middle": "Features", "fine": "Colour and detail"}
# A new mix takes A's shape and B's features, colour and detail (the engine's default).
DEFAULT_SOURCES = {group: StyleMix.__dataclass_fields__[group].default for group in GROUPS}
# B thumbnails kept (switching back and forth between two second pictures draws nothing).
THUMBNAILS_KEPT = 8


def second_point(state: LatentState) -> LatentState | None:
    """The mix's second point B as a state of its own (no mix), or None when ``state`` is not mixed."""
    mix = state.mix
    if mix is None:
        return None
    return LatentState(state.model_sha256, state.model_name, mix.z, mix.class_index, mix.psi, mix.seed)


def point_name(point: LatentState) -> str:
    return f"seed {point.seed}" if point.seed is not None else "an own point"


class StyleMixer(QObject):
    """Choosing the second picture and the groups, as undo steps of the explorer's point."""

    secondChanged = Signal()  # self.second (and, once drawn, self.second_qimage) changed

    def __init__(self, explorer: ExplorerController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.explorer = explorer
        self.second: LatentState | None = None  # B of the current state's mix
        self.second_label = ""  # where B came from, in words ("bookmark “calm”", "seed 12")
        self.second_qimage: QImage | None = None
        self._thumbnails: dict[LatentState, QImage] = {}
        self._labels: dict[LatentState, str] = {}
        self.channel = RenderChannel(explorer.worker, self)
        self.channel.done.connect(self._on_thumbnail)
        self.channel.failed.connect(explorer.errorOccurred)
        explorer.stateChanged.connect(self._follow_state)

    # ----- reading ------------------------------------------------------------------------
    @property
    def can_mix(self) -> bool:
        """Whether the loaded model draws with one w per layer (a GAN v2): the section shows."""
        model = self.explorer.model
        return model is not None and model.can_mix

    @property
    def mix(self) -> StyleMix | None:
        state = self.explorer.state
        return state.mix if state is not None else None

    def groups(self) -> list[str]:
        """The layer groups the loaded model has (a 32 px model has no fine layers)."""
        if not self.can_mix:
            return []
        present = self.explorer.model.mix_groups()
        return [group for group in GROUPS if group in present]

    # ----- what the artist does -----------------------------------------------------------
    def use_seed(self, seed: int) -> None:
        """B: the sample of ``seed`` (in A's class, with A's variety)."""
        state = self.explorer.state
        if state is None or not self.can_mix:
            return
        problem = SEED.problem(seed)
        if problem is not None:
            self.explorer.errorOccurred.emit(problem)
            return
        point = self.explorer.with_seed(seed, state.plain())
        self.use_point(point, f"seed {seed}")

    def use_bookmark(self, bookmark_id: str) -> None:
        """B: a bookmark's point (its own mix, if it has one, is left out)."""
        bookmark = self.explorer.bookmarks.get(bookmark_id)
        if bookmark is None:
            return
        try:
            point = bookmark.state()
        except (ValueError, TypeError, OverflowError) as exc:  # LatentStateError is a ValueError
            self.explorer.errorOccurred.emit(f"The bookmark “{bookmark.name}” cannot be used: {exc}")
            return
        self.use_point(point.plain(), f"bookmark “{bookmark.name}”")

    def use_sample(self, rendered: Rendered) -> None:
        """B: a sample grid's tile, whose picture is known already."""
        point = rendered.state.plain()
        self._remember_thumbnail(point, rendered.qimage)
        self.use_point(point, f"sample, seed {point.seed}" if point.seed is not None else "sample")

    def use_point(self, point: LatentState, label: str) -> None:
        """Mix the current picture with ``point``: turns mixing on (the usual groups), or, when
        it is on, changes B and keeps the groups. One undo step."""
        state, model = self.explorer.state, self.explorer.model
        if state is None or model is None or not self.can_mix:
            return
        if point.model_sha256 != model.sha256:
            self.explorer.errorOccurred.emit(f"{label.capitalize()} belongs to another model than {model.name}.")
            return
        sources = {group: state.mix.source(group) for group in GROUPS} if state.mix else DEFAULT_SOURCES
        mix = StyleMix(point.z, point.class_index, point.psi, point.seed, **sources)
        self._labels[point.plain()] = label
        text = f"Second picture: {label}" if state.mix is not None else f"Mix with {label}"
        self.explorer.change(dataclasses.replace(state, mix=mix), text)

    def set_source(self, group: str, source: str) -> None:
        """The layers of ``group`` take their style from ``source`` ("a" this picture, "b" the second)."""
        state = self.explorer.state
        if state is None or state.mix is None or state.mix.source(group) == source:
            return
        mix = dataclasses.replace(state.mix, **{group: source})
        where = "this picture" if source == "a" else "the second picture"
        self.explorer.change(dataclasses.replace(state, mix=mix), f"{GROUP_NAMES[group]} from {where}")

    def stop(self) -> None:
        """Back to the picture without the mix (one undo step)."""
        state = self.explorer.state
        if state is not None and state.mix is not None:
            self.explorer.change(dataclasses.replace(state, mix=None), "Stop mixing")

    # ----- following the state ------------------------------------------------------------
    @Slot(object)
    def _follow_state(self, state: LatentState) -> None:
        point = second_point(state) if self.can_mix else None
        if point == self.second:
            return
        self.second = point
        self.second_label = self._labels.get(point, point_name(point)) if point is not None else ""
        self.second_qimage = self._thumbnails.get(point) if point is not None else None
        if point is not None and self.second_qimage is None:
            model = self.explorer.model
            self.channel.request(lambda _device: render_state(model, point))
        self.secondChanged.emit()

    def _remember_thumbnail(self, point: LatentState, qimage: QImage) -> None:
        self._thumbnails.pop(point, None)
        self._thumbnails[point] = qimage
        while len(self._thumbnails) > THUMBNAILS_KEPT:
            self._thumbnails.pop(next(iter(self._thumbnails)))

    @Slot(object)
    def _on_thumbnail(self, rendered: Rendered) -> None:
        self._remember_thumbnail(rendered.state, rendered.qimage)
        if rendered.state == self.second:
            self.second_qimage = rendered.qimage
            self.secondChanged.emit()
