"""The emoji data set the bundled models train on: Noto Color Emoji, labelled by emoji group.

Every fully-qualified emoji of the Unicode list ``emoji-test.txt`` is drawn with Noto Color
Emoji, composited onto white and shrunk to ``size`` × ``size``. Its label is its Unicode emoji
group ("Smileys & Emotion", "Animals & Nature", ...), in the order the list gives them. A seeded
permutation, stratified per group, holds out a fixed fraction for evaluation.

Both sources come from Debian packages (``fonts-noto-color-emoji``, ``unicode-data``); when one
is missing, :class:`EmojiSourceMissing` says how to install it.

What lands in the output folder:

- ``emoji-{size}.npz`` (compressed, no pickled objects): ``images`` uint8 N×H×W×3, ``labels``
  int64, ``split`` uint8 (0 train, 1 held-out), ``names``, ``codepoints`` and ``classes`` as
  unicode arrays;
- ``dataset.json``: the card (classes, counts, split, sources and their versions, licences, the
  command that rebuilds it);
- ``preview.png``: up to two rows of 16 emoji per group, for a human to look at.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

from studio.engine.jobs import Progress
from studio.files.atomic import atomic_write, atomic_write_bytes
from studio.files.images import save_png

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

DEFAULT_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
DEFAULT_EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")

FONT_INSTALL_HINT = (
    "Noto Color Emoji is not installed: sudo apt-get install fonts-noto-color-emoji "
    "(Debian/Ubuntu), or pass --font PATH"
)
EMOJI_TEST_INSTALL_HINT = (
    "The Unicode emoji list (emoji-test.txt) is not installed: sudo apt-get install unicode-data "
    "(Debian/Ubuntu), or pass --emoji-test PATH (download it from https://unicode.org/Public/emoji/)"
)

# Noto Color Emoji is a bitmap (CBDT) font: its only strike is at this pixel size, and
# FreeType refuses any other. Scalable colour fonts render at it as well.
RENDER_SIZE = 109
SKIN_TONE_MODIFIERS = range(0x1F3FB, 0x1F3FF + 1)
# Skin tones and hair styles on their own: building blocks, not emoji to learn.
SKIPPED_GROUPS = frozenset({"Component"})
PROGRESS_EVERY = 50
PREVIEW_COLUMNS = 16
PREVIEW_ROWS_PER_CLASS = 2
MIN_SIZE, MAX_SIZE = 8, 256

LICENCES = {
    "Noto Color Emoji": {
        "spdx": "OFL-1.1",
        "name": "SIL Open Font License 1.1",
        "url": "https://openfontlicense.org",
        "note": "the images are renderings of the font's glyphs; the font itself is not redistributed",
    },
    "emoji-test.txt": {
        "spdx": "Unicode-3.0",
        "name": "Unicode License v3",
        "url": "https://www.unicode.org/license.txt",
        "note": "the emoji list, groups and names used as labels",
    },
}


class EmojiSourceMissing(FileNotFoundError):
    """The font or the emoji list is not there; the message says how to install it."""

    def __init__(self, path: str | Path, hint: str) -> None:
        self.path = Path(path)
        self.hint = hint
        super().__init__(f"{hint} ({self.path} not found)")


@dataclass(frozen=True)
class EmojiEntry:
    codepoints: str  # "1F468 200D 1F469", as emoji-test.txt spells them
    char: str
    group: str
    subgroup: str
    name: str

    @property
    def has_skin_tone(self) -> bool:
        return any(ord(c) in SKIN_TONE_MODIFIERS for c in self.char)


@dataclass(frozen=True)
class DatasetInfo:
    out_dir: Path
    npz_path: Path
    card_path: Path
    preview_path: Path
    count: int
    classes: list[str]
    class_counts: dict[str, int]
    heldout_count: int
    skipped: list[str]  # names of emoji the font could not draw
    seconds: float


# --- emoji-test.txt --------------------------------------------------------------------------

_ENTRY = re.compile(r"^(?P<cps>[0-9A-Fa-f]+(?:\s+[0-9A-Fa-f]+)*)\s*;\s*(?P<status>[\w-]+)\s*#\s*(?P<comment>.*)$")
# "😀 E1.0 grinning face": the emoji, the version it arrived in, its name.
_COMMENT = re.compile(r"^\S+\s+E\d+(?:\.\d+)?\s+(?P<name>.*)$")


def parse_emoji_test(path: str | Path = DEFAULT_EMOJI_TEST) -> list[EmojiEntry]:
    """The fully-qualified emoji of ``emoji-test.txt`` in file order, without the Component group."""
    path = Path(path)
    text = _read_emoji_test(path)
    entries: list[EmojiEntry] = []
    group = subgroup = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# group:"):
            group, subgroup = line.split(":", 1)[1].strip(), ""
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            match = _ENTRY.match(line)
            if match is None or match["status"] != "fully-qualified":
                continue
            if not group or group in SKIPPED_GROUPS:
                continue
            hexes = match["cps"].split()
            try:
                char = "".join(chr(int(h, 16)) for h in hexes)
            except (ValueError, OverflowError):  # a code point past U+10FFFF
                continue
            comment = match["comment"].strip()
            named = _COMMENT.match(comment)
            name = named["name"].strip() if named else comment.partition(" ")[2].strip()
            entries.append(EmojiEntry(" ".join(h.upper() for h in hexes), char, group, subgroup, name))
    if not entries:
        raise ValueError(f"{path.name} lists no fully-qualified emoji: is it Unicode's emoji-test.txt?")
    return entries


def read_emoji_test_version(path: str | Path = DEFAULT_EMOJI_TEST) -> str | None:
    """The "# Version: 15.0" of ``emoji-test.txt``, or None when it has none."""
    for line in _read_emoji_test(Path(path)).splitlines()[:50]:
        if line.startswith("# Version:"):
            return line.split(":", 1)[1].strip()
    return None


def _read_emoji_test(path: Path) -> str:
    if not path.is_file():
        raise EmojiSourceMissing(path, EMOJI_TEST_INSTALL_HINT)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name} is not UTF-8 text: is it Unicode's emoji-test.txt?") from exc


# --- the font --------------------------------------------------------------------------------


def read_font_version(path: str | Path) -> str | None:
    """The font's version string (OpenType name ID 5), or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
            if len(header) < 12 or header[:4] == b"ttcf":
                return None
            (num_tables,) = struct.unpack(">H", header[4:6])
            directory = handle.read(16 * num_tables)
            for i in range(num_tables):
                tag, _checksum, offset, length = struct.unpack(">4sIII", directory[16 * i : 16 * i + 16])
                if tag == b"name":
                    handle.seek(offset)
                    table = handle.read(min(length, 1 << 20))
                    break
            else:
                return None
        _format, count, strings = struct.unpack(">HHH", table[:6])
        for i in range(count):
            platform, _enc, _lang, name_id, length, offset = struct.unpack(">6H", table[6 + 12 * i : 18 + 12 * i])
            if name_id == 5:
                raw = table[strings + offset : strings + offset + length]
                return raw.decode("utf-16-be" if platform in (0, 3) else "latin-1").strip() or None
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    return None


class _EmojiRenderer:
    """Draws one emoji at a time onto white, centred in a square, then shrinks it to ``size``."""

    REFERENCE = "\U0001f600"  # grinning face: in every emoji font

    def __init__(self, font_path: Path, size: int) -> None:
        if not font_path.is_file():
            raise EmojiSourceMissing(font_path, FONT_INSTALL_HINT)
        try:
            self.font = ImageFont.truetype(str(font_path), RENDER_SIZE)
        except OSError as exc:
            raise ValueError(
                f"{font_path.name} is not a colour emoji font Pillow can draw at {RENDER_SIZE} px ({exc})"
            ) from exc
        self.size = size
        # One cell for every emoji (the reference's advance × the line height), so they all
        # keep the same scale: a small emoji stays small rather than being blown up.
        ascent, descent = self.font.getmetrics()
        self.advance = self.font.getlength(self.REFERENCE)
        cell_w, cell_h = math.ceil(self.advance), ascent + descent
        if cell_w <= 0 or cell_h <= 0:
            raise ValueError(f"{font_path.name} has no emoji glyphs")
        self.side = max(cell_w, cell_h)
        self.origin = ((self.side - cell_w) / 2, (self.side - cell_h) / 2)
        self.layout = "raqm" if features.check("raqm") else "basic"

    def render(self, char: str) -> np.ndarray | None:
        """An HxWx3 uint8 image, or None when the font has no single glyph for ``char``."""
        # A sequence the font cannot join (a new ZWJ family, a flag; every sequence without
        # the raqm layout engine) comes out as several glyphs side by side: not that emoji.
        if self.font.getlength(char) > 1.5 * self.advance:
            return None
        # Drawn onto transparent white: Pillow blends the colour glyph with the white under
        # it, so the RGB channels already are the emoji composited onto white, and the alpha
        # channel tells whether anything was drawn at all (a missing glyph draws nothing).
        canvas = Image.new("RGBA", (self.side, self.side), (255, 255, 255, 0))
        ImageDraw.Draw(canvas).text(self.origin, char, font=self.font, embedded_color=True)
        if canvas.getchannel("A").getbbox() is None:
            return None
        rgb = canvas.convert("RGB")
        if rgb.getextrema() == ((255, 255), (255, 255), (255, 255)):
            return None
        if self.size != self.side:
            rgb = rgb.resize((self.size, self.size), Image.Resampling.LANCZOS, reducing_gap=3.0)
        return np.asarray(rgb, dtype=np.uint8)


# --- the split -------------------------------------------------------------------------------


def heldout_split(labels: np.ndarray, num_classes: int, fraction: float, seed: int) -> np.ndarray:
    """uint8 per example: 1 held out, 0 train. Stratified per class, the same for the same seed.

    The total held out is ``round(fraction × N)``, shared among the classes in proportion to
    their size (largest remainders first), so every class keeps close to ``fraction`` held out;
    a class never gives away all its examples.
    """
    labels = np.asarray(labels)
    split = np.zeros(len(labels), dtype=np.uint8)
    if fraction <= 0 or len(labels) == 0:
        return split
    counts = np.bincount(labels, minlength=num_classes)
    exact = counts * fraction
    held = np.floor(exact).astype(np.int64)
    leftover = int(round(fraction * len(labels))) - int(held.sum())
    # Stable sort: equal remainders go to the earlier class, so the result is reproducible.
    for c in np.argsort(-(exact - held), kind="stable")[: max(leftover, 0)]:
        held[c] += 1
    held = np.minimum(held, np.maximum(counts - 1, 0))
    rng = np.random.default_rng(seed)
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        split[members[rng.permutation(len(members))[: held[c]]]] = 1
    return split


# --- the builder -----------------------------------------------------------------------------


def build_emoji_dataset(
    out_dir: str | Path,
    *,
    size: int = 64,
    font_path: str | Path = DEFAULT_FONT,
    emoji_test_path: str | Path = DEFAULT_EMOJI_TEST,
    holdout: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    skin_tones: bool = False,
    groups: list[str] | None = None,
    subgroups: list[str] | None = None,
) -> Generator[Progress, None, DatasetInfo]:
    """A job: render the emoji data set into ``out_dir``; yields progress every ~50 emoji.

    ``limit`` keeps at most that many emoji, taken in turn from each group (the first ones
    of each), so a small build still covers every class; label numbers stay those of the full
    build. ``groups`` keeps only those groups. Files are written only once everything is
    rendered, each atomically, the card last.
    """
    started = time.monotonic()
    out_dir, font_path, emoji_test_path = Path(out_dir), Path(font_path), Path(emoji_test_path)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")
    if not 0 <= holdout < 1:
        raise ValueError(f"the held-out fraction must be at least 0 and below 1, got {holdout}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")

    # Both sources are checked before any work, so a missing one is reported at once.
    renderer = _EmojiRenderer(font_path, size)
    entries = parse_emoji_test(emoji_test_path)
    classes = list(dict.fromkeys(e.group for e in entries))
    if groups is not None:
        unknown = [g for g in groups if g not in classes]
        if unknown:
            raise ValueError(
                f"unknown emoji group {', '.join(map(repr, unknown))}; the groups are: {', '.join(classes)}"
            )
        classes = [g for g in classes if g in groups]
    if subgroups is not None:
        known = {e.subgroup for e in entries}
        unmatched = [p for p in subgroups if not any(fnmatch.fnmatchcase(name, p) for name in known)]
        if unmatched:
            raise ValueError(
                f"no emoji subgroup matches {', '.join(map(repr, unmatched))}; e.g. face-smiling, face-*, person"
            )
        entries = [e for e in entries if any(fnmatch.fnmatchcase(e.subgroup, p) for p in subgroups)]
        classes = [c for c in classes if any(e.group == c for e in entries)]
    candidates = [e for e in entries if e.group in classes and (skin_tones or not e.has_skin_tone)]
    order = _round_robin(candidates, classes) if limit is not None else list(range(len(candidates)))
    target = min(limit, len(candidates)) if limit is not None else len(candidates)

    rendered: dict[int, np.ndarray] = {}
    skipped: list[str] = []
    yield Progress(0.0, f"Rendering {target} emoji…")
    for done, index in enumerate(order, 1):
        if len(rendered) >= target:
            break
        image = renderer.render(candidates[index].char)
        if image is None:
            skipped.append(candidates[index].name)
        else:
            rendered[index] = image
        if done % PROGRESS_EVERY == 0:
            yield Progress(
                min(len(rendered) / max(target, 1), 1.0) * 0.95,
                f"Rendered {len(rendered)} of {target} emoji",
                image,
            )
    if not rendered:
        raise ValueError(f"{font_path.name} could not draw any of the emoji: is it a colour emoji font?")

    kept = sorted(rendered)  # back to emoji-test order
    chosen = [candidates[i] for i in kept]
    images = np.stack([rendered[i] for i in kept])
    labels = np.array([classes.index(e.group) for e in chosen], dtype=np.int64)
    split = heldout_split(labels, len(classes), holdout, seed)
    class_counts = {name: int(n) for name, n in zip(classes, np.bincount(labels, minlength=len(classes)), strict=False)}

    yield Progress(0.96, "Writing the data set…")
    npz_path = out_dir / f"emoji-{size}.npz"
    arrays: dict[str, Any] = {
        "images": images,
        "labels": labels,
        "split": split,
        "names": np.array([e.name for e in chosen], dtype=str),
        "codepoints": np.array([e.codepoints for e in chosen], dtype=str),
        "classes": np.array(classes, dtype=str),
    }
    atomic_write(npz_path, lambda handle: np.savez_compressed(handle, **arrays))

    preview_path = save_png(out_dir / "preview.png", _preview_grid(images, labels, classes))

    card = {
        "name": f"Noto Color Emoji {size}×{size}, by emoji group",
        "file": npz_path.name,
        "size": size,
        "count": len(chosen),
        "classes": classes,
        "class_counts": class_counts,
        "holdout_fraction": holdout,
        "heldout_count": int(split.sum()),
        "seed": seed,
        "skin_tones": skin_tones,
        "limit": limit,
        "skipped": skipped,
        "sources": {
            "font": {
                "path": str(font_path),
                "version": read_font_version(font_path),
                "layout_engine": renderer.layout,
            },
            "emoji_test": {"path": str(emoji_test_path), "version": read_emoji_test_version(emoji_test_path)},
        },
        "licences": LICENCES,
        "subgroups": subgroups,
        "command": _command_line(
            out_dir, size, font_path, emoji_test_path, holdout, seed, limit, skin_tones, groups, subgroups
        ),
    }
    card_path = out_dir / "dataset.json"
    atomic_write_bytes(card_path, (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    yield Progress(1.0, f"Wrote {len(chosen)} emoji to {out_dir}")
    return DatasetInfo(
        out_dir=out_dir,
        npz_path=npz_path,
        card_path=card_path,
        preview_path=preview_path,
        count=len(chosen),
        classes=classes,
        class_counts=class_counts,
        heldout_count=int(split.sum()),
        skipped=skipped,
        seconds=time.monotonic() - started,
    )


def _round_robin(candidates: Sequence[EmojiEntry], classes: Sequence[str]) -> list[int]:
    """Candidate indices taking one from each group in turn, each group in file order."""
    queues = [[i for i, e in enumerate(candidates) if e.group == g] for g in classes]
    order: list[int] = []
    for rank in range(max((len(q) for q in queues), default=0)):
        order.extend(q[rank] for q in queues if rank < len(q))
    return order


def _command_line(
    out_dir: Path,
    size: int,
    font_path: Path,
    emoji_test_path: Path,
    holdout: float,
    seed: int,
    limit: int | None,
    skin_tones: bool,
    groups: list[str] | None,
    subgroups: list[str] | None = None,
) -> str:
    import shlex

    parts = [
        "studio",
        "data",
        "emoji",
        "--out",
        str(out_dir),
        "--size",
        str(size),
        "--seed",
        str(seed),
        "--holdout",
        str(holdout),
    ]
    if limit is not None:
        parts += ["--limit", str(limit)]
    if skin_tones:
        parts.append("--skin-tones")
    if font_path != DEFAULT_FONT:
        parts += ["--font", str(font_path)]
    if emoji_test_path != DEFAULT_EMOJI_TEST:
        parts += ["--emoji-test", str(emoji_test_path)]
    for group in groups or ():
        parts += ["--group", group]
    for subgroup in subgroups or ():
        parts += ["--subgroup", subgroup]
    return shlex.join(parts)


def _preview_grid(images: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> Image.Image:
    """Up to two rows of emoji per group, spread across the group, its name on the left."""
    size = images.shape[1]
    gap = max(2, size // 16)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(size=max(10, size // 4))
    except (OSError, TypeError):  # Pillow built without FreeType has only its bitmap font
        font = ImageFont.load_default()
    label_width = max(int(font.getlength(name)) for name in classes) + 2 * gap
    rows: list[tuple[str | None, list[int]]] = []
    for c, name in enumerate(classes):
        members = np.flatnonzero(labels == c)
        if len(members) == 0:
            continue
        shown = min(len(members), PREVIEW_COLUMNS * PREVIEW_ROWS_PER_CLASS)
        picks = members[np.linspace(0, len(members) - 1, shown).round().astype(int)]
        for r in range(0, shown, PREVIEW_COLUMNS):
            rows.append((name if r == 0 else None, picks[r : r + PREVIEW_COLUMNS].tolist()))
    pitch = size + gap
    grid = Image.new("RGB", (label_width + PREVIEW_COLUMNS * pitch + gap, len(rows) * pitch + gap), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for r, (label, row_picks) in enumerate(rows):
        top = gap + r * pitch
        if label is not None:
            draw.text((gap, top + size // 2), label, fill=(60, 60, 60), font=font, anchor="lm")
        for col, index in enumerate(row_picks):
            grid.paste(Image.fromarray(images[index]), (label_width + col * pitch, top))
    return grid
