"""Logging to the user's log folder, with rotation, and a hook for uncaught exceptions."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import traceback
from typing import TYPE_CHECKING

from studio.files.paths import log_dir

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

LOG_FILE_NAME = "studio.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"


def log_file() -> Path:
    return log_dir() / LOG_FILE_NAME


def setup_logging(level: int = logging.INFO, *, console: bool = False) -> Path:
    """Send the studio's log records to a rotating file (1 MB x 5) in the user's log folder."""
    path = log_file()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_studio", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(_FORMAT))
    file_handler._studio = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    if console and sys.stderr is not None:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter(_FORMAT))
        stream._studio = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    root.setLevel(level)
    return path


def format_exception(exc_type, exc, tb) -> str:
    return "".join(traceback.format_exception(exc_type, exc, tb))


def install_excepthook(show: Callable[[str, str], None]) -> None:
    """Log every uncaught exception (also those raised in Qt slots) and pass it to ``show``.

    ``show(summary, details)`` must be safe to call from any thread; the GUI passes a function
    that emits a queued signal. PySide6 reports exceptions raised in slots through
    ``sys.excepthook``, so this one hook covers them.
    """
    logger = logging.getLogger("studio.uncaught")

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = format_exception(exc_type, exc, tb)
        logger.error("Uncaught exception:\n%s", details)
        show(f"{exc_type.__name__}: {exc}", details)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
