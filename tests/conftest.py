import os

# Tests never need a screen; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(autouse=True)
def studio_home(tmp_path, monkeypatch):
    """Point every user folder (settings, models, logs) at a fresh temporary folder."""
    home = tmp_path / "studio-home"
    monkeypatch.setenv("LATENT_STUDIO_HOME", str(home))
    monkeypatch.delenv("STUDIO_DEVICE", raising=False)
    return home


@pytest.fixture
def one_thread():
    """Tiny models on a shared two-core machine: one torch thread is faster and steadier."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def forget_networks():
    """Style networks are kept per process: forget them before and after a test, so it loads (and
    caches in its own user folder) its own, and no later test finds them already loaded."""
    from studio.engine.style import instant, multistyle

    instant.forget_loaded()
    multistyle.forget_loaded()
    yield
    instant.forget_loaded()
    multistyle.forget_loaded()


@pytest.fixture
def worker(qtbot):
    """The real worker on the CPU, started (its device is ready) and shut down after the test."""
    from studio.services.worker import Worker

    started = Worker(device_preference="cpu")
    with qtbot.waitSignal(started.ready, timeout=60_000, raising=True):
        started.start()
    yield started
    started.shutdown()
    _delete_finished_links()


@pytest.fixture
def fake_worker(qtbot):
    """A scriptable worker (tests/fake_worker.py): the test decides when renders and jobs run."""
    from tests.fake_worker import FakeWorker

    fake = FakeWorker()
    yield fake
    fake.shutdown()
    _delete_finished_links()


def _delete_finished_links():
    """A JobLink deletes itself later (deleteLater) when its job ends: let that happen now,
    while this test's objects live, not inside the next test's event loop, where it would
    reach objects Python has already freed."""
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
