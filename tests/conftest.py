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
