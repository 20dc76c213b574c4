"""Strings from files are shown as plain text, never as rich text (RELIABILITY.md item 32, issue 14).

A model card's name, its class names, a file's name and an error naming a path can all hold
markup; a QLabel left at Qt's AutoText renders it (bold, an <img> that reads a local file).
"""

import pytest
from PIL import Image
from PySide6.QtGui import Qt
from PySide6.QtWidgets import QLabel, QWidget

from studio.files.paths import models_dir
from studio.ui.panels.style_panel import StylePanel

TIMEOUT = 60_000
MARKUP = "<b>Bold</b> cats<img src=missing.png>"


def rendered_as_rich_text(root: QWidget) -> list[str]:
    """Every label under ``root`` that Qt draws as rich text while it shows our markup, and every
    tooltip that holds it unescaped (Qt renders a tooltip that looks like markup as rich text)."""
    found = []
    for label in root.findChildren(QLabel):
        text = label.text()
        if "<b>Bold</b>" not in text and "<b>photo" not in text and "<i>bad" not in text:
            continue
        rich = label.textFormat() == Qt.TextFormat.RichText or (
            label.textFormat() == Qt.TextFormat.AutoText and Qt.mightBeRichText(text)
        )
        if rich:
            found.append(f"label {label.objectName() or type(label).__name__}: {text!r}")
    for widget in [root, *root.findChildren(QWidget)]:
        if "<b>Bold</b>" in widget.toolTip() or "<b>photo" in widget.toolTip():
            found.append(f"tooltip of {type(widget).__name__}: {widget.toolTip()!r}")
    return found


@pytest.fixture
def markup_model(tiny_models):
    import torch

    from studio.engine.models.gan import Generator
    from studio.engine.models.store import save_generative_model
    from studio.spec.models import GANConfig

    torch.manual_seed(0)
    generator = Generator(GANConfig(image_size=64, latent_dim=8, num_classes=2, g_channels=16, d_channels=4))
    return save_generative_model(
        models_dir() / "<b>markup<i>.safetensors",
        generator,
        {"name": MARKUP, "class_names": [MARKUP, "dog"]},
    )


def test_a_model_named_with_html_is_shown_literally(markup_model, window, qtbot):
    panel = window.latent_panel
    window.tabs.setCurrentWidget(panel)
    panel.start()
    qtbot.waitUntil(lambda: panel.explorer.model is not None and not panel.explorer.loading, timeout=TIMEOUT)
    index = next(i for i, m in enumerate(panel.explorer.models) if m.name == MARKUP)
    with qtbot.waitSignal(panel.explorer.modelLoaded, timeout=TIMEOUT, raising=True):
        panel.load_model(index)
    qtbot.waitUntil(lambda: not panel.explorer.busy and panel.explorer.image is not None, timeout=TIMEOUT)
    assert panel.caption.text().startswith(MARKUP)  # the name is there, as typed
    assert panel.caption.textFormat() == Qt.TextFormat.PlainText
    assert rendered_as_rich_text(window) == []


def test_file_names_and_errors_naming_them_are_plain_text(window, tmp_path, qtbot):
    panel = next(p for p in window.panels if isinstance(p, StylePanel))
    window.tabs.setCurrentWidget(panel)
    photo = tmp_path / "<b>photo<i>.png"
    Image.new("RGB", (40, 30), (90, 120, 150)).save(photo, "PNG")
    assert window.open_image(photo)
    assert panel.run.photo is not None
    assert panel.content_slot.name_label.full_text() == photo.name
    assert panel.content_slot.name_label.textFormat() == Qt.TextFormat.PlainText

    missing = tmp_path / "<i>bad<b>.png"
    assert not window.open_image(missing)
    box = window._last_error_box
    assert missing.name in box.text() and box.textFormat() == Qt.TextFormat.PlainText
    assert rendered_as_rich_text(window) == []
