"""The Latent Explorer's controller against the scriptable fake worker: the test decides when
each render is drawn and when each job reports, finishes or fails."""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtGui import QUndoStack

from studio.engine.jobs import Progress
from studio.files.images import load_image, save_png
from studio.files.paths import models_dir
from studio.spec.bounds import SLIDER_RANGE
from studio.ui.latent import explorer_controller, explorer_work
from studio.ui.latent.explorer_controller import ExplorerController
from studio.ui.qimage import to_pil


def _settle(fake) -> None:
    """Draw every render the controller asks for until it asks for none."""
    while fake.pending_render is not None:
        fake.draw()


def _pixels(qimage) -> np.ndarray:
    return np.asarray(to_pil(qimage))


class Spy:
    def __init__(self, signal):
        self.calls = []
        signal.connect(lambda *args: self.calls.append(args))


@pytest.fixture
def controller(qtbot, fake_worker, tiny_models):
    made = ExplorerController(fake_worker, QUndoStack())
    made.start()
    _settle(fake_worker)
    assert made.model is not None and made.shown_state == made.state
    yield made
    # Job links delete themselves later: let them go while their worker and controller live.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _switch_to(controller, fake, kind):
    if controller.model.kind != kind:
        controller.load_model(next(i for i, m in enumerate(controller.models) if m.path.stem == f"tiny-{kind}"))
        _settle(fake)
    assert controller.model.kind == kind and controller.shown_state == controller.state
    return controller.model


def _next_render(qtbot, fake):
    """The render the controller asks for after a change (it asks on its next event-loop turn)."""
    qtbot.waitUntil(lambda: fake.pending_render is not None, timeout=5_000)
    return fake.pending_render


def test_a_failed_projection_is_reported_once_and_the_picture_stays(controller, fake_worker):
    _switch_to(controller, fake_worker, "gan")
    picture, state = controller.qimage, controller.state
    errors, unowned = Spy(controller.errorOccurred), Spy(fake_worker.unownedJobFailed)
    controller.encode_image(Image.new("RGB", (64, 64), (10, 120, 200)), "target.png")
    job = fake_worker.job("Projecting target.png")
    assert controller.projecting and job.owned
    fake_worker.report(job, Progress(0.5, "Projecting: step 3 of 6", preview=Image.new("RGB", (64, 64), "red")))
    assert controller.qimage is not picture
    fake_worker.fail(job, "Projecting target.png failed: RuntimeError: out of ideas")
    assert errors.calls == [("Projecting target.png failed: RuntimeError: out of ideas",)]
    assert unowned.calls == []  # the main window shows no second dialog
    assert controller.qimage is picture and controller.state == state
    assert not controller.projecting and controller.undo_stack.count() == 0


def test_projection_previews_update_the_picture_and_the_result_becomes_the_state(controller, fake_worker, qtbot):
    model = _switch_to(controller, fake_worker, "gan")
    template = controller.state
    pictures, notices = Spy(controller.pictureChanged), Spy(controller.noticeChanged)
    controller.encode_image(Image.new("RGB", (64, 64), (10, 120, 200)), "target.png")
    job = fake_worker.job("Projecting")
    preview = Image.new("RGB", (64, 64), (250, 200, 0))
    fake_worker.report(job, Progress(0.5, "Projecting: step 3 of 6", preview=preview))
    assert len(pictures.calls) == 1 and np.array_equal(_pixels(controller.qimage), np.asarray(preview))
    assert notices.calls[-1] == ("Projecting: step 3 of 6",)
    assert controller.shown_state == template  # a preview is no point: exports still show the state's

    z = model.random_z(99, template.class_index)
    fake_worker.finish(job, z)
    expected = model.state(z, template.class_index, template.psi)
    assert controller.state == expected and controller.undo_stack.undoText() == "Project target.png"
    _next_render(qtbot, fake_worker)
    _settle(fake_worker)
    assert controller.shown_state == expected
    assert np.array_equal(_pixels(controller.qimage), np.asarray(model.render(expected)))


def test_stopping_a_projection_keeps_the_best_point_so_far(controller, fake_worker, monkeypatch):
    monkeypatch.setattr(explorer_controller, "PROJECTION_STEPS", 4)
    _switch_to(controller, fake_worker, "gan")
    before = controller.state
    controller.encode_image(Image.new("RGB", (64, 64), (10, 120, 200)), "target.png")
    job = fake_worker.job("Projecting")
    fake_worker.step(job)
    controller.cancel_projection()
    assert job.state == "cancelled" and not controller.projecting
    assert controller.state != before and controller.state.seed is None
    assert controller.undo_stack.undoText() == "Project target.png"


def test_loading_another_model_stops_a_projection_and_its_previews_stay_away(controller, fake_worker, monkeypatch):
    model = _switch_to(controller, fake_worker, "gan")
    controller.encode_image(Image.new("RGB", (64, 64), (10, 120, 200)), "target.png")
    job = fake_worker.job("Projecting")
    fake_worker.step(job)
    assert controller.projecting
    # The real worker stops a job at its next step: a last preview can arrive after the load.
    cancel = fake_worker.cancel

    def cancel_after_a_last_preview(job_id=None):
        preview = Image.new("RGB", (64, 64), (255, 0, 255))
        fake_worker.jobProgress.emit(job.id, Progress(0.9, "Projecting: step 5 of 6", preview=preview))
        assert _pixels(controller.qimage)[0, 0].tolist() != [255, 0, 255]  # the new model's picture stays
        cancel(job_id)

    monkeypatch.setattr(fake_worker, "cancel", cancel_after_a_last_preview)
    vae = _switch_to(controller, fake_worker, "vae")
    # The worker is free again: the projection of the model before is stopped, not left running.
    assert job.state == "cancelled" and not controller.projecting
    assert controller.state.model_sha256 == vae.sha256 != model.sha256
    assert controller.undo_stack.undoText() != "Project target.png"
    assert controller.shown_state == controller.state


def test_a_stale_render_result_is_not_shown(controller, fake_worker, qtbot):
    model = controller.model
    controller.set_seed(1)
    old_stamp, old_render = _next_render(qtbot, fake_worker)
    controller.set_seed(2)
    qtbot.waitUntil(lambda: fake_worker.pending_render[0] != old_stamp, timeout=5_000)
    fake_worker.draw()
    newest = controller.qimage
    assert controller.shown_state == controller.state and controller.state.seed == 2
    # The render of seed 1 arriving after seed 2's (it cannot, from the real worker): ignored.
    fake_worker.renderDone.emit(old_stamp, old_render(fake_worker.device))
    assert controller.qimage is newest and controller.shown_state.seed == 2

    # A render asked for before a model switch, delivered after it: the new model's picture stays.
    controller.set_seed(3)
    stamp, render = _next_render(qtbot, fake_worker)
    _switch_to(controller, fake_worker, "gan" if model.kind == "vae" else "vae")
    shown = controller.qimage
    fake_worker.renderDone.emit(stamp, render(fake_worker.device))
    assert controller.qimage is shown and controller.shown_state == controller.state


def test_a_bookmark_asked_for_before_its_picture_is_made_when_the_picture_arrives(controller, fake_worker, qtbot):
    changed = Spy(controller.bookmarksChanged)
    controller.set_seed(21)
    assert controller.add_bookmark("later") is None
    assert controller.bookmarks.bookmarks == []
    _next_render(qtbot, fake_worker)
    _settle(fake_worker)
    [bookmark] = controller.model_bookmarks()
    assert bookmark.name == "later" and bookmark.state() == controller.state
    assert changed.calls


def test_a_vae_encodes_an_image_into_an_undoable_state(controller, fake_worker):
    model = _switch_to(controller, fake_worker, "vae")
    before = controller.state
    picture = Image.new("RGB", (64, 64), (200, 40, 40))
    controller.encode_image(picture, "mine.png")
    assert controller.state == before  # the encoding is on the worker
    _settle(fake_worker)
    assert controller.state.seed is None
    np.testing.assert_allclose(controller.state.z_array(), model.encode(picture), atol=1e-5)
    assert controller.shown_state == controller.state  # its picture came with it
    assert controller.undo_stack.undoText() == "Encode mine.png"
    controller.undo_stack.undo()
    assert controller.state == before


def test_model_files_are_hashed_on_the_worker(qtbot, fake_worker, tiny_models, monkeypatch, tmp_path):
    from studio.engine.latent.model import LatentModel
    from studio.engine.latent.state import state_png_settings

    gan = LatentModel.load(models_dir() / "tiny-gan.safetensors")
    state = gan.state(gan.random_z(5, 2), 2, 0.8, seed=5)
    path = tmp_path / "made.png"
    save_png(path, gan.render(state), {"panel": "Latent Explorer", **state_png_settings(gan, state)})
    hashed = []
    original = explorer_work.file_sha256
    monkeypatch.setattr(explorer_work, "file_sha256", lambda info: hashed.append(info.path.stem) or original(info))

    controller = ExplorerController(fake_worker, QUndoStack())
    assert controller.open_image(load_image(path))
    assert hashed == [] and controller.busy  # asked of the worker, not done on this thread
    fake_worker.draw()
    assert sorted(hashed) == ["tiny-gan", "tiny-vae"]
    _settle(fake_worker)  # then the PNG's model loads, at the PNG's point
    assert controller.model.sha256 == gan.sha256 and controller.state == state
    assert controller.shown_state == state and controller.undo_stack.count() == 0


# ----- the directions' -/+ pictures ------------------------------------------------------------


def _draw_previews(qtbot, controller, fake):
    """Wait for the controller to ask for the -/+ pictures (once the point settles), draw them."""
    asked = controller.previewer.requests
    qtbot.waitUntil(lambda: controller.previewer.requests > asked, timeout=5_000)
    return fake.draw()


def test_every_direction_s_ends_are_drawn_in_one_worker_call_and_show_the_slider_s_ends(controller, fake_worker, qtbot):
    model = _switch_to(controller, fake_worker, "vae")  # 20 directions
    assert controller.direction_previews == {} and controller.previewer.requests == 0  # nobody asked yet
    controller.want_previews(16)
    drawn = _draw_previews(qtbot, controller, fake_worker)
    assert controller.previewer.requests == 1 and fake_worker.pending_render is None  # one call for all 16
    assert sorted(p.index for p in drawn.previews) == list(range(16)) == sorted(controller.direction_previews)
    for index in (0, 7, 15):
        preview = controller.direction_previews[index]
        low = model.render(controller.with_coordinate(index, -SLIDER_RANGE))
        high = model.render(controller.with_coordinate(index, SLIDER_RANGE))
        # The minus picture is the picture the slider shows at its minimum (and plus at its maximum).
        assert np.array_equal(np.asarray(preview.minus), np.asarray(low))
        assert np.array_equal(np.asarray(preview.plus), np.asarray(high))
        assert not np.array_equal(np.asarray(preview.minus), np.asarray(preview.plus))
        assert preview.minus_qimage.width() <= explorer_work.PREVIEW_PIXELS


def test_end_pictures_wait_for_the_point_to_settle_and_are_kept_per_point(controller, fake_worker, qtbot):
    _switch_to(controller, fake_worker, "vae")
    controller.want_previews(4)
    first = controller.state
    _draw_previews(qtbot, controller, fake_worker)
    kept = dict(controller.direction_previews)
    assert controller.previewer.requests == 1

    # A drag: many points in a row. Each picture is drawn; the ends are asked for only once the
    # last point has been still for a moment, and only for that point.
    for step in range(1, 6):
        controller.new_drag()
        controller.move_direction(0, 0.3 * step)
        _next_render(qtbot, fake_worker)
        fake_worker.draw()  # the picture of that point
        assert controller.previewer.requests == 1
    moved = controller.state
    drawn = _draw_previews(qtbot, controller, fake_worker)
    assert controller.previewer.requests == 2 and drawn.state == moved
    assert not np.array_equal(
        np.asarray(controller.direction_previews[1].minus), np.asarray(kept[1].minus)
    )  # refreshed for the new point

    # Back to the first point (undo): its ends are shown at once, with no worker call.
    shown = Spy(controller.previewsChanged)
    while controller.state != first:
        controller.undo_stack.undo()
    _settle(fake_worker)
    assert shown.calls and controller.direction_previews == kept
    qtbot.wait(2 * explorer_controller.PREVIEW_SETTLE_MS)
    assert controller.previewer.requests == 2 and fake_worker.pending_render is None


def test_undo_texts_name_the_slider_the_artist_sees(controller, fake_worker):
    _switch_to(controller, fake_worker, "gan")
    controller.new_drag()
    controller.move_direction(2, 1.5)
    assert controller.undo_stack.undoText() == "Move Change 3"
    controller.new_drag()
    controller.set_psi(0.6)
    assert controller.undo_stack.undoText() == "Set Variety"


def test_a_newer_render_cuts_the_end_pictures_short_and_the_rest_follow(controller, fake_worker, qtbot, monkeypatch):
    model = _switch_to(controller, fake_worker, "vae")
    controller.want_previews(16)
    original = model.render_batch
    others = []

    def render_batch(*args, **kwargs):
        if not others:  # while the first pass runs, someone else asks for a render
            others.append(fake_worker.request_render(lambda _device: "someone else's"))
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "render_batch", render_batch)
    drawn = _draw_previews(qtbot, controller, fake_worker)
    assert len(drawn.previews) == explorer_work.PREVIEW_CHUNK  # stopped after one pass
    assert fake_worker.pending_render[0] == others[0]  # the other render's turn at once
    fake_worker.draw()
    drawn = _draw_previews(qtbot, controller, fake_worker)  # then the rest, unasked
    assert sorted(p.index for p in drawn.previews) == list(range(explorer_work.PREVIEW_CHUNK, 16))
    assert sorted(controller.direction_previews) == list(range(16)) and controller.previewer.requests == 2


def test_studio_sample_change_draws_what_the_slider_s_end_picture_shows(
    controller, fake_worker, qtbot, tmp_path, capsys
):
    from studio.cli import main
    from studio.engine.latent.state import restore_state_from_png

    _switch_to(controller, fake_worker, "vae")
    assert controller.state.seed == 0
    controller.want_previews(2)
    _draw_previews(qtbot, controller, fake_worker)
    out = tmp_path / "change.png"
    assert main(["sample", "--model", "Tiny VAE", "--seed", "0", "--change", "1=-3", "-o", str(out)]) == 0
    assert "Change 1 at -3" in capsys.readouterr().out
    assert restore_state_from_png(out) == controller.with_coordinate(0, -SLIDER_RANGE)
    written = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(written, np.asarray(controller.direction_previews[0].minus))

    assert main(["sample", "--model", "Tiny VAE", "--seed", "0", "--change", "21=1", "-o", str(out)]) == 2
    assert "Change 1 to Change 20" in capsys.readouterr().err
