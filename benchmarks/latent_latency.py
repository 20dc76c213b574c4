"""Slider to picture: how soon does the Latent Explorer show what a slider drag asks for?

Opens the real main window (offscreen unless QT_QPA_PLATFORM says otherwise) with its worker,
loads each model the way the model picker does, then drags the first direction slider: a
mouse press on its handle (what starts a drag for the panel's press watcher and the undo
stack), the handle moved along a smooth sine at ``--hz`` for ``--seconds`` by a Qt timer (as a
mouse move does: ``setSliderPosition`` on the slider), then a mouse release. The event loop
runs normally throughout; nothing calls processEvents.

Measured at the panel's display point, not at the worker:

* a *change* is a slider move that changed the explorer's state (moves below the slider's
  0.01 grid are not moves, and change nothing);
* a *frame* is a paint of the panel's image view showing an image it was given since its last
  paint (the panel's ``imageChanged``, right after ``view.set_image``, tells which state that
  image shows);
* the latency of change *i* is the time from the slider move to the first frame showing the
  state of change *i* or of a later change (newest-wins rendering: a picture of a later value
  also answers an earlier move). Changes whose own picture was never shown (superseded before
  they were rendered) are counted as ``dropped``; their latency is still defined, and the
  figures are given both over all changes and over the changes whose own picture was shown.

Prints one JSON object: per model the latency p50/p95/max in ms, renders requested and done,
frames shown, and how long after the release the final value's picture appeared; plus the
machine (CPU count, torch threads on the worker, load average). Goal on a 2-core CPU: p95 and
the final frame both within 16 ms (one frame at 60 Hz).

    python benchmarks/latent_latency.py                     # every bundled model
    python benchmarks/latent_latency.py --synthetic --seconds 2   # untrained default models
    python benchmarks/latent_latency.py --model "Emoji GAN" --threads 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

GOAL_MS = 16.0
LOAD_TIMEOUT_S = 300.0
FINAL_FRAME_TIMEOUT_S = 30.0
SETTLE_S = 0.3

LATENCY_DEFINITION = (
    "change = a slider move that changed the explorer's state; frame = a paint of the panel's image "
    "view showing a newly set image; latency of a change = time from the move to the first frame "
    "showing that change's state or a later change's (newest-wins). dropped = changes whose own state "
    "was never shown (superseded before rendering). latency_ms covers every change a frame answered; "
    "latency_ms_own_shown only changes whose own state was shown. Percentiles: numpy linear."
)


_TRUE_PADDING: list[bool] = []


def guard_emit_refcount_bug() -> bool:
    """Work around a PySide6 bug that loses a reference to ``True`` on every ``Signal.emit``.

    Seen with PySide6 6.12.0 on CPython 3.11 (True is immortal from 3.12 on, where it is
    harmless): each emit from Python drops one reference to ``True``, and the process aborts
    with "bool_dealloc: deallocating True or False" once the count reaches zero. A drag emits
    about thirty signals per move (each of the sixteen slider rows is updated), so a few
    seconds at 120 Hz are enough. Holding a million extra references (8 MB) lets the
    benchmark finish; it changes no timing. pyproject.toml excludes that release; this guard
    covers an environment that has it anyway. Returns whether the bug was found.
    """
    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        fired = Signal()

    probe = Probe()
    before = sys.getrefcount(True)
    for _ in range(10):
        probe.fired.emit()
    lost = sys.getrefcount(True) < before
    if lost:
        _TRUE_PADDING.extend([True] * 1_000_000)
    return lost


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="a model's name or file stem, repeatable (default: every bundled model)",
    )
    parser.add_argument(
        "--library",
        action="store_true",
        help="also the models in the user's library (LATENT_STUDIO_HOME, else the platform's data folder)",
    )
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="untrained default-config models (a VAE, a 9-class GAN) in a temporary library, "
        "to check the benchmark without trained models; these are then the ones measured",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the drag (default 5)")
    parser.add_argument("--hz", type=float, default=120.0, help="slider moves per second (default 120)")
    parser.add_argument(
        "--sweep-hz", type=float, default=0.5, help="frequency of the sine the handle follows (default 0.5)"
    )
    parser.add_argument(
        "--amplitude", type=float, default=1.5, help="σ either side of where the handle starts (default 1.5)"
    )
    parser.add_argument(
        "--threads", type=int, help="torch intra-op threads on the worker (torch.set_num_threads in a render call)"
    )
    parser.add_argument(
        "--device", default="auto", help="compute device as the app takes it: auto (default), cpu, cuda, mps"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.hz <= 0:
        parser.error("--seconds and --hz must be positive")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def _percentiles(values_ms: list[float]) -> dict[str, float | None]:
    import numpy as np

    if not values_ms:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    p50, p95 = np.percentile(values_ms, [50, 95])
    return {
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "max": round(max(values_ms), 2),
        "n": len(values_ms),
    }


def change_latencies(changes: list[float], frames: list[tuple[float, int]]) -> list[float | None]:
    """Seconds from each change to the first frame showing it or a later change (None: never).

    ``frames`` are (time, change index shown) in time order; -1 marks a picture from before the drag.
    """
    running = list(itertools.accumulate((index for _, index in frames), max))
    latencies: list[float | None] = []
    position = 0
    for i, t_change in enumerate(changes):
        while position < len(frames) and running[position] < i:
            position += 1
        latencies.append(frames[position][0] - t_change if position < len(frames) else None)
    return latencies


def make_synthetic_models(folder: Path) -> list[Path]:
    import torch

    from studio.engine.models import VAE, Generator
    from studio.engine.models.store import save_generative_model
    from studio.spec.models import GANConfig, VAEConfig

    torch.manual_seed(0)
    return [
        save_generative_model(
            folder / "synthetic-vae.safetensors",
            VAE(VAEConfig()).eval(),
            {"name": "Synthetic VAE (untrained, default config)"},
        ),
        save_generative_model(
            folder / "synthetic-gan.safetensors",
            Generator(GANConfig(num_classes=9)).eval(),
            {"name": "Synthetic GAN (untrained, default config, 9 classes)"},
        ),
    ]


def choose_models(models, args, synthetic: list[Path]) -> tuple[list, list[str]]:
    """The models to measure, and the names asked for that are not installed."""
    if args.model:
        wanted = {name.casefold(): name for name in args.model}
        chosen = [m for m in models if m.name.casefold() in wanted or m.path.stem.casefold() in wanted]
        found = {m.name.casefold() for m in chosen} | {m.path.stem.casefold() for m in chosen}
        return chosen, [name for key, name in wanted.items() if key not in found]
    if synthetic:
        return [m for m in models if m.path in synthetic], []
    return [m for m in models if m.origin == "bundled" or (args.library and m.origin == "library")], []


class Bench:
    """The window, its worker and the explorer panel, driven as an artist would drive them."""

    def __init__(self, args: argparse.Namespace) -> None:
        from PySide6.QtWidgets import QApplication

        from studio import APP_NAME, ORG_NAME
        from studio.services.settings import Settings
        from studio.services.worker import Worker
        from studio.ui.main_window import MainWindow
        from studio.ui.panels.latent_panel import LatentPanel

        self.args = args
        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        self.app.setApplicationName(APP_NAME)
        self.app.setOrganizationName(ORG_NAME)
        self.worker = Worker(device_preference=args.device)
        self.startup_error: str | None = None
        self.worker.startupFailed.connect(self._on_startup_failed)
        self.window = MainWindow(self.worker, Settings(), confirm_quit=lambda *_: True)
        self.panel = next(p for p in self.window.panels if isinstance(p, LatentPanel))
        self.last_error: str | None = None
        self.panel.explorer.errorOccurred.connect(self._on_error)

    def _on_startup_failed(self, message: str) -> None:
        self.startup_error = message

    def _on_error(self, message: str) -> None:
        self.last_error = message

    # ----- waiting, with the event loop running -----------------------------------------------
    @staticmethod
    def wait_until(condition, timeout_s: float, poll_ms: int = 10) -> bool:
        from PySide6.QtCore import QEventLoop, QTimer

        if condition():
            return True
        loop = QEventLoop()
        poll = QTimer()
        poll.setInterval(poll_ms)
        poll.timeout.connect(lambda: condition() and loop.quit())
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        poll.start()
        deadline.start(int(timeout_s * 1000))
        loop.exec()
        poll.stop()
        deadline.stop()
        return bool(condition())

    def pause(self, seconds: float) -> None:
        self.wait_until(lambda: False, seconds, poll_ms=max(1, int(seconds * 1000)))

    def on_worker(self, fn, timeout_s: float = 60.0):
        """Run ``fn()`` on the worker thread through its render slot; return its result."""
        from studio.ui.latent.render_channel import RenderChannel

        channel = RenderChannel(self.worker)
        box: dict[str, object] = {}
        channel.done.connect(lambda result: box.setdefault("result", result))
        channel.failed.connect(lambda message: box.setdefault("error", message))
        channel.request(lambda _device: fn())
        self.wait_until(lambda: bool(box), timeout_s)
        channel.deleteLater()
        if "error" in box or "result" not in box:
            raise RuntimeError(f"worker call failed: {box.get('error', 'timed out')}")
        return box["result"]

    # ----- start-up ---------------------------------------------------------------------------
    def start(self) -> dict:
        self.window.tabs.setCurrentWidget(self.panel)  # the artist is on the explorer tab
        self.window.show()  # the panel lists the models and starts loading one, as on launch
        self.worker.start()
        if not self.wait_until(lambda: self.worker.device is not None or self.startup_error is not None, 180):
            raise RuntimeError("the worker did not start within 180 s")
        if self.startup_error is not None:
            raise RuntimeError(self.startup_error)

        def threads():
            import torch

            return torch.get_num_threads()

        info = {"default_in_worker": self.on_worker(threads)}
        if self.args.threads is not None:
            wanted = self.args.threads

            def set_threads():
                import torch

                torch.set_num_threads(wanted)
                return torch.get_num_threads()

            info["used"] = self.on_worker(set_threads)
            info["method"] = "torch.set_num_threads inside a worker render call"
        else:
            info["used"] = info["default_in_worker"]
            info["method"] = "torch default (not set)"
        info["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS")
        return info

    def load(self, info) -> None:
        """Choose ``info`` in the model picker, as an artist would, and wait until it is shown."""
        e = self.panel.explorer
        self.last_error = None
        index = next(i for i, m in enumerate(e.models) if m.path == info.path)
        loading_it = e.loading and self.panel.model_combo.currentIndex() == index  # the panel's first load
        if not loading_it and (e.info is None or e.info.path != info.path or e.loading):
            self.panel.model_combo.setCurrentIndex(index)
            self.panel.model_combo.activated.emit(index)

        def shown() -> bool:
            return (
                not e.loading
                and e.info is not None
                and e.info.path == info.path
                and e.state is not None
                and e.shown_state == e.state
                and self.panel.view.image() is e.qimage
            )

        if not self.wait_until(lambda: shown() or (self.last_error is not None and not e.loading), LOAD_TIMEOUT_S):
            raise RuntimeError(f"{info.name} did not load within {LOAD_TIMEOUT_S:.0f} s")
        if not shown():
            raise RuntimeError(f"{info.name} did not load: {self.last_error}")
        self.pause(SETTLE_S)  # its first picture painted, the sliders laid out

    def close(self) -> None:
        self.window.close()  # saves settings, shuts the worker down and joins it
        self.worker.shutdown()


class Drag:
    """One press-sweep-release of a direction slider, timed at the panel's display point."""

    def __init__(self, bench: Bench, seconds: float, hz: float, sweep_hz: float, amplitude: float) -> None:
        from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer
        from PySide6.QtWidgets import QSlider

        self.bench = bench
        self.panel = bench.panel
        self.explorer = bench.panel.explorer
        self.seconds, self.hz, self.sweep_hz, self.amplitude = seconds, hz, sweep_hz, amplitude
        self.outer = self.panel.sliders.sliders[0]
        self.slider = self.outer.findChild(QSlider)  # the one the panel's press watcher is on
        self.changes: list[float] = []  # t of each change (perf_counter, s)
        self.state_index: dict[object, int] = {}  # state -> latest change that asked for it
        self.sets: list[tuple[float, int]] = []  # panel.imageChanged: (t, change index shown)
        self.frames: list[tuple[float, int]] = []  # paints of a newly set image: (t, change index)
        self.cache_hits = 0  # changes shown at once from the explorer's picture cache
        self.worker_results = 0
        self.ticks = 0
        self._tick_t: float | None = None  # set while a slider move is being delivered
        self._set_image = None
        self._set_index = -1
        self._painted = True
        self.t_release: float | None = None
        self._k = 0

        class PaintWatcher(QObject):
            def eventFilter(inner_self, watched, event):  # noqa: N805 - Qt's name
                from PySide6.QtCore import QEvent

                if event.type() == QEvent.Type.Paint:
                    self._on_paint()
                return False

        self._watcher = PaintWatcher()
        self._loop = QEventLoop()
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._deadline = QTimer()
        self._deadline.setSingleShot(True)
        self._deadline.timeout.connect(self._loop.quit)

    # ----- hooks --------------------------------------------------------------------------------
    def _on_state_changed(self, state) -> None:
        if self._tick_t is None:
            return
        self.state_index[state] = len(self.changes)
        self.changes.append(self._tick_t)

    def _on_image_set(self) -> None:
        t = time.perf_counter()
        e, view = self.explorer, self.panel.view
        index = self.state_index.get(e.shown_state, -1) if view.image() is e.qimage else -1
        if self._tick_t is not None:
            self.cache_hits += 1
        self.sets.append((t, index))
        self._set_image, self._set_index, self._painted = view.image(), index, False

    def _on_paint(self) -> None:
        if self._painted or self.panel.view.image() is not self._set_image:
            return
        self._painted = True
        self.frames.append((time.perf_counter(), self._set_index))
        if self.t_release is not None and self._final_shown():
            self._loop.quit()

    def _on_worker_result(self, *_args) -> None:
        self.worker_results += 1

    def _final_shown(self) -> bool:
        last = len(self.changes) - 1
        return any(index >= last for _, index in self.frames)

    # ----- the drag -----------------------------------------------------------------------------
    def _handle_centre(self):
        from PySide6.QtWidgets import QStyle, QStyleOptionSlider

        option = QStyleOptionSlider()
        self.slider.initStyleOption(option)
        rect = self.slider.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self.slider
        )
        return rect.center()

    def _move(self, t: float, action) -> None:
        self._tick_t = t
        try:
            action()
        finally:
            self._tick_t = None

    def _schedule(self) -> None:
        now = time.perf_counter() - self.t0
        # The next tick on the hz grid; a tick missed under load is skipped, as a mouse's would be.
        self._k = max(self._k + 1, math.floor(now * self.hz) + 1)
        self._timer.start(max(0, round((self._k / self.hz - now) * 1000)))

    def _tick(self) -> None:
        t = time.perf_counter()
        elapsed = t - self.t0
        if elapsed >= self.seconds:
            self._release()
            return
        low, high = self.slider.minimum(), self.slider.maximum()
        value = self.v0 + self.amplitude * math.sin(2 * math.pi * self.sweep_hz * elapsed)
        value = round(min(high, max(low, value)), 2)
        self._move(t, lambda: self.slider.setSliderPosition(value))  # what a mouse move does
        self.ticks += 1
        self._schedule()

    def _release(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        self.t_release = time.perf_counter()
        self._move(
            self.t_release,
            lambda: QTest.mouseRelease(
                self.slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, self._handle_centre()
            ),
        )
        if self._final_shown():
            self._loop.quit()

    def run(self) -> dict:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        e, panel, worker = self.explorer, self.panel, self.bench.worker
        requests0, renders0, stamp0 = e.preview.requests, e.preview.renders, worker.latest_stamp
        e.stateChanged.connect(self._on_state_changed)
        panel.imageChanged.connect(self._on_image_set)
        worker.renderDone.connect(self._on_worker_result)
        panel.view.installEventFilter(self._watcher)
        drag_serial = panel._drag_serial
        try:
            t_press = time.perf_counter()
            self._move(
                t_press,
                lambda: QTest.mousePress(
                    self.slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, self._handle_centre()
                ),
            )
            pressed = self.slider.isSliderDown() and panel._drag_serial != drag_serial
            self.v0 = self.slider.value()
            self.t0 = time.perf_counter()
            self._schedule()
            self._deadline.start(int((self.seconds + FINAL_FRAME_TIMEOUT_S) * 1000))
            self._loop.exec()
            self._timer.stop()
            self._deadline.stop()
            if self.t_release is None:  # the deadline passed mid-drag: still let go of the handle
                self._release()
        finally:
            panel.view.removeEventFilter(self._watcher)
            worker.renderDone.disconnect(self._on_worker_result)
            panel.imageChanged.disconnect(self._on_image_set)
            e.stateChanged.disconnect(self._on_state_changed)
        return self._report(
            pressed=pressed,
            requests=e.preview.requests - requests0,
            renders=e.preview.renders - renders0,
            stamps=worker.latest_stamp - stamp0,
        )

    def _report(self, *, pressed: bool, requests: int, renders: int, stamps: int) -> dict:
        frames = self.frames if self.frames else self.sets  # no paints (a hidden view): the set_image time
        latencies = change_latencies(self.changes, frames)
        own = {index for _, index in frames}
        answered = [(i, lat) for i, lat in enumerate(latencies) if lat is not None]
        all_ms = [lat * 1000 for _, lat in answered]
        own_ms = [lat * 1000 for i, lat in answered if i in own]
        set_ms = [lat * 1000 for lat in change_latencies(self.changes, self.sets) if lat is not None]
        final_ms, before_release = None, None
        if self.changes:
            last = len(self.changes) - 1
            t_final = next((t for t, index in frames if index >= last), None)
            if t_final is not None and self.t_release is not None:
                before_release = t_final <= self.t_release
                final_ms = round(max(0.0, t_final - self.t_release) * 1000, 2)
        latency = _percentiles(all_ms)
        drag_s = (self.t_release or time.perf_counter()) - self.t0
        return {
            "changes": len(self.changes),
            "ticks": self.ticks,
            "tick_rate_hz": round(self.ticks / drag_s, 1) if drag_s > 0 else None,
            "press_started_drag": pressed,
            "renders_requested": requests,
            "renders_done": renders,
            "worker_renders_run": self.worker_results,
            "worker_stamps_issued": stamps,
            "cache_hits": self.cache_hits,
            "shown_frames": len(self.frames),
            "images_set": len(self.sets),
            "display_point": "paint of the image view" if self.frames else "view.set_image (no paint seen)",
            "dropped": len(self.changes) - len([i for i in range(len(self.changes)) if i in own]),
            "unanswered": len(self.changes) - len(answered),
            "latency_ms": latency,
            "latency_ms_own_shown": _percentiles(own_ms),
            "latency_to_set_image_ms": _percentiles(set_ms),
            "final_frame_after_release_ms": final_ms,
            "final_frame_shown_before_release": before_release,
            "goal_p95_ms": GOAL_MS,
            "goal_met": (
                latency["p95"] is not None
                and latency["p95"] <= GOAL_MS
                and final_ms is not None
                and final_ms <= GOAL_MS
            ),
        }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    load_start = os.getloadavg()
    from studio.files.paths import HOME_ENV, models_dir

    temporary = None
    if args.synthetic or not (args.library or os.environ.get(HOME_ENV)):
        # Settings, bookmarks and the library of this run stay out of the user's folders.
        temporary = tempfile.TemporaryDirectory(prefix="studio-latency-", ignore_cleanup_errors=True)
        os.environ[HOME_ENV] = temporary.name
    synthetic = make_synthetic_models(models_dir()) if args.synthetic else []

    result: dict = {
        "benchmark": "latent_slider_latency",
        "latency_definition": LATENCY_DEFINITION,
        "drag": {
            "seconds": args.seconds,
            "hz": args.hz,
            "sweep_hz": args.sweep_hz,
            "amplitude_sigma": args.amplitude,
            "slider": "first direction slider (most influential)",
            "input": (
                "QTest mouse press on its handle, setSliderPosition per tick from a PreciseTimer, QTest mouse release"
            ),
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "load_average_start": [round(v, 2) for v in load_start],
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": _version("torch"),
            "PySide6": _version("PySide6"),
            "qt_platform": os.environ.get("QT_QPA_PLATFORM"),
        },
        "models": [],
    }
    result["machine"]["pyside_emit_loses_true_reference"] = guard_emit_refcount_bug()
    bench = Bench(args)
    code = 0
    try:
        result["machine"]["torch_threads"] = bench.start()
        result["machine"]["device"] = bench.worker.device.label
        chosen, missing = choose_models(bench.panel.explorer.refresh_models(), args, synthetic)
        if missing:
            result["missing_models"] = missing
            code = 1
        if not chosen:
            result["error"] = (
                "no model to measure (bundled models: resources/models; try --library, --model or --synthetic)"
            )
            code = 1
        for info in chosen:
            entry: dict = {"model": info.name, "origin": info.origin, "file": info.path.name}
            try:
                started = time.perf_counter()
                bench.load(info)
                model = bench.panel.explorer.model
                entry.update(
                    {
                        "kind": model.kind,
                        "classes": len(model.class_names),
                        "latent_dim": model.latent_dim,
                        "image_size": model.image_size,
                        "direction": (
                            f"{bench.panel.explorer.directions.labels[0]} ({bench.panel.explorer.directions.method})"
                        ),
                        "load_s": round(time.perf_counter() - started, 2),
                        "seconds": args.seconds,
                        "hz": args.hz,
                    }
                )
                entry.update(Drag(bench, args.seconds, args.hz, args.sweep_hz, args.amplitude).run())
                bench.pause(SETTLE_S)
            except Exception as exc:  # noqa: BLE001 - one model's failure is reported, the others still run
                entry["error"] = f"{type(exc).__name__}: {exc}"
                code = 1
            result["models"].append(entry)
    except Exception as exc:  # noqa: BLE001 - reported in the JSON
        result["error"] = f"{type(exc).__name__}: {exc}"
        code = 1
    finally:
        result["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
        bench.close()
    result["all_goals_met"] = bool(result["models"]) and all(m.get("goal_met") for m in result["models"])
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if temporary is not None:
        temporary.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
