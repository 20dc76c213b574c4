"""The one save path: every failing os call is "cannot write TARGET: REASON", the old file intact.

Tests run as root, so chmod cannot make a folder unwritable: each failure is built by making
the one os call fail as it would on a read-only disk, a full disk or a missing drive.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time

import pytest

from studio.files import atomic
from studio.files.atomic import SaveError, atomic_write, atomic_write_bytes, clean_stale_temps


def _fail(code: int):
    def fail(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "read-only file system"),
        (errno.ENOSPC, "disk full"),
        (errno.ENOENT, "the folder does not exist"),
    ],
)
@pytest.mark.parametrize("call", ["mkstemp", "chmod", "fsync", "replace"])
def test_every_failing_os_call_names_the_target_and_keeps_the_old_file(tmp_path, monkeypatch, call, code, reason):
    target = tmp_path / "out.png"
    target.write_bytes(b"old picture")
    where = tempfile if call == "mkstemp" else os
    monkeypatch.setattr(where, call, _fail(code))

    with pytest.raises(SaveError) as error:
        atomic_write_bytes(target, b"new picture")

    assert str(error.value).startswith(f"cannot write {target}: {reason}")
    assert error.value.strerror == str(error.value)
    assert ".tmp" not in str(error.value)
    assert target.read_bytes() == b"old picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_a_folder_that_cannot_be_made_names_the_target(tmp_path, monkeypatch):
    target = tmp_path / "drive" / "renders" / "out.png"
    monkeypatch.setattr(type(tmp_path), "mkdir", _fail(errno.EROFS))

    with pytest.raises(SaveError) as error:
        atomic_write_bytes(target, b"picture")

    assert str(error.value) == f"cannot write {target}: read-only file system"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("below", [["out.png"], ["sub", "out.png"]])
def test_a_folder_path_through_a_file_names_the_target_and_says_why(tmp_path, below):
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"a file")
    target = blocker.joinpath(*below)

    with pytest.raises(SaveError) as error:
        atomic_write_bytes(target, b"picture")

    # Not mkdir's "file exists": the path goes through a file.
    assert str(error.value) == f"cannot write {target}: a part of the folder path is a file, not a folder"
    assert blocker.read_bytes() == b"a file"


def test_disk_full_during_the_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old model")

    def write(handle):
        handle.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(SaveError, match=r"model\.safetensors: disk full"):
        atomic_write(target, write)

    assert target.read_bytes() == b"old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_other_errors_pass_through_and_leave_no_temp_file(tmp_path):
    target = tmp_path / "out.png"

    def write(_handle):
        raise ValueError("the picture cannot be encoded")

    with pytest.raises(ValueError, match="cannot be encoded"):
        atomic_write(target, write)
    assert list(tmp_path.iterdir()) == []


def _age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_clean_stale_temps_removes_only_old_studio_temp_files(tmp_path):
    killed = tmp_path / ".x.safetensors.abc12345.tmp"  # what a killed checkpoint write leaves
    killed.write_bytes(b"")
    partial = tmp_path / ".ink.json.k3_9zq1w.tmp"
    partial.write_bytes(b'{"half":')
    fresh = tmp_path / ".y.png.zzzzzzzz.tmp"  # a save running right now
    fresh.write_bytes(b"")
    keep = {
        "x.safetensors": b"model",
        ".hidden.tmp": b"no random part",
        "notes.tmp": b"the user's",
        ".config": b"dotfile",
    }
    for name, data in keep.items():
        (tmp_path / name).write_bytes(data)
    folder = tmp_path / ".run.abc.tmp"  # a folder, never removed
    folder.mkdir()
    for path in [killed, partial, folder, *(tmp_path / name for name in keep)]:
        _age(path, 3600)

    removed = clean_stale_temps(tmp_path)

    assert sorted(p.name for p in removed) == sorted([killed.name, partial.name])
    assert not killed.exists() and not partial.exists()
    assert fresh.exists() and folder.is_dir()
    for name, data in keep.items():
        assert (tmp_path / name).read_bytes() == data


def test_clean_stale_temps_never_raises(tmp_path, monkeypatch):
    assert clean_stale_temps(tmp_path / "missing") == []
    stale = tmp_path / ".x.safetensors.abc.tmp"
    stale.write_bytes(b"")
    _age(stale, 3600)
    monkeypatch.setattr(atomic.os, "unlink", _fail(errno.EROFS))
    assert clean_stale_temps(tmp_path) == []
    assert stale.exists()
