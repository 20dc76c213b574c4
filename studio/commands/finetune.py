"""``studio finetune``: adapt a model to a folder of images, headless, with a progress bar.

The same engine job as the Fine-tune wizard (:func:`studio.engine.training.finetune.job.finetune_job`):
the result goes into the model library, where the Latent Explorer lists it. Ctrl+C stops
after the current step and saves a checkpoint (exit code 130); ``--resume`` carries on from
it at the same step. Under ``torchrun`` the same command trains on every process
(DistributedDataParallel); ``--export-job`` writes a folder to run that way elsewhere,
``--job`` runs such a folder, and ``--import`` brings its result into the library.
"""

from __future__ import annotations

import shlex
import sys
from functools import partial
from typing import TYPE_CHECKING, Any

from studio.commands.job_driver import drive_job
from studio.commands.options import add_options
from studio.commands.terminal import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    apply_threads,
    checkpoint_untouched,
    print_error,
    training_failure,
)
from studio.spec.bounds import THREADS
from studio.spec.options import options_of

if TYPE_CHECKING:
    import argparse

    from studio.engine.jobs import Progress
    from studio.engine.training.distributed import DistributedContext


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
    run = parser.add_argument_group("run")
    from studio.engine.training.finetune.settings import FinetuneSettings

    add_options(FinetuneSettings, {"what": what, "run": run})
    run.add_argument("--threads", type=THREADS.argument(), help="CPU threads (default: torch's choice)")
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
    from studio.engine.training.finetune.base import load_base
    from studio.engine.training.finetune.library import saved_settings
    from studio.engine.training.finetune.settings import FinetuneSettings

    saved = saved_settings(args.name) if args.resume and args.name else None
    if saved is not None:
        _say(f"The saved run's settings: {saved.base} on {saved.data}")
    given = {name: getattr(args, name) for name, _ in options_of(FinetuneSettings)}
    class_text = given.pop("class_index")  # a name or a number: which number a name is, the base says
    settings = FinetuneSettings.from_options(given, saved)
    if class_text is not None:
        settings = settings.replace(class_index=load_base(settings.base).class_index(class_text))
    return settings


def _command_line(args: argparse.Namespace, settings: Any) -> str:
    argv = sys.argv[1:]
    if argv[:1] == ["finetune"]:
        return shlex.join(["studio", *argv])
    return settings.command_line()


def _list_blocks(args: argparse.Namespace) -> int:
    from studio.engine.training.finetune.base import load_base
    from studio.engine.training.finetune.config import frozen_blocks
    from studio.engine.training.finetune.settings import FinetuneSettings
    from studio.engine.training.freezing import FREEZE_PRESETS, model_blocks, presets_for

    base = load_base(args.base)
    settings = FinetuneSettings.from_options({"base": args.base, "data": ".", "name": "-", "freeze": args.freeze})
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

    path = import_checkpoint(args.import_path, name=args.name)
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
    from studio.engine.checkpoints import ModelFileError
    from studio.engine.data.folder import FolderDataError
    from studio.engine.training.config import TrainingError
    from studio.files.atomic import SaveError

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
            from studio.engine.devices import select_device
            from studio.engine.training.finetune.estimate import estimate_step

            estimate = estimate_step(settings, select_device(settings.device))
            minutes = estimate.total_seconds / 60
            print(
                f"{estimate.seconds_per_step * 1000:.0f} ms per step ({estimate.images_per_second:.0f} images/s) on "
                f"{estimate.device}; about {estimate.memory_bytes / 2**20:.0f} MiB; "
                f"{settings.steps} steps take about {minutes:.1f} min (plus KID at checkpoints)"
            )
            return EXIT_OK
        if args.export_job:
            from studio.engine.training.jobfolder import export_job

            nproc: int | str = int(args.nproc) if str(args.nproc).isdigit() else args.nproc
            end = drive_job(export_job(settings, args.export_job, nproc_per_node=nproc))  # failures: below
            exported = end.result
            if exported is None:
                return end.code
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
    from studio.engine.checkpoints import ModelFileError
    from studio.engine.devices import select_device
    from studio.engine.training.checkpoint import checkpoint_path, read_checkpoint_config
    from studio.engine.training.distributed import distributed_from_env
    from studio.engine.training.finetune.job import finetune_job
    from studio.engine.training.finetune.library import library_path

    try:
        context = distributed_from_env(settings.device)
    except RuntimeError as exc:
        print_error(str(exc))
        return EXIT_FAILURE
    main = context is None or context.is_main
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
    device = context.device_info if context is not None else select_device(settings.device)
    job = finetune_job(settings, device=device, resume=resume, out_dir=out_dir, command=command, distributed=context)
    try:
        end = drive_job(
            job,
            stopping="saving a checkpoint",
            aborted=lambda: checkpoint_untouched(ckpt),
            failed=training_failure,
            show_progress=main,
            agree=None if context is None else partial(_stop_together, context),
        )
        if context is not None:
            # Every process has finished (rank 0 writes the files last) before any of them takes
            # the group down: a process that leaves while another still holds its connections
            # can abort at exit ("terminate called without an active exception").
            context.barrier()
    finally:
        if context is not None:
            context.close()
    result = end.result
    if result is None or not main:
        return end.code

    for note in result.notes:
        _say(f"note: {note}")
    _print_report(result.scan)
    if result.cancelled:
        print(f"Stopped at step {result.train.step} of {result.train.total_steps}.")
        print(f"Checkpoint: {result.checkpoint_path}")
        resume_cmd = command if "--resume" in shlex.split(command) or "--job" in command else command + " --resume"
        print(f"Resume with: {resume_cmd}")
        return end.code
    print(f"Model:      {result.model_path}")
    print(f"Checkpoint: {result.checkpoint_path}")
    print(f"Samples:    {result.samples_path}")
    minutes, seconds = divmod(int(result.train.elapsed_s), 60)
    print(f"Fine-tuned {result.train.step} steps in {minutes}:{seconds:02d}")
    before, after = result.kid_before, result.kid_after
    if before is not None and after is not None:
        print(f"KID (held out): {before.kid:.4g} before, {after.kid:.4g} after (lower is better)")
    elif after is not None:
        print(f"KID (held out): {after.kid:.4g}")
    if out_dir is None:
        print(
            f"Open it in the Latent Explorer ({settings.name}), or: "
            f"studio sample --model {shlex.quote(out.stem)} --seed 1 --grid -o grid.png"
        )
    return end.code


def _stop_together(context: DistributedContext, progress: Progress, wanted: bool) -> bool:
    """Whether every process of a distributed run stops at this progress: any one asking stops all.

    They agree at training steps only, where each process is at the same step.
    """
    from studio.engine.training.loop import TrainProgress

    return isinstance(progress, TrainProgress) and progress.phase == "train" and context.any(wanted)
