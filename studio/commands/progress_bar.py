"""The one progress bar of the command line, on stderr."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from studio.engine.jobs import Progress

# The phases of a counted step: a training step ("train") and a style transfer step ("step").
STEP_PHASES = ("train", "step")


class ProgressBar:
    """One line redrawn in place on a terminal; on a pipe or a log, a line now and then.

    A job's progress comes in three shapes, each drawn its own way:

    - a counted step (training, style transfer): the bar with step/total, rate, ETA and the last
      logged losses; off a terminal, a line per logged step and at the end;
    - a fraction of the way (a plain :class:`~studio.engine.jobs.Progress`): the bar with the
      percentage and the message; off a terminal, a line per tenth of the way;
    - anything else (preparing, evaluating, a note): the message on a line of its own.
    """

    WIDTH = 24
    REDRAW_S = 0.25

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream  # None in a windowed build without a console
        self.tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        self.last_draw = 0.0
        self.last_tenth = -1
        self.losses: dict[str, float] = {}
        self.rate: float | None = None
        self.open_line = False

    def update(self, progress: Progress) -> None:
        if self.stream is None:
            return
        phase = getattr(progress, "phase", None)
        if phase in STEP_PHASES and getattr(progress, "total_steps", 0):
            self._step(progress)
        elif phase is None and progress.fraction is not None:
            self._fraction(progress.fraction, progress.message)
        else:
            self._line(progress.message)

    def _step(self, progress: Progress) -> None:
        step, total = getattr(progress, "step", 0), getattr(progress, "total_steps", 0)
        losses = getattr(progress, "losses", None) or {}
        if losses:
            self.losses = losses
        if getattr(progress, "steps_per_second", None):
            self.rate = getattr(progress, "steps_per_second", None)
        eta = getattr(progress, "eta_seconds", None)
        if self.tty:
            if losses or step == total or self._due():
                self._draw(self._step_bar(step, total, eta))
        elif losses or step == total:
            self._line(self._step_bar(step, total, eta))

    def _fraction(self, fraction: float, message: str) -> None:
        if self.tty:
            if fraction >= 1.0 or self._due():
                self._draw(f"{self._bar(fraction)} {fraction:4.0%} {message}")
        elif int(fraction * 10) > self.last_tenth:
            self.last_tenth = int(fraction * 10)
            self._line(f"{fraction:4.0%} {message}")

    def _step_bar(self, step: int, total: int, eta: float | None) -> str:
        fraction = step / total
        text = f"{self._bar(fraction)} {step}/{total} {100 * fraction:5.1f}%"
        if self.rate:
            text += f"  {self.rate:.2f} it/s"
        if eta is not None and step < total:
            minutes, seconds = divmod(int(eta), 60)
            hours, minutes = divmod(minutes, 60)
            text += f"  ETA {hours}:{minutes:02d}:{seconds:02d}"
        if self.losses:
            text += "  " + "  ".join(f"{k} {v:.4g}" for k, v in self.losses.items())
        return text

    def _bar(self, fraction: float) -> str:
        filled = int(round(self.WIDTH * min(max(fraction, 0.0), 1.0)))
        return f"[{'#' * filled}{'.' * (self.WIDTH - filled)}]"

    def _due(self) -> bool:
        """Whether a terminal's line may be redrawn (at most every REDRAW_S, so drawing costs nothing)."""
        return time.monotonic() - self.last_draw >= self.REDRAW_S

    def _draw(self, text: str) -> None:
        assert self.stream is not None
        self.last_draw = time.monotonic()
        self.stream.write("\r" + text + "\033[K")
        self.stream.flush()
        self.open_line = True

    def _line(self, text: str) -> None:
        assert self.stream is not None
        self.end()
        self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        """Close a line drawn in place, so what is printed next starts on a line of its own."""
        if self.stream is not None and self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False
