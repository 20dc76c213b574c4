"""``latent-studio --self-test``: the window opens, the worker starts torch, one job runs on
the device, the result is shown, a screenshot is saved if asked, and the app exits 0.

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
        panel = self.window.panels[0]
        self.window.tabs.setCurrentIndex(0)
        self.window.show_in_panel(panel, PanelImage(result["image"], {"job": "device check"}, "device-check.png"), "Device check")
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
