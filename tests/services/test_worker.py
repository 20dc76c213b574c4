"""The worker thread: render slot, job queue, failures and shutdown."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from studio.engine.devices import DeviceInfo
from studio.engine.jobs import JobCancelled, Progress
from studio.services.worker import THREAD_NAME, Worker

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

READY_MS = 60_000  # The first worker imports torch.
WAIT_MS = 10_000
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(qtbot) -> Iterator[Worker]:
    w = Worker("cpu")
    with qtbot.waitSignal(w.ready, raising=True, timeout=READY_MS):
        w.start()
    yield w
    assert w.shutdown(timeout=10)


def endless(seen_cancel: threading.Event | None = None, finished: threading.Event | None = None):
    """A factory for a job that never ends by itself."""

    def factory(device: DeviceInfo) -> Generator[Progress, None, None]:
        try:
            step = 0
            while True:
                step += 1
                yield Progress(None, f"step {step}")
                time.sleep(0.002)
        except JobCancelled:
            if seen_cancel is not None:
                seen_cancel.set()
            raise
        finally:
            if finished is not None:
                finished.set()

    return factory


def counted(steps: int, delay: float = 0.002, result: object = "done"):
    def factory(device: DeviceInfo) -> Generator[Progress, None, object]:
        for i in range(steps):
            time.sleep(delay)
            yield Progress((i + 1) / steps, f"{i + 1}/{steps}")
        return result

    return factory


def test_ready_runs_on_the_worker_thread_and_signals_arrive_on_the_gui_thread(qtbot, worker):
    assert isinstance(worker.device, DeviceInfo)
    assert worker.device.kind == "cpu"
    receivers: list[threading.Thread] = []
    worker.renderDone.connect(lambda stamp, result: receivers.append(threading.current_thread()))
    with qtbot.waitSignal(worker.renderDone, raising=True, timeout=WAIT_MS) as blocker:
        worker.request_render(lambda device: threading.current_thread())
    assert blocker.args[1].name == THREAD_NAME
    assert receivers == [threading.main_thread()]


def test_a_render_requested_before_ready_waits_for_the_device(qtbot):
    w = Worker("cpu")
    try:
        stamp = w.request_render(lambda device: device.kind)
        with qtbot.waitSignal(w.renderDone, raising=True, timeout=READY_MS) as blocker:
            w.start()
        assert blocker.args == [stamp, "cpu"]
    finally:
        assert w.shutdown()


def test_a_failed_startup_is_reported_and_work_fails_readably(qtbot, monkeypatch):
    def no_device(preference: str | None) -> DeviceInfo:
        raise OSError("libtorch_cuda.so: cannot open shared object file")

    monkeypatch.setattr("studio.services.worker.select_device", no_device)
    w = Worker()
    try:
        with qtbot.waitSignal(w.startupFailed, raising=True, timeout=WAIT_MS) as blocker:
            w.start()
        # An OSError's text is written for people: shown without the class name.
        assert blocker.args[0] == "No compute device: libtorch_cuda.so: cannot open shared object file"
        assert w.device is None
        with qtbot.waitSignal(w.jobFailed, raising=True, timeout=WAIT_MS) as blocker:
            job_id = w.submit("Style", counted(3))
        assert blocker.args[0] == job_id
        assert blocker.args[1] == "Style failed: No compute device: libtorch_cuda.so: cannot open shared object file"
        with qtbot.waitSignal(w.renderFailed, raising=True, timeout=WAIT_MS):
            w.request_render(lambda device: None)
    finally:
        assert w.shutdown()


def test_50_requests_while_busy_render_only_the_first_and_the_newest(qtbot, worker):
    gate = threading.Event()
    first_running = threading.Event()
    ran: list[int] = []
    emitted: list[tuple[int, object]] = []
    worker.renderDone.connect(lambda stamp, result: emitted.append((stamp, result)))

    def render(index: int):
        def fn(device: DeviceInfo) -> int:
            ran.append(index)
            if index == 0:
                first_running.set()
                gate.wait(WAIT_MS / 1000)
            return index

        return fn

    stamps = [worker.request_render(render(0))]
    assert first_running.wait(WAIT_MS / 1000)
    stamps += [worker.request_render(render(i)) for i in range(1, 50)]
    assert worker.latest_stamp == stamps[-1]
    with qtbot.waitSignal(
        worker.renderDone, raising=True, timeout=WAIT_MS, check_params_cb=lambda s, r: s == stamps[-1]
    ):
        gate.set()
    assert ran == [0, 49]
    assert emitted == [(stamps[0], 0), (stamps[-1], 49)]
    assert len(set(stamps)) == 50 and stamps == sorted(stamps)


def test_renders_are_served_between_the_steps_of_a_long_job(qtbot, worker):
    events: list[tuple[str, object]] = []
    worker.renderDone.connect(lambda stamp, result: events.append(("render", result)))
    worker.jobFinished.connect(lambda job_id, result: events.append(("finished", result)))
    with qtbot.waitSignal(worker.jobProgress, raising=True, timeout=WAIT_MS):
        job_id = worker.submit("Long", counted(300, delay=0.005))
    with qtbot.waitSignal(worker.renderDone, raising=True, timeout=WAIT_MS):
        worker.request_render(lambda device: "preview")
    assert worker.running_job() == (job_id, "Long")
    qtbot.waitUntil(lambda: len(events) == 2, timeout=WAIT_MS)
    assert events == [("render", "preview"), ("finished", "done")]
    assert not worker.has_active_jobs()


@pytest.mark.parametrize("returns_partial", [True, False])
def test_cancel_a_running_job(qtbot, worker, returns_partial):
    def factory(device: DeviceInfo) -> Generator[Progress, None, object]:
        best = 0
        try:
            while True:
                best += 1
                yield Progress(None, "working")
                time.sleep(0.002)
        except JobCancelled:
            if returns_partial:
                return f"best after {best}"
            raise

    with qtbot.waitSignal(worker.jobProgress, raising=True, timeout=WAIT_MS):
        job_id = worker.submit("Style", factory)
    with qtbot.waitSignal(worker.jobCancelled, raising=True, timeout=WAIT_MS) as blocker:
        worker.cancel()  # None: the running job
    cancelled_id, partial = blocker.args
    assert cancelled_id == job_id
    if returns_partial:
        assert isinstance(partial, str) and partial.startswith("best after ")
    else:
        assert partial is None
    assert worker.running_job() is None
    assert not worker.has_active_jobs()


def test_cancel_a_queued_job(qtbot, worker):
    started: list[int] = []
    worker.jobStarted.connect(lambda job_id, title: started.append(job_id))
    with qtbot.waitSignal(worker.jobProgress, raising=True, timeout=WAIT_MS):
        first = worker.submit("First", endless())
    second = worker.submit("Second", counted(3))
    with qtbot.waitSignal(worker.jobCancelled, raising=True, timeout=WAIT_MS) as blocker:
        worker.cancel(second)
    assert blocker.args == [second, None]
    assert worker.running_job() == (first, "First")
    with qtbot.waitSignal(worker.jobCancelled, raising=True, timeout=WAIT_MS) as blocker:
        worker.cancel(first)
    assert blocker.args == [first, None]
    assert started == [first]
    assert not worker.has_active_jobs()


def test_pause_stops_progress_renders_still_run_and_resume_finishes(qtbot, worker):
    progress: list[Progress] = []
    events: list[str] = []
    worker.jobProgress.connect(lambda job_id, p: progress.append(p))
    worker.jobResumed.connect(lambda job_id: events.append("resumed"))
    worker.jobFinished.connect(lambda job_id, result: events.append("finished"))
    with qtbot.waitSignal(worker.jobProgress, raising=True, timeout=WAIT_MS):
        job_id = worker.submit("Training", counted(500, delay=0.005))
    with qtbot.waitSignal(worker.jobPaused, raising=True, timeout=WAIT_MS) as blocker:
        worker.pause(job_id)
    assert blocker.args == [job_id]

    seen = len(progress)
    qtbot.wait(300)
    assert len(progress) == seen
    with qtbot.waitSignal(worker.renderDone, raising=True, timeout=WAIT_MS) as blocker:
        worker.request_render(lambda device: "while paused")
    assert blocker.args[1] == "while paused"
    assert len(progress) == seen
    assert worker.running_job() == (job_id, "Training")

    with qtbot.waitSignal(worker.jobFinished, raising=True, timeout=WAIT_MS) as blocker:
        worker.resume()  # None: the running job
    assert blocker.args == [job_id, "done"]
    assert events == ["resumed", "finished"]
    assert progress[-1].fraction == pytest.approx(1.0)


def test_a_failing_job_reports_a_readable_message_and_the_next_job_runs(qtbot, worker, caplog):
    def broken(device: DeviceInfo) -> Generator[Progress, None, None]:
        yield Progress(0.5, "half way")
        raise ValueError("the image has no pixels")

    with caplog.at_level(logging.ERROR, logger="studio.worker"):
        with qtbot.waitSignal(worker.jobFailed, raising=True, timeout=WAIT_MS) as blocker:
            job_id = worker.submit("Projection", broken)
    assert blocker.args == [job_id, "Projection failed: ValueError: the image has no pixels"]
    assert any(record.exc_info and record.exc_info[0] is ValueError for record in caplog.records)

    with qtbot.waitSignal(worker.jobFinished, raising=True, timeout=WAIT_MS) as blocker:
        next_id = worker.submit("Next", counted(3, result=42))
    assert blocker.args == [next_id, 42]


def test_a_failing_factory_is_reported(qtbot, worker):
    def factory(device: DeviceInfo) -> Generator[Progress, None, None]:
        raise RuntimeError("no model loaded")

    with qtbot.waitSignal(worker.jobFailed, raising=True, timeout=WAIT_MS) as blocker:
        job_id = worker.submit("Style", factory)
    assert blocker.args == [job_id, "Style failed: RuntimeError: no model loaded"]
    assert not worker.has_active_jobs()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            "save",
            "Style transfer failed: cannot write /x/out.png: read-only file system",
        ),
        (
            "model",
            "Style transfer failed: style.safetensors: corrupt or incomplete file (the header is cut short)",
        ),
        ("bug", "Style transfer failed: KeyError: 'content'"),
    ],
)
def test_the_studios_own_errors_reach_the_user_without_a_class_name(qtbot, worker, error, message):
    """SaveError and ModelFileError are written for the user; a KeyError is a bug and keeps its name."""
    import errno

    from studio.engine.checkpoints import ModelFileError
    from studio.files.atomic import save_error

    errors = {
        "save": save_error("/x/out.png", OSError(errno.EROFS, "Read-only file system")),
        "model": ModelFileError("style.safetensors: corrupt or incomplete file (the header is cut short)"),
        "bug": KeyError("content"),
    }

    def broken(device: DeviceInfo) -> Generator[Progress, None, None]:
        yield Progress(0.5, "half way")
        raise errors[error]

    with qtbot.waitSignal(worker.jobFailed, raising=True, timeout=WAIT_MS) as blocker:
        job_id = worker.submit("Style transfer", broken)
    assert blocker.args == [job_id, message]
    # The worker is still usable after it.
    with qtbot.waitSignal(worker.jobFinished, raising=True, timeout=WAIT_MS) as blocker:
        next_id = worker.submit("Next", counted(2, result="fine"))
    assert blocker.args == [next_id, "fine"]


def test_a_failing_render_is_reported(qtbot, worker):
    def fn(device: DeviceInfo) -> object:
        raise ZeroDivisionError("boom")

    with qtbot.waitSignal(worker.renderFailed, raising=True, timeout=WAIT_MS) as blocker:
        stamp = worker.request_render(fn)
    assert blocker.args[0] == stamp
    assert "ZeroDivisionError: boom" in blocker.args[1]
    with qtbot.waitSignal(worker.renderDone, raising=True, timeout=WAIT_MS):
        worker.request_render(lambda device: "fine")


@pytest.mark.parametrize("paused", [False, True])
def test_shutdown_with_a_running_job_stops_it_and_joins(qtbot, paused):
    w = Worker("cpu")
    with qtbot.waitSignal(w.ready, raising=True, timeout=READY_MS):
        w.start()
    with qtbot.waitSignal(w.renderDone, raising=True, timeout=WAIT_MS) as blocker:
        w.request_render(lambda device: threading.current_thread())
    thread: threading.Thread = blocker.args[1]
    seen_cancel = threading.Event()
    finished = threading.Event()
    with qtbot.waitSignal(w.jobProgress, raising=True, timeout=WAIT_MS):
        w.submit("Endless", endless(seen_cancel, finished))
    w.submit("Queued", counted(3))
    if paused:
        with qtbot.waitSignal(w.jobPaused, raising=True, timeout=WAIT_MS):
            w.pause()

    began = time.monotonic()
    assert w.shutdown(timeout=10)
    assert time.monotonic() - began < 2
    assert not thread.is_alive()
    assert seen_cancel.is_set() and finished.is_set()
    assert w.shutdown()  # Idempotent.


@pytest.mark.parametrize("how", ["shutdown", "quit"])
def test_quitting_a_process_with_a_running_job_exits_cleanly(how):
    # "quit" leaves the join to the aboutToQuit safety net.
    script = textwrap.dedent(
        f"""
        import sys
        from PySide6.QtCore import QCoreApplication, QTimer
        from studio.engine.jobs import Progress
        from studio.services.worker import Worker

        app = QCoreApplication(sys.argv)
        worker = Worker("cpu")

        def job(device):
            while True:
                yield Progress(None, "tick")

        handled = []

        def on_progress(job_id, progress):
            # Progress already queued is delivered even after a disconnect: act only once.
            if handled:
                return
            handled.append(job_id)
            if {how!r} == "shutdown":
                print("joined" if worker.shutdown(10) else "stuck", flush=True)
            app.quit()

        worker.jobProgress.connect(on_progress)
        worker.submit("Endless", job)
        worker.start()
        QTimer.singleShot(60000, lambda: app.exit(4))
        code = app.exec()
        print("alive" if worker.running_job() else "stopped", flush=True)
        sys.exit(code)
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "QThread: Destroyed" not in proc.stderr
    expected = ["joined", "stopped"] if how == "shutdown" else ["stopped"]
    assert proc.stdout.split() == expected
