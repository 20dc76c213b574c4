"""``studio train vae|gan``: train a generative model on a data set, resumably.

The same job as the GUI's training, driven on this thread with a text progress bar on stderr.
Ctrl+C stops after the current step and saves a checkpoint (exit code 130); ``--resume``
carries on from it at the same step, with the checkpoint's settings unless options say
otherwise.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from studio.commands.job_driver import drive_job
from studio.commands.options import add_options
from studio.commands.terminal import (
    EXIT_BAD_INPUT,
    apply_threads,
    checkpoint_untouched,
    print_error,
    training_failure,
)
from studio.engine.training.config import TrainConfig, default_config
from studio.spec.bounds import BETA, CHANNELS, LATENT_DIM, MAPPING_LAYERS, THREADS, W_DIM
from studio.spec.models import LOSSES, GANConfig, VAEConfig
from studio.spec.options import given_options, options_of


def add_commands(subparsers: Any) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a VAE or GAN on a data set (progress bar, sample grids, resumable checkpoints)",
        description=(
            "Train a VAE or GAN. Writes OUT (the model, .safetensors + .json card), "
            "OUT-stem.ckpt.safetensors (a checkpoint for --resume) and OUT-stem-samples.png. "
            "Ctrl+C saves a checkpoint and stops; --resume continues at the same step."
        ),
    )
    train.add_argument("kind", choices=("vae", "gan"), help="the model to train")
    train.add_argument("--data", required=True, help="data set folder (with dataset.json) or .npz file")
    train.add_argument("--out", required=True, help="model file to write (.safetensors is added if missing)")
    run = train.add_argument_group("run")
    run.add_argument(
        "--threads",
        type=THREADS.argument(),
        help="CPU threads (default: torch's choice, one per core); 1 is faster when other work shares the cores",
    )
    run.add_argument("--resume", action="store_true", help="continue from OUT's checkpoint if there is one")
    model = train.add_argument_group("model")
    model.add_argument("--latent-dim", type=LATENT_DIM.argument(), help="size of the latent vector")
    model.add_argument(
        "--channels", type=CHANNELS.argument(), help="GAN: generator channels at 4x4 (256); VAE: base channels (32)"
    )
    model.add_argument("--d-channels", type=CHANNELS.argument(), help="GAN: discriminator channels at full size (32)")
    model.add_argument("--beta", type=BETA.argument(), help="VAE: weight of the KL term (1.0)")
    gan = train.add_argument_group("GAN")
    gan.add_argument("--loss", choices=LOSSES, help="GAN loss (default hinge)")
    gan.add_argument(
        "--cond",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="condition on the data set's classes (default: yes when it has several)",
    )
    gan.add_argument("--attention", type=int, choices=(16, 32), help="SAGAN self-attention at this resolution")
    gan.add_argument(
        "--arch",
        choices=("dcgan", "style"),
        help="dcgan (v1, the default) or style (v2: mapping network, per-layer styles, residual "
        "discriminator with a decoder; DiffAugment, LeCam and the conditioning ramp on by default)",
    )
    gan.add_argument("--w-dim", type=W_DIM.argument(), help="GAN v2: width of w and of the mapping network (256)")
    gan.add_argument(
        "--mapping-layers", type=MAPPING_LAYERS.argument(), help="GAN v2: layers of the mapping network (4)"
    )
    gan.add_argument(
        "--augment",
        help="comma-separated: flip, jitter, color, translation, cutout, diffaugment (= the last three), "
        "none (default: diffaugment for v2, none for v1)",
    )
    add_options(TrainConfig, {"run": run, "model": model, "GAN": gan})
    train.set_defaults(run=run_train)


# --- building the run from the options -----------------------------------------------------------


def _data_card(source: Path) -> dict[str, Any] | None:
    card_file = source / "dataset.json" if source.is_dir() else source.parent / "dataset.json"
    try:
        card = json.loads(card_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(card, dict):
        return None
    if source.is_file() and card.get("file") not in (None, source.name):
        return None  # that card describes another file in the same folder
    return card


def _flag(name: str) -> str:
    """The flag that sets ``name`` (a run setting's option, else the command's own)."""
    flags = {field: option.flag for field, option in options_of(TrainConfig)}
    return flags.get(name, "--" + name.replace("_", "-"))


def _model_config(args: argparse.Namespace, dataset: Any, base: Any | None) -> Any:
    import dataclasses

    changes: dict[str, Any] = {}
    if args.latent_dim is not None:
        changes["latent_dim"] = args.latent_dim
    if args.kind == "vae":
        for name in (
            "loss",
            "attention",
            "d_channels",
            "ema_decay",
            "n_critic",
            "gp_weight",
            "d_lr",
            "arch",
            "w_dim",
            "mapping_layers",
            "lecam",
            "cond_ramp",
        ):
            if getattr(args, name) is not None:
                raise ValueError(f"{_flag(name)} is for GANs; the VAE has no such option")
        if args.cond:
            raise ValueError("the VAE is unconditional: drop --cond")
        if args.channels is not None:
            changes["base_channels"] = args.channels
        if args.beta is not None:
            changes["beta"] = args.beta
        if base is None:
            return VAEConfig(image_size=dataset.image_size[0], **changes)
    else:
        for name in ("beta", "feature_loss"):
            if getattr(args, name) is not None:
                raise ValueError(f"{_flag(name)} is for the VAE")
        if args.channels is not None:
            changes["g_channels"] = args.channels
        if args.d_channels is not None:
            changes["d_channels"] = args.d_channels
        if args.attention is not None:
            changes["attention_res"] = args.attention
        if args.loss is not None:
            changes["loss"] = args.loss
        if args.cond is not None:
            changes["num_classes"] = dataset.num_classes if args.cond else 0
        if args.arch is not None:
            changes["architecture"] = args.arch
        for flag in ("w_dim", "mapping_layers"):
            if getattr(args, flag) is not None:
                changes[flag] = getattr(args, flag)
        if base is None:
            changes.setdefault("num_classes", dataset.num_classes if dataset.num_classes > 1 else 0)
            return GANConfig(image_size=dataset.image_size[0], **changes)
    return dataclasses.replace(base, **changes)


def build_config(args: argparse.Namespace, dataset: Any, saved: TrainConfig | None) -> TrainConfig:
    """The run: the checkpoint's config when resuming (else the defaults), then the options given."""
    model = _model_config(args, dataset, saved.model if saved is not None else None)
    changes = given_options(TrainConfig, vars(args))
    if saved is not None:
        config = saved.replace(model=model)
    else:
        config = default_config(args.kind, model, **({"steps": changes["steps"]} if "steps" in changes else {}))
    if args.augment is not None:
        changes.update(_augmentation(args.augment))
    return config.replace(**changes) if changes else config


def _augmentation(text: str) -> dict[str, Any]:
    from studio.engine.training.config import DIFFAUGMENT_POLICIES
    from studio.engine.training.finetune.settings import JITTER, normalise_augment

    chosen = normalise_augment(tuple(text.split(",")))
    return {
        "flip": "flip" in chosen,
        "jitter": JITTER if "jitter" in chosen else 0.0,
        "diffaugment": tuple(p for p in DIFFAUGMENT_POLICIES if p in chosen),
    }


def _command_line(args: argparse.Namespace) -> str:
    argv = sys.argv[1:]
    if argv[:1] == ["train"]:
        return shlex.join(["studio", *argv])
    # Called as a function (tests, scripts): rebuild it from the options that were given.
    parts = ["studio", "train", args.kind, "--data", str(args.data), "--out", str(args.out)]
    for key, value in sorted(vars(args).items()):
        if key in ("kind", "data", "out", "run", "command") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    return shlex.join(parts)


def run_train(args: argparse.Namespace) -> int:
    from studio.engine.checkpoints import ModelFileError
    from studio.engine.data.dataset import DatasetError, load_image_dataset
    from studio.engine.devices import select_device
    from studio.engine.training.checkpoint import checkpoint_path, model_path, read_checkpoint_config
    from studio.engine.training.config import TrainingError
    from studio.engine.training.loop import train_job

    out = model_path(args.out)
    ckpt = checkpoint_path(out)
    problem = apply_threads(args.threads)
    if problem:
        print_error(problem)
        return EXIT_BAD_INPUT
    try:
        dataset = load_image_dataset(args.data)
        saved = None
        if args.resume and ckpt.exists():
            saved, saved_step = read_checkpoint_config(ckpt)
            print(f"Resuming {ckpt} from step {saved_step}", file=sys.stderr)
        elif args.resume:
            print(f"No checkpoint at {ckpt}: starting a new run", file=sys.stderr)
        config = build_config(args, dataset, saved)
    except (DatasetError, ModelFileError, TrainingError, ValueError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    training_images = int((dataset.split == 0).sum())
    if 0 < training_images < config.batch:
        print(
            f"note: the batch ({config.batch}) is larger than the data set's {training_images} training images: "
            f"each step shows some images more than once (--batch {training_images} or less avoids it)",
            file=sys.stderr,
        )

    command = _command_line(args)
    job = train_job(
        config,
        dataset,
        out,
        device=select_device(config.device),
        resume=args.resume,
        command=command,
        data_card=_data_card(Path(args.data)),
        data_source=str(args.data),
    )
    end = drive_job(
        job, stopping="saving a checkpoint", aborted=lambda: checkpoint_untouched(ckpt), failed=training_failure
    )
    if end.result is None:
        return end.code
    result = end.result

    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.cancelled:
        print(f"Stopped at step {result.step} of {result.total_steps}.")
        print(f"Checkpoint: {result.checkpoint_path}")
        if result.samples_path:
            print(f"Samples:    {result.samples_path}")
        resume = command if "--resume" in shlex.split(command) else command + " --resume"
        print(f"Resume with: {resume}")
        return end.code
    print(f"Model:      {result.model_path}")
    print(f"Checkpoint: {result.checkpoint_path}")
    print(f"Samples:    {result.samples_path}")
    minutes, seconds = divmod(int(result.elapsed_s), 60)
    print(f"Trained {result.step} steps in {minutes}:{seconds:02d}")
    if result.kid is not None:
        print(f"KID (held out): {result.kid.kid:.4g} ± {result.kid.std:.2g}")
    elif result.card.get("kid_note"):
        print(f"KID: {result.card['kid_note']}")
    return end.code
