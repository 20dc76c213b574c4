"""The engine never imports Qt, so every job also runs from the CLI and on machines without a GUI."""

import pkgutil
import subprocess
import sys

import studio.engine
import studio.files

QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtpy", "superqt", "pyqtgraph")


def test_importing_every_engine_and_files_module_loads_no_qt():
    names = sorted(
        m.name
        for package in (studio.engine, studio.files)
        for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    )
    assert "studio.engine.devices" in names and "studio.files.images" in names
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        f"loaded = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"engine imported Qt: {result.stdout} {result.stderr}"


def test_the_gui_modules_do_not_import_torch_before_the_window_shows():
    # The window must appear within a second; importing torch takes several. The worker
    # thread imports it after the window is shown.
    script = (
        "import sys\n"
        "import studio.app, studio.ui.main_window, studio.ui.self_test\n"
        "sys.exit(1 if 'torch' in sys.modules else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
