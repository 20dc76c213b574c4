"""A JobLink delivers one job's outcome to the object that started it, and owns its failure."""

from PySide6.QtCore import QObject

from studio.engine.jobs import Progress
from studio.ui.job_link import JobLink


def _two_steps(device):
    yield Progress(0.5, "halfway")
    return "painted"


def _breaks(device):
    yield Progress(0.5, "halfway")
    raise ValueError("the brush broke")


def test_a_link_hears_only_its_own_job(fake_worker):
    owner = QObject()
    heard: list[object] = []
    JobLink(fake_worker, "Other", _two_steps, owner)
    link = JobLink(fake_worker, "Mine", _two_steps, owner, progress=heard.append, finished=heard.append)
    fake_worker.run(fake_worker.job("Other"))
    assert heard == []
    fake_worker.run(fake_worker.job("Mine"))
    assert [getattr(h, "message", h) for h in heard] == ["halfway", "painted"]
    assert not link.running


def test_a_link_with_a_failure_callback_owns_the_failure(fake_worker):
    owner = QObject()
    shown: list[str] = []
    unowned: list[str] = []
    fake_worker.unownedJobFailed.connect(lambda _id, message: unowned.append(message))
    JobLink(fake_worker, "Owned", _breaks, owner, failed=shown.append)
    fake_worker.run()
    assert len(shown) == 1 and "the brush broke" in shown[0]
    assert unowned == []
    JobLink(fake_worker, "Nobody's", _breaks, owner)
    fake_worker.run()
    assert len(unowned) == 1 and "the brush broke" in unowned[0]


def test_cancelling_through_the_link_reaches_the_job(fake_worker):
    owner = QObject()
    cancelled: list[object] = []
    link = JobLink(fake_worker, "Long", _two_steps, owner, cancelled=cancelled.append)
    fake_worker.step()
    link.cancel()
    assert cancelled == [None] and not link.running


def test_a_link_hears_when_its_job_is_really_held_and_resumed_whoever_asked(fake_worker):
    owner = QObject()
    heard: list[str] = []
    link = JobLink(
        fake_worker, "Long", _two_steps, owner, paused=lambda: heard.append("held"), resumed=lambda: heard.append("on")
    )
    fake_worker.step()
    fake_worker.pause(link.job_id)  # as the status bar's Pause button does, past the link
    assert heard == ["held"] and link.paused
    link.resume()
    assert heard == ["held", "on"] and not link.paused
