"""Teach a direction by example, in the sample grid: mark pictures that have a trait and pictures
that do not, name it, Create.

:class:`DirectionTeacher` keeps the marks (by the sample's point, so drawing more samples keeps
them) and runs the fit as a worker job (:func:`teach_job`: the engine's ``fit_direction_job``, as
``studio direction create`` fits, then ``save_named_direction`` beside the model, or in the user's
data for a bundled one). :class:`TeachPanel` is its view beside the grid; :func:`badged` draws a tile's
mark. Creating a direction changes no picture, so it is no undo step; moving its slider is.
"Add pictures…" marks points of picture files too: PNGs the studio exported carry theirs, and a
VAE encodes any picture (:func:`example_states`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRect, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.engine.latent.named_directions import MAX_NAME_LENGTH, MIN_EXAMPLES, name_problem
from studio.files.images import IMAGE_FILE_FILTER
from studio.ui.controls import section_label
from studio.ui.job_link import JobLink
from studio.ui.latent.named_sliders import accuracy_words
from studio.ui.latent.render_channel import RenderChannel
from studio.ui.theme import ERROR_COLOUR

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence
    from pathlib import Path

    import numpy as np
    from PySide6.QtGui import QImage

    from studio.engine.jobs import Progress
    from studio.engine.latent.model import LatentModel
    from studio.engine.latent.named_directions import NamedDirection
    from studio.engine.latent.state import LatentState
    from studio.ui.latent.explorer_controller import ExplorerController

HAS_IT, DOES_NOT = 1, -1
HAS_IT_COLOUR = "#3fae5a"
DOES_NOT_COLOUR = ERROR_COLOUR
WEAK_ACCURACY = 0.7  # below it the direction is little better than guessing (as `studio direction create`)


@dataclass(frozen=True)
class Taught:
    direction: NamedDirection
    path: Path


@dataclass(frozen=True)
class Examples:
    """Points read from picture files, what they are marked, and why some files gave none."""

    states: list[LatentState]
    mark: int
    problems: list[str]


def example_states(model: LatentModel, paths: Sequence[str], template: LatentState, mark: int) -> Examples:
    """Worker side: the points of picture files. A PNG the studio exported carries its point; a VAE
    encodes any other picture; a GAN's pictures need a projection first (Project image…, then export)."""
    from studio.engine.latent.state import LatentState
    from studio.files.images import ImageLoadError, load_image
    from studio.spec.png import LATENT_KEY
    from studio.ui.latent.explorer_work import state_problem

    states: list[LatentState] = []
    problems: list[str] = []
    for path in paths:
        try:
            loaded = load_image(path)
        except ImageLoadError as exc:
            problems.append(str(exc))
            continue
        name = loaded.path.name
        settings = loaded.settings or {}
        if LATENT_KEY in settings:
            try:
                state = LatentState.from_settings(settings)
            except (ValueError, TypeError, OverflowError) as exc:  # LatentStateError is a ValueError
                problems.append(f"{name}: its point cannot be used ({exc})")
                continue
            problem = None if state.model_sha256 == model.sha256 else f"it was made with {state.model_name}"
            problem = problem or state_problem(model, state)
            if problem is None:
                states.append(state)
            else:
                problems.append(f"{name}: {problem}")
        elif model.kind == "vae":
            states.append(model.state(model.encode(loaded.image), template.class_index, template.psi))
        else:
            problems.append(
                f"{name} holds no point of {model.name}: open it with Project image…, export the result, "
                "and add that PNG"
            )
    return Examples(states, mark, problems)


def teach_job(
    model: LatentModel, name: str, positive: np.ndarray, negative: np.ndarray, keep_unchanged: Sequence[str]
) -> Generator[Progress, None, Taught]:
    """Worker side: fit the direction (orthogonal to ``keep_unchanged``) and save it with the model."""
    from studio.engine.jobs import Progress
    from studio.engine.latent.named_directions import fit_direction_job

    yield Progress(0.0, f"Teaching “{name}”")
    others = [model.named_direction(other) for other in keep_unchanged]
    direction = yield from fit_direction_job(name, positive, negative, model.latent_space, others)
    return Taught(direction, model.save_named_direction(direction))


def badged(qimage: QImage, side: int, mark: int) -> QPixmap:
    """A tile's picture at ``side`` px, framed and labelled green "has it" or red "does not"."""
    pixmap = QPixmap.fromImage(
        qimage.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
    )
    if mark not in (HAS_IT, DOES_NOT):
        return pixmap
    colour = QColor(HAS_IT_COLOUR if mark == HAS_IT else DOES_NOT_COLOUR)
    text = "✓ has it" if mark == HAS_IT else "✗ does not"
    painter = QPainter(pixmap)
    painter.setPen(QPen(colour, 6))
    painter.drawRect(pixmap.rect().adjusted(3, 3, -3, -3))
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(max(10, pixmap.height() // 9))
    painter.setFont(font)
    band = QRect(0, pixmap.height() - font.pixelSize() - 8, pixmap.width(), font.pixelSize() + 8)
    painter.fillRect(band, colour)
    painter.setPen(QColor("white"))
    painter.drawText(band, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return pixmap


def count_words(positive: int, negative: int) -> str:
    have = f"{positive} {'has' if positive == 1 else 'have'} it"
    return f"{have}, {negative} {'does' if negative == 1 else 'do'} not"


class DirectionTeacher(QObject):
    """The marks and the Create job of the sample grid's teaching mode."""

    marksChanged = Signal()
    runningChanged = Signal(bool)
    progressed = Signal(float, str)  # fraction, message
    created = Signal(object)  # Taught
    failed = Signal(str)

    def __init__(self, explorer: ExplorerController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.explorer = explorer
        self.marks: dict[LatentState, int] = {}  # in the order marked
        self._job: JobLink | None = None
        self.reader = RenderChannel(explorer.worker, self)  # picture files -> points, on the worker
        self.reader.done.connect(self._on_examples)
        self.reader.failed.connect(self.failed)
        explorer.modelLoaded.connect(self.clear)  # another model's codes mean nothing here

    @property
    def running(self) -> bool:
        return self._job is not None

    def mark(self, state: LatentState) -> int:
        return self.marks.get(state, 0)

    def cycle(self, state: LatentState) -> int:
        """Unmarked -> has it -> does not -> unmarked; returns the new mark."""
        new = {0: HAS_IT, HAS_IT: DOES_NOT, DOES_NOT: 0}[self.mark(state)]
        self.set_mark(state, new)
        return new

    def set_mark(self, state: LatentState, mark: int) -> None:
        if mark in (HAS_IT, DOES_NOT):
            self.marks[state] = mark
        else:
            self.marks.pop(state, None)
        self.marksChanged.emit()

    @Slot()
    def clear(self) -> None:
        if self.marks:
            self.marks.clear()
            self.marksChanged.emit()

    def add_files(self, paths: Sequence[str], mark: int) -> None:
        """Mark the points of picture files (read on the worker): examples beyond the grid."""
        model, template = self.explorer.model, self.explorer.state
        if model is None or template is None or not paths:
            return
        files = list(paths)
        self.reader.request(lambda _device: example_states(model, files, template, mark))

    @Slot(object)
    def _on_examples(self, examples: Examples) -> None:
        model = self.explorer.model
        if model is None:
            return
        for state in examples.states:
            if state.model_sha256 == model.sha256:
                self.marks[state] = examples.mark
        self.marksChanged.emit()
        if examples.problems:
            self.failed.emit("Not added: " + "; ".join(examples.problems))

    def counts(self) -> tuple[int, int]:
        values = list(self.marks.values())
        return values.count(HAS_IT), values.count(DOES_NOT)

    def existing_names(self) -> list[str]:
        model = self.explorer.model
        if model is None:
            return []
        try:
            return [d.name for d in model.named_directions()]
        except (OSError, ValueError):  # a damaged file: the named sliders say so
            return []

    def problem(self, name: str) -> str | None:
        """Why Create cannot run with this name and these marks, in plain words; None when it can."""
        name = name.strip()
        if self.explorer.model is None:
            return "No model is loaded."
        if not name:
            return "Give the slider a name first (for example smile)."
        if name_problem(name) is not None:
            return f"A name is 1 to {MAX_NAME_LENGTH} characters, without '=', ',' or line breaks."
        if name.casefold() in (n.casefold() for n in self.existing_names()):
            return f"This model already has a slider named “{name}”: choose another name."
        positive, negative = self.counts()
        if positive < MIN_EXAMPLES or negative < MIN_EXAMPLES:
            return (
                f"Mark at least {MIN_EXAMPLES} pictures that have it and {MIN_EXAMPLES} that do not "
                f"(now {count_words(positive, negative)})."
            )
        return None

    def create(self, name: str, keep_unchanged: Sequence[str] = ()) -> bool:
        """Fit and save the direction on the worker; False (and ``failed``) when it cannot start."""
        import numpy as np

        name = name.strip()
        problem = self.problem(name)
        if problem is None and self.running:
            problem = "A slider is being made already."
        if problem is not None:
            self.failed.emit(problem)
            return False
        model = self.explorer.model
        assert model is not None  # problem() checked
        positive = np.stack([s.z_array() for s, m in self.marks.items() if m == HAS_IT])
        negative = np.stack([s.z_array() for s, m in self.marks.items() if m == DOES_NOT])
        keep = list(keep_unchanged)
        self._job = JobLink(
            self.explorer.worker,
            f"Teaching “{name}”",
            lambda _device: teach_job(model, name, positive, negative, keep),
            self,
            progress=lambda p: self.progressed.emit(p.fraction or 0.0, p.message),
            finished=self._on_finished,
            cancelled=lambda _result: self._end(),
            failed=self._on_failed,
        )
        self.runningChanged.emit(True)
        return True

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _end(self) -> None:
        self._job = None
        self.runningChanged.emit(False)

    def _on_finished(self, taught: Taught) -> None:
        self._end()
        self.explorer.namedDirectionsChanged.emit()
        self.created.emit(taught)

    def _on_failed(self, message: str) -> None:
        self._end()
        self.failed.emit(message)


class TeachPanel(QWidget):
    """Beside the grid in teaching mode: the counts, the name, what to keep unchanged, Create."""

    def __init__(self, teacher: DirectionTeacher, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.teacher = teacher
        self.setMinimumWidth(260)
        self.setMaximumWidth(340)
        how = QLabel(
            "Click a picture once if it has the trait (green), twice if it does not (red), "
            "a third time to unmark it. Shuffle for more pictures: your marks are kept."
        )
        how.setWordWrap(True)
        self.counts = QLabel("")
        font = QFont(self.counts.font())
        font.setBold(True)
        self.counts.setFont(font)
        self.name = QLineEdit()
        self.name.setMaxLength(MAX_NAME_LENGTH)
        self.name.setPlaceholderText("for example smile")
        self.name.setToolTip("The slider's name under “Named sliders”")
        self.keep_label = QLabel("Keep these unchanged:")
        self.keep_label.setToolTip(
            "The new slider is made so that moving it leaves these as they are "
            "(say, more smile without opening the mouth)"
        )
        self.keep_box = QVBoxLayout()
        self.keep_box.setContentsMargins(8, 0, 0, 0)
        self.keep: list[QCheckBox] = []
        self.create_button = QPushButton("Create slider")
        self.create_button.setToolTip(
            "Learn the slider from your marks (a direction in the latent space) and keep it with the model"
        )
        self.clear_button = QPushButton("Clear marks")
        self.add_has = QPushButton("Add pictures that have it…")
        self.add_has.setToolTip("PNGs you exported from the explorer (or, for a VAE, any pictures) that have the trait")
        self.add_not = QPushButton("Add pictures that do not…")
        self.add_not.setToolTip(
            "PNGs you exported from the explorer (or, for a VAE, any pictures) that do not have the trait"
        )
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.stop_button = QPushButton("Stop")
        self.result = QLabel("")
        self.result.setTextFormat(Qt.TextFormat.PlainText)  # it shows the artist's name
        self.result.setWordWrap(True)
        self.error = QLabel("")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.error.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.clear_button)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(section_label("Teach a slider"))
        layout.addWidget(how)
        layout.addWidget(self.counts)
        layout.addWidget(self.add_has)
        layout.addWidget(self.add_not)
        layout.addWidget(QLabel("Name:"))
        layout.addWidget(self.name)
        layout.addWidget(self.keep_label)
        layout.addLayout(self.keep_box)
        layout.addLayout(buttons)
        layout.addLayout(running)
        layout.addWidget(self.result)
        layout.addWidget(self.error)
        layout.addStretch(1)

        self.create_button.clicked.connect(self.create)
        self.clear_button.clicked.connect(teacher.clear)
        self.add_has.clicked.connect(lambda: self.add_files_dialog(HAS_IT))
        self.add_not.clicked.connect(lambda: self.add_files_dialog(DOES_NOT))
        self.stop_button.clicked.connect(teacher.cancel)
        teacher.marksChanged.connect(self._update_counts)
        teacher.runningChanged.connect(self._on_running)
        teacher.progressed.connect(self._on_progress)
        teacher.created.connect(self._on_created)
        teacher.failed.connect(self._show_error)
        teacher.explorer.namedDirectionsChanged.connect(self.refresh_keep)
        teacher.explorer.modelLoaded.connect(self.refresh_keep)
        self._update_counts()
        self._on_running(False)
        self.refresh_keep()

    @Slot()
    def refresh_keep(self) -> None:
        """One box per existing named direction, unticked."""
        for box in self.keep:
            box.deleteLater()
        self.keep = []
        for name in self.teacher.existing_names():
            box = QCheckBox(name)
            box.setToolTip(f"Moving the new slider leaves “{name}” as it is")
            self.keep_box.addWidget(box)
            self.keep.append(box)
        self.keep_label.setVisible(bool(self.keep))

    def add_files_dialog(self, mark: int) -> None:
        title = "Pictures that have it" if mark == HAS_IT else "Pictures that do not have it"
        paths, _ = QFileDialog.getOpenFileNames(self, title, self.teacher.explorer.last_folder, IMAGE_FILE_FILTER)
        if paths:
            self.error.hide()
            self.teacher.add_files(paths, mark)

    def kept(self) -> list[str]:
        return [box.text() for box in self.keep if box.isChecked()]

    @Slot()
    def create(self) -> None:
        self.error.hide()
        self.result.setText("")
        self.teacher.create(self.name.text(), self.kept())

    @Slot()
    def _update_counts(self) -> None:
        self.counts.setText(count_words(*self.teacher.counts()))

    @Slot(bool)
    def _on_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.stop_button.setVisible(running)
        self.progress.setValue(0)
        self.create_button.setEnabled(not running)

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(round(fraction * 1000))
        self.progress.setToolTip(message)

    @Slot(object)
    def _on_created(self, taught: Taught) -> None:
        direction = taught.direction
        text = (
            f"“{direction.name}” is made and kept with the model: find its slider under "
            f"“Named sliders” in the explorer. {accuracy_words(direction.accuracy)}"
        )
        if direction.accuracy is not None and direction.accuracy < WEAK_ACCURACY:
            text += " That is close to guessing: mark more pictures, or ones that show the trait more clearly."
        self.result.setText(text)
        self.result.setToolTip(str(taught.path))
        self.name.clear()

    @Slot(str)
    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
