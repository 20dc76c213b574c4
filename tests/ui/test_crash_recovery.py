"""RELIABILITY 25: the real app killed with SIGKILL during a style job offers the work back.

The app runs in a subprocess (``python -m studio.app --test-script``, the small hook that runs a
script in the started app) with its user folders in tmp_path. The first start moves the Latent
Explorer to seed 4242, then opens a photo and a painting in the Style panel; once the instant
picture is autosaved it starts a long Refine, and the test kills the app with SIGKILL during
that job. The second start must show the offer, and Restore it must give back the same photo,
painting, weight, strength, settings and last picture, and the explorer must reopen on seed 4242.

Display: on a real X server (Xvfb) when the ``Xvfb`` binary exists, so the app draws with its
X11 platform plugin as on a desktop (CI installs xvfb and the plugin's libraries: .ci/run);
otherwise Qt's offscreen platform. Xvfb is started here rather than through ``xvfb-run``, so
that the process killed is the app itself, not the wrapper. Which one ran is printed
(``pytest -s`` shows it), named in every failure message, and checked against the platform
the app itself reports; CRASH_TEST_OFFSCREEN=1 forces offscreen where Xvfb exists.
CRASH_SCREENSHOT=PATH saves the window with the offer at PATH and the restored panel beside it
("-restored" before the suffix): docs/crash-recovery.png and docs/crash-recovery-restored.png
are made so, under Xvfb.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.files import autosave as files
from studio.files.images import load_image
from studio.files.paths import data_dir

SCRIPTS = Path(__file__).parent / "crash_scripts"
REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 300  # a guard against a hung app, not a speed requirement


@pytest.fixture
def display():
    """(the Qt platform the app must use, its environment): a private Xvfb display if there is
    one, else offscreen."""
    xvfb = None if os.environ.get("CRASH_TEST_OFFSCREEN") else shutil.which("Xvfb")
    if xvfb is None:
        why = "CRASH_TEST_OFFSCREEN is set" if os.environ.get("CRASH_TEST_OFFSCREEN") else "no Xvfb here"
        print(f"crash recovery test: Qt offscreen platform ({why})")
        yield "offscreen", {"QT_QPA_PLATFORM": "offscreen"}
        return
    read, write = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        assert number, f"{xvfb} did not start (exit status {server.poll()})"
        print(f"crash recovery test: xcb platform on Xvfb display :{number}")
        yield "xcb", {"QT_QPA_PLATFORM": "xcb", "DISPLAY": f":{number}"}
    finally:
        server.terminate()
        server.wait(timeout=30)


def _app(env: dict, script: str, log: Path) -> subprocess.Popen:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "studio.app", "--device", "cpu", "--test-script", str(SCRIPTS / script)],
        cwd=REPO,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def _checksum(image: Image.Image) -> str:
    return hashlib.sha256(np.asarray(image.convert("RGB")).tobytes()).hexdigest()


def _image(path: Path, seed: int) -> Path:
    """An 80x60 picture: seed 1 a rainbow gradient (the photo), others blue and orange waves (the
    painting), so that the two slots look different in the screenshots."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:60, 0:80]
    if seed == 1:
        pixels = np.stack([x * 3 % 256, y * 4 % 256, (x * y) % 256], axis=-1)
    else:
        wave = (np.sin(x / 4 + 2 * np.sin(y / 7)) + 1) * 127
        pixels = np.stack([wave, wave * 0.6 + 40, 255 - wave], axis=-1)
    pixels = pixels + rng.integers(0, 40, (60, 80, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


def test_kill_9_during_a_style_job_is_offered_back_and_restored(tmp_path, display):
    platform, screen = display
    on = f"(Qt platform: {platform})"
    photo, painting = _image(tmp_path / "harbour.png", 1), _image(tmp_path / "waves.png", 2)
    ready, report = tmp_path / "ready.json", tmp_path / "report.json"
    env = {
        **os.environ,
        **screen,
        "PYTHONPATH": str(REPO),
        "CRASH_PHOTO": str(photo),
        "CRASH_PAINTING": str(painting),
        "CRASH_READY": str(ready),
        "CRASH_REPORT": str(report),
        # docs/crash-recovery.png and docs/crash-recovery-restored.png are made so
        "CRASH_SCREENSHOT": os.environ.get("CRASH_SCREENSHOT", ""),
    }
    # (LATENT_STUDIO_HOME is already tmp_path's, from the studio_home fixture: the app inherits it.)

    first = _app(env, "work_then_wait.py", tmp_path / "first.log")
    deadline = time.monotonic() + DEADLINE_S
    try:
        while not ready.exists():
            assert first.poll() is None, f"the app ended early {on}:\n{(tmp_path / 'first.log').read_text()}"
            assert time.monotonic() < deadline, f"no autosave in time {on}:\n{(tmp_path / 'first.log').read_text()}"
            time.sleep(0.2)
        time.sleep(0.5)  # the Refine is under way
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL, on
    assert (files.current_folder() / files.WORK_FILE).is_file()  # what the killed app left
    before = json.loads(ready.read_text())

    second = _app(env, "restore_and_report.py", tmp_path / "second.log")
    try:
        second.wait(timeout=DEADLINE_S)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, f"the second start failed {on}:\n{(tmp_path / 'second.log').read_text()}"
    state = json.loads(report.read_text())
    assert state["platform"] == platform, f"the app ran on Qt's {state['platform']} platform, not {platform}"

    assert state["offer_visible"], on
    assert state["offer"] == (
        "Your last Style work was not closed properly: the photo harbour.png, 1 painting (waves.png)"
        " and the last picture."
    )
    assert not state["offer_visible_after"]
    assert state["photo"] == ["harbour.png", _checksum(load_image(photo).image)]
    assert state["photo_slot"] == "harbour.png"
    assert state["paintings"] == [["waves.png", 1.0, _checksum(load_image(painting).image)]]
    assert state["slots"] == ["waves.png"]
    assert state["strength"] == 1.0
    assert state["settings"] == before["settings"]
    assert state["result"] == before["result"] == state["shown"]
    assert state["status"] == "Your last Style work is back."
    # The Latent Explorer's point, remembered by its own session store, survived the kill too.
    assert before["explorer"]["seed"] == 4242
    assert state["explorer"] == before["explorer"]
    # A clean quit after the restore: nothing is offered next time.
    assert not files.current_folder().exists() and not files.recovered_folder().exists()
    assert data_dir() == Path(os.environ["LATENT_STUDIO_HOME"]) / "data"
