"""Switching Light/Dark while the window is open: every text stays readable and the plots follow.

What is measured is what the artist sees: the window is grabbed after each switch, and for every
visible label, button, number box and drop-down in the three panels (and in the wizard and the Help
windows) the text's colour (the pixel that stands out most from the widget's background) is
compared with that background (the commonest pixel) by the WCAG contrast ratio; a link's colour is
compared with the palette's link colour.
"""

import pyqtgraph as pg
import pytest
from PIL import Image
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QTextBrowser,
    QWidget,
)

from studio.services.settings import Settings
from studio.ui.main_window import MainWindow
from studio.ui.theme import apply_theme

MIN_CONTRAST = 3.0


def _luminance(rgb) -> float:
    def channel(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _rgb(colour: QColor):
    return (colour.red(), colour.green(), colour.blue())


def _text_contrast(image: Image.Image, inset: int) -> tuple[float, tuple, tuple]:
    """The commonest colour inside the widget's frame (its background) and the colour that stands
    out most from it (its text)."""
    if image.width > 2 * inset + 2 and image.height > 2 * inset + 2:
        inner = image.crop((inset, inset, image.width - inset, image.height - inset))
    else:
        inner = image
    background = max(inner.getcolors(inner.width * inner.height))[1]
    colours = [colour for _count, colour in inner.getcolors(inner.width * inner.height)]
    text = max(colours, key=lambda c: contrast(c, background))
    return contrast(text, background), text, background


def _grab(window) -> Image.Image:
    shot = window.grab().toImage().convertToFormat(window.grab().toImage().Format.Format_RGB888)
    width, height = shot.width(), shot.height()
    data = bytes(shot.constBits())[: shot.bytesPerLine() * height]
    image = Image.frombuffer("RGB", (width, height), data, "raw", "RGB", shot.bytesPerLine(), 1)
    # grab() is at the device pixel ratio; widget geometry is in logical pixels
    ratio = shot.devicePixelRatio()
    if ratio != 1:
        image = image.resize((round(width / ratio), round(height / ratio)))
    return image.copy()


BACKGROUND_ROLES = (
    QPalette.ColorRole.Window,
    QPalette.ColorRole.Base,
    QPalette.ColorRole.AlternateBase,
    QPalette.ColorRole.Button,
    QPalette.ColorRole.Highlight,
    QPalette.ColorRole.Light,
    QPalette.ColorRole.Midlight,
    QPalette.ColorRole.Mid,
)


def _of_the_palette(colour, palette: QPalette) -> bool:
    """Near one of the palette's background colours (Fusion shades button faces a little, and
    tints the default button's towards the highlight)."""
    colours = [_rgb(palette.color(role)) for role in BACKGROUND_ROLES]
    button, highlight = _rgb(palette.color(QPalette.ColorRole.Button)), colours[4]
    colours += [tuple(b + (h - b) * t for b, h in zip(button, highlight, strict=True)) for t in (0.25, 0.5, 0.75)]
    return any(max(abs(a - b) for a, b in zip(colour, known, strict=True)) <= 32 for known in colours)


def _text(widget: QWidget) -> str:
    return widget.currentText() if isinstance(widget, QComboBox) else widget.text()


def _box(top: QWidget, widget: QWidget):
    visible = widget.visibleRegion().boundingRect()
    if visible.width() < 4 or visible.height() < 4:
        return None
    top_left = widget.mapTo(top, visible.topLeft())
    return (top_left.x(), top_left.y(), top_left.x() + visible.width(), top_left.y() + visible.height())


def _link_problem(image: Image.Image, palette: QPalette) -> str | None:
    """A label's link: its most colourful pixel is the palette's link colour (Qt fixes a rich text's
    link colour when it reads the text)."""
    colours = [colour for _count, colour in image.getcolors(image.width * image.height)]
    link = max(colours, key=lambda c: max(c) - min(c))
    expected = _rgb(palette.color(QPalette.ColorRole.Link))
    if max(abs(a - b) for a, b in zip(link, expected, strict=True)) > 24:
        return f"link {link}, palette's link {expected}"
    return None


def unreadable_in(top: QWidget, where: str, roots: list[QWidget] | None = None) -> list[str]:
    """Every visible text in ``top`` (a window; only in ``roots`` when given) that is too faint on
    its background, whose background is not one of the current palette's (a face left from the
    other theme), or whose link keeps another colour than the palette's."""
    palette = QApplication.palette()
    shot = _grab(top)
    problems = []
    for root in roots or [top]:
        kinds = (QLabel, QAbstractButton, QAbstractSpinBox, QComboBox)
        for widget in [w for kind in kinds for w in root.findChildren(kind)]:
            if not widget.isVisible() or widget.window() is not top or not _text(widget).strip():
                continue
            box = _box(top, widget)
            if box is None:
                continue
            inset = 0 if isinstance(widget, QLabel) else 4
            ratio, text, background = _text_contrast(shot.crop(box), inset)
            name = f"{where}: {type(widget).__name__} {_text(widget).replace(chr(10), ' ')[:40]!r}"
            if not _of_the_palette(background, palette):
                problems.append(f"{name} on {background}, not the palette's")
            if ratio < MIN_CONTRAST:
                problems.append(f"{name} {text} on {background} ({ratio:.2f})")
            if isinstance(widget, QLabel) and "<a " in widget.text():
                link = _link_problem(shot.crop(box), palette)
                if link:
                    problems.append(f"{name} {link}")
        for browser in root.findChildren(QTextBrowser):
            if browser.isVisible() and browser.window() is top:
                ratio, text, background = _text_contrast(shot.crop(_box(top, browser.viewport())), 0)
                if ratio < MIN_CONTRAST or not _of_the_palette(background, palette):
                    problems.append(f"{where}: text {text} on {background} ({ratio:.2f})")
    return problems


def unreadable_texts(window) -> list[str]:
    """Every visible text in the panels and the status bar that is not readable (see unreadable_in)."""
    problems = []
    for panel in window.panels:
        window.tabs.setCurrentWidget(panel)
        QApplication.processEvents()
        problems += unreadable_in(window, panel.title, [panel, window.statusBar()])
    return problems


def plots_off_palette(window) -> list[str]:
    palette = QApplication.palette()
    allowed = {_rgb(palette.color(QPalette.ColorRole.Base)), _rgb(palette.color(QPalette.ColorRole.Window))}
    problems = []
    for plot in window.findChildren(pg.PlotWidget):
        background = _rgb(plot.backgroundBrush().color())
        if background not in allowed:
            problems.append(f"{type(plot).__name__} background {background}, palette {allowed}")
        axis = plot.getPlotItem().getAxis("bottom")
        axis_text = _rgb(axis.textPen().color())
        if contrast(axis_text, background) < MIN_CONTRAST:
            problems.append(f"{type(plot).__name__} axis text {axis_text} on {background}")
    return problems


def curve_colour_problems(root: QWidget, where: str) -> list[str]:
    """The training curves' lines: the first in the palette's highlight, each readable on the plot."""
    from studio.ui.finetune.curves import TrainingCurves

    palette = QApplication.palette()
    problems = []
    for plot in root.findChildren(TrainingCurves):
        background = _rgb(plot.backgroundBrush().color())
        for index, curve in enumerate(plot.getPlotItem().listDataItems()):
            line = _rgb(curve.opts["pen"].color())
            if index == 0 and line != _rgb(palette.color(QPalette.ColorRole.Highlight)):
                problems.append(f"{where}: first line {line}, not the highlight")
            if contrast(line, background) < MIN_CONTRAST:
                problems.append(f"{where}: line {index} {line} on {background} ({contrast(line, background):.2f})")
    return problems


def arrow_off_palette(window) -> list[str]:
    """The Advanced box's arrow is a picture drawn from the palette: it is redrawn on a switch."""
    button = window.panels[1].form.advanced.toggleButton()
    image = button.icon().pixmap(16, 16).toImage()
    pixels = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    arrow = _rgb(max(pixels, key=lambda c: c.alpha()))
    background = _rgb(QApplication.palette().color(QPalette.ColorRole.Window))
    ratio = contrast(arrow, background)
    return [] if ratio >= MIN_CONTRAST else [f"Advanced arrow {arrow} on {background} ({ratio:.2f})"]


def _dark_window(qtbot, worker, size: tuple[int, int]) -> MainWindow:
    """The main window shown in the Dark theme, at ``size``."""
    apply_theme(QApplication.instance(), "dark")
    settings = Settings()
    settings.theme = "dark"
    window = MainWindow(worker, settings, confirm_quit=lambda *_: True)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    return window


@pytest.fixture
def styled_window(qtbot, fake_worker, tmp_path, no_bundled_models):
    """The window with a photo and a painting in Style Transfer (names, remove buttons, weights)
    and an error message under the painting."""
    window = _dark_window(qtbot, fake_worker, (1200, 800))
    Image.new("RGB", (80, 60), (200, 60, 40)).save(tmp_path / "photo.png")
    Image.new("RGB", (80, 60), (40, 60, 200)).save(tmp_path / "painting.png")
    window.panels[1].content_slot.load_path(tmp_path / "photo.png")
    window.panels[1].style_slots[0].load_path(tmp_path / "painting.png")
    window.panels[1].style_slots[0].show_message("Could not read broken.png: not an image")
    yield window
    apply_theme(QApplication.instance(), "light")


def test_switching_dark_light_dark_keeps_every_text_readable_and_plots_on_the_palette(styled_window):
    window = styled_window
    problems = []
    for theme in ("dark", "light", "dark", "light"):
        window.theme_actions[theme].trigger()
        QApplication.processEvents()
        assert (window.palette().color(QPalette.ColorRole.Window).lightness() < 100) == (theme == "dark")
        problems += [
            f"{theme}: {problem}"
            for problem in unreadable_texts(window) + plots_off_palette(window) + arrow_off_palette(window)
        ]
    assert problems == [], "\n".join(problems)


def test_the_training_curves_legend_follows_a_switch_made_while_training(qtbot):
    from studio.ui.finetune.curves import TrainingCurves

    app = QApplication.instance()
    apply_theme(app, "light")
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.add_losses(1, {"d": 0.6, "g": 0.9})
    for theme in ("dark", "light"):
        apply_theme(app, theme)
        background = _rgb(curves.backgroundBrush().color())
        assert background == _rgb(app.palette().color(QPalette.ColorRole.Base))
        for _sample, label in curves.legend.items:
            text = _rgb(QColor(label.opts["color"]))
            assert contrast(text, background) >= MIN_CONTRAST, (theme, label.text, text, background)
    apply_theme(app, "light")


def _end_frame_problems(panel, where: str) -> list[str]:
    """The -/+ end pictures' frames: drawn in the current palette's shades, visible on the window."""
    palette = QApplication.palette()
    window_colour = _rgb(palette.color(QPalette.ColorRole.Window))
    shades = [_rgb(palette.color(QPalette.ColorRole.Mid))]
    problems = []
    for minus, plus in panel.sliders.ends:
        for end in (minus, plus):
            image = _grab(end)
            edge = image.getpixel((0, image.height // 2))
            if not any(max(abs(a - b) for a, b in zip(edge, shade, strict=True)) <= 40 for shade in shades):
                problems.append(f"{where}: end picture frame {edge}, palette's shades {shades}")
            elif contrast(edge, window_colour) < 1.5:
                problems.append(f"{where}: end picture frame {edge} lost on the window {window_colour}")
    return problems


def test_with_a_model_loaded_a_switch_restyles_the_explorer_rows_notices_status_bar_and_help(
    qtbot, worker, tiny_models, tmp_path
):
    """Dark to Light and back with a GAN loaded: the direction rows (names, values, the end
    pictures' frames), Variety, the export size, the class note, the saved notices (the panel's and
    the status bar's, whose "Open folder" link is coloured when the text is read), the running job
    in the status bar, and Help > Getting started left open."""
    app = QApplication.instance()
    window = _dark_window(qtbot, worker, (1300, 900))
    panel = window.latent_panel
    qtbot.waitUntil(lambda: panel.explorer.model is not None and not panel.explorer.loading, timeout=60_000)
    if panel.explorer.model.kind != "gan":
        index = next(i for i, m in enumerate(panel.explorer.models) if m.path.stem == "tiny-gan")
        with qtbot.waitSignal(panel.explorer.modelLoaded, timeout=60_000):
            panel.load_model(index)
    qtbot.waitUntil(lambda: all(m.qimage is not None for m, _p in panel.sliders.ends), timeout=60_000)
    assert panel.psi_slider.isVisible() and panel.size_choice.isVisible()
    panel.class_note.setText("Also knows: cat, owl (from Tiny GAN; your images may have changed them)")
    panel.class_note.show()
    assert window.save_image(tmp_path / "mine.png")
    window.saved_notice.show_saved("mine.png", tmp_path)
    window.job_status.job.started.emit("Rendering 12 frames")
    window.job_status.job.progressed.emit(0.4, "frame 5 of 12")
    help_window = window.show_getting_started()
    qtbot.addWidget(help_window)
    problems = []
    for theme in ("dark", "light", "dark", "light"):
        window.theme_actions[theme].trigger()
        QApplication.processEvents()
        window.tabs.setCurrentWidget(panel)
        QApplication.processEvents()
        problems += unreadable_in(window, f"{theme} explorer", [panel, window.statusBar()])
        problems += _end_frame_problems(panel, theme)
        problems += unreadable_in(help_window, f"{theme} getting started")
    from studio.ui.about_dialog import AboutDialog

    about = AboutDialog(None, [], window)  # opened after the switches
    qtbot.addWidget(about)
    about.show()
    problems += unreadable_in(about, "light about")
    assert problems == [], "\n".join(problems)
    window.grab().save(str(tmp_path / "light-after-dark.png"))
    apply_theme(app, "light")


def test_the_finetune_wizards_later_pages_follow_a_switch(qtbot, styled_window):
    """Settings, Training (curves, the "Closer to your images" bars) and Finish, each while open."""
    from studio.engine.training.kid import KidResult

    window = styled_window
    wizard = window.finetune_panel.open_wizard()
    qtbot.waitExposed(wizard)
    problems = []
    for page in (wizard.settings_page, wizard.train_page, wizard.finish_page):
        wizard.setStartId(next(i for i in wizard.pageIds() if wizard.page(i) is page))
        wizard.restart()
        assert wizard.currentPage() is page
        if page is wizard.train_page:
            page.closer.show()
            for step in (1, 2):  # six lines, every colour a run can show
                page.curves.add_losses(step, {"d": 0.6, "g": 0.9, "gp": 0.1, "loss": 2.0, "recon": 1.0, "kl": 0.3})
            page.closer.show_kid(KidResult(0.1, 0.01, 0))
            page.closer.show_kid(KidResult(0.05, 0.01, 10))
        if page is wizard.finish_page:
            page.closer.show()
            page.closer.show_result(KidResult(0.1, 0.01, 0), KidResult(0.05, 0.01, 10))
        for theme in ("dark", "light", "dark", "light"):
            window.theme_actions[theme].trigger()
            QApplication.processEvents()
            where = f"{theme} {type(page).__name__}"
            problems += [f"{where}: {p}" for p in unreadable_in(wizard, where) + plots_off_palette(wizard)]
            problems += curve_colour_problems(page, where)
    assert problems == [], "\n".join(problems)
