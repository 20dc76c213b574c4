"""Who the app is to each operating system: one place for names, ids and file types.

The spec, build.py, the .desktop file, the AppStream metainfo, the NSIS script and the macOS
Info.plist all describe the same app; tests/test_packaging.py checks that they agree with this
module, so a rename or a new image format is made here and checked everywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _studio_constant(name: str) -> str:
    # Read from the source, not imported: the build scripts run without the studio's
    # dependencies imported (and the spec must not import Qt or torch itself).
    tree = ast.parse((ROOT / "studio" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"studio/__init__.py defines no {name}")


APP_NAME = _studio_constant("APP_NAME")  # "Latent Studio"
VERSION = _studio_constant("__version__")
# Reverse-DNS id: the .desktop file's name, the AppStream id, the macOS bundle identifier.
APP_ID = "org.latentstudio.LatentStudio"
EXECUTABLE = "latent-studio"  # the onedir's executable, the launcher on PATH, the .deb's name
PUBLISHER = "Latent Studio contributors"
SUMMARY = "Explore what generative models learnt and paint photos in the style of paintings"
ICON_SOURCE = ROOT / "resources" / "icons" / "latent-studio.svg"

# The formats the studio's safe image loader accepts (studio/files/images.py): MIME type,
# macOS uniform type identifier, file extensions.
IMAGE_TYPES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("image/png", "public.png", ("png",)),
    ("image/jpeg", "public.jpeg", ("jpg", "jpeg")),
    ("image/webp", "org.webmproject.webp", ("webp",)),
    ("image/bmp", "com.microsoft.bmp", ("bmp",)),
    ("image/tiff", "public.tiff", ("tif", "tiff")),
    ("image/gif", "com.compuserve.gif", ("gif",)),
)
MIME_TYPES = tuple(mime for mime, _, _ in IMAGE_TYPES)


def macos_info_plist() -> dict:
    """Info.plist keys beyond the ones PyInstaller writes (name, identifier, executable, icon)."""
    return {
        "CFBundleDisplayName": APP_NAME,
        "CFBundleShortVersionString": VERSION,
        "CFBundleVersion": VERSION,
        # Retina: without it macOS scales a blurry 1x rendering of every window.
        "NSHighResolutionCapable": True,
        # Follow the system's dark mode (the studio's theme does).
        "NSRequiresAquaSystemAppearance": False,
        "LSApplicationCategoryType": "public.app-category.graphics-design",
        "LSMinimumSystemVersion": "12.0",
        "NSHumanReadableCopyright": f"© {PUBLISHER}, MIT licence",
        # Open With > Latent Studio for every format the loader accepts; Alternate: offered,
        # never taking over as the default viewer.
        "CFBundleDocumentTypes": [
            {
                "CFBundleTypeName": "Image",
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Alternate",
                "LSItemContentTypes": [uti for _, uti, _ in IMAGE_TYPES],
            }
        ],
    }
