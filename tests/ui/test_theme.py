"""Switching Light/Dark while the window is open: every text stays readable and the plots follow.

What is measured is what the artist sees: the window is grabbed after each switch, and for every
visible label and button in the three panels the text's colour (the pixel that stands out most
from the widget's background) is compared with that background (the commonest pixel) by the WCAG
contrast ratio.
"""

import pyqtgraph as pg
import pytest
from PIL import Image
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel

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


def unreadable_texts(window) -> list[str]:
    """Every visible label or button in the panels whose text is too faint on its background, or
    whose background is not one of the current palette's (a face left from the other theme)."""
    palette = QApplication.palette()
    problems = []
    for panel in window.panels:
        window.tabs.setCurrentWidget(panel)
        QApplication.processEvents()
        shot = _grab(window)
        widgets = panel.findChildren(QLabel) + panel.findChildren(QAbstractButton)
        for widget in widgets:
            if not widget.isVisible() or not widget.text().strip():
                continue
            visible = widget.visibleRegion().boundingRect()
            if visible.width() < 4 or visible.height() < 4:
                continue
            top_left = widget.mapTo(window, visible.topLeft())
            box = (top_left.x(), top_left.y(), top_left.x() + visible.width(), top_left.y() + visible.height())
            inset = 4 if isinstance(widget, QAbstractButton) else 0
            ratio, text, background = _text_contrast(shot.crop(box), inset)
            name = widget.text().replace("\n", " ")[:40]
            if not _of_the_palette(background, palette):
                problems.append(f"{panel.title}: {type(widget).__name__} {name!r} on {background}, not the palette's")
            if ratio < MIN_CONTRAST:
                problems.append(f"{panel.title}: {type(widget).__name__} {name!r} {text} on {background} ({ratio:.2f})")
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


def arrow_off_palette(window) -> list[str]:
    """The Advanced box's arrow is a picture drawn from the palette: it is redrawn on a switch."""
    button = window.panels[1].form.advanced.toggleButton()
    image = button.icon().pixmap(16, 16).toImage()
    pixels = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    arrow = _rgb(max(pixels, key=lambda c: c.alpha()))
    background = _rgb(QApplication.palette().color(QPalette.ColorRole.Window))
    ratio = contrast(arrow, background)
    return [] if ratio >= MIN_CONTRAST else [f"Advanced arrow {arrow} on {background} ({ratio:.2f})"]


@pytest.fixture
def styled_window(qtbot, fake_worker, tmp_path, no_bundled_models):
    """The window with a photo and a painting in Style Transfer (names, remove buttons, weights)
    and an error message under the painting."""
    app = QApplication.instance()
    apply_theme(app, "dark")
    settings = Settings()
    settings.theme = "dark"
    window = MainWindow(fake_worker, settings, confirm_quit=lambda *_: True)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    Image.new("RGB", (80, 60), (200, 60, 40)).save(tmp_path / "photo.png")
    Image.new("RGB", (80, 60), (40, 60, 200)).save(tmp_path / "painting.png")
    window.panels[1].content_slot.load_path(tmp_path / "photo.png")
    window.panels[1].style_slots[0].load_path(tmp_path / "painting.png")
    window.panels[1].style_slots[0].show_message("Could not read broken.png: not an image")
    yield window
    apply_theme(app, "light")


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
