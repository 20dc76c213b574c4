"""``studio mix``: style mixing of two seeds' latent points (GAN v2), headless."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from studio.commands.latent import _add_model_arguments, _add_size_arguments, _export_size, _input_errors, _load
from studio.commands.terminal import EXIT_FAILURE, EXIT_OK, fail
from studio.spec.bounds import PSI, SEED

if TYPE_CHECKING:
    import argparse

_SOURCES = ("a", "b")  # studio.engine.latent.mixing.SOURCES, without importing the engine


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    mix = subparsers.add_parser(
        "mix",
        help="mix the styles of two seeds layer group by layer group (GAN v2 models) into a PNG",
        description=(
            "Style mixing: point A (--seed) and point B (--with-seed) each give a w for every layer; "
            "the coarse layers (4-8 px: pose, shape, layout), the middle ones (16-32 px: features) and "
            "the fine ones (64 px and above: colour, detail) each take theirs from A or B. The PNG carries "
            "the mixed state, so opening it in the Latent Explorer restores it."
        ),
    )
    _add_model_arguments(mix)
    mix.add_argument("--seed", type=SEED.argument(), required=True, help="seed of point A")
    mix.add_argument("--with-seed", type=SEED.argument(), required=True, help="seed of point B")
    mix.add_argument(
        "--with-class", metavar="C", help="point B's class name or index, for a conditional model (default: --class)"
    )
    mix.add_argument("--with-psi", type=PSI.argument(), help="point B's variety (truncation ψ; default: --psi)")
    for group, sizes, default in (
        ("coarse", "4-8 px: pose, shape, layout", "a"),
        ("middle", "16-32 px: features", "b"),
        ("fine", "64 px and above: colour, detail", "b"),
    ):
        mix.add_argument(
            f"--{group}",
            choices=_SOURCES,
            default=default,
            help=f"which point the {group} layers ({sizes}) take their style from (default {default})",
        )
    mix.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the PNG to write")
    _add_size_arguments(mix)
    mix.set_defaults(run=_cmd_mix)


def _cmd_mix(args: argparse.Namespace) -> int:
    from studio.engine.latent.state import state_png_settings
    from studio.files.atomic import SaveError
    from studio.files.images import save_png
    from studio.spec.export_size import export_image

    output = Path(args.output)
    if output.suffix.lower() != ".png":
        return fail(f"{output.name}: mixes are saved as .png (the PNG carries the mixed latent state)")
    try:
        model, class_index = _load(args)
        model.check_can_mix()  # before anything is drawn
        other_class = class_index if args.with_class is None else model.class_index(args.with_class)
        other_psi = args.psi if args.with_psi is None else args.with_psi
        a = model.state(model.random_z(args.seed, class_index), class_index, args.psi, seed=args.seed)
        b = model.state(model.random_z(args.with_seed, other_class), other_class, other_psi, seed=args.with_seed)
        state = model.mixed_state(a, b, coarse=args.coarse, middle=args.middle, fine=args.fine)
        image = export_image(model.render(state), _export_size(args))
        save_png(output, image, state_png_settings(model, state))
    except SaveError as exc:
        return fail(exc, EXIT_FAILURE)
    except _input_errors() as exc:
        return fail(exc)
    assert state.mix is not None
    print(
        f"Wrote {output} ({model.name}, seed {args.seed} (A) mixed with seed {args.with_seed} (B): "
        f"{state.mix.describe()}, {image.width} x {image.height} px)"
    )
    return EXIT_OK
