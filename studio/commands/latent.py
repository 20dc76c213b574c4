"""``studio sample`` and ``studio interpolate``: the Latent Explorer's renders, headless."""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.commands.terminal import EXIT_FAILURE, EXIT_OK, fail
from studio.spec.bounds import EXPORT_SIDE, FPS, FRAMES, GRID_SIDE, PSI, SEED, SLIDER, OutOfRange
from studio.spec.export_size import MAX_SIDE, MIN_SIDE, RESAMPLES, SCALES, ExportSize, ExportSizeError

_ANIMATION_SUFFIXES = (".gif", ".webp", ".png", ".apng")  # studio.files.animation's, without importing Pillow


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    sample = subparsers.add_parser(
        "sample",
        help="render one latent point of a VAE or GAN (or a 4x4 grid) to a PNG",
        description=(
            "Render the latent point of a seed. The PNG carries the exact state (model hash, class, "
            "latent vector, variety), so opening it in the Latent Explorer restores it."
        ),
    )
    _add_model_arguments(sample)
    sample.add_argument("--seed", type=SEED.argument(), required=True, help="seed of the latent vector")
    sample.add_argument(
        "--grid", action="store_true", help="a grid of seeds SEED, SEED+1, ... (4x4 unless --rows/--cols)"
    )
    sample.add_argument("--rows", type=GRID_SIDE.argument(), default=4, help="grid rows (default 4)")
    sample.add_argument("--cols", type=GRID_SIDE.argument(), default=4, help="grid columns (default 4)")
    sample.add_argument(
        "--class-per-row",
        action="store_true",
        help="conditional model: one row per class, row r in class r (the same seeds in every row)",
    )
    sample.add_argument(
        "--change",
        type=_change,
        action="append",
        default=[],
        metavar="N=VALUE",
        help=(
            "move the explorer's slider Change N (1 is the biggest change) to VALUE, from -3 to 3; "
            "repeat for more sliders (technically: the model's default latent directions)"
        ),
    )
    sample.add_argument(
        "--direction",
        type=_named_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="move along a named direction (studio direction list) to VALUE sigma, from -3 to 3; repeatable",
    )
    sample.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the PNG to write")
    _add_size_arguments(sample)
    sample.set_defaults(run=_cmd_sample)

    walk = subparsers.add_parser(
        "interpolate",
        help="animate a walk through the latent points of several seeds (GIF, WebP or APNG)",
        description=(
            "Walk smoothly (slerp) from seed to seed, and back to the first unless --no-loop, and save the animation."
        ),
    )
    _add_model_arguments(walk)
    walk.add_argument(
        "--seeds", type=_seed_list, required=True, metavar="S1,S2,...", help="two or more seeds, in order"
    )
    walk.add_argument("--frames", type=FRAMES.argument(), default=24, help="frames in the whole animation (default 24)")
    walk.add_argument("--fps", type=FPS.argument(), default=12.0, help="frames per second (default 12)")
    walk.add_argument("--no-loop", action="store_true", help="stop at the last seed and play once")
    walk.add_argument("-o", "--output", required=True, metavar="OUT", help="the animation: .gif, .webp, .png or .apng")
    walk.add_argument("--frames-dir", metavar="DIR", help="also write every frame as a PNG carrying its latent state")
    _add_size_arguments(walk)
    walk.set_defaults(run=_cmd_interpolate)


def _add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, metavar="NAME", help="an installed model's name, or a .safetensors path"
    )


def _add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help="auto, cuda, mps or cpu (default: STUDIO_DEVICE or auto)")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    _add_model_option(parser)
    parser.add_argument("--class", dest="class_", metavar="C", help="class name or index, for a conditional model")
    parser.add_argument(
        "--psi",
        type=PSI.argument(),
        default=1.0,
        help="variety, for a GAN (truncation ψ): below 1 is tamer (default 1)",
    )
    _add_device_option(parser)


def _add_size_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--scale",
        type=_scale,
        metavar="|".join(map(str, SCALES)),
        help="enlarge the picture by this factor (default 1: the model's own size)",
    )
    size.add_argument(
        "--size",
        type=_pixel_size,
        metavar="PX",
        help=f"enlarge (or shrink) the picture to PX pixels on its long side ({MIN_SIDE} to {MAX_SIDE})",
    )
    parser.add_argument(
        "--resample",
        choices=RESAMPLES,
        default="smooth",
        help="how it is enlarged: crisp = sharp pixel blocks (nearest, for pixel art), smooth = Lanczos (default)",
    )


def _scale(text: str) -> int:
    try:
        return ExportSize.parse(text).scale
    except ExportSizeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pixel_size(text: str) -> int:
    return int(EXPORT_SIDE.argument()(text.strip().lower().removesuffix("px")))


def _export_size(args: argparse.Namespace) -> ExportSize:
    return ExportSize(scale=args.scale or 1, pixels=args.size, resample=args.resample)


def _change(text: str) -> tuple[int, float]:
    number, _, value = text.partition("=")
    try:
        index = int(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give a slider and a value, like 1=-2.5: {text!r}") from None
    if index < 1:
        raise argparse.ArgumentTypeError(f"sliders are numbered from 1: {text!r}")
    try:
        amount = float(SLIDER.parse(value))
    except OutOfRange as exc:
        raise argparse.ArgumentTypeError(f"{exc} (in {text!r})") from None
    return index, amount


def _named_value(text: str) -> tuple[str, float]:
    name, equals, value = text.rpartition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"give a direction and a value, like smile=1.5: {text!r}")
    try:
        amount = float(SLIDER.parse(value))
    except OutOfRange as exc:
        raise argparse.ArgumentTypeError(f"{exc} (in {text!r})") from None
    return name.strip(), amount


def _parse_seeds(text: str) -> list[int]:
    """The seeds in ``text`` (separated by commas, blanks skipped); ArgumentTypeError for one out of range."""
    try:
        return [int(SEED.parse(part.strip())) for part in text.split(",") if part.strip()]
    except OutOfRange as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seed_list(text: str) -> list[int]:
    seeds = _parse_seeds(text)
    if len(seeds) < 2:
        raise argparse.ArgumentTypeError("give at least two seeds, separated by commas: 1,2,3")
    return seeds


def _load_model(args: argparse.Namespace):
    """The model ``--model`` names, on the ``--device`` asked for; raises the engine's readable errors."""
    from studio.engine.devices import select_device
    from studio.engine.latent.model import LatentModel
    from studio.engine.latent.state import find_model

    return LatentModel.load(find_model(args.model), select_device(args.device).torch_device)


def _load(args: argparse.Namespace):
    """The model and the class index the arguments name; raises the engine's readable errors."""
    model = _load_model(args)
    return model, model.class_index(args.class_)


def _input_errors() -> tuple[type[BaseException], ...]:
    from studio.engine.latent.state import ModelNotFoundError

    # ModelFileError, DirectionError, LatentStateError and ImageLoadError are ValueErrors; SaveError
    # (an OSError) is handled first.
    return (ModelNotFoundError, ValueError, OSError)


def _cmd_sample(args: argparse.Namespace) -> int:
    from studio.engine.latent.state import state_png_settings
    from studio.files.atomic import SaveError
    from studio.files.images import save_png
    from studio.spec.export_size import export_image

    output = Path(args.output)
    if output.suffix.lower() != ".png":
        return fail(f"{output.name}: samples are saved as .png (the PNG carries the latent state)")
    if (args.change or args.direction) and args.grid:
        return fail("--change and --direction move one sample: drop --grid")
    try:
        model, class_index = _load(args)
        if args.grid:
            rows, cols = args.rows, args.cols
            if args.class_per_row:
                if not model.class_names:
                    return fail(f"{model.name} has no classes: drop --class-per-row")
                rows = len(model.class_names)
                image = _class_rows(model, args.seed, rows, cols, args.psi)
            else:
                image, _ = model.sample_grid(args.seed, rows, cols, class_index=class_index, psi=args.psi)
            grid = {
                "first_seed": args.seed,
                "rows": rows,
                "cols": cols,
                "class_index": class_index,
                "psi": args.psi,
                "class_per_row": bool(args.class_per_row),
            }
            settings = {"grid": {"model_sha256": model.sha256, "model_name": model.name, **grid}}
        else:
            state = model.state(model.random_z(args.seed, class_index), class_index, args.psi, seed=args.seed)
            if args.change:
                state = _with_changes(model, state, args.change)
            for name, value in args.direction:
                state = model.state_with_named(state, name, value)
            image, settings = model.render(state), state_png_settings(model, state)
        image = export_image(image, _export_size(args))
        save_png(output, image, settings)
    except SaveError as exc:
        return fail(exc, EXIT_FAILURE)
    except _input_errors() as exc:
        return fail(exc)
    shape = f", {rows}x{cols} grid" if args.grid else ""
    moved = "".join(f", Change {n} at {v:g}" for n, v in args.change)
    moved += "".join(f", {n} at {v:g}" for n, v in args.direction)
    print(f"Wrote {output} ({model.name}, seed {args.seed}{shape}{moved}, {image.width} x {image.height} px)")
    return EXIT_OK


def _with_changes(model, state, changes: list[tuple[int, float]]):
    """``state`` with the explorer's sliders moved: slider N (from 1) to its value."""
    directions = model.directions(class_index=state.class_index if model.directions_depend_on_class else None)
    for number, value in changes:
        if number > len(directions.labels):
            raise ValueError(f"{model.name} has sliders Change 1 to Change {len(directions.labels)}, not {number}")
        state = model.state_with_coordinate(state, number - 1, value, directions)
    return state


def _class_rows(model, seed: int, rows: int, cols: int, psi: float):
    """Row r: class r at seeds SEED..SEED+cols-1."""
    from PIL import Image

    grid = Image.new("RGB", (cols * model.image_size, rows * model.image_size))
    for row in range(rows):
        tiles, _ = model.sample_grid(seed, 1, cols, class_index=row, psi=psi)
        grid.paste(tiles, (0, row * model.image_size))
    return grid


def _cmd_interpolate(args: argparse.Namespace) -> int:
    from studio.engine.latent.interpolation import interpolate_frames
    from studio.engine.latent.state import state_png_settings
    from studio.files.animation import export_animation, export_frames
    from studio.files.atomic import SaveError
    from studio.spec.export_size import export_frames as sized_frames

    output = Path(args.output)
    if output.suffix.lower() not in _ANIMATION_SUFFIXES:
        return fail(f"{output.name}: animations are saved as {', '.join(_ANIMATION_SUFFIXES)}")
    try:
        model, class_index = _load(args)
        path = interpolate_frames(
            [model.random_z(seed, class_index) for seed in args.seeds], args.frames, loop=not args.no_loop
        )
        size = _export_size(args)
        size.check(model.image_size, model.image_size)  # before the frames are rendered
        frames = sized_frames(model.render_batch(path, class_index, args.psi), size)
        export_animation(frames, output, fps=args.fps, loop=not args.no_loop)
        if args.frames_dir:
            settings = [state_png_settings(model, model.state(z, class_index, args.psi)) for z in path]
            export_frames(frames, args.frames_dir, settings=settings)
    except SaveError as exc:
        return fail(exc, EXIT_FAILURE)
    except _input_errors() as exc:
        return fail(exc)
    extra = f", frames in {args.frames_dir}" if args.frames_dir else ""
    print(
        f"Wrote {output} ({len(frames)} frames of {frames[0].width} x {frames[0].height} px at {args.fps:g} fps{extra})"
    )
    return EXIT_OK
