"""First launch on Linux: missing X11 libraries are named, with the command that installs them,
before Qt can abort. The library lookup is faked; no X server is needed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from studio import desktop_libraries as dl

ROOT = Path(__file__).resolve().parent.parent
X11 = {"DISPLAY": ":0"}
DEBIAN = {"ID": "ubuntu", "ID_LIKE": "debian"}
FEDORA = {"ID": "fedora"}


def missing(*names: str):
    return lambda soname: soname not in names


def test_missing_libraries_are_named_with_the_one_apt_command_that_installs_them():
    message = dl.check_display_libraries(
        X11, missing("libxcb-icccm.so.4", "libxcb-keysyms.so.1"), lambda: DEBIAN, "linux"
    )
    assert "libxcb-icccm.so.4" in message and "libxcb-keysyms.so.1" in message
    assert "libxcb-cursor.so.0" not in message  # present: not blamed, unlike Qt's own message
    assert message.splitlines()[-1].strip() == "sudo apt-get install libxcb-icccm4 libxcb-keysyms1"
    assert "dnf" not in message


def test_fedora_gets_the_dnf_command_with_fedora_package_names():
    message = dl.check_display_libraries(
        X11, missing("libxcb-cursor.so.0", "libxcb-shape.so.0", "libxcb-xkb.so.1"), lambda: FEDORA, "linux"
    )
    assert message.splitlines()[-1].strip() == "sudo dnf install libxcb xcb-util-cursor"
    assert "apt-get" not in message


def test_an_unknown_distribution_gets_the_names_without_a_wrong_command():
    message = dl.check_display_libraries(X11, missing("libxcb-icccm.so.4"), lambda: {"ID": "arch"}, "linux")
    assert "libxcb-icccm.so.4" in message
    assert "apt-get" not in message and "dnf" not in message


def test_all_libraries_present_lets_the_launch_go_on_after_looking_each_one_up():
    asked = []

    def loadable(soname):
        asked.append(soname)
        return True

    assert dl.check_display_libraries(X11, loadable, lambda: DEBIAN, "linux") is None
    assert {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"} <= set(asked)
    # Qt 6's xcb plugin does not link to xinerama, nor to Wayland's libraries: never blamed.
    assert not {"libxcb-xinerama.so.0", "libwayland-cursor.so.0"} & set(asked)


def test_the_check_runs_only_when_qt_will_use_xcb():
    def never(soname):
        raise AssertionError(f"looked up {soname}")

    for environ in (
        {},  # no display at all: Qt fails for its own, clearer reason
        {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"},
        {"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"},
        {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"},
    ):
        assert dl.check_display_libraries(environ, never, lambda: DEBIAN, "linux") is None, environ
    assert dl.check_display_libraries(X11, never, lambda: DEBIAN, "darwin") is None
    for environ in (
        X11,
        {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"},
        {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb;wayland"},
    ):
        assert dl.will_use_xcb(environ), environ


def test_os_release_is_read_with_quotes_removed(tmp_path):
    release = tmp_path / "os-release"
    release.write_text('NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\n', encoding="utf-8")
    fields = dl.read_os_release(release)
    assert fields["ID_LIKE"] == "ubuntu debian"
    assert dl.install_command(["libxcb-xkb.so.1"], fields) == "sudo apt-get install libxcb-xkb1"


def test_launcher_exits_with_its_documented_code_before_qt_starts():
    # The real entry point, in a fresh process, on an X display that does not exist: had Qt
    # started, it would abort (signal) with its own message about the display.
    script = textwrap.dedent(
        """
        import sys
        from studio import desktop_libraries as dl, app
        dl._loadable = lambda soname: soname not in ("libxcb-icccm.so.4", "libxcb-keysyms.so.1")
        dl.read_os_release = lambda path=None: {"ID": "debian"}
        code = app.main([])
        print("qt loaded" if "PySide6.QtGui" in sys.modules else "qt never loaded")
        sys.exit(code)
        """
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    environ.update(DISPLAY=":9999", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environ, timeout=120, cwd=ROOT
    )
    assert result.returncode == dl.EXIT_MISSING_LIBRARIES == 3, result.stderr
    assert "libxcb-icccm.so.4" in result.stderr and "libxcb-keysyms.so.1" in result.stderr
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in result.stderr
    assert "qt.qpa" not in result.stderr and "platform plugin" not in result.stderr
    assert result.stdout.strip() == "qt never loaded"
