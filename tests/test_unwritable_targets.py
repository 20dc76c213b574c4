"""Unwritable targets (RELIABILITY 23, 24, 31) through the commands a user runs.

A read-only, full or missing output folder ends in "cannot write TARGET: REASON" and loses
nothing: a finished stylisation is kept in the user data folder, a training run keeps its last
checkpoint and resumes, a failed job export leaves nothing that blocks the retry. Tests run as
root, so each unwritable folder is a path through a regular file or a failing os call.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.commands.terminal import EXIT_FAILURE, EXIT_OK
from studio.engine.checkpoints import card_path
from studio.engine.training import jobfolder
from studio.engine.training.checkpoint import checkpoint_path, load_checkpoint
from studio.files.atomic import SaveError, atomic_write
from studio.files.images import load_image
from studio.files.paths import data_dir
from tests.engine.test_finetune import bases, pictures, settings  # noqa: F401 - fixtures
from tests.engine.test_training import _write_npz_dataset, squares

pytestmark = pytest.mark.usefixtures("one_thread", "forget_networks")


def studio(*words: str) -> int:
    from studio.cli import build_parser

    args = build_parser().parse_args(list(words))
    return args.run(args)


def _pictures(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(5)
    photo, style = folder / "photo.png", folder / "style.png"
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(photo)
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(style)
    return photo, style


def _recovered() -> list[Path]:
    folder = data_dir() / "recovered"
    return sorted(folder.iterdir()) if folder.is_dir() else []


# --- studio stylize: the finished picture is kept -----------------------------------------------------------------


@pytest.mark.parametrize("instant", [False, True])
def test_stylize_into_a_folder_that_cannot_exist_keeps_the_picture(tmp_path, capsys, instant):
    photo, style = _pictures(tmp_path)
    blocker = tmp_path / "drive"
    blocker.write_bytes(b"a file where the folder should be")
    output = blocker / "renders" / "out.png"
    how = ["--instant"] if instant else ["--preset", "preview", "--size", "32", "--steps", "2"]

    code = studio("stylize", str(photo), str(style), "-o", str(output), "--device", "cpu", *how)

    err = capsys.readouterr().err
    [kept] = _recovered()
    assert code == EXIT_FAILURE
    assert f"error: cannot write {output}: " in err
    assert f"the picture was saved to {kept} instead" in err
    assert "Traceback" not in err and ".tmp" not in err
    assert kept.name.startswith("out-") and kept.suffix == ".png"
    loaded = load_image(kept)
    assert loaded.image.size == (32, 24) and loaded.settings  # the picture and the settings that made it
    assert blocker.read_bytes() == b"a file where the folder should be"


def test_stylize_onto_a_read_only_disk_keeps_the_picture_and_the_old_file(tmp_path, capsys, monkeypatch):
    photo, style = _pictures(tmp_path)
    output = tmp_path / "out" / "render.png"
    output.parent.mkdir()
    output.write_bytes(b"yesterday's render")
    real_mkstemp = tempfile.mkstemp

    def read_only_out_folder(*args, dir=None, **kwargs):
        if Path(dir) == output.parent:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkstemp(*args, dir=dir, **kwargs)

    with monkeypatch.context() as patch:  # not monkeypatch.undo(): that drops the test's LATENT_STUDIO_HOME too
        patch.setattr(tempfile, "mkstemp", read_only_out_folder)
        code = studio("stylize", str(photo), str(style), "-o", str(output), "--device", "cpu", "--instant")

    err = capsys.readouterr().err
    [kept] = _recovered()
    assert code == EXIT_FAILURE
    assert f"error: cannot write {output}: read-only file system; the picture was saved to {kept} instead" in err
    assert output.read_bytes() == b"yesterday's render"
    assert sorted(p.name for p in output.parent.iterdir()) == ["render.png"]
    assert load_image(kept).image.size == (32, 24)


def test_stylize_says_so_when_the_picture_cannot_be_kept_anywhere(tmp_path, capsys, monkeypatch):
    photo, style = _pictures(tmp_path)
    output = tmp_path / "render.png"
    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
        code = studio("stylize", str(photo), str(style), "-o", str(output), "--device", "cpu", "--instant")

    err = capsys.readouterr().err
    assert code == EXIT_FAILURE
    # The style networks' cache could not be written either: a warning, the painting went on.
    assert f"error: cannot write {output}: disk full; keeping it in the user data folder failed too (" in err
    assert "Traceback" not in err and _recovered() == []


# --- studio train: the disk turns read-only mid-run ---------------------------------------------------------------


def test_train_stops_cleanly_when_the_disk_turns_read_only_and_resumes_afterwards(tmp_path, capsys, monkeypatch):
    data = tmp_path / "squares"
    _write_npz_dataset(data, squares())
    out = tmp_path / "models" / "squares-gan.safetensors"
    ckpt = checkpoint_path(out)
    words = ["train", "gan", "--data", str(data), "--out", str(out), "--batch", "4", "--channels", "32"]
    words += ["--d-channels", "8", "--latent-dim", "16", "--sample-every", "2", "--checkpoint-every", "2"]
    words += ["--no-eval", "--device", "cpu", "--steps", "4"]
    real_replace, real_mkstemp = os.replace, tempfile.mkstemp
    disk = {"read_only": False}

    def replace(src, dst, *args, **kwargs):
        real_replace(src, dst, *args, **kwargs)
        if Path(dst) == card_path(ckpt):  # the first checkpoint is complete: then the disk goes read-only
            disk["read_only"] = True

    def mkstemp(*args, **kwargs):
        if disk["read_only"]:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkstemp(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", replace)
        patch.setattr(tempfile, "mkstemp", mkstemp)
        code = studio(*words)

    err = capsys.readouterr().err
    assert code == EXIT_FAILURE
    assert f"error: cannot write {out.parent}" in err and ": read-only file system at step 4." in err
    assert f"The checkpoint from step 2 ({ckpt.name}) is intact." in err
    assert "Traceback" not in err
    assert load_checkpoint(ckpt).step == 2

    killed = ckpt.parent / f".{ckpt.name}.abc12345.tmp"  # what a kill during the write would leave
    killed.write_bytes(b"")
    then = time.time() - 3600
    os.utime(killed, (then, then))
    assert studio(*words, "--resume") == EXIT_OK
    assert "from step 2" in capsys.readouterr().err
    assert load_checkpoint(ckpt).step == 4 and out.is_file()
    assert not killed.exists()
    assert not [p for p in ckpt.parent.iterdir() if p.name.endswith(".tmp")]


# --- --export-job: a failed export leaves nothing behind ----------------------------------------------------------


def test_a_failed_job_export_names_the_folder_and_the_retry_works(bases, pictures, tmp_path, monkeypatch):  # noqa: F811
    folder = tmp_path / "job"
    real = jobfolder.atomic_write_bytes

    def full_at_the_readme(path, data):
        if Path(path).name == "README.txt":  # the last file: everything else is written by then

            def write(handle):
                handle.write(data[:10])
                raise OSError(errno.ENOSPC, "No space left on device")

            return atomic_write(path, write)
        return real(path, data)

    with monkeypatch.context() as patch, pytest.raises(SaveError) as failure:
        patch.setattr(jobfolder, "atomic_write_bytes", full_at_the_readme)
        jobfolder.export_job_folder(settings(bases, pictures, steps=2), folder)

    assert str(failure.value) == f"cannot write {folder}: disk full"
    assert list(tmp_path.iterdir()) == []  # no half folder, no staging folder

    exported = jobfolder.export_job_folder(settings(bases, pictures, steps=2), folder)
    assert exported.folder == folder and (folder / "README.txt").is_file() and (folder / "data").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job"]


def test_export_job_into_an_unwritable_place_is_a_clean_error(bases, pictures, tmp_path, capsys):  # noqa: F811
    blocker = tmp_path / "usb"
    blocker.write_bytes(b"not a folder")
    target = blocker / "job"
    words = ["finetune", "--base", str(bases["gan"]), "--data", str(pictures), "--out", "Ink", "--steps", "2"]

    code = studio(*words, "--export-job", str(target))

    err = capsys.readouterr().err
    assert code == EXIT_FAILURE
    assert f"error: cannot write {target}: " in err and "Traceback" not in err
    assert blocker.read_bytes() == b"not a folder"


# --- studio info and the start: the user data folders -------------------------------------------------------------


def test_studio_info_works_when_the_user_data_folder_cannot_be_made(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "home"
    blocker.write_bytes(b"a file where the studio's folder should be")
    monkeypatch.setenv("LATENT_STUDIO_HOME", str(blocker))

    assert studio("info", "--device", "cpu") == EXIT_OK

    out = capsys.readouterr().out
    assert f"Model library: {blocker / 'data' / 'models'}" in out and "Installed models:" in out
    assert blocker.read_bytes() == b"a file where the studio's folder should be"


def test_a_user_data_folder_that_cannot_be_made_is_a_save_error_naming_it(tmp_path, monkeypatch):
    from studio.files.paths import models_dir

    blocker = tmp_path / "home"
    blocker.write_bytes(b"")
    monkeypatch.setenv("LATENT_STUDIO_HOME", str(blocker))
    with pytest.raises(SaveError, match=f"^cannot write {blocker / 'data'}: a part of the folder path is a file"):
        models_dir()


def test_the_start_removes_killed_saves_temp_files_from_the_user_data_folders(tmp_path):
    from studio.files.paths import clean_user_data_temps, config_dir, finetune_runs_dir, models_dir

    run = finetune_runs_dir() / "run-20260101-120000"
    run.mkdir()
    autosave = data_dir() / "autosave"
    autosave.mkdir()
    stale = [
        models_dir() / ".x.safetensors.abc12345.tmp",
        config_dir() / ".bookmarks.json.k2j4h5g6.tmp",
        run / ".ink.ckpt.safetensors.q1w2e3r4.tmp",
        autosave / ".style.json.zxcvbnm1.tmp",
    ]
    kept = [models_dir() / "x.safetensors", config_dir() / "bookmarks.json", run / "ink.ckpt.safetensors"]
    then = time.time() - 3600
    for path in stale + kept:
        path.write_bytes(b"" if path in stale else b"the user's")
        os.utime(path, (then, then))

    removed = clean_user_data_temps()

    assert sorted(removed) == sorted(stale)
    assert not any(path.exists() for path in stale)
    assert all(path.read_bytes() == b"the user's" for path in kept)
