"""``studio stylize``: the Style Transfer panel's job, headless, with a text progress bar.

Ctrl+C stops after the current step and still writes the best image so far (exit code 130).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from studio.commands.job_driver import drive_job
from studio.commands.options import add_options
from studio.commands.terminal import EXIT_FAILURE, apply_threads, fail
from studio.spec.options import given_options
from studio.spec.style_settings import PRESETS, StyleSettings


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stylize",
        help="paint a photo in the style of one or more images (Gatys style transfer, coarse to fine)",
        description=(
            "Optimise CONTENT to match the style of STYLE images (blended by --style-weights). "
            "The PNG written carries every setting, so the studio can reopen it. Ctrl+C stops and "
            "writes the best image so far."
        ),
    )
    parser.add_argument("content", metavar="CONTENT", help="the photo to paint")
    parser.add_argument("styles", metavar="STYLE", nargs="+", help="one or more style images")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the PNG to write")
    parser.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default="balanced",
        help="starting settings: preview (256 px, quick), balanced (512 px), high (1024 px); default balanced",
    )
    parser.add_argument(
        "--style-weights",
        type=_weight_list,
        metavar="W1,W2,...",
        help="blend weight of each STYLE, in order (default: equal)",
    )
    parser.add_argument("--init", metavar="content|noise|IMAGE", help="starting image (default content)")
    add_options(StyleSettings, {"run": parser})
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: STUDIO_DEVICE or auto)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    parser.set_defaults(run=run_stylize)


def _weight_list(text: str) -> list[float]:
    try:
        weights = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r} (e.g. 1,0.5)") from None
    if not weights:
        raise argparse.ArgumentTypeError("give one weight per style, separated by commas: 1,0.5")
    return weights


def build_settings(args: argparse.Namespace, init_is_image: bool) -> StyleSettings:
    """The preset, then each option given on top of it."""
    changes = given_options(StyleSettings, vars(args))
    if args.init is not None:
        changes["init"] = "image" if init_is_image else args.init
    preset = PRESETS[args.preset]
    if "size" in changes and changes["size"] < preset.min_size:
        changes["min_size"] = max(16, changes["size"])
    return preset.replace(**changes)


def run_stylize(args: argparse.Namespace) -> int:
    from studio.engine.devices import select_device
    from studio.engine.style.transfer import StyleTransferError, stylize_job
    from studio.files.atomic import SaveError
    from studio.files.images import load_image, save_png
    from studio.spec.style_settings import StyleSettingsError, png_settings

    output = Path(args.output)
    if output.suffix.lower() != ".png":
        return fail(f"{output.name}: the result is saved as .png (the PNG carries the settings)")
    problem = apply_threads(args.threads)
    if problem:
        return fail(problem)
    weights = args.style_weights or [1.0] * len(args.styles)
    if len(weights) != len(args.styles):
        return fail(f"--style-weights has {len(weights)} weights for {len(args.styles)} style images")
    init_is_image = args.init is not None and args.init.strip().lower() not in ("content", "noise")
    try:
        content = load_image(args.content).image
        styles = [(load_image(path).image, weight) for path, weight in zip(args.styles, weights, strict=False)]
        init_image = load_image(args.init).image if init_is_image else None
        settings = build_settings(args, init_is_image)
        device = select_device(args.device)
        job = stylize_job(content, styles, settings, device, init_image=init_image)
    except (StyleSettingsError, StyleTransferError, ValueError) as exc:  # ImageLoadError is a ValueError
        return fail(exc)
    if device.note:
        print(f"note: {device.note}", file=sys.stderr)

    end = drive_job(
        job,
        stopping="saving the best image so far",
        aborted=lambda: "aborted; nothing was written",
        failed=_stylize_failure,
    )
    result = end.result
    if result is None:
        return end.code

    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    metadata = png_settings(result, Path(args.content).name, [Path(p).name for p in args.styles])
    try:
        save_png(output, result.image, metadata)
    except SaveError as exc:
        return fail(exc.strerror or exc, EXIT_FAILURE)
    w, h = result.image.size
    state = "stopped early, best so far" if result.cancelled else f"{len(result.scales)} scales"
    print(f"Wrote {output} ({w}x{h}, {state}, {result.seconds:.1f} s on {result.device})")
    return end.code


def _stylize_failure(exc: Exception) -> int | None:
    if isinstance(exc, MemoryError):
        return fail("out of memory; try a smaller --size", EXIT_FAILURE)
    if isinstance(exc, RuntimeError):  # OutOfMemory on every device, or a torch failure
        return fail(exc, EXIT_FAILURE)
    return None
