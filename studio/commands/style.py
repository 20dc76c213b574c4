"""``studio stylize``: the Style Transfer panel's job, headless, with a text progress bar.

Ctrl+C stops after the current step and still writes the best image so far (exit code 130).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.commands.job_driver import drive_job
from studio.commands.options import add_options
from studio.commands.terminal import EXIT_FAILURE, EXIT_OK, apply_threads, fail
from studio.spec.bounds import STRENGTH, STYLE_WEIGHT, THREADS, OutOfRange
from studio.spec.options import given_options
from studio.spec.style_settings import PRESETS, StyleSettings

if TYPE_CHECKING:
    from PIL import Image

    from studio.engine.style.builtin import BuiltinStyle
    from studio.engine.style.shape import UnpaintableImage


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stylize",
        help="paint a photo in the style of one or more images (Gatys style transfer, coarse to fine)",
        description=(
            "Optimise CONTENT to match the style of STYLE images and --builtin styles (blended by "
            "--style-weights). "
            "The PNG written carries every setting, so the studio can reopen it. Ctrl+C stops and "
            "writes the best image so far. --refine starts the optimisation from the instant style "
            "network's painting (--strength sets how much style that start has). --instant stops at that "
            "painting: one pass of the network (only --size, --style-weights and --strength apply)."
        ),
    )
    parser.add_argument("content", metavar="CONTENT", help="the photo to paint")
    parser.add_argument("styles", metavar="STYLE", nargs="*", help="style images (optional with --builtin)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the PNG to write")
    parser.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        help="starting settings: preview (256 px, quick), balanced (512 px), high (1024 px); default balanced",
    )
    parser.add_argument(
        "--instant",
        action="store_true",
        help="one pass of the instant style network instead of the optimisation (seconds, not minutes); "
        "--size defaults to the photo's own size (at most 4096 px, painted in tiles above 1024)",
    )
    parser.add_argument(
        "--refine",
        action="store_true",
        help="start the optimisation from the instant painting instead of the photo (reaches a given "
        "quality in fewer steps)",
    )
    parser.add_argument(
        "--strength",
        type=STRENGTH.argument(),
        metavar="0..1",
        help="with --instant or --refine: how much of the style the instant painting has, from 0 (the "
        "photo's own style) to 1 (default)",
    )
    parser.add_argument(
        "--style-weights",
        type=_weight_list,
        metavar="W1,W2,...",
        help="blend weight of each style, in order: the STYLE images, then the --builtin styles (default: equal)",
    )
    parser.add_argument(
        "--builtin",
        action="append",
        default=[],
        metavar="NAME",
        help="one of the 26 built-in styles by name (any case, e.g. Mosaic) or number (0-25), used like a "
        "STYLE image; repeat it for several",
    )
    parser.add_argument(
        "--init", metavar="content|noise|IMAGE", help="starting image instead of the preset's (default content)"
    )
    add_options(StyleSettings, {"run": parser})
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: STUDIO_DEVICE or auto)")
    parser.add_argument("--threads", type=THREADS.argument(), help="CPU threads (default: torch's choice)")
    parser.set_defaults(run=run_stylize)


def _weight_list(text: str) -> list[float]:
    try:
        weights = [float(STYLE_WEIGHT.parse(part.strip())) for part in text.split(",") if part.strip()]
    except OutOfRange as exc:
        raise argparse.ArgumentTypeError(f"{exc} (give one weight per style, e.g. 1,0.5)") from None
    if not weights:
        raise argparse.ArgumentTypeError("give one weight per style, separated by commas: 1,0.5")
    return weights


def build_settings(args: argparse.Namespace, init_is_image: bool) -> StyleSettings:
    """The preset, then each option given on top of it."""
    changes = given_options(StyleSettings, vars(args))
    if args.init is not None:
        changes["init"] = "image" if init_is_image else args.init
    if getattr(args, "refine", False):
        changes["init"] = "instant"
    if getattr(args, "strength", None) is not None:
        changes["strength"] = args.strength
    preset = PRESETS[args.preset or "balanced"]
    if "size" in changes and "min_size" not in changes and preset.min_size >= preset.size:
        changes["min_size"] = changes["size"]  # a one-scale preset stays one scale at any size
    elif "size" in changes and changes["size"] < preset.min_size:
        changes["min_size"] = max(16, changes["size"])
    return preset.replace(**changes)


def run_stylize(args: argparse.Namespace) -> int:
    from studio.engine.devices import select_device
    from studio.engine.style.shape import UnpaintableImage
    from studio.engine.style.transfer import StyleTransferError, stylize_job
    from studio.files.atomic import SaveError
    from studio.files.images import load_image
    from studio.files.recovery import save_png_keeping_result
    from studio.spec.style_settings import StyleSettingsError, png_settings

    output = Path(args.output)
    if output.suffix.lower() != ".png":
        return fail(f"{output.name}: the result is saved as .png (the PNG carries the settings)")
    problem = apply_threads(args.threads)
    if problem:
        return fail(problem)
    try:
        builtins = _builtin_styles(args.builtin)
    except ValueError as exc:
        return fail(exc)
    if not args.styles and not builtins:
        return fail("give at least one STYLE image or --builtin NAME")
    labels = [Path(p).name for p in args.styles] + [f"{style.name} (built-in)" for style in builtins]
    weights = args.style_weights or [1.0] * len(labels)
    if len(weights) != len(labels):
        return fail(
            f"--style-weights has {len(weights)} weights for {len(labels)} styles (STYLE images, then --builtin)"
        )
    if args.instant and args.refine:
        return fail("--instant and --refine: choose one (--refine starts the optimisation from the instant painting)")
    if args.instant:
        return run_instant(args, output, weights, builtins, labels)
    if args.refine and args.init is not None:
        return fail(f"--refine and --init {args.init}: choose one starting image")
    init_is_image = args.init is not None and args.init.strip().lower() not in ("content", "noise", "instant")
    try:
        settings = build_settings(args, init_is_image)
        if args.strength is not None and settings.init != "instant":
            return fail(
                "--strength sets the instant painting's strength; it has no effect with "
                f"--init {args.init or settings.init} (use --refine, or --style-weight for the optimisation's balance)"
            )
        content = load_image(args.content).image
        device = select_device(args.device)
        styles = list(zip(_style_images(args.styles, builtins, device), weights, strict=True))
        init_image = load_image(args.init).image if init_is_image else None
        job = stylize_job(content, styles, settings, device, init_image=init_image)
    except UnpaintableImage as exc:
        return fail(_unpaintable(exc, args.content, labels))
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
    metadata = png_settings(result, Path(args.content).name, labels)
    try:
        save_png_keeping_result(output, result.image, metadata)
    except SaveError as exc:  # the picture is in the recovery folder when it could be kept
        return fail(exc, EXIT_FAILURE)
    w, h = result.image.size
    state = "stopped early, best so far" if result.cancelled else f"{len(result.scales)} scales"
    print(f"Wrote {output} ({w}x{h}, {state}, {result.seconds:.1f} s on {result.device})")
    return end.code


def _unpaintable(exc: UnpaintableImage, content: str, labels: list[str]) -> str:
    """The message for a picture too thin to paint, naming its file."""
    names = {"photo": Path(content).name} | {f"style image {i}": label for i, label in enumerate(labels, 1)}
    return f"{names.get(exc.role, 'the ' + exc.role)} is {exc.reason}"


def _builtin_styles(names: list[str]) -> list[BuiltinStyle]:
    """The ``--builtin`` styles, in order; ValueError naming every built-in style for an unknown one."""
    from studio.engine.style.builtin import builtin_style

    return [builtin_style(name) for name in names]


def _style_images(paths: list[str], builtins: list[BuiltinStyle], device: Any) -> list[Image.Image]:
    """The STYLE images, then each built-in style's image (rendered on ``device``, cached), as RGB."""
    from studio.engine.style.builtin import builtin_style_image
    from studio.files.images import load_image

    images = [load_image(path).image.convert("RGB") for path in paths]
    return images + [builtin_style_image(style.index, device) for style in builtins]


def run_instant(
    args: argparse.Namespace, output: Path, weights: list[float], builtins: list[BuiltinStyle], labels: list[str]
) -> int:
    """``studio stylize --instant``: one pass of the instant style network, no optimisation."""
    import time

    from PIL import Image

    from studio.engine.devices import OutOfMemory, select_device
    from studio.engine.style.instant import MAX_SIDE, blend_style_vectors, load_instant_networks
    from studio.engine.style.shape import UnpaintableImage, check_paintable
    from studio.files.atomic import SaveError
    from studio.files.images import load_image
    from studio.files.recovery import save_png_keeping_result
    from studio.spec.style_settings import instant_png_settings

    strength = 1.0 if args.strength is None else args.strength
    if not 0.0 <= strength <= 1.0:
        return fail(f"--strength must be between 0 and 1, not {args.strength:g}")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        return fail("--style-weights must be non-negative and not all zero")
    gatys_only = sorted(f"--{name.replace('_', '-')}" for name in given_options(StyleSettings, vars(args)))
    gatys_only = [flag for flag in gatys_only if flag != "--size"]
    gatys_only += [flag for flag, value in (("--preset", args.preset), ("--init", args.init)) if value is not None]
    if gatys_only:
        return fail(f"{', '.join(gatys_only)}: not used by --instant (it takes --size, --style-weights, --strength)")
    if args.size is not None and not 16 <= args.size <= MAX_SIDE:
        return fail(f"--size must be between 16 and {MAX_SIDE} px with --instant, not {args.size}")
    try:
        photo = load_image(args.content).image.convert("RGB")
        check_paintable(photo.size, "photo")
        device = select_device(args.device)
        styles = _style_images(args.styles, builtins, device)
        for number, style in enumerate(styles, 1):
            check_paintable(style.size, f"style image {number}")
        if device.note:
            print(f"note: {device.note}", file=sys.stderr)
        start = time.perf_counter()
        net = load_instant_networks(device)
        size = args.size if args.size is not None else min(max(photo.size), MAX_SIDE)
        if max(photo.size) != size:
            scale = size / max(photo.size)
            photo = photo.resize(
                (max(1, round(photo.width * scale)), max(1, round(photo.height * scale))), Image.Resampling.LANCZOS
            )
        vector = blend_style_vectors([net.style_vector(style) for style in styles], weights)
        image = net.stylize(photo, vector, strength, on_retry=lambda note: print(f"note: {note}", file=sys.stderr))
        seconds = time.perf_counter() - start
    except UnpaintableImage as exc:
        return fail(_unpaintable(exc, args.content, labels))
    except ValueError as exc:  # ImageLoadError, InstantStyleError (missing or damaged weights)
        return fail(exc)
    except MemoryError:
        return fail("out of memory; try a smaller --size", EXIT_FAILURE)
    except OutOfMemory:
        return fail(
            f"not enough memory for {max(photo.size)} px; try --size {max(16, max(photo.size) // 2)}", EXIT_FAILURE
        )
    except RuntimeError as exc:  # a torch failure
        return fail(exc, EXIT_FAILURE)
    metadata = instant_png_settings(
        strength=strength,
        weights=weights,
        style_names=labels,
        content_name=Path(args.content).name,
        size=image.size,
        device=str(net.device),
        seconds=seconds,
    )
    try:
        save_png_keeping_result(output, image, metadata)
    except SaveError as exc:  # the picture is in the recovery folder when it could be kept
        return fail(exc, EXIT_FAILURE)
    w, h = image.size
    print(f"Wrote {output} ({w}x{h}, instant, strength {strength:g}, {seconds:.1f} s on {net.device})")
    return EXIT_OK


def _stylize_failure(exc: Exception) -> int | None:
    from studio.engine.devices import first_line, is_device_lost
    from studio.engine.picture_health import PictureNotFinite
    from studio.engine.style.transfer import StyleOutOfMemory

    if isinstance(exc, StyleOutOfMemory):
        advice = f"; try --size {exc.suggested}" if exc.suggested else "; close other programs and try again"
        return fail(f"not enough memory for {exc.size} px{advice}", EXIT_FAILURE)
    if isinstance(exc, PictureNotFinite):  # after the whole run: say so instead of saving grey
        return fail(exc, EXIT_FAILURE)
    if isinstance(exc, MemoryError):
        return fail("out of memory; try a smaller --size", EXIT_FAILURE)
    if is_device_lost(exc):  # RELIABILITY.md case 18: no retry on a broken GPU
        return fail(
            f"{first_line(exc)}; the GPU cannot be used again in this run: run the command again, or with --device cpu",
            EXIT_FAILURE,
        )
    if isinstance(exc, RuntimeError):  # OutOfMemory on every device, or a torch failure
        return fail(exc, EXIT_FAILURE)
    return None
