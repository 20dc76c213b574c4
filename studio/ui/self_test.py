"""``latent-studio --self-test``: the window opens, the worker starts torch, one job runs on
the device, the Latent Explorer loads its first installed model and renders it (when a model
is installed), a screenshot is saved if asked, and the app exits 0.

Any failure (the engine not starting, the job failing, a timeout) exits non-zero with the reason.
Packaging runs this against the frozen app as its smoke test.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from studio.engine.devices import DeviceInfo
from studio.engine.selftest import device_check_job
from studio.services.worker import Worker
from studio.ui.main_window import MainWindow
from studio.ui.panels.base import PanelImage


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
        self._job_id: int | None = None
        self._timer = QTimer(self, singleShot=True, interval=int(timeout_s * 1000))
        self._timer.timeout.connect(lambda: self._fail(f"timed out after {timeout_s:.0f} s"))

    def _note(self, text: str) -> None:
        self.steps.append(f"[{time.perf_counter() - self._started:6.2f} s] {text}")

    def start(self) -> None:
        self._note("window shown" if self.window.isVisible() else "window not visible")
        self.worker.ready.connect(self._on_ready)
        self.worker.startupFailed.connect(lambda message: self._fail(f"compute engine failed to start: {message}"))
        self.worker.jobFinished.connect(self._on_job_finished)
        self.worker.jobFailed.connect(lambda _id, message: self._fail(f"job failed: {message}"))
        self._timer.start()

    @Slot(object)
    def _on_ready(self, device: DeviceInfo) -> None:
        self._note(f"torch ready on {device.label}")
        self._job_id = self.worker.submit("Device check", device_check_job)

    @Slot(int, object)
    def _on_job_finished(self, job_id: int, result: dict) -> None:
        if job_id != self._job_id:
            return
        self._note(f"device check ran in {result['seconds'] * 1000:.0f} ms on {result['device']}")
        explorer = self.window.latent_panel
        self.window.tabs.setCurrentIndex(self.window.panels.index(explorer))
        if not explorer.explorer.refresh_models():
            self._note("no latent model installed: showing the device check's image")
            self.window.show_in_panel(explorer, PanelImage(result["image"], {"job": "device check"}, "device-check.png"), "Device check")
            self._finish_with_screenshot()
            return
        explorer.start()
        if explorer.explorer.image is not None:
            self._on_explorer_image()
        else:
            explorer.explorer.imageReady.connect(self._on_explorer_image)
            explorer.explorer.errorOccurred.connect(lambda message: self._fail(f"the Latent Explorer failed: {message}"))

    @Slot()
    def _on_explorer_image(self) -> None:
        if self.exit_code == 0 or self.failure:
            return
        explorer = self.window.latent_panel.explorer
        image = explorer.image
        self._note(f"Latent Explorer rendered {explorer.info.name} ({image.width}x{image.height})")
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
