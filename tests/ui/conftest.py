import pytest

from studio.services.settings import Settings
from studio.ui.main_window import MainWindow


class QuitAnswers:
    """Stands in for the "Stop it and quit?" question; records what was asked."""

    def __init__(self, answer: bool = True):
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, _parent, job_title: str) -> bool:
        self.asked.append(job_title)
        return self.answer


@pytest.fixture
def quit_answers():
    return QuitAnswers()


@pytest.fixture
def no_bundled_models(monkeypatch, tmp_path):
    """Hide the bundled models: with one loaded, the explorer would encode opened images
    instead of showing them, and these tests are about the window, not the explorer."""
    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: tmp_path / "no-bundled-models")


@pytest.fixture
def window(qtbot, worker, quit_answers, no_bundled_models):
    win = MainWindow(worker, Settings(), confirm_quit=quit_answers)
    qtbot.addWidget(win)
    win.show()
    return win
