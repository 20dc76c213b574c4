"""What the commands share on the terminal: the exit codes, error lines and training's failures.

A long job runs through :func:`studio.commands.job_driver.drive_job` (progress bar, Ctrl+C).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from studio.spec.bounds import THREADS

if TYPE_CHECKING:
    from pathlib import Path

# The exit codes of every command.
EXIT_OK = 0
EXIT_FAILURE = 1  # the work failed on its own: out of memory, diverged, disk full
EXIT_BAD_INPUT = 2  # what the user gave cannot be used: a missing file, a damaged model, bad settings
EXIT_INTERRUPTED = 130  # stopped by Ctrl+C (what a shell reports for SIGINT), partial result kept or not


def apply_threads(threads: int | None) -> str | None:
    """Set torch's CPU threads from ``--threads``; the error to report when the value is invalid."""
    if threads is None:
        return None
    problem = THREADS.problem(threads)
    if problem is not None:  # torch.set_num_threads with a huge count segfaults instead of refusing
        return f"--threads: {problem}"
    import torch

    torch.set_num_threads(threads)
    return None


def print_error(message: str) -> None:
    if sys.stderr is not None:  # a windowed build may have no stream
        print(f"error: {message}", file=sys.stderr)


def fail(message: object, code: int = EXIT_BAD_INPUT) -> int:
    """Say what went wrong and return the exit code, for ``return fail(...)``."""
    print_error(str(message))
    return code


def training_failure(exc: Exception) -> int | None:
    """Say what stopped a training run and return its exit code; None when ``exc`` is not such a failure (a bug).

    Bad input (a damaged model, settings that cannot train) is 2; a run that failed on its own
    (out of memory, diverged, disk full) is 1.
    """
    from studio.engine.checkpoints import ModelFileError
    from studio.engine.training.config import TrainingError
    from studio.engine.training.loop import TrainingDiverged
    from studio.files.atomic import SaveError

    if isinstance(exc, SaveError):
        print_error(exc.strerror or str(exc))
        return EXIT_FAILURE
    if not isinstance(exc, (TrainingError, ModelFileError)):
        return None
    message = str(exc)
    if isinstance(exc, TrainingDiverged) and exc.flags:  # the engine's words are plain: the options go here
        message = f"{message.removesuffix('.')} ({exc.flags})."
    print_error(message)
    return EXIT_BAD_INPUT if type(exc) in (TrainingError, ModelFileError) else EXIT_FAILURE


def checkpoint_untouched(checkpoint: Path) -> str:
    """What an aborted training run tells the user: the checkpoint it leaves, if any."""
    return f"aborted; the last checkpoint ({checkpoint}) is as it was" if checkpoint.exists() else "aborted"
