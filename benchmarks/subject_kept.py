"""Does Style Transfer's default keep the photo's subject recognisable?

A script, not a timed test. On the six benchmark pairs (``docs/style-benchmark/NAME-SIZE-content.png``
and ``-style.png``, made by ``benchmarks/style_pairs.py`` from public-domain and CC0 package
images), it paints each photo four ways and scores each picture's **content distance** to the
photo with the neutral VGG19 evaluator of ``benchmarks/style_vs_pastiche.py`` (relu4_2 features,
mean squared difference over the photo's own feature power: 0 is the photo itself):

- ``instant``: what the Style panel shows at once (the instant network, default strength 1);
- ``default``: Refine with the preset of that size as the artist gets it by default: Quick
  (256 px, the Style panel's default) or Balanced (512 px, ``studio stylize``'s default); both
  start from the instant painting with style weight 20, the "Keep my photo ↔ Take the style"
  slider where it starts;
- ``before``: the default before issue 13 (from the photo, coarse to fine, style weight 300),
  with ``--before`` only (it takes minutes per pair on a CPU);
- ``pastiche``: pastiche's 100-step L-BFGS result, the committed one beside the pair
  (``NAME-SIZE-pastiche.png``): a classic Gatys painting in which the subject stays readable.

Two references bound the scale: the photo (0) and the painting itself (its content distance to
the photo: the subject gone altogether). ``subject_lost`` is a picture's content distance over the
painting's, 0 to 1 and beyond. The default **keeps the subject** on a pair when its distance is at
most pastiche's (or, when pastiche is not there, at most a quarter of the painting's). A contact
sheet (photo, painting, instant, default, [before], pastiche per row) is written with ``--sheet``,
to look at: the number is only a check on what the pictures show.

Usage (from the repository root)::

    python benchmarks/subject_kept.py                       # 512 px, the six pairs
    python benchmarks/subject_kept.py --size 256 --before --sheet /tmp/sheet.png
    python benchmarks/subject_kept.py --quick               # one pair at 256 px, few steps

It prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from style_vs_pastiche import Evaluator, machine_info  # noqa: E402

PAIRS_DIR = ROOT / "docs" / "style-benchmark"
PAIRS = (
    "astronaut-van-gogh-room",
    "coffee-sunflower-mosaic",
    "chelsea-wood",
    "rocket-tiger-lines",
    "astronaut-hubble",
    "coffee-river-poster",
)


def paint(content: Image.Image, style: Image.Image, settings) -> tuple[Image.Image, float]:
    from studio.engine.devices import select_device
    from studio.engine.style.transfer import stylize_job

    started = time.perf_counter()
    job = stylize_job(content, [(style, 1.0)], settings, select_device("cpu"))
    try:
        while True:
            next(job)
    except StopIteration as stop:
        return stop.value.image, time.perf_counter() - started


def instant(content: Image.Image, style: Image.Image, size: int) -> Image.Image:
    from studio.engine.style.instant import load_instant_networks
    from studio.engine.style.transfer import fit_size

    net = load_instant_networks("cpu")
    photo = content.resize(fit_size(content.size, size), Image.Resampling.LANCZOS)
    return net.stylize(photo, net.style_vector(style), 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, choices=(256, 512), default=512, help="the pair size (default 512)")
    parser.add_argument("--pairs", nargs="*", default=list(PAIRS), help="pair names (default: all six)")
    parser.add_argument("--before", action="store_true", help="also paint with the default before issue 13")
    parser.add_argument("--sheet", type=Path, help="write a contact sheet PNG here")
    parser.add_argument("--quick", action="store_true", help="smoke test: one pair, 256 px, 4 steps")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)

    import torch

    from studio.spec.style_settings import BALANCED, PREVIEW, StyleSettings

    if args.threads:
        torch.set_num_threads(args.threads)
    size = 256 if args.quick else args.size
    pairs = args.pairs[:1] if args.quick else args.pairs
    # The preset of that size: Quick (the panel's default) at 256 px, Balanced (the CLI's) at 512.
    default = PREVIEW if size == 256 else BALANCED
    # The default before issue 13: the photo as the start, coarse to fine from 256 px, style weight 300.
    before = StyleSettings(size=size, steps=default.steps, init="content", style_weight=300.0)
    if args.quick:
        default, before = default.replace(steps=4), before.replace(steps=4)
    evaluator = Evaluator()
    rows, sheet_rows = [], []
    for name in pairs:
        content = Image.open(PAIRS_DIR / f"{name}-{size}-content.png").convert("RGB")
        style = Image.open(PAIRS_DIR / f"{name}-{size}-style.png").convert("RGB")
        targets = evaluator.targets(content, style)
        pictures = {"painting": style, "instant": instant(content, style, size)}
        seconds = {}
        pictures["default"], seconds["default"] = paint(content, style, default)
        if args.before:
            pictures["before"], seconds["before"] = paint(content, style, before)
        pastiche_path = PAIRS_DIR / f"{name}-{size}-pastiche.png"
        if pastiche_path.is_file():
            pictures["pastiche"] = Image.open(pastiche_path).convert("RGB")
        distances = {key: evaluator.score(image, targets)[1] for key, image in pictures.items()}
        gone = distances["painting"]
        bar = distances.get("pastiche", gone / 4)
        rows.append(
            {
                "pair": name,
                "content_distance": {k: round(v, 4) for k, v in distances.items()},
                "subject_lost": {k: round(v / gone, 3) for k, v in distances.items() if k != "painting"},
                "default_keeps_subject": distances["default"] <= bar,
                "seconds": {k: round(v, 1) for k, v in seconds.items()},
            }
        )
        print(f"{name}: {rows[-1]['subject_lost']}", file=sys.stderr)
        sheet_rows.append(
            [content, *(pictures[k] for k in ("painting", "instant", "default", "before", "pastiche") if k in pictures)]
        )

    if args.sheet:
        cell = 192
        columns = max(len(r) for r in sheet_rows)
        sheet = Image.new("RGB", (cell * columns, cell * len(sheet_rows)), "white")
        for y, row in enumerate(sheet_rows):
            for x, image in enumerate(row):
                sheet.paste(image.resize((cell, cell), Image.Resampling.LANCZOS), (x * cell, y * cell))
        sheet.save(args.sheet)

    kept = sum(r["default_keeps_subject"] for r in rows)
    report = {
        "benchmark": "subject_kept",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "size": size,
        "machine": machine_info(torch.get_num_threads()),
        "pairs": rows,
        "default_keeps_subject": f"{kept} of {len(rows)}",
        "sheet_columns": ["photo", "painting", "instant", "default", *(["before"] if args.before else []), "pastiche"],
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
