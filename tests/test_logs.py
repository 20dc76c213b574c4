"""The log file on a disk that turns read-only: one plain line, no "--- Logging error ---"."""

from __future__ import annotations

import errno
import logging

import pytest

from studio.logs import setup_logging


@pytest.fixture
def studio_handlers():
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _file_handler(root: logging.Logger) -> logging.FileHandler:
    return next(h for h in root.handlers if getattr(h, "_studio", False) and isinstance(h, logging.FileHandler))


def test_a_log_file_that_turns_read_only_is_dropped_with_one_plain_line(studio_handlers, monkeypatch, capsys):
    path = setup_logging()
    log = logging.getLogger("studio.test")
    log.info("written while the disk works")
    handler = _file_handler(studio_handlers)
    handler.flush()
    assert "written while the disk works" in path.read_text(encoding="utf-8")

    def read_only(text: str) -> int:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(handler.stream, "write", read_only)
    log.info("lost: the disk is read-only")
    log.warning("the model could not be found")
    log.error("a job failed", exc_info=RuntimeError("boom"))

    err = capsys.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == f"the log file {path} cannot be written: read-only file system; logging to the terminal only"
    # Later warnings and errors reach the terminal, once each; the file keeps what it had.
    assert lines.count(lines[0]) == 1
    assert any(line.endswith("studio.test: the model could not be found") for line in lines[1:])
    assert any(line.endswith("studio.test: a job failed") for line in lines[1:])
    assert path.read_text(encoding="utf-8").count("written while the disk works") == 1


def test_with_a_console_handler_records_are_not_shown_twice(studio_handlers, monkeypatch, capsys):
    setup_logging(console=True)
    handler = _file_handler(studio_handlers)

    def read_only(text: str) -> int:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(handler.stream, "write", read_only)
    logging.getLogger("studio.test").warning("shown by the console handler")
    err = capsys.readouterr().err
    assert "Logging error" not in err
    assert err.count("shown by the console handler") == 1
    assert err.count("cannot be written: read-only file system; logging to the terminal only") == 1


def test_a_bad_log_call_is_still_reported(studio_handlers, capsys):
    setup_logging()
    handler = _file_handler(studio_handlers)
    # Straight to the file handler: pytest's own capture handler would raise the TypeError first.
    handler.handle(logging.makeLogRecord({"name": "studio.test", "msg": "%d things", "args": ("not a number",)}))
    assert "Logging error" in capsys.readouterr().err  # a bug in a log call, not the disk
    assert not _file_handler(studio_handlers).failed
