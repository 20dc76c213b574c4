"""Hostile user data and PNG state never stop the app (RELIABILITY.md item 32, issue 14 cases 2, 3, 6).

Each test writes its own bad input: a bookmarks file or a settings value nested a hundred
thousand deep, a PNG of the explorer with a seed the seed box cannot hold, style PNGs with
tampered fields. The app starts (or the file opens) with one plain message naming the file,
the original is kept, and the controls keep working afterwards.
"""

import json

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.files.images import load_image, read_png_settings, save_png
from studio.files.paths import config_dir, data_dir
from studio.services.settings import Settings
from studio.spec.png import LATENT_KEY, SETTINGS_KEY, STYLE_KEY
from studio.spec.style_settings import PRESETS, StyleSettings
from studio.ui.main_window import MainWindow
from studio.ui.panels.style_panel import StylePanel
from tests.ui.test_latent_panel import TIMEOUT, _new_panel, _open, _wait_idle

DEEP = 100_000


def _deep_variant(levels: int) -> str:
    """A QSettings ``@Variant`` of lists nested ``levels`` deep: Qt's own reader overflows its
    stack on it (a segfault at 100,000 levels), before any Python code sees the value."""
    return "@Variant(" + r"\0\0\0\t\0\0\0\x1" * levels + r"\0\0\0\v\0\0\0\x1\0\0\0\x2\0x" + ")"


def test_deep_bookmarks_session_and_settings_never_stop_the_window(qtbot, worker, quit_answers, no_bundled_models):
    data_dir().mkdir(parents=True, exist_ok=True)
    config_dir().mkdir(parents=True, exist_ok=True)
    bookmarks, session = data_dir() / "bookmarks.json", data_dir() / "explorer_session.json"
    bookmarks.write_text("[" * DEEP)
    session.write_text('{"states": ' + "[" * DEEP)
    ini = config_dir() / "settings.ini"
    original = (
        f'[appearance]\ntheme=dark\n[compute]\ndevice={_deep_variant(40_000)}\n[style]\nsettings="{"[" * DEEP}"\n'
    )
    ini.write_text(original)

    settings = Settings()
    window = MainWindow(worker, settings, confirm_quit=quit_answers)
    qtbot.addWidget(window)
    window.show()

    # Told once, in plain words, naming the file and where the original is.
    assert settings.problem.startswith(f"1 setting(s) in {ini} held values the studio cannot use")
    assert window.statusBar().currentMessage() == settings.problem
    [aside] = config_dir().glob("settings.unreadable-*.ini")
    assert aside.read_text() == original and aside.name in settings.problem
    # The good settings stay; the unusable ones are their defaults.
    assert settings.theme == "dark" and settings.device == "auto"
    style = next(p for p in window.panels if isinstance(p, StylePanel))
    assert style.settings() == PRESETS["preview"]
    # The bookmarks and the session: set aside whole, the panel says so, new ones can be made.
    latent = window.latent_panel
    assert "Could not read your bookmarks" in latent.bookmarks.load_error
    assert "nested more than 64 levels deep" in latent.bookmarks.load_error
    assert "Traceback" not in latent.bookmarks.load_error
    [kept] = data_dir().glob("bookmarks.unreadable-*.json")
    assert kept.read_text() == "[" * DEEP and not bookmarks.exists()
    [kept_session] = data_dir().glob("explorer_session.unreadable-*.json")
    assert kept_session.read_text() == '{"states": ' + "[" * DEEP
    assert latent.bookmarks.bookmarks == []
    # A second start says nothing more: the cleaned file is read as it is.
    assert Settings().problem is None


def test_settings_values_of_any_type_fall_back_to_their_defaults():
    config_dir().mkdir(parents=True, exist_ok=True)
    (config_dir() / "settings.ini").write_text(
        "[appearance]\ntheme=1, 2, 3\n"
        "[compute]\ndevice=@ByteArray(cuda)\n"
        "[window]\npanel=" + "9" * 400 + "\ngeometry=not bytes\n"
        "[files]\nlast_folder=a, b\n"
        "[export]\nsize=" + "[" * 1000 + "\nresample=@Variant(\\0\\0\\0\\x7f\\0)\n"
    )
    settings = Settings()
    assert settings.theme == "system" and settings.device == "auto"
    assert settings.current_panel >= 0  # a huge index: the window clamps it to its tabs
    assert settings.window_geometry() is None and settings.last_folder == ""
    assert settings.export_size.text == "4x"


def test_a_settings_file_that_is_a_folder_or_huge_is_set_aside(qtbot):
    config_dir().mkdir(parents=True, exist_ok=True)
    ini = config_dir() / "settings.ini"
    ini.write_text("[appearance]\ntheme=dark\n" + "x" * 2_000_000)
    settings = Settings()
    assert "could not be used (it is 2,000," in settings.problem and str(ini) in settings.problem
    assert settings.theme == "system"
    [aside] = config_dir().glob("settings.unreadable-*.ini")
    assert aside.stat().st_size > 2_000_000
    settings.theme = "light"
    settings.sync()
    assert Settings().theme == "light"  # a new file is written beside the kept one


# ----- case 3: the explorer's own PNG with a seed >= 2^31 ------------------------------------


@pytest.fixture
def latent_panel(qtbot, worker, tiny_models):
    return _new_panel(qtbot, worker)


def test_a_png_with_a_seed_above_the_seed_box_opens_its_exact_point_and_the_box_keeps_working(
    latent_panel, qtbot, tmp_path
):
    panel = latent_panel
    _open(qtbot, panel, "vae")
    path = tmp_path / "big-seed.png"
    panel.export_png(path)
    settings = read_png_settings(path)
    settings[LATENT_KEY]["seed"] = 3_000_000_000  # what `studio sample --seed 3000000000` wrote
    save_png(path, Image.open(path), settings)
    z = tuple(settings[LATENT_KEY]["z"])

    assert panel.accept_image(load_image(path))
    qtbot.waitUntil(lambda: panel.explorer.state.z == z, timeout=TIMEOUT)
    _wait_idle(qtbot, panel)
    assert panel.message.text() == (
        "big-seed.png: the seed must be 0 to 2147483647, got 3000000000; its exact point is shown, without a seed."
    )
    assert panel.explorer.state.seed is None
    assert np.array_equal(np.asarray(panel.explorer.model.render(panel.explorer.state)), panel_pixels(panel))
    # The seed box was never left deaf: typing a seed takes that seed's point.
    assert not panel.seed_spin.signalsBlocked()
    panel.seed_spin.setValue(7)
    qtbot.waitUntil(lambda: panel.explorer.state.seed == 7, timeout=TIMEOUT)


def test_a_png_with_an_unusable_latent_state_says_so_and_opens_as_a_picture(latent_panel, qtbot, tmp_path):
    panel = latent_panel
    _open(qtbot, panel, "vae")
    path = tmp_path / "tampered.png"
    panel.export_png(path)
    settings = read_png_settings(path)
    settings[LATENT_KEY]["z"][0] = 10**400  # json writes it; no float holds it
    save_png(path, Image.open(path), settings)
    assert panel.accept_image(load_image(path))
    assert panel.message.text().startswith("tampered.png carries an explorer point that cannot be used (")
    assert "it was opened as a picture" in panel.message.text()
    _wait_idle(qtbot, panel)
    panel.seed_spin.setValue(11)
    qtbot.waitUntil(lambda: panel.explorer.state.seed == 11, timeout=TIMEOUT)


def test_a_bookmark_with_a_seed_above_the_seed_box_restores_its_exact_point(latent_panel, qtbot):
    panel = latent_panel
    _open(qtbot, panel, "vae")
    bookmark = panel.add_bookmark("big seed")
    bookmark.settings[LATENT_KEY]["seed"] = 2**40  # a hand-edited bookmarks.json
    z = tuple(bookmark.settings[LATENT_KEY]["z"])
    panel.sliders.sliders[0].setValue(-2.5)
    _wait_idle(qtbot, panel)
    panel.explorer.restore_bookmark(bookmark.id)
    _wait_idle(qtbot, panel)
    assert panel.explorer.state.z == z and panel.explorer.state.seed is None
    assert panel.message.text() == (
        "The bookmark “big seed”: the seed must be 0 to 2147483647, got 1099511627776; "
        "its exact point is shown, without a seed."
    )
    panel.seed_spin.setValue(3)
    qtbot.waitUntil(lambda: panel.explorer.state.seed == 3, timeout=TIMEOUT)


def panel_pixels(panel) -> np.ndarray:
    from studio.ui.qimage import to_pil

    return np.asarray(to_pil(panel.view.image()))


# ----- case 6: tampered style PNGs ---------------------------------------------------------------


def _style_png(path, run: dict):
    info = PngInfo()
    info.add_itxt(SETTINGS_KEY, json.dumps({"panel": "Style Transfer", STYLE_KEY: run}), zip=True)
    Image.new("RGB", (40, 30), (90, 120, 150)).save(path, pnginfo=info)
    return path


GOOD = StyleSettings().to_dict()
TAMPERED = {
    "huge seed": ({**GOOD, "seed": 10**20}, "the seed must be 0 to 2147483647"),
    "min_size a list": ({**GOOD, "min_size": [1, 2]}, "min_size"),
    "styles not a list": ({**GOOD, "styles": 5, "style_weights": [1]}, "painting names"),
    "styles of numbers": ({**GOOD, "styles": [1, 2]}, "painting names"),
    "weights a string": ({**GOOD, "styles": ["a.png"], "style_weights": "heavy"}, "style weights"),
    "weight of 400 digits": ({**GOOD, "styles": ["a.png"], "style_weights": [10**400]}, "far too large"),
    "weight a list": ({**GOOD, "styles": ["a.png"], "style_weights": [[1]]}, "a style weight must be a number"),
    "instant weights": ({"instant": {"styles": ["a.png"], "weights": ["x"], "strength": 1}}, "a style weight"),
    "instant strength": ({"instant": {"styles": [], "weights": [], "strength": 10**400}}, "the strength"),
    "instant strength a list": ({"instant": {"styles": [], "strength": [0.5]}}, "the strength"),
}


@pytest.mark.parametrize("run, reason", TAMPERED.values(), ids=TAMPERED.keys())
def test_a_tampered_style_png_gives_one_message_naming_it_and_the_panel_stays_usable(window, tmp_path, run, reason):
    panel = next(p for p in window.panels if isinstance(p, StylePanel))
    window.tabs.setCurrentWidget(panel)
    before = panel.settings()
    path = _style_png(tmp_path / "tampered.png", run)

    assert window.open_image(path)
    assert window.current_panel() is panel
    message = panel.message.text()
    assert message.startswith("tampered.png carries style settings that cannot be used (") and reason in message
    assert message.endswith("it was opened as a picture.") and "Traceback" not in message
    assert panel.settings() == before  # nothing half applied
    assert panel.run.photo is not None and panel.run.photo.path == path  # taken as the photo
    # Every field still answers.
    assert not any(field.signalsBlocked() for field in panel.form.fields.values())
    panel.form.fields["seed"].setValue(4321)
    assert panel.settings().seed == 4321


def test_a_style_png_with_a_huge_first_scale_never_overflows_the_form(window, tmp_path):
    panel = next(p for p in window.panels if isinstance(p, StylePanel))
    window.tabs.setCurrentWidget(panel)
    path = _style_png(tmp_path / "odd.png", {**GOOD, "min_size": 10**30, "steps": 10**15})
    assert window.open_image(path)  # restored (the bounds table may refuse it instead): never an exception
    for name in ("min_size", "steps"):
        field = panel.form.fields[name]
        assert field.minimum() <= field.value() <= field.maximum() and not field.signalsBlocked()
    panel.form.fields["seed"].setValue(99)
    assert panel.settings().seed == 99


def test_a_variant_on_a_continued_line_is_dropped_too():
    config_dir().mkdir(parents=True, exist_ok=True)
    ini = config_dir() / "settings.ini"
    ini.write_text(f"[appearance]\ntheme=\\\n{_deep_variant(3)}\n[compute]\ndevice=cpu\n")
    settings = Settings()
    assert settings.problem.startswith("1 setting(s) in")
    assert settings.theme == "system" and settings.device == "cpu"


def test_a_hostile_settings_file_that_cannot_be_moved_is_never_read(monkeypatch):
    config_dir().mkdir(parents=True, exist_ok=True)
    ini = config_dir() / "settings.ini"
    hostile = f"[appearance]\ntheme=dark\n[compute]\ndevice={_deep_variant(DEEP // 4)}\n"
    ini.write_text(hostile)
    monkeypatch.setattr("studio.services.settings.set_aside", lambda path: None)  # a read-only folder
    settings = Settings()
    assert settings.problem == (
        f"The settings file {ini} holds values the studio cannot use and could not be moved aside; "
        "the studio starts with its defaults."
    )
    assert settings.theme == "system" and ini.read_text() == hostile
