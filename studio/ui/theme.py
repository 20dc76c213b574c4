"""Fusion style with a light or dark palette that follows the system's colour scheme.

Switching at run time goes through :func:`apply_theme` alone. Widgets follow the palette because
none of them keeps a colour of its own: style sheets name palette roles (``palette(base)``),
not colour values (the one exception, ERROR_COLOUR, reads on both palettes), and anything
painted or configured from the palette outside Qt's styles (the pyqtgraph plots, icons drawn
once, and a rich text's links, which Qt colours when it reads the text) redoes it on
``QEvent.PaletteChange``. Qt resolves a
style sheet's ``palette(...)`` roles when it polishes a widget, and a widget under a style sheet
keeps the palette it was polished with, so :func:`apply_theme` re-polishes every widget that
carries a style sheet after setting the new palette.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

# Error messages beside the controls, the one colour a style sheet names outright: it reads at a
# contrast of 3 or more on both palettes' window, base and alternate-base colours, so it needs no
# change on a theme switch.
ERROR_COLOUR = "#d9534f"


def _dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2b2b30",
        QPalette.ColorRole.WindowText: "#e6e6ea",
        QPalette.ColorRole.Base: "#1f1f23",
        QPalette.ColorRole.AlternateBase: "#2f2f35",
        QPalette.ColorRole.ToolTipBase: "#3a3a40",
        QPalette.ColorRole.ToolTipText: "#f0f0f0",
        QPalette.ColorRole.PlaceholderText: "#8c8c96",
        QPalette.ColorRole.Text: "#e6e6ea",
        QPalette.ColorRole.Button: "#34343a",
        QPalette.ColorRole.ButtonText: "#e6e6ea",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Link: "#9d8cff",
        QPalette.ColorRole.Highlight: "#7f6fd6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        # The shades for frames and borders (``palette(mid)``): a new QPalette has the light
        # theme's greys here, a bright #b8b8b8 border on the dark window.
        QPalette.ColorRole.Light: "#505058",
        QPalette.ColorRole.Midlight: "#3c3c43",
        QPalette.ColorRole.Mid: "#62626c",
        QPalette.ColorRole.Dark: "#1a1a1e",
        QPalette.ColorRole.Shadow: "#0d0d10",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    _muted_disabled_text(palette, QColor("#9d9da6"))
    return palette


def _muted_disabled_text(palette: QPalette, colour: QColor) -> None:
    """The panels show secondary text (captions, sizes, summaries) as disabled labels: muted, but
    readable (contrast of 3 or more against the window, base and button faces)."""
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, colour)


def _light_palette() -> QPalette:
    palette = QApplication.style().standardPalette()
    palette.setColor(QPalette.ColorRole.Highlight, QColor("#6a5acd"))
    palette.setColor(QPalette.ColorRole.Link, QColor("#5b4bc4"))
    _muted_disabled_text(palette, QColor("#6f6f78"))
    return palette


def system_prefers_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, theme: str = "system") -> str:
    """Apply ``theme`` ("system", "light" or "dark"); returns the scheme actually used."""
    app.setStyle("Fusion")
    dark = theme == "dark" or (theme == "system" and system_prefers_dark())
    app.setPalette(_dark_palette() if dark else _light_palette())
    # Qt posts the palette change to each widget: deliver it now, so that every widget (shown or
    # not, top level or not) has the new palette before the style sheets are resolved again.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.ApplicationPaletteChange)
    restyle_sheets(app)
    return "dark" if dark else "light"


def restyle_sheets(app: QApplication) -> None:
    """Re-polish every widget that has a style sheet, so its ``palette(...)`` roles and the palette
    of the widgets under it are taken from the application's palette as it is now."""
    for widget in app.allWidgets():
        sheet = widget.styleSheet()
        if sheet:
            widget.setStyleSheet("")
            widget.setStyleSheet(sheet)
