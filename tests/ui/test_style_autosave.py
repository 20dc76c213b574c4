"""The Style panel's work is saved as the artist works and offered back after a crash.

A crash is simulated here by letting go of the autosave's lock without the clean quit (what a
killed process amounts to); tests/ui/test_crash_recovery.py kills the real app with SIGKILL.
No worker: the run's inputs, settings and result are set directly, so each test takes a moment.
"""

import json

import numpy as np
import pytest
from PIL import Image

from studio.files import autosave as files
from studio.files.atomic import SaveError
from studio.files.images import LoadedImage
from studio.spec.png import STYLE_KEY
from studio.spec.style_settings import StyleSettings
from studio.ui.panels.style_panel import StylePanel
from studio.ui.qimage import to_pil
from studio.ui.style.style_run import StyleOutcome


def _image(seed, size=(40, 32)):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def _loaded(name, seed, source_format="JPEG"):
    from pathlib import Path

    return LoadedImage(_image(seed), None, Path("/somewhere") / name, source_format, None)


@pytest.fixture
def make_panel(qtbot):
    def make():
        panel = StylePanel(None)
        qtbot.addWidget(panel)
        panel.resize(1000, 700)
        panel.show()
        return panel

    return make


def _work(panel):
    """An artist's work: a photo, two paintings with weights, strength, settings, a finished picture."""
    run = panel.run
    run.set_photo(_loaded("harbour.jpg", 1))
    run.set_painting(0, _loaded("starry night.png", 2, "PNG"))
    run.add_painting(_loaded("waves.jpg", 3))
    run.set_weight(1, 0.25)
    run.set_strength(0.6)
    run.set_settings(StyleSettings(size=96, min_size=64, steps=7, seed=1234))
    outcome = StyleOutcome(
        image=_image(4, (48, 36)),
        png={STYLE_KEY: {"styles": ["starry night.png", "waves.jpg"], "style_weights": [1.0, 0.25]}},
        name="harbour in the style of starry night.png",
        kind="refined",
    )
    run.result = outcome
    run.finished.emit(outcome)
    return outcome


def _save(qtbot, panel):
    with qtbot.waitSignal(panel.autosave.saved, timeout=30_000):
        panel.autosave.save_now()


def _crash(panel):
    """What kill -9 leaves: this session's autosave, and a lock whose owner is gone."""
    panel.autosave._executor.shutdown(wait=True)
    panel.autosave._lock.unlock()


def _pixels(image):
    return np.asarray(image.convert("RGB"))


def test_work_is_saved_as_the_artist_works_and_only_new_pictures_are_written(qtbot, make_panel):
    panel = make_panel()
    _work(panel)
    _save(qtbot, panel)
    folder = files.current_folder()
    manifest = json.loads((folder / files.WORK_FILE).read_text())
    assert manifest["photo"]["name"] == "harbour.jpg"
    assert [p["weight"] for p in manifest["paintings"]] == [1.0, 0.25]
    assert sorted(p.name for p in folder.glob("*.png")) == [
        "painting-2.png",
        "painting-3.png",
        "photo-1.png",
        "result-4.png",
    ]
    # A weight moves: only work.json changes, no picture is written again.
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.png")}
    panel.run.set_weight(0, 0.5)
    assert panel.autosave.pending  # debounced, not written on the spot
    _save(qtbot, panel)
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.png")} == before
    assert json.loads((folder / files.WORK_FILE).read_text())["paintings"][0]["weight"] == 0.5


def test_after_a_crash_the_next_start_offers_the_work_and_restore_refills_the_panel(qtbot, make_panel):
    first = make_panel()
    outcome = _work(first)
    _save(qtbot, first)
    _crash(first)

    second = make_panel()
    assert second.recovery_bar.isVisible()
    text = second.recovery_bar.label.text()
    assert text.startswith("Your last Style work was not closed properly: the photo harbour.jpg, 2 paintings")
    assert "starry night.png, waves.jpg" in text and text.endswith("and the last picture.")
    assert second.run.photo is None  # nothing changes until the artist answers

    second.recovery_bar.restore_button.click()
    run = second.run
    assert not second.recovery_bar.isVisible()
    assert run.photo.path.name == "harbour.jpg" and run.photo.source_format == "JPEG"
    assert np.array_equal(_pixels(run.photo.image), _pixels(first.run.photo.image))
    assert [(p.name, p.weight) for p in run.paintings] == [("starry night.png", 1.0), ("waves.jpg", 0.25)]
    for restored, original in zip(run.paintings, first.run.paintings, strict=True):
        assert np.array_equal(_pixels(restored.image.image), _pixels(original.image.image))
    assert run.strength == 0.6 and second.strength_slider.value() == 60
    assert run.settings() == StyleSettings(size=96, min_size=64, steps=7, seed=1234)
    assert second.form.settings() == run.settings()
    assert np.array_equal(_pixels(run.result.image), _pixels(outcome.image))
    assert run.result.png == outcome.png and run.result.name == outcome.name
    assert np.array_equal(_pixels(second.current().image), _pixels(outcome.image))
    assert [slot.loaded.path.name for slot in second.style_slots] == ["starry night.png", "waves.jpg"]
    assert np.array_equal(_pixels(to_pil(second.view.image())), _pixels(outcome.image))
    assert np.array_equal(_pixels(to_pil(second.view.before())), _pixels(first.run.photo.image))
    assert second.status.text() == "Your last Style work is back."
    # The offer is answered: the recovered copy is gone, the work is this session's autosave now.
    assert not files.recovered_folder().exists()
    qtbot.waitUntil(lambda: (files.current_folder() / files.WORK_FILE).is_file(), timeout=30_000)


def test_discard_removes_the_work_and_a_clean_quit_offers_nothing(qtbot, make_panel):
    first = make_panel()
    _work(first)
    _save(qtbot, first)
    _crash(first)
    second = make_panel()
    second.recovery_bar.discard_button.click()
    assert not second.recovery_bar.isVisible() and second.run.photo is None
    assert not files.recovered_folder().exists()

    _work(second)
    _save(qtbot, second)
    second.end_session()  # a clean quit
    assert not files.current_folder().exists()
    assert not make_panel().recovery_bar.isVisible()


def test_an_unanswered_offer_is_made_again_and_the_new_work_does_not_overwrite_it(qtbot, make_panel):
    first = make_panel()
    _work(first)
    _save(qtbot, first)
    _crash(first)
    second = make_panel()
    second.run.set_photo(_loaded("other.jpg", 9))  # works on, without answering
    _save(qtbot, second)
    second.end_session()
    third = make_panel()
    assert "harbour.jpg" in third.recovery_bar.label.text()


def test_a_second_window_neither_autosaves_nor_takes_the_offer(qtbot, make_panel):
    first = make_panel()
    second = make_panel()
    assert first.autosave.enabled and not second.autosave.enabled
    second.run.set_photo(_loaded("other.jpg", 9))
    assert second.autosave.save_now() is None
    assert not files.current_folder().exists()


@pytest.mark.parametrize(
    "content",
    [b"\x00\xff not json", b"[1, 2]", b"[" * 100_000 + b"]" * 100_000, json.dumps({"version": 1, "photo": 3}).encode()],
    ids=["bytes", "a list", "deeply nested", "wrong types"],
)
def test_a_damaged_autosave_is_never_an_error_at_start(qtbot, make_panel, content):
    folder = files.current_folder()
    folder.mkdir(parents=True)
    (folder / files.WORK_FILE).write_bytes(content)
    panel = make_panel()  # starts; at most an offer of nothing
    if panel.recovery_bar.isVisible():
        panel.recovery_bar.restore_button.click()
        assert panel.run.photo is None


def test_a_picture_that_cannot_be_read_back_is_named_and_the_rest_restored(qtbot, make_panel):
    first = make_panel()
    _work(first)
    _save(qtbot, first)
    _crash(first)
    (files.current_folder() / "painting-3.png").write_bytes(b"not a png")
    second = make_panel()
    second.recovery_bar.restore_button.click()
    assert [p.name for p in second.run.paintings] == ["starry night.png"]
    assert second.run.photo.path.name == "harbour.jpg"
    assert "could not be read back: waves.jpg" in second.status.text()


def test_an_autosave_that_cannot_be_written_keeps_the_previous_one_and_the_panel_working(
    qtbot, make_panel, monkeypatch, caplog
):
    panel = make_panel()
    _work(panel)
    _save(qtbot, panel)
    work = files.current_folder() / files.WORK_FILE
    before = work.read_bytes()

    def refuse(*_args, **_kwargs):
        raise SaveError(30, "Could not save work.json: Read-only file system")

    writable = files.atomic_write_bytes
    monkeypatch.setattr(files, "atomic_write_bytes", refuse)
    panel.run.set_photo(_loaded("new.jpg", 7))
    future = panel.autosave.save_now()
    with qtbot.waitSignal(panel.autosave._writeEnded, timeout=30_000):
        pass
    assert future.exception() is not None
    assert work.read_bytes() == before
    assert "The Style autosave was not written: Could not save work.json: Read-only file system" in caplog.text
    assert panel.run.photo.path.name == "new.jpg" and panel.message.isHidden()
    # The disk is writable again: the next save writes every picture it names.
    monkeypatch.setattr(files, "atomic_write_bytes", writable)
    _save(qtbot, panel)
    manifest = json.loads(work.read_text())
    assert manifest["photo"]["name"] == "new.jpg"
    assert all((work.parent / entry["file"]).is_file() for entry in [manifest["photo"], *manifest["paintings"]])


def test_an_unwritable_data_folder_still_starts_the_panel_without_autosave(make_panel, monkeypatch, caplog):
    def refuse():
        raise PermissionError(13, "Permission denied", "/read-only/data/autosave")

    monkeypatch.setattr("studio.ui.style.autosave.autosave_dir", refuse)
    panel = make_panel()
    assert not panel.autosave.enabled and not panel.recovery_bar.isVisible()
    panel.run.set_photo(_loaded("harbour.jpg", 1))
    assert panel.autosave.save_now() is None
    panel.end_session()
    assert "The Style work is not autosaved: cannot create its folder" in caplog.text
    assert "/read-only/data/autosave" in caplog.text


def test_studio_info_names_work_left_by_a_crash(qtbot, make_panel, studio_home):
    from tests.test_cli import run_studio

    first = make_panel()
    _work(first)
    _save(qtbot, first)
    _crash(first)
    result = run_studio("info", home=studio_home)
    assert result.returncode == 0, result.stderr
    assert (
        "Autosaved Style work: the photo harbour.jpg, 2 paintings (starry night.png, waves.jpg)"
        f" and the last picture, in {files.current_folder()}"
    ) in result.stdout
