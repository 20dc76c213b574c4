""" "Repaint a region" in the Latent Explorer: the job, its candidates, adopting one.

A QObject without widgets beside the :class:`ExplorerController`, using only its public side:
the model and point it holds, :meth:`~ExplorerController.remember` (a candidate's picture is
already drawn, so adopting it shows at once), :meth:`~ExplorerController.adopt` (one undo step,
"Repaint region") and its error line. The search runs on the worker as a cancellable job (the
engine's :func:`~studio.engine.latent.repaint.repaint_job`); Stop keeps the candidates found so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from studio.engine.latent.repaint import DEFAULT_CANDIDATES, DEFAULT_STEPS, RepaintError, check_mask
from studio.ui.job_link import JobLink
from studio.ui.latent.explorer_work import Rendered, render_state
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from collections.abc import Generator

    from PySide6.QtGui import QImage

    from studio.engine.devices import DeviceInfo
    from studio.engine.jobs import Progress
    from studio.engine.latent.model import LatentModel
    from studio.engine.latent.state import LatentState
    from studio.ui.latent.explorer_controller import ExplorerController

UNDO_TEXT = "Repaint region"
EMPTY_MASK = "Nothing to repaint yet: paint over the part of the picture to redraw, then press Repaint."
WHOLE_MASK = (
    "The painted region covers the whole picture, so nothing is left to keep: "
    "erase part of it (or use Randomize for a new picture)."
)


@dataclass(frozen=True)
class Candidate:
    """One repainted version: its point and picture, and how much it changed (0..1, mean
    difference per pixel) inside the painted region and in the rest of the picture."""

    rendered: Rendered
    region_change: float
    rest_change: float

    @property
    def state(self) -> LatentState:
        return self.rendered.state

    @property
    def qimage(self) -> QImage:
        return self.rendered.qimage


@dataclass(frozen=True)
class Repainted:
    source: LatentState  # the point the candidates were repainted from
    candidates: tuple[Candidate, ...]
    steps_done: int
    cancelled: bool


def repaint_work(
    model: LatentModel, state: LatentState, mask: np.ndarray, candidates: int, steps: int
) -> Generator[Progress, None, Repainted]:
    """Worker side: the engine's repaint job, then a picture of each candidate (cancelled too)."""
    from studio.engine.latent.repaint import repaint_job

    result = yield from repaint_job(model, state, mask, candidates=candidates, steps=steps)
    found = tuple(
        Candidate(render_state(model, c.state), float(c.masked_change), float(c.unmasked_change))
        for c in result.candidates
    )
    return Repainted(state, found, result.steps_done, result.cancelled)


def mask_problem(mask: np.ndarray) -> str | None:
    """Why ``mask`` cannot be repainted, in the explorer's words (None when it can)."""
    try:
        check_mask(mask)
    except RepaintError as exc:
        if not (mask >= 0.5).any():
            return EMPTY_MASK
        if (mask >= 0.5).all():
            return WHOLE_MASK
        return f"Cannot repaint: {exc}"
    return None


def change_caption(candidate: Candidate) -> str:
    """Two short lines under a candidate's thumbnail."""
    return f"Region {_percent(candidate.region_change)} new\nRest {_percent(candidate.rest_change)} changed"


def _percent(value: float) -> str:
    percent = value * 100.0
    return f"{percent:.1f}%" if percent < 10 else f"{percent:.0f}%"


class RepaintController(QObject):
    runningChanged = Signal(bool)
    progressed = Signal(object, str, object)  # fraction (float or None), message, preview QImage or None
    candidatesChanged = Signal()

    def __init__(self, explorer: ExplorerController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.explorer = explorer
        self.candidates_wanted = DEFAULT_CANDIDATES
        self.steps = DEFAULT_STEPS
        self.candidates: tuple[Candidate, ...] = ()
        self.source: LatentState | None = None  # what the candidates were repainted from
        self.cancelled = False  # the candidates shown are those found before Stop
        self._job: JobLink | None = None
        self._job_source: LatentState | None = None  # the point the running search repaints
        explorer.modelLoaded.connect(self._on_model_loaded)
        explorer.stateChanged.connect(self._on_state_changed)

    @property
    def running(self) -> bool:
        return self._job is not None

    def repaint(self, mask: np.ndarray) -> bool:
        """Start repainting the region ``mask`` marks (1 = redraw) of the current picture.

        False, with the reason on the explorer's error line, when it cannot start.
        """
        explorer = self.explorer
        model, state = explorer.model, explorer.state
        if model is None or state is None or explorer.loading or self.running:
            return False
        mask = np.asarray(mask, dtype=np.float32)
        problem = mask_problem(mask)
        if problem is not None:
            explorer.errorOccurred.emit(problem)
            return False
        explorer.errorCleared.emit()
        candidates, steps = self.candidates_wanted, self.steps

        def factory(_device: DeviceInfo) -> Generator[Progress, None, Repainted]:
            return repaint_work(model, state, mask, candidates, steps)

        self._job_source = state
        self._job = JobLink(
            explorer.worker,
            "Repainting a region",
            factory,
            self,
            progress=self._on_progress,
            finished=self._on_done,
            cancelled=self._on_done,  # the candidates found so far
            failed=self._on_failed,
        )
        self.runningChanged.emit(True)
        return True

    def stop(self) -> None:
        """Stop the search; the candidates found so far are shown."""
        if self._job is not None:
            self._job.cancel()

    def adopt(self, index: int) -> None:
        """Continue from candidate ``index``: one undo step, "Repaint region"."""
        if not 0 <= index < len(self.candidates):
            return
        candidate = self.candidates[index]
        model = self.explorer.model
        if model is None or candidate.state.model_sha256 != model.sha256:
            return
        self.explorer.remember(candidate.rendered)  # shown at once, no render
        self.explorer.adopt(candidate.state, UNDO_TEXT)

    def clear(self) -> None:
        if self.candidates:
            self.candidates, self.source, self.cancelled = (), None, False
            self.candidatesChanged.emit()

    # ----- the job's reports --------------------------------------------------------------
    def _end(self) -> None:
        self._job, self._job_source = None, None
        self.runningChanged.emit(False)

    def _on_progress(self, progress: Progress) -> None:
        preview = to_qimage(progress.preview) if progress.preview is not None else None
        self.progressed.emit(progress.fraction, progress.message, preview)

    def _on_done(self, result: Repainted | None) -> None:
        self._end()
        model = self.explorer.model
        if result is None or model is None or result.source.model_sha256 != model.sha256:
            return  # stopped before it began, or another model is loaded now
        if not self._belongs(result.source, result.candidates, self.explorer.state):
            return  # the artist went on to another picture while the search ran
        self.candidates, self.source, self.cancelled = result.candidates, result.source, result.cancelled
        self.candidatesChanged.emit()

    def _on_failed(self, message: str) -> None:
        self._end()
        self.explorer.errorOccurred.emit(message)

    @Slot(object)
    def _on_state_changed(self, state: LatentState) -> None:
        """The versions belong to the picture they were repainted from: kept while the artist
        tries them (or undoes back to it), gone once the picture is another one."""
        if self.source is not None and not self._belongs(self.source, self.candidates, state):
            self.clear()

    @staticmethod
    def _belongs(source: LatentState, candidates: tuple[Candidate, ...], state: LatentState | None) -> bool:
        """Whether versions repainted from ``source`` go with the picture of ``state``: it is
        the source or one of them."""
        return state == source or any(c.state == state for c in candidates)

    @Slot()
    def _on_model_loaded(self) -> None:
        model = self.explorer.model
        sha = model.sha256 if model is not None else None
        if self._job_source is not None and self._job_source.model_sha256 != sha:
            self.stop()  # its versions would be of the model before: no use letting it run on
        if self.source is not None and self.source.model_sha256 != sha:
            self.clear()
