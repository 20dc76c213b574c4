"""Run inside the real app by --test-script (tests/ui/test_crash_recovery.py): the next start.

Waits for the Latent Explorer to show its model (where it reopens), then reports what the
Style panel offers, saves a screenshot of the offer (CRASH_SCREENSHOT), clicks Restore it,
saves a second one of the restored panel (CRASH_SCREENSHOT with "-restored" before its suffix),
reports what the panel then holds and the Qt platform it ran on to CRASH_REPORT, and quits
cleanly.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer

from studio.ui.qimage import to_pil

panel = window.style_panel  # noqa: F821 (given by the app)
explorer = window.latent_panel.explorer  # noqa: F821
window.resize(1200, 760)  # noqa: F821


def screenshot(path: Path) -> None:
    """The window as a 256-colour PNG: the docs' pictures stay small (under 150 KB)."""
    to_pil(window.grab().toImage()).quantize(256).save(path, optimize=True)  # noqa: F821


def checksum(image) -> str:
    return hashlib.sha256(np.asarray(image.convert("RGB")).tobytes()).hexdigest()


def report() -> None:
    shown = explorer.shown_state
    if shown is None or explorer.busy:
        QTimer.singleShot(100, report)
        return
    window.tabs.setCurrentWidget(panel)  # noqa: F821
    app.processEvents()  # noqa: F821
    bar = panel.recovery_bar
    state = {
        "platform": app.platformName(),  # noqa: F821
        "offer_visible": bar.isVisible(),
        "offer": bar.label.text(),
        "explorer": {"model": shown.model_sha256, "seed": shown.seed},
    }
    shot = Path(os.environ["CRASH_SCREENSHOT"]) if os.environ.get("CRASH_SCREENSHOT") else None
    if shot:
        screenshot(shot)
    bar.restore_button.click()
    app.processEvents()  # noqa: F821
    if shot:
        screenshot(shot.with_name(f"{shot.stem}-restored{shot.suffix}"))
    run = panel.run
    state.update(
        offer_visible_after=bar.isVisible(),
        photo=None if run.photo is None else [run.photo.path.name, checksum(run.photo.image)],
        paintings=[[p.name, p.weight, checksum(p.image.image)] for p in run.paintings if p.image is not None],
        slots=[None if s.loaded is None else s.loaded.path.name for s in panel.style_slots],
        photo_slot=None if panel.content_slot.loaded is None else panel.content_slot.loaded.path.name,
        strength=run.strength,
        settings=run.settings().to_dict(),
        result=None if run.result is None else checksum(run.result.image),
        shown=None if panel.view.image() is None else checksum(to_pil(panel.view.image())),
        status=panel.status.text(),
    )
    Path(os.environ["CRASH_REPORT"]).write_text(json.dumps(state))
    window.close()  # noqa: F821 (a clean quit)


QTimer.singleShot(300, report)
