"""The status bar follows the running job: its progress, pause, resume and stop."""

from studio.engine.jobs import Progress
from studio.services.running_job import RunningJob


def _three_steps(device):
    for step in range(3):
        yield Progress((step + 1) / 3, f"step {step + 1}")
    return "done"


def test_the_running_job_reports_progress_and_takes_pause_and_stop(fake_worker):
    job = RunningJob(fake_worker)
    heard: list[tuple] = []
    job.started.connect(lambda title: heard.append(("started", title)))
    job.progressed.connect(lambda fraction, message: heard.append((round(fraction, 2), message)))
    job.pausedChanged.connect(lambda paused: heard.append(("paused", paused)))
    job.ended.connect(lambda: heard.append(("ended",)))

    fake_worker.submit("Painting", _three_steps)
    fake_worker.step()
    assert heard[:3] == [("started", "Painting"), ("paused", False), (0.33, "step 1")] and job.active
    job.toggle_pause()
    assert fake_worker.job().state == "paused" and job.paused
    job.toggle_pause()
    assert fake_worker.job().state == "running" and not job.paused
    job.stop()
    assert fake_worker.job().state == "cancelled"
    assert heard[-1] == ("ended",) and not job.active


def test_progress_of_a_job_that_is_not_running_is_ignored(fake_worker):
    job = RunningJob(fake_worker)
    heard: list[str] = []
    job.progressed.connect(lambda _fraction, message: heard.append(message))
    fake_worker.submit("Painting", _three_steps)
    fake_worker.step()
    other = fake_worker.jobs[fake_worker.submit("Other", _three_steps) - 1]
    fake_worker.report(other, Progress(0.5, "other's step"))
    assert heard == ["step 1"]
