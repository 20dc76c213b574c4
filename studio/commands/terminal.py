"""What the commands share on the terminal: exit codes, error lines, a progress bar and a gentle Ctrl+C."""

from __future__ import annotations

import signal
import sys
import time
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def apply_threads(threads: int | None) -> str | None:
    """Set torch's CPU threads from ``--threads``; the error to report when the value is invalid."""
    if threads is None:
        return None
    if threads < 1:
        return "--threads must be at least 1"
    import torch

    torch.set_num_threads(threads)
    return None


def print_error(message: str) -> None:
    if sys.stderr is not None:  # a windowed build may have no stream
        print(f"error: {message}", file=sys.stderr)


def training_failure(bar: ProgressBar, exc: Exception) -> int:
    """End ``bar``, say what stopped a training run, and return its exit code.

    Bad input (a damaged model, settings that cannot train) is 2; a run that failed on its own
    (out of memory, diverged, disk full) is 1.
    """
    from studio.engine.atomic import SaveError
    from studio.engine.checkpoints import ModelFileError
    from studio.engine.training.config import TrainingError

    bar.end()
    if isinstance(exc, SaveError):
        print_error(exc.strerror or str(exc))
        return EXIT_FAILURE
    print_error(str(exc))
    return EXIT_BAD_INPUT if type(exc) in (TrainingError, ModelFileError) else EXIT_FAILURE


class ProgressBar:
    """One line redrawn in place on a terminal; a line per logged step anywhere else (logs, CI)."""

    WIDTH = 24
    REDRAW_S = 0.25

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        self.last_draw = 0.0
        self.losses: dict[str, float] = {}
        self.rate: float | None = None
        self.open_line = False

    def update(self, progress: Any) -> None:
        if self.stream is None:  # a windowed app has no stderr
            return
        step, total = getattr(progress, "step", 0), getattr(progress, "total_steps", 0)
        losses = getattr(progress, "losses", None) or {}
        if losses:
            self.losses = losses
        if getattr(progress, "steps_per_second", None):
            self.rate = progress.steps_per_second
        if getattr(progress, "phase", "train") != "train" or not total:
            self._line(progress.message)
            return
        now = time.monotonic()
        if self.tty:
            if losses or step == total or now - self.last_draw >= self.REDRAW_S:
                self.last_draw = now
                self.stream.write("\r" + self._bar(step, total, progress) + "\033[K")
                self.stream.flush()
                self.open_line = True
        elif losses or step == total:
            self._line(self._bar(step, total, progress))

    def _bar(self, step: int, total: int, progress: Any) -> str:
        fraction = step / total
        filled = int(round(self.WIDTH * fraction))
        text = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {step}/{total} {100 * fraction:5.1f}%"
        if self.rate:
            text += f"  {self.rate:.2f} it/s"
        eta = getattr(progress, "eta_seconds", None)
        if eta is not None and step < total:
            minutes, seconds = divmod(int(eta), 60)
            hours, minutes = divmod(minutes, 60)
            text += f"  ETA {hours}:{minutes:02d}:{seconds:02d}"
        if self.losses:
            text += "  " + "  ".join(f"{k} {v:.4g}" for k, v in self.losses.items())
        return text

    def _line(self, text: str) -> None:
        self.end()
        self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.stream is not None and self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False


class StopOnInterrupt:
    """The first Ctrl+C asks the job to stop after this step; a second one aborts at once."""

    def __init__(self, what_happens: str) -> None:
        self.what_happens = what_happens  # e.g. "saving a checkpoint"
        self.requested = False
        self.previous: Any = None
        self.installed = False

    def __enter__(self) -> StopOnInterrupt:
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
            self.installed = True
        except ValueError:  # not the main thread: leave Ctrl+C alone
            pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if sys.stderr is not None:
            print(f"\nStopping after this step and {self.what_happens} (Ctrl+C again to abort)…", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, self.previous)
