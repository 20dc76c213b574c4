"""StyleRun, the Style Transfer panel's controller, driven against the scriptable fake worker.

The engine's stylize job is replaced by a scripted one: each step yields a preview (a flat
colour, so each is recognisable) and a loss, and stopping returns the best picture so far, as
the real job does. The test decides when each step, failure or stop happens.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QCoreApplication, QEvent

from studio.engine.jobs import JobCancelled
from studio.engine.style import transfer
from studio.engine.style.transfer import StyleProgress, StyleResult
from studio.files.images import LoadedImage
from studio.spec.png import STYLE_KEY
from studio.ui.panels.style_panel import StylePanel
from studio.ui.qimage import to_pil
from studio.ui.style.style_run import MAX_STYLES, StyleRun

STEPS = 5


def _loaded(name: str, colour=(120, 120, 120), settings: dict | None = None) -> LoadedImage:
    return LoadedImage(Image.new("RGB", (24, 16), colour), None, Path(name), "PNG", settings)


def _step_colour(step: int) -> tuple[int, int, int]:
    return (40 * step, 10, 200 - 30 * step)


@pytest.fixture
def jobs(monkeypatch):
    """Replace the engine's stylize job with a scripted one; records what each run was given."""
    given: list[dict] = []

    def scripted(content, styles, settings, device):
        given.append({"styles": styles, "settings": settings})
        best, history = None, []
        try:
            for step in range(1, STEPS + 1):
                best = Image.new("RGB", content.size, _step_colour(step))
                history.append({"total": 100.0 / step})
                yield StyleProgress(
                    step / STEPS, f"step {step}", best, step=step, total_steps=STEPS, losses={"total": 100.0 / step}
                )
        except JobCancelled:
            return StyleResult(best, settings.to_dict(), history, [content.size], 0.5, True, device.label)
        return StyleResult(best, settings.to_dict(), history, [content.size], 1.0, False, device.label)

    monkeypatch.setattr(transfer, "stylize_job", scripted)
    return given


@pytest.fixture
def run(fake_worker, jobs):
    style_run = StyleRun(fake_worker)
    style_run.add_painting()
    style_run.set_photo(_loaded("beach.png"))
    style_run.set_painting(0, _loaded("starry night.png", (200, 60, 30)))
    return style_run


class Recorder:
    def __init__(self, run: StyleRun) -> None:
        self.previews, self.losses, self.finished, self.cancelled, self.failed, self.changed = [], [], [], [], [], []
        run.previewReady.connect(self.previews.append)
        run.lossAdded.connect(lambda step, value: self.losses.append((step, value)))
        run.finished.connect(self.finished.append)
        run.cancelled.connect(self.cancelled.append)
        run.failed.connect(self.failed.append)
        run.changedDuringRun.connect(lambda: self.changed.append(True))


def test_previews_arrive_throttled_and_the_last_is_never_dropped(qtbot, run, fake_worker):
    seen = Recorder(run)
    assert run.start() is not None and run.running
    for _ in range(STEPS):
        fake_worker.step()
    # Five steps in a burst: the first preview at once, the rest held back...
    assert [image.getpixel((0, 0)) for image in seen.previews] == [_step_colour(1)]
    assert [step for step, _ in seen.losses] == [1, 2, 3, 4, 5]  # every loss value is reported
    # ... and the newest of them still arrives.
    qtbot.waitUntil(lambda: len(seen.previews) == 2)
    assert seen.previews[-1].getpixel((0, 0)) == _step_colour(STEPS)

    fake_worker.run()
    assert len(seen.finished) == 1 and not run.running
    outcome = seen.finished[0]
    assert outcome.image.getpixel((0, 0)) == _step_colour(STEPS) and not outcome.stopped
    assert outcome.losses == [100.0 / step for step in range(1, STEPS + 1)]
    assert outcome.png[STYLE_KEY]["content"] == "beach.png"
    assert outcome.png[STYLE_KEY]["styles"] == ["starry night.png"]
    assert outcome.name == "beach in the style of starry night.png"
    assert run.result is outcome


def test_a_failure_is_reported_once_and_the_previous_picture_stays(run, fake_worker):
    seen = Recorder(run)
    run.start()
    fake_worker.run()
    first = run.result
    assert first is not None

    run.start()
    fake_worker.step()
    job = fake_worker.job("Style transfer")
    fake_worker.fail(job, "Style transfer failed: out of paint")
    assert seen.failed == ["Style transfer failed: out of paint"]
    assert job.owned  # the main window leaves this failure to the panel
    assert run.result is first and not run.running
    assert len(seen.finished) == 1  # only the first run's


def test_the_panel_shows_a_failure_once_and_keeps_the_previous_picture(qtbot, fake_worker, jobs, tmp_path):
    panel = StylePanel(fake_worker)
    qtbot.addWidget(panel)
    panel.accept_image(_loaded("beach.png"))
    panel.accept_image(_loaded("starry night.png", (200, 60, 30)))
    panel.start()
    fake_worker.run()
    before = to_pil(panel.view.image())
    unowned = []
    fake_worker.unownedJobFailed.connect(lambda _id, message: unowned.append(message))

    panel.start()
    fake_worker.step()
    fake_worker.fail(fake_worker.job(), "Style transfer failed: out of paint")
    assert panel.message.text() == "Style transfer failed: out of paint"
    assert panel.progress.format() == "Failed"
    assert unowned == []  # no second report in a dialog
    assert to_pil(panel.view.image()).tobytes() == before.tobytes()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()


def test_stop_keeps_the_best_picture_so_far(run, fake_worker):
    seen = Recorder(run)
    run.start()
    for _ in range(3):
        fake_worker.step()
    assert run.stop()
    assert not run.running and seen.finished == []
    (outcome,) = seen.cancelled
    assert outcome.stopped and outcome.image.getpixel((0, 0)) == _step_colour(3)
    assert run.result is outcome and outcome.png[STYLE_KEY]["content"] == "beach.png"
    assert not run.stop()  # nothing left to stop


def test_stopping_before_the_first_picture_keeps_the_previous_result(run, fake_worker):
    run.start()
    fake_worker.run()
    first = run.result
    seen = Recorder(run)
    run.start()
    run.stop()
    assert seen.cancelled == [None]
    assert run.result is first


def test_settings_and_weights_changed_during_a_run_apply_to_the_next(run, fake_worker, jobs):
    seen = Recorder(run)
    run.start()
    fake_worker.step()
    run.set_settings(run.settings().replace(seed=7))
    run.set_weight(0, 0.4)
    assert seen.changed == [True]  # said once
    fake_worker.run()
    assert jobs[0]["settings"].seed == 0 and [w for _, w in jobs[0]["styles"]] == [1.0]
    assert seen.finished[0].changed_during_run and seen.finished[0].png[STYLE_KEY]["seed"] == 0

    run.start()
    fake_worker.run()
    assert jobs[1]["settings"].seed == 7 and [w for _, w in jobs[1]["styles"]] == [0.4]
    assert not seen.finished[1].changed_during_run


def test_start_needs_a_photo_a_painting_and_a_weight(fake_worker, jobs):
    run = StyleRun(fake_worker)
    refused = []
    run.refused.connect(refused.append)
    run.add_painting()
    assert not run.ready() and run.start() is None
    run.set_photo(_loaded("beach.png"))
    assert not run.ready()
    run.set_painting(0, _loaded("starry.png"))
    run.set_weight(0, 0.0)
    assert run.ready() and run.start() is None
    assert "weight above 0" in refused[0]
    assert fake_worker.jobs == []


def test_opened_images_fill_the_photo_then_the_paintings(fake_worker):
    run = StyleRun(fake_worker)
    run.add_painting()
    run.take_image(_loaded("photo.png"))
    for i in range(MAX_STYLES + 1):
        run.take_image(_loaded(f"p{i}.png"))
    assert run.photo.path.name == "photo.png"
    assert [p.name for p in run.paintings] == ["p0.png", "p1.png", "p2.png", "p4.png"]  # the last is replaced
    assert run.add_painting() is None
    run.remove_painting(1)
    assert [p.name for p in run.paintings] == ["p0.png", "p2.png", "p4.png"]


def test_a_saved_png_brings_back_its_settings_and_weights_by_painting_name(run):
    run.add_painting(_loaded("waves.png"))
    made = run.settings().replace(seed=1234, steps=9)
    png = {
        "panel": "Style Transfer",
        STYLE_KEY: {**made.to_dict(), "styles": ["waves.png", "lost.png"], "style_weights": [0.25, 0.75]},
    }
    restored = run.restore(_loaded("result.png", settings=png))
    assert restored is not None and run.result is restored
    assert run.settings() == made
    assert [p.weight for p in run.paintings] == [1.0, 0.25]
    assert restored.missing == ["lost.png"] and restored.name == "result.png"
    assert "panel" not in restored.png and restored.png[STYLE_KEY]["seed"] == 1234

    assert run.restore(_loaded("plain.png")) is None
    assert run.restore(_loaded("odd.png", settings={STYLE_KEY: {"size": -5}})) is None
    assert run.result is restored


# ----- the instant picture -------------------------------------------------------------------------
# These run the real instant style network on the fake worker's thread, on tiny images.


def _textured(name: str, seed: int, size=(48, 32)) -> LoadedImage:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    pixels[:, ::4] = (seed * 70 % 256, 30, 200 - seed * 40 % 200)  # stripes of the painting's own colour
    return LoadedImage(Image.fromarray(pixels), None, Path(name), "PNG", None)


def _instant_run(fake_worker, paintings=1) -> StyleRun:
    run = StyleRun(fake_worker)
    run.add_painting()
    run.set_photo(_textured("beach.png", 0))
    for i in range(paintings):
        run.take_image(_textured(f"painting{i + 1}.png", i + 1))
    return run


def _draw_newest(qtbot, fake_worker, run: StyleRun):
    """Wait for the throttled request to reach the slot, draw it, return the picture shown."""
    shown = []
    run.instantReady.connect(shown.append)
    qtbot.waitUntil(lambda: fake_worker.pending_render is not None)
    fake_worker.draw()
    run.instantReady.disconnect(shown.append)
    assert len(shown) == 1
    return shown[0]


def test_a_photo_and_a_painting_show_an_instant_picture_at_once(qtbot, fake_worker):
    run = _instant_run(fake_worker)
    outcome = _draw_newest(qtbot, fake_worker, run)
    assert outcome.kind == "instant" and run.result is outcome
    assert outcome.image.size == (48, 32)  # small photos are painted at their own size
    photo = np.asarray(run.photo.image, dtype=float)
    assert np.abs(np.asarray(outcome.image, dtype=float) - photo).mean() > 5  # painted, not the photo
    record = outcome.png[STYLE_KEY]["instant"]
    assert record["styles"] == ["painting1.png"] and record["weights"] == [1.0] and record["strength"] == 1.0
    assert outcome.png[STYLE_KEY]["content"] == "beach.png"
    assert outcome.name == "beach in the style of painting1.png"


def test_the_strength_changes_the_picture_and_only_the_network_runs(qtbot, fake_worker):
    run = _instant_run(fake_worker)
    full = _draw_newest(qtbot, fake_worker, run)
    made = run._painter.vectors_made
    run.set_strength(0.0)
    none = _draw_newest(qtbot, fake_worker, run)
    assert none.png[STYLE_KEY]["instant"]["strength"] == 0.0
    difference = np.abs(np.asarray(full.image, dtype=float) - np.asarray(none.image, dtype=float)).mean()
    assert difference > 3
    assert run._painter.vectors_made == made + 1  # the photo's own style, once
    run.set_strength(0.5)
    half = _draw_newest(qtbot, fake_worker, run)
    assert run._painter.vectors_made == made + 1  # dragging on: no new style vector
    assert half.image.tobytes() not in (full.image.tobytes(), none.image.tobytes())


def test_a_weight_with_two_paintings_repaints_without_new_style_vectors(qtbot, fake_worker):
    run = _instant_run(fake_worker, paintings=2)
    first = _draw_newest(qtbot, fake_worker, run)
    assert run._painter.vectors_made == 2
    run.set_weight(0, 0.2)
    second = _draw_newest(qtbot, fake_worker, run)
    assert run._painter.vectors_made == 2  # the blend and the network only
    assert second.png[STYLE_KEY]["instant"]["weights"] == [0.2, 1.0]
    assert first.image.tobytes() != second.image.tobytes()
    run.set_painting(1, _textured("painting3.png", 3))
    _draw_newest(qtbot, fake_worker, run)
    assert run._painter.vectors_made == 3  # only the new painting's


def test_nothing_is_painted_until_there_is_a_photo_and_a_weighted_painting(fake_worker, qtbot):
    run = StyleRun(fake_worker)
    run.add_painting()
    run.set_photo(_textured("beach.png", 0))
    run.set_weight(0, 0.0)
    run.set_painting(0, _textured("painting.png", 1))
    qtbot.wait(2 * 60)
    assert fake_worker.pending_render is None and run.result is None


def test_an_instant_png_round_trip_brings_back_strength_and_weights(qtbot, fake_worker, tmp_path):
    from studio.files.images import load_image, save_png

    run = _instant_run(fake_worker, paintings=2)
    run.set_strength(0.35)
    run.set_weight(1, 0.6)
    outcome = _draw_newest(qtbot, fake_worker, run)
    path = save_png(tmp_path / "instant.png", outcome.image, {"panel": "Style Transfer", **outcome.png})

    other = _instant_run(fake_worker, paintings=2)
    fake_worker.pending_render = None
    restored = other.restore(load_image(path))
    assert restored is not None and restored.kind == "instant"
    assert other.strength == pytest.approx(0.35)
    assert [p.weight for p in other.paintings] == [1.0, pytest.approx(0.6)]
    qtbot.wait(2 * 60)
    assert fake_worker.pending_render is None  # the PNG's picture stays on screen
    assert other.result is restored


def test_a_refined_png_brings_back_its_strength(run):
    made = run.settings()
    png = {STYLE_KEY: {**made.to_dict(), "init": "instant", "strength": 0.25, "styles": ["starry night.png"]}}
    restored = run.restore(_loaded("refined.png", settings=png))
    assert restored is not None and restored.kind == "refined"
    assert run.strength == 0.25 and run.settings() == made


def test_saving_an_instant_picture_paints_it_at_the_photos_size(qtbot, fake_worker, tmp_path):
    from studio.files.images import read_png_settings

    run = StyleRun(fake_worker)
    run.add_painting()
    run.set_photo(_textured("big.png", 0, size=(640, 400)))
    run.take_image(_textured("painting.png", 1))
    shown = _draw_newest(qtbot, fake_worker, run)
    assert shown.image.size == (512, 320)  # the live picture is the display size
    saved = []
    run.saved.connect(saved.append)
    assert run.save_full_size(tmp_path / "out.png", {"panel": "Style Transfer"}) is not None
    fake_worker.run()
    assert saved == [tmp_path / "out.png"]
    with Image.open(saved[0]) as written:
        assert written.size == (640, 400)
    png = read_png_settings(saved[0])
    assert png["panel"] == "Style Transfer" and png[STYLE_KEY]["instant"]["size"] == [640, 400]
    # The finished save's link deletes itself later: let it, while the run that owns it lives.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_a_built_in_style_from_the_gallery_is_a_painting(qtbot, fake_worker, tmp_path, monkeypatch):
    import sys
    import types
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class BuiltinStyle:
        index: int
        name: str

    made = []
    fake = types.ModuleType("studio.engine.style.builtin")
    fake.BUILTIN_STYLES = (BuiltinStyle(0, "Blue waves"), BuiltinStyle(1, "Red mosaic"))
    for style in fake.BUILTIN_STYLES:
        _textured("x.png", style.index + 5, (32, 32)).image.save(tmp_path / f"{style.index}.png")
    fake.thumbnail_path = lambda index: tmp_path / f"{index}.png"

    def builtin_style_image(index, device="cpu"):
        made.append(index)
        return _textured("style.png", index + 5, (64, 64)).image

    fake.builtin_style_image = builtin_style_image
    monkeypatch.setitem(sys.modules, "studio.engine.style.builtin", fake)

    run = StyleRun(fake_worker)
    run.add_painting()
    run.set_photo(_textured("beach.png", 0))
    fake_worker.pending_render = None
    run.load_gallery()
    fake_worker.draw()
    assert [(e.index, e.name) for e in run.gallery] == [(0, "Blue waves"), (1, "Red mosaic")]
    assert run.add_builtin(1) == 0
    assert run.paintings[0].name == "Red mosaic" and run.paintings[0].builtin == 1
    outcome = _draw_newest(qtbot, fake_worker, run)
    assert made == [1]  # fetched on the worker, once
    assert outcome.png[STYLE_KEY]["instant"]["styles"] == ["Red mosaic"]
    assert outcome.name == "beach in the style of Red mosaic.png"


# ----- how long a Refine takes ---------------------------------------------------------------------


def _preset_texts(panel: StylePanel) -> dict[str, str]:
    return {name: button.text() for name, button in panel.form.presets.buttons.items()}


def test_every_preset_shows_its_time_and_a_run_measures_this_machines_speed(qtbot, fake_worker, monkeypatch):
    from studio.spec.style_settings import PRESETS
    from studio.spec.style_speed import FIRST_GUESS_S_PER_STEP_MP, duration_text

    def timed(content, styles, settings, device):
        # 5 steps at 1000 × 500 px (2.5 step-megapixels) in 5 s: 2 s per step per megapixel.
        yield StyleProgress(0.5, "step", None, step=1, total_steps=5, losses={"total": 1.0})
        history = [{"scale": 0, "total": 1.0}] * 5
        return StyleResult(Image.new("RGB", (1000, 500)), settings.to_dict(), history, [(1000, 500)], 5.0, False, "cpu")

    monkeypatch.setattr(transfer, "stylize_job", timed)
    panel = StylePanel(fake_worker)
    qtbot.addWidget(panel)
    # Before any run: every quality shows a first guess, and says so.
    before = _preset_texts(panel)
    for name, text in before.items():
        # "Quick · 256 px" over "~20 s": the result's size, then the time.
        size_line, time_line = text.split("\n")
        assert size_line.endswith(f" · {PRESETS[name].size} px"), text
        assert time_line.startswith("~") and time_line.endswith((" s", " min", " h")), text
        assert "first guess" in panel.form.presets.buttons[name].toolTip()
    assert "about" in panel.form.summary.text()
    seconds, measured = panel.run.estimate(PRESETS["balanced"])
    assert not measured and seconds > 30  # conservative: a 2-core CPU
    assert seconds == pytest.approx(FIRST_GUESS_S_PER_STEP_MP * 60 * 512 * 384 / 1e6)

    panel.accept_image(_loaded("beach.png"))  # 24 × 16: a 3:2 photo
    panel.accept_image(_loaded("starry night.png", (200, 60, 30)))
    panel.start()
    fake_worker.run()
    assert panel.run.result is not None

    # After it: steps × pixels of each preset (on this photo's shape) at 2 s per step-megapixel.
    for name, preset in PRESETS.items():
        short = round(preset.size * 16 / 24)
        expected = 2.0 * preset.steps * preset.size * short / 1e6
        seconds, measured = panel.run.estimate(preset)
        assert measured and seconds == pytest.approx(expected)
        button = panel.form.presets.buttons[name]
        assert duration_text(expected).removeprefix("about ") in button.text()
        assert "measured" in button.toolTip()
    quick, best = panel.run.estimate(PRESETS["preview"])[0], panel.run.estimate(PRESETS["high"])[0]
    assert best / quick == pytest.approx((150 * 1024 * 683) / (30 * 256 * 171))
    assert _preset_texts(panel) != before

    # Remembered across restarts: a new panel (same prefs) shows the measured times at once.
    again = StylePanel(fake_worker)
    qtbot.addWidget(again)
    assert again.run.speed() == (pytest.approx(2.0), True)
    assert "measured" in again.form.presets.buttons["balanced"].toolTip()
    assert again.run.estimate(PRESETS["balanced"])[0] == pytest.approx(2.0 * 60 * 512 * 384 / 1e6)
