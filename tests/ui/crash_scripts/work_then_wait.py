"""Run inside the real app by --test-script (tests/ui/test_crash_recovery.py): the artist's work.

In the Latent Explorer (its bundled model), moves to seed 4242 and waits until that point is
remembered; then opens PHOTO and PAINTING in the Style panel; when the instant picture is
autosaved, starts a long Refine and writes READY (the picture's checksum, the settings and the
explorer's point), so that the test kills the app during that job. ``window``, ``worker`` and
``app`` come from the app.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer

from studio.spec.style_settings import StyleSettings

PHOTO, PAINTING, READY = os.environ["CRASH_PHOTO"], os.environ["CRASH_PAINTING"], Path(os.environ["CRASH_READY"])
panel = window.style_panel  # noqa: F821 (given by the app)
explorer = window.latent_panel.explorer  # noqa: F821
SEED = 4242
point: dict = {}
asked: list = []
# A Refine that runs long enough to be killed in the middle.
panel.run.set_settings(StyleSettings(size=96, min_size=96, steps=5000, seed=7, preview_interval_s=0.0))


def checksum(image) -> str:
    return hashlib.sha256(np.asarray(image.convert("RGB")).tobytes()).hexdigest()


def explore() -> None:
    """Seed 4242 in the explorer, then the Style work once that point is written."""
    state = explorer.shown_state
    if state is None or explorer.busy:
        QTimer.singleShot(100, explore)
        return
    if state.seed != SEED:
        if not asked:
            asked.append(SEED)
            explorer.set_seed(SEED)
        QTimer.singleShot(100, explore)
        return
    if explorer.session_unsaved:
        QTimer.singleShot(100, explore)
        return
    point.update(model=state.model_sha256, seed=state.seed)
    window.tabs.setCurrentWidget(panel)  # noqa: F821
    window.open_image(PHOTO)  # noqa: F821
    window.open_image(PAINTING)  # noqa: F821


def on_saved() -> None:
    run = panel.run
    if run.result is None or run.running or READY.exists():
        return
    shown = checksum(run.result.image)

    def on_started(_job_id: int) -> None:
        READY.write_text(json.dumps({"result": shown, "settings": run.settings().to_dict(), "explorer": point}))

    run.started.connect(on_started)
    run.start()


panel.autosave.saved.connect(on_saved)
explore()
