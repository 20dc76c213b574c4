"""``studio repaint``: redraw the masked part of a picture, keeping the rest (masked repainting)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from studio.commands.job_driver import drive_job, exit_with
from studio.commands.latent import _add_device_option, _add_model_option, _input_errors, _load_model
from studio.commands.terminal import EXIT_FAILURE, fail
from studio.spec.bounds import LEARNING_RATE, PSI, REPAINT_CANDIDATES, REPAINT_STEPS, SEED

if TYPE_CHECKING:
    import argparse

_DEFAULT_CANDIDATES = 4  # studio.engine.latent.repaint's, without importing torch for --help
_DEFAULT_STEPS = 40
_DEFAULT_LR = 0.1


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    repaint = subparsers.add_parser(
        "repaint",
        help="redraw the masked part of a latent picture and keep the rest (several candidates)",
        description=(
            "Search the model's latent space for pictures whose unmasked part stays close to the given "
            "picture while the masked part (white in MASK.png) is drawn anew. Writes OUT-1.png, OUT-2.png, "
            "... (best kept first), each carrying its latent state so it reopens in the Latent Explorer, "
            "and OUT-sheet.png with the picture, the mask and the candidates side by side."
        ),
    )
    _add_model_option(repaint)
    source = repaint.add_mutually_exclusive_group(required=True)
    source.add_argument("--seed", type=SEED.argument(), help="repaint the picture of this seed")
    source.add_argument(
        "--from",
        dest="from_png",
        metavar="PNG",
        help="repaint a PNG exported from the Latent Explorer (a VAE also takes any picture: it is encoded)",
    )
    repaint.add_argument("--class", dest="class_", metavar="C", help="class name or index (with --seed)")
    repaint.add_argument("--psi", type=PSI.argument(), default=1.0, help="variety, for a GAN (with --seed)")
    repaint.add_argument(
        "--mask", required=True, metavar="MASK.png", help="white = repaint, black = keep (any size: resized)"
    )
    repaint.add_argument(
        "--candidates",
        type=REPAINT_CANDIDATES.argument(),
        default=_DEFAULT_CANDIDATES,
        help=f"pictures to search for (default {_DEFAULT_CANDIDATES})",
    )
    repaint.add_argument(
        "--steps",
        type=REPAINT_STEPS.argument(),
        default=_DEFAULT_STEPS,
        help=f"search steps (default {_DEFAULT_STEPS})",
    )
    repaint.add_argument(
        "--lr", type=LEARNING_RATE.argument(), default=_DEFAULT_LR, help=f"learning rate (default {_DEFAULT_LR})"
    )
    repaint.add_argument("--search-seed", type=SEED.argument(), default=0, help="seed of the random starts (default 0)")
    _add_device_option(repaint)
    repaint.add_argument(
        "-o", "--output", required=True, metavar="OUT.png", help="OUT-1.png ... and OUT-sheet.png are written"
    )
    repaint.set_defaults(run=_cmd_repaint)


def _cmd_repaint(args: argparse.Namespace) -> int:
    from studio.commands.terminal import EXIT_BAD_INPUT
    from studio.engine.latent.repaint import RepaintError, repaint_job
    from studio.files.atomic import SaveError

    output = Path(args.output)
    if output.suffix.lower() != ".png":
        return fail(f"{output.name}: repaint candidates are saved as .png (each PNG carries its latent state)")
    try:
        model, state = _load(args)
        mask = _read_mask(args.mask)
        job = repaint_job(model, state, mask, args.candidates, args.steps, args.lr, args.search_seed)
        end = drive_job(
            job, stopping="keeping the candidates found so far", failed=exit_with(EXIT_BAD_INPUT, RepaintError)
        )
        if end.result is None:
            return end.code
        written = _write(model, state, mask, end.result, output)
    except SaveError as exc:
        return fail(exc, EXIT_FAILURE)
    except _input_errors() as exc:  # RepaintError is a ValueError
        return fail(exc)
    changes = ", ".join(f"{c.unmasked_change * 255:.1f}" for c in end.result.candidates)
    repainted = ", ".join(f"{c.masked_change * 255:.1f}" for c in end.result.candidates)
    stopped = f" (stopped after step {end.result.steps_done})" if end.result.cancelled else ""
    print(
        f"Wrote {', '.join(str(p) for p in written)}{stopped}; "
        f"unmasked part changed by {changes} of 255 on average (mean absolute difference), "
        f"masked part by {repainted}"
    )
    return end.code


def _load(args: argparse.Namespace):
    from studio.engine.latent.state import LatentStateError, restore_state_from_png
    from studio.files.images import load_image

    model = _load_model(args)
    if args.from_png is None:
        class_index = model.class_index(args.class_)
        return model, model.state(model.random_z(args.seed, class_index), class_index, args.psi, seed=args.seed)
    try:
        state = restore_state_from_png(args.from_png)
    except LatentStateError as exc:
        if model.kind != "vae":
            raise LatentStateError(
                f"{exc}; {model.name} is a GAN, so --from takes a PNG exported from the Latent Explorer "
                "(or from studio sample or studio repaint)"
            ) from exc
        # Any picture: the VAE's encoder gives its state (as the explorer's Open does).
        picture = load_image(args.from_png).image
        return model, model.state(model.encode(picture), model.class_index(args.class_))
    if state.model_sha256 != model.sha256:
        raise ValueError(
            f"{Path(args.from_png).name} was made with {state.model_name or 'another model'}, not {model.name}: "
            f"give --model {state.model_name or 'that model'}"
        )
    return model, state


def _read_mask(path: str):
    from studio.files.images import load_image

    loaded = load_image(path)  # the safe loader: size limits, formats, a readable message
    if loaded.alpha is not None:
        # Transparent = keep: the loader composites onto white, so use the alpha as the mask's weight.
        import numpy as np
        from PIL import Image

        grey = np.asarray(loaded.image.convert("L"), dtype=np.float32) * (np.asarray(loaded.alpha) / 255.0)
        return Image.fromarray(grey.astype(np.uint8), "L")
    return loaded.image


def _write(model, state, mask, result, output: Path) -> list[Path]:
    from studio.engine.latent.repaint import contact_sheet
    from studio.engine.latent.state import state_png_settings
    from studio.files.images import save_png

    written = []
    stem = output.with_suffix("")
    for number, candidate in enumerate(result.candidates, start=1):
        path = Path(f"{stem}-{number}.png")
        settings = state_png_settings(model, candidate.state)
        settings["repaint"] = {
            "unmasked_change": round(candidate.unmasked_change, 6),
            "masked_change": round(candidate.masked_change, 6),
            "steps": result.steps_done,
        }
        save_png(path, model.render(candidate.state), settings)
        written.append(path)
    sheet = Path(f"{stem}-sheet.png")
    save_png(sheet, contact_sheet(model, state, mask, result), {"repaint_sheet": {"candidates": len(written)}})
    written.append(sheet)
    return written
