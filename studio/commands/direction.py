"""``studio direction create``, ``list`` and ``delete``: directions defined by example."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from studio.commands.latent import _add_device_option, _add_model_option, _input_errors, _load_model, _parse_seeds
from studio.commands.terminal import EXIT_FAILURE, EXIT_OK, fail

_WEAK = 0.7  # held-out accuracy below which create warns: near chance, the direction is noise

if TYPE_CHECKING:
    import numpy as np

    from studio.engine.latent.model import LatentModel


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    direction = subparsers.add_parser(
        "direction",
        help="named directions a model learns from examples (a trait and its absence)",
        description=(
            "Teach a model a named direction from examples of pictures that have a trait and pictures "
            "that do not; `studio sample --direction NAME=VALUE` then moves a sample along it."
        ),
    )
    actions = direction.add_subparsers(dest="direction_command", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="learn a direction from positive and negative examples and save it with the model",
        description=(
            "A linear classifier separates the examples' latent codes (w for a style-based GAN, z "
            "otherwise); the normal of its boundary is the direction (InterFaceGAN). Examples are "
            "PNGs exported by the studio (their latent state gives the code; a VAE also encodes plain "
            "pictures) or seeds. Prints the held-out accuracy (cross-validated)."
        ),
    )
    _add_model_option(create)
    create.add_argument("--name", required=True, help="the direction's name (for example smile)")
    create.add_argument("--positive", metavar="DIR", help="a folder of PNGs that have the trait")
    create.add_argument("--negative", metavar="DIR", help="a folder of PNGs that do not")
    create.add_argument("--positive-seeds", type=_seeds, metavar="S1,S2,...", help="seeds whose pictures have it")
    create.add_argument("--negative-seeds", type=_seeds, metavar="S1,S2,...", help="seeds whose pictures do not")
    create.add_argument("--class", dest="class_", metavar="C", help="the class of the seeds, for a conditional model")
    create.add_argument(
        "--orthogonal-to",
        type=_names,
        default=[],
        metavar="NAME,...",
        help="named directions this one must leave unchanged (made orthogonal to them)",
    )
    create.add_argument("--description", default="", help="a note on what the direction does")
    _add_device_option(create)
    create.set_defaults(run=_cmd_create)

    listing = actions.add_parser("list", help="the named directions saved with a model")
    _add_model_option(listing)
    _add_device_option(listing)
    listing.set_defaults(run=_cmd_list)

    delete = actions.add_parser(
        "delete",
        help="remove a direction you made from a model (pictures already exported keep their look)",
        description=(
            "Removes the named direction from the model's directions file (the file goes when it holds "
            "no other). Directions that come with a bundled model cannot be deleted."
        ),
    )
    _add_model_option(delete)
    delete.add_argument("--name", required=True, help="the direction's name")
    _add_device_option(delete)
    delete.set_defaults(run=_cmd_delete)


def _seeds(text: str) -> list[int]:
    seeds = _parse_seeds(text)
    if not seeds:
        raise argparse.ArgumentTypeError("give seeds separated by commas: 1,2,3")
    return seeds


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def folder_codes(model: LatentModel, folder: str) -> np.ndarray:
    """The latent codes of the PNGs in ``folder``: their latent state, or (VAE) their encoding."""
    import numpy as np

    from studio.engine.latent.state import LatentStateError, restore_state_from_png
    from studio.files.images import load_image
    from studio.files.paths import user_path

    directory = user_path(folder)
    if not directory.is_dir():
        raise ValueError(f"{folder}: not a folder of example pictures")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not files:
        raise ValueError(f"{folder}: holds no .png pictures")
    codes = []
    for file in files:
        try:
            state = restore_state_from_png(file)
        except LatentStateError:
            if model.kind != "vae":
                raise ValueError(
                    f"{file.name} holds no latent state of {model.name}; export examples from the studio "
                    "(studio sample) or give seeds"
                ) from None
            codes.append(model.encode(load_image(file).image))
            continue
        if state.model_sha256 != model.sha256:
            raise ValueError(
                f"{file.name} was made with another model ({state.model_name or 'unnamed'}), not {model.name}"
            )
        codes.append(state.z_array())
    return np.stack(codes)


def _examples(model: LatentModel, folder: str | None, seeds: list[int] | None, class_index: int | None) -> np.ndarray:
    import numpy as np

    parts = []
    if folder:
        parts.append(folder_codes(model, folder))
    if seeds:
        parts.append(np.stack([model.random_z(seed, class_index) for seed in seeds]))
    return np.vstack(parts)


def _cmd_create(args: argparse.Namespace) -> int:
    from studio.commands.progress_bar import ProgressBar
    from studio.engine.jobs import run_to_end
    from studio.engine.latent.named_directions import fit_direction_job
    from studio.files.atomic import SaveError

    if not (args.positive or args.positive_seeds) or not (args.negative or args.negative_seeds):
        return fail(
            "give examples of both kinds: --positive DIR or --positive-seeds, and --negative DIR or --negative-seeds"
        )
    try:
        model = _load_model(args)
        class_index = model.class_index(args.class_)
        positive = _examples(model, args.positive, args.positive_seeds, class_index)
        negative = _examples(model, args.negative, args.negative_seeds, class_index)
        others = [model.named_direction(name) for name in args.orthogonal_to]
        bar = ProgressBar(sys.stderr)
        direction = run_to_end(
            fit_direction_job(args.name, positive, negative, model.latent_space, others, description=args.description),
            bar.update,
        )
        bar.end()
        written = model.save_named_direction(direction)
    except SaveError as exc:
        return fail(exc, EXIT_FAILURE)
    except _input_errors() as exc:
        return fail(exc)
    assert direction.accuracy is not None  # fit_direction_job always measures it
    orthogonal = f", orthogonal to {', '.join(args.orthogonal_to)}" if args.orthogonal_to else ""
    print(
        f"Direction {direction.name!r} of {model.name} in {direction.space} from {len(positive)} positive and "
        f"{len(negative)} negative examples{orthogonal}: held-out accuracy {direction.accuracy:.2f}; saved in {written}"
    )
    if direction.accuracy < _WEAK:
        print(
            f"Note: at {direction.accuracy:.2f} the examples are hardly told apart along it; "
            "more (or clearer) examples give a direction that does what its name says"
        )
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    try:
        model = _load_model(args)
        directions = model.named_directions()
    except _input_errors() as exc:
        return fail(exc)
    if not directions:
        print(f"{model.name} has no named directions yet (studio direction create)")
        return EXIT_OK
    for direction in directions:
        accuracy = "" if direction.accuracy is None else f", held-out accuracy {direction.accuracy:.2f}"
        note = f": {direction.description}" if direction.description else ""
        print(f"{direction.name} ({direction.space}{accuracy}){note}")
    return EXIT_OK


def _cmd_delete(args: argparse.Namespace) -> int:
    from studio.files.atomic import SaveError

    try:
        model = _load_model(args)
        written = model.delete_named_direction(args.name)
    except SaveError as exc:
        return fail(exc, EXIT_FAILURE)
    except _input_errors() as exc:
        return fail(exc)
    left = model.named_directions()
    gone = "removed" if not written.exists() else "updated"
    print(f"Deleted the direction {args.name!r} of {model.name} ({gone} {written}); {len(left)} named directions left")
    return EXIT_OK
