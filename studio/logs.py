"""Logging to the user's log folder, with rotation, and a hook for uncaught exceptions."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import traceback
from typing import TYPE_CHECKING

from studio.files.atomic import failure_reason
from studio.files.paths import log_dir

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

LOG_FILE_NAME = "studio.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"


def log_file() -> Path:
    return log_dir() / LOG_FILE_NAME


class _LogFileHandler(logging.handlers.RotatingFileHandler):
    """The log file, which gives up quietly when its disk fails.

    The standard handler prints "--- Logging error ---" and a traceback to stderr on every log
    call once the file cannot be written (a disk turned read-only, a full disk). This one says
    so once, in one plain line, stops writing the file and, when nothing else logs to the
    terminal, sends warnings and errors there instead.
    """

    def __init__(self, path: Path, *, to_terminal: bool) -> None:
        super().__init__(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
        self.failed = False
        self._to_terminal = to_terminal  # False when a console handler already shows every record

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)
            if not self.failed:
                return
        if self._to_terminal and record.levelno >= logging.WARNING and sys.stderr is not None:
            try:
                sys.stderr.write(self.format(record) + "\n")
            except (OSError, ValueError):  # no terminal either: nothing left to tell
                pass

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handleError(record)  # a bad log call (wrong arguments) is a bug: show it
            return
        if self.failed:
            return
        self.failed = True
        path = self.baseFilename
        reason = failure_reason(exc)
        try:
            if self.stream is not None:
                self.stream.close()
        except OSError:  # flushing to the failed disk fails too
            pass
        self.stream = None
        if sys.stderr is not None:
            try:
                sys.stderr.write(f"the log file {path} cannot be written: {reason}; logging to the terminal only\n")
            except (OSError, ValueError):
                pass


def setup_logging(level: int = logging.INFO, *, console: bool = False) -> Path:
    """Send the studio's log records to a rotating file (1 MB x 5) in the user's log folder."""
    path = log_file()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_studio", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = _LogFileHandler(path, to_terminal=not (console and sys.stderr is not None))
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
