"""Which files beyond Python modules the frozen app carries, and where they go in the bundle.

Kept out of the spec so tests/test_packaging.py can check the selection without PyInstaller.
"""

from __future__ import annotations

import json
from pathlib import Path

# Training checkpoints (resumable optimiser state) and sample grids sit beside the bundled
# models in a working tree; git ignores them, the app never reads them, and a clean clone lacks
# them, so a bundle made from a working tree must not differ by carrying them. Slim checkpoints
# (`studio model slim`: the weights a fine-tune starts from, FreezeD's discriminator) are
# committed and shipped: their card says "slim".
RESOURCE_EXCLUDES = ("*.ckpt.*", "*-samples.png", "*.pyc")
CHECKPOINT_SUFFIXES = (".ckpt.safetensors", ".ckpt.json")
EXCLUDED_FOLDERS = ("__pycache__",)
# The frozen studio finds its resources as the package studio.resources (importlib.resources).
RESOURCES_IN_BUNDLE = Path("studio") / "resources"


def resource_datas(resources: Path) -> list[tuple[str, str]]:
    """(source file, folder inside the bundle) for every shipped file of ``resources``."""
    datas = []
    for path in sorted(resources.rglob("*")):
        relative = path.relative_to(resources)
        if not path.is_file() or any(part in EXCLUDED_FOLDERS for part in relative.parts):
            continue
        if any(path.match(pattern) for pattern in RESOURCE_EXCLUDES) and not is_slim_checkpoint(path):
            continue
        datas.append((str(path), str(RESOURCES_IN_BUNDLE / relative.parent)))
    return datas


def is_slim_checkpoint(path: Path) -> bool:
    """A slim checkpoint's file or its card: the card (JSON beside it) says ``"slim": true``."""
    name = path.name
    suffix = next((s for s in CHECKPOINT_SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        return False
    card = path.with_name(name[: -len(suffix)] + ".ckpt.json")
    try:
        return json.loads(card.read_text(encoding="utf-8")).get("slim") is True
    except (OSError, ValueError, AttributeError):
        return False
