"""``studio finetune``: adapt a model to a folder of images, headless, with a progress bar.

The same engine job as the Fine-tune wizard (:func:`studio.engine.training.finetune.finetune_job`):
the result goes into the model library, where the Latent Explorer lists it. Ctrl+C stops
after the current step and saves a checkpoint (exit code 130); ``--resume`` carries on from
it at the same step. Under ``torchrun`` the same command trains on every process
(DistributedDataParallel); ``--export-job`` writes a folder to run that way elsewhere,
``--job`` runs such a folder, and ``--import`` brings its result into the library.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from studio.commands.terminal import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ProgressBar,
    StopOnInterrupt,
    apply_threads,
    print_error,
    training_failure,
)
from studio.spec.models import LOSSES

FREEZE_CHOICES = "freeze-d, last-blocks, all (or block names, comma-separated; see --list-blocks)"


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a model on your own folder of images (transfer learning) into the model library",
        description=(
            "Fine-tune a bundled or library model on a folder of images. Bad files are skipped and "
            "listed; at least 16 usable images are needed. The result is saved to the model library "
            "as NAME (with a resumable checkpoint and sample grids beside it) and opens in the Latent "
            "Explorer. Ctrl+C saves a checkpoint and stops; --resume continues at the same step."
        ),
    )
    what = parser.add_argument_group("what")
    what.add_argument("--base", help="the model to start from: a name from `studio info` or a .safetensors path")
    what.add_argument("--data", help="the folder of images (searched recursively)")
    what.add_argument("--out", help="the new model's name in the library")
    run = parser.add_argument_group("run")
    run.add_argument("--steps", type=int, help="training steps (generator steps for a GAN); default 1000")
    run.add_argument("--freeze", help=f"what stays frozen: {FREEZE_CHOICES}; default freeze-d (GAN), last-blocks (VAE)")
    run.add_argument("--loss", choices=LOSSES, help="GAN loss (default: the base model's)")
    run.add_argument("--batch", type=int, help="images per step; default 16")
    run.add_argument("--lr", type=float, help="learning rate (the generator's for a GAN)")
    run.add_argument("--d-lr", type=float, help="the discriminator's learning rate (GAN)")
    run.add_argument("--betas", help="Adam betas, e.g. 0,0.999 (default: the loss's recipe)")
    run.add_argument("--ema", type=float, help="generator weight average decay (0.999; 0 switches it off)")
    run.add_argument(
        "--augment",
        help="comma-separated: flip, jitter, color, translation, cutout, diffaugment (= the last three), none; "
        "default flip,diffaugment (GAN), flip (VAE)",
    )
    run.add_argument("--resize", choices=("center-crop", "pad", "random-crop"), help="how pictures become squares")
    run.add_argument(
        "--class", dest="class_name", help="conditional base: the class your folder becomes (default: the first)"
    )
    run.add_argument("--heldout", type=float, help="part of the folder kept for KID (default 0.1)")
    run.add_argument("--seed", type=int, help="seed for noise, batches and the held-out split (default 0)")
    run.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    run.add_argument(
        "--amp", action=argparse.BooleanOptionalAction, default=None, help="mixed precision on CUDA (default on)"
    )
    run.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    run.add_argument("--sample-every", type=int, help="write a sample grid every N steps (default 100)")
    run.add_argument("--checkpoint-every", type=int, help="checkpoint (and KID) every N steps (default 500)")
    run.add_argument("--log-every", type=int, help="read losses back every N steps (default 10)")
    run.add_argument("--no-kid", action="store_true", help="skip the held-out KID measurements")
    run.add_argument("--resume", action="store_true", help="continue NAME's run from its checkpoint")
    other = parser.add_argument_group("other actions")
    other.add_argument(
        "--list-blocks", action="store_true", help="list the base model's blocks and what --freeze freezes"
    )
    other.add_argument("--estimate", action="store_true", help="measure time and memory per step, then stop")
    other.add_argument(
        "--export-job", metavar="DIR", help="write a job folder to run with torchrun elsewhere, then stop"
    )
    other.add_argument("--nproc", default="auto", help="processes per machine in the exported command (default auto)")
    other.add_argument(
        "--job", metavar="DIR", help="run an exported job folder (resumes its checkpoint when there is one)"
    )
    other.add_argument("--import", dest="import_path", metavar="PATH", help="import a job folder, model or checkpoint")
    parser.set_defaults(run=run_finetune)


def _say(message: str) -> None:
    if sys.stderr is not None:
        print(message, file=sys.stderr)


def _settings(args: argparse.Namespace) -> Any:
    """FinetuneSettings from the options (on --resume, the saved run's, with options given winning)."""
    from studio.engine.training import TrainingError
    from studio.engine.training.finetune import FinetuneSettings, load_base, saved_settings

    saved = saved_settings(args.out) if args.resume and args.out else None
    if saved is None:
        missing = [
            flag for flag, value in (("--base", args.base), ("--data", args.data), ("--out", args.out)) if not value
        ]
        if missing:
            raise TrainingError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} needed")
        values: dict[str, Any] = {"base": args.base, "data": args.data, "name": args.out}
    else:
        _say(f"The saved run's settings: {saved.base} on {saved.data}")
        values = saved.to_dict()
        for flag, key in (("base", "base"), ("data", "data")):
            if getattr(args, flag):
                values[key] = getattr(args, flag)
    simple = (
        "steps",
        "loss",
        "batch",
        "lr",
        "d_lr",
        "resize",
        "heldout",
        "seed",
        "device",
        "amp",
        "sample_every",
        "checkpoint_every",
        "log_every",
    )
    for key in simple:
        value = getattr(args, key)
        if value is not None:
            values[key] = value
    if args.ema is not None:
        values["ema"] = args.ema if args.ema > 0 else None
    if args.freeze:
        values["freeze"] = _freeze_value(args.freeze)
    if args.augment is not None:
        values["augment"] = tuple(a.strip() for a in args.augment.split(","))
    if args.betas:
        try:
            first, second = (float(b) for b in args.betas.split(","))
        except ValueError as exc:
            raise TrainingError(f"--betas takes two numbers, e.g. 0,0.999; got {args.betas!r}") from exc
        values["betas"] = (first, second)
    if args.no_kid:
        values["kid"] = False
    if args.class_name is not None:
        base = load_base(values["base"])
        names = base.class_names
        text = args.class_name.strip()
        if not names:
            raise TrainingError(f"{base.name} has no classes; drop --class")
        folded = [n.casefold() for n in names]
        if text.isdigit() and int(text) < len(names):
            values["class_index"] = int(text)
        elif text.casefold() in folded:
            values["class_index"] = folded.index(text.casefold())
        else:
            choices = ", ".join(f"{i} {n}" for i, n in enumerate(names))
            raise TrainingError(f"{base.name} has no class {text!r}; its classes: {choices}")
    if "betas" in values and isinstance(values["betas"], list):
        values["betas"] = tuple(values["betas"])
    return FinetuneSettings.from_dict(values)


def _freeze_value(text: str) -> str | tuple[str, ...]:
    presets = ("auto", "freeze-d", "last-blocks", "all")
    return text if text in presets else tuple(b.strip() for b in text.split(",") if b.strip())


def _command_line(args: argparse.Namespace, settings: Any) -> str:
    argv = sys.argv[1:]
    if argv[:1] == ["finetune"]:
        return shlex.join(["studio", *argv])
    return settings.command_line()


def _list_blocks(args: argparse.Namespace) -> int:
    from studio.engine.training.finetune import FinetuneSettings, frozen_blocks, load_base
    from studio.engine.training.freezing import FREEZE_PRESETS, model_blocks, presets_for

    base = load_base(args.base)
    settings = FinetuneSettings(base=args.base, data=".", name="-", freeze=_freeze_value(args.freeze or "auto"))
    preset, blocks = frozen_blocks(settings, base)
    rows = model_blocks(base.config, blocks)
    print(
        f"{base.name} ({base.kind.upper()}), "
        f"freezing: {FREEZE_PRESETS[preset].label if preset in FREEZE_PRESETS else preset}"
    )
    for row in rows:
        print(f"  {'frozen' if row.frozen else 'trains':<7} {row.name:<16} {row.parameters:>10,}  {row.label}")
    frozen = sum(r.parameters for r in rows if r.frozen)
    print(f"  {frozen:,} of {sum(r.parameters for r in rows):,} parameters frozen")
    print("Presets: " + "; ".join(f"{p.key} ({p.label})" for p in presets_for(base.kind)))
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from studio.engine.training.jobfolder import import_checkpoint

    path = import_checkpoint(args.import_path, name=args.out)
    print(f"Imported: {path}")
    print(
        "Open it in the Latent Explorer, or: "
        f"studio sample --model {shlex.quote(path.stem)} --seed 1 --grid -o grid.png"
    )
    return EXIT_OK


def _print_report(scan: Any) -> None:
    if scan is None or not scan.skipped:
        return
    _say(f"Skipped {scan.skipped_count} file(s) in {scan.folder}:")
    for line in scan.report(limit=20):
        _say(f"  {line}")


def run_finetune(args: argparse.Namespace) -> int:
    from studio.engine.atomic import SaveError
    from studio.engine.checkpoints import ModelFileError
    from studio.engine.data.folder import FolderDataError
    from studio.engine.training import TrainingError

    problem = apply_threads(args.threads)
    if problem:
        print_error(problem)
        return EXIT_BAD_INPUT
    try:
        if args.import_path:
            return _import(args)
        if args.list_blocks:
            if not args.base:
                raise TrainingError("--list-blocks needs --base")
            return _list_blocks(args)
        out_dir = None
        resume = args.resume
        if args.job:
            from studio.engine.training.jobfolder import job_settings

            settings, out_dir = job_settings(args.job)
            resume = True  # running a job folder again continues it
        else:
            settings = _settings(args)
        if args.estimate:
            from studio.engine.training.finetune import estimate_step

            estimate = estimate_step(settings)
            minutes = estimate.total_seconds / 60
            print(
                f"{estimate.seconds_per_step * 1000:.0f} ms per step ({estimate.images_per_second:.0f} images/s) on "
                f"{estimate.device}; about {estimate.memory_bytes / 2**20:.0f} MiB; "
                f"{settings.steps} steps take about {minutes:.1f} min (plus KID at checkpoints)"
            )
            return EXIT_OK
        if args.export_job:
            from studio.engine.training.jobfolder import export_job_folder

            nproc: int | str = int(args.nproc) if str(args.nproc).isdigit() else args.nproc
            exported = export_job_folder(settings, args.export_job, nproc_per_node=nproc)
            print(f"Job folder: {exported.folder} ({exported.images} images, {exported.skipped} skipped)")
            print(f"Run it there with: cd {shlex.quote(str(exported.folder))} && {exported.command}")
            print(f"Then bring it back: studio finetune --import {shlex.quote(str(exported.folder))}")
            return EXIT_OK
    except (TrainingError, FolderDataError, ModelFileError, ValueError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    except SaveError as exc:
        print_error(exc.strerror or str(exc))
        return EXIT_FAILURE
    return _train(args, settings, out_dir, resume)


def _train(args: argparse.Namespace, settings: Any, out_dir: Any, resume: bool) -> int:
    from studio.engine.atomic import SaveError
    from studio.engine.checkpoints import ModelFileError
    from studio.engine.jobs import JobCancelled
    from studio.engine.training import TrainingError, TrainProgress, checkpoint_path, read_checkpoint_config
    from studio.engine.training.distributed import distributed_from_env
    from studio.engine.training.finetune import finetune_job, library_path

    try:
        context = distributed_from_env(settings.device)
    except RuntimeError as exc:
        print_error(str(exc))
        return EXIT_FAILURE
    main = context is None or context.is_main
    bar = ProgressBar(sys.stderr if main else None)
    command = _command_line(args, settings)
    out = library_path(settings.name, out_dir)
    ckpt = checkpoint_path(out)
    if resume and main:
        try:
            _, step = read_checkpoint_config(ckpt) if ckpt.exists() else (None, None)
        except ModelFileError as exc:
            print_error(str(exc))
            return EXIT_BAD_INPUT
        _say(
            f"Resuming {ckpt} from step {step}" if step is not None else f"No checkpoint at {ckpt}: starting a new run"
        )
    job = finetune_job(settings, resume=resume, out_dir=out_dir, command=command, distributed=context)
    try:
        with StopOnInterrupt("saving a checkpoint") as stop:
            try:
                progress = next(job)
                while True:
                    bar.update(progress)
                    stop_now = stop.requested
                    if context is not None and isinstance(progress, TrainProgress) and progress.phase == "train":
                        stop_now = context.any(stop_now)  # every process stops at the same step
                    elif context is not None:
                        stop_now = False  # only agreed at step boundaries
                    progress = job.throw(JobCancelled()) if stop_now else next(job)
            except StopIteration as finished:
                result = finished.value
    except (KeyboardInterrupt, JobCancelled):
        bar.end()
        print_error(f"aborted; the last checkpoint ({ckpt}) is as it was" if ckpt.exists() else "aborted")
        return EXIT_INTERRUPTED
    except (TrainingError, ModelFileError, SaveError) as exc:
        return training_failure(bar, exc)
    finally:
        if context is not None:
            context.close()
    bar.end()
    if not main:
        return EXIT_INTERRUPTED if result.cancelled else EXIT_OK

    for note in result.notes:
        _say(f"note: {note}")
    _print_report(result.scan)
    if result.cancelled:
        print(f"Stopped at step {result.train.step} of {result.train.total_steps}.")
        print(f"Checkpoint: {result.checkpoint_path}")
        resume_cmd = command if "--resume" in shlex.split(command) or "--job" in command else command + " --resume"
        print(f"Resume with: {resume_cmd}")
        return EXIT_INTERRUPTED
    print(f"Model:      {result.model_path}")
    print(f"Checkpoint: {result.checkpoint_path}")
    print(f"Samples:    {result.samples_path}")
    minutes, seconds = divmod(int(result.train.elapsed_s), 60)
    print(f"Fine-tuned {result.train.step} steps in {minutes}:{seconds:02d}")
    before, after = result.kid_before, result.kid_after
    if before is not None and after is not None:
        print(f"KID (held out): {before['kid']:.4g} before, {after['kid']:.4g} after (lower is better)")
    elif after is not None:
        print(f"KID (held out): {after['kid']:.4g}")
    if out_dir is None:
        print(
            f"Open it in the Latent Explorer ({settings.name}), or: "
            f"studio sample --model {shlex.quote(out.stem)} --seed 1 --grid -o grid.png"
        )
    return EXIT_OK
