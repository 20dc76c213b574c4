"""``studio``: the command line over the same engine as the GUI.

Every GUI job has a command here; later panels add their subcommands to ``build_parser``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys

from studio import APP_NAME, __version__
from studio.commands import COMMAND_MODULES
from studio.commands.terminal import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, print_error
from studio.spec.bounds import PER_CLASS, SEED


def _cmd_gui(args: argparse.Namespace) -> int:
    from studio.app import main as gui_main

    return gui_main(args.gui_args)


def _cmd_info(args: argparse.Namespace) -> int:
    from studio import package_versions
    from studio.engine.devices import available_devices, select_device
    from studio.engine.environment import installed_models
    from studio.files.paths import config_dir, log_dir, models_dir
    from studio.files.resources import bundled_models_dir

    device = select_device(args.device)
    info = {
        "studio": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "device": {
            "label": device.label,
            "name": device.name,
            "total_memory": device.total_memory,
            "note": device.note,
        },
        "available_devices": [d.label for d in available_devices()],
        "folders": {
            "bundled models": str(bundled_models_dir()),
            # Shown, not made: `studio info` works when the user data folder cannot be written.
            "model library": str(models_dir(create=False)),
            "settings": str(config_dir(create=False)),
            "logs": str(log_dir(create=False)),
        },
        "models": [
            {"name": m.name, "origin": m.origin, "architecture": m.architecture, "path": str(m.path)}
            for m in installed_models()
        ],
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    print(f"{APP_NAME} {__version__}")
    print(f"Python {info['python']} on {info['platform']}")
    for name, version in info["packages"].items():
        print(f"  {name:<12} {version}")
    memory = f", {device.total_memory / 2**30:.1f} GiB" if device.total_memory else ""
    print(f"Device: {device.label} ({device.name}{memory})")
    if device.note:
        print(f"  note: {device.note}")
    print(f"Available: {', '.join(info['available_devices'])}")
    for label, folder in info["folders"].items():
        print(f"{label.capitalize()}: {folder}")
    print("Installed models:")
    if not info["models"]:
        print("  none")
    for model in info["models"]:
        kind = f", {model['architecture']}" if model["architecture"] else ""
        print(f"  {model['name']} ({model['origin']}{kind}) {model['path']}")
    _print_unfinished_work()
    return EXIT_OK


def _print_unfinished_work() -> None:
    from studio.files.autosave import unfinished_work

    work = unfinished_work()
    if work is not None:
        print(f"Autosaved Style work: {work.summary()}, in {work.folder}")
        print("  (unless latent-studio is open now, it offers this work back on its next start)")


def _cmd_model_inspect(args: argparse.Namespace) -> int:
    from studio.engine.checkpoints import ModelFileError, format_inspection, inspect_model

    try:
        info = inspect_model(args.path)
    except ModelFileError as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    except OSError as exc:
        print_error(f"cannot read {args.path}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    print(json.dumps(info, indent=2, default=str) if args.json else format_inspection(info))
    return EXIT_OK


def _cmd_model_slim(args: argparse.Namespace) -> int:
    from studio.engine.checkpoints import ModelFileError
    from studio.engine.training.checkpoint import slim_checkpoint
    from studio.engine.training.config import TrainingError

    try:
        written = slim_checkpoint(args.checkpoint, args.out)
    except (ModelFileError, TrainingError, OSError) as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {written} ({written.stat().st_size / 2**20:.1f} MB)")
    return EXIT_OK


def _cmd_model_fit_prior(args: argparse.Namespace) -> int:
    from studio.commands.evaluate import run_fit_prior

    return run_fit_prior(args)


def _cmd_model_showcase(args: argparse.Namespace) -> int:
    from studio.engine.checkpoints import ModelFileError, load_model, save_model
    from studio.engine.latent.model import LatentModel
    from studio.engine.latent.state import ModelNotFoundError, find_model
    from studio.files.atomic import SaveError

    try:
        path = find_model(args.model)
        class_index = LatentModel.load(path).class_index(args.class_)
        tensors, card = load_model(path)
        card["showcase"] = {"seed": args.seed, "class_index": class_index}
        save_model(path, tensors, card)
    except (ModelNotFoundError, ModelFileError, ValueError, SaveError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    print(f"{path.name} opens at seed {args.seed}" + (f", class {class_index}" if class_index is not None else ""))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studio", description=f"{APP_NAME} {__version__}: the command line")
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = commands.add_parser("gui", help="open the studio window", add_help=False)
    gui.add_argument(
        "gui_args", nargs=argparse.REMAINDER, help="arguments for latent-studio (see latent-studio --help)"
    )
    gui.set_defaults(run=_cmd_gui)

    info = commands.add_parser("info", help="versions, compute device, folders and installed models")
    info.add_argument("--device", help="device preference to report on (auto, cuda, mps, cpu)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=_cmd_info)

    model = commands.add_parser("model", help="model files")
    model_commands = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    inspect = model_commands.add_parser(
        "inspect", help="print a model's card and tensor summary (never runs pickled code)"
    )
    inspect.add_argument("path")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(run=_cmd_model_inspect)
    slim = model_commands.add_parser(
        "slim", help="keep only what a fine-tune starts from in a training checkpoint (for shipping a model)"
    )
    slim.add_argument("checkpoint", help="a .ckpt.safetensors file")
    slim.add_argument("-o", "--out", help="write here instead of replacing the checkpoint")
    slim.set_defaults(run=_cmd_model_slim)
    fit_prior = model_commands.add_parser(
        "fit-prior",
        help="fit a VAE's prior to its training codes (a Gaussian mixture per class): sharper random samples",
    )
    fit_prior.add_argument("model", help="VAE name or file")
    fit_prior.add_argument("--data", required=True, help="the data set it was trained on")
    fit_prior.add_argument("--per-class", type=PER_CLASS.argument(), default=3, help="Gaussians per class (default 3)")
    fit_prior.add_argument("-o", "--out", help="write here instead of replacing the model")
    fit_prior.set_defaults(run=_cmd_model_fit_prior)
    showcase = model_commands.add_parser(
        "showcase", help="set the seed (and class) the Latent Explorer first shows a model at"
    )
    showcase.add_argument("model", help="model name or file")
    showcase.add_argument("--seed", type=SEED.argument(), required=True, help="the seed to open at")
    showcase.add_argument("--class", dest="class_", metavar="C", help="class name or index, for a conditional model")
    showcase.set_defaults(run=_cmd_model_showcase)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "run", None):
            parser.print_help()
            return EXIT_OK
        return args.run(args)
    except KeyboardInterrupt:
        # Ctrl+C before a job's own handling takes over (importing torch takes seconds): the
        # user asked to stop, so stop quietly, with the shell's code for it.
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
