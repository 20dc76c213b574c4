"""``studio evaluate``: measure a model's random samples; ``studio train-classifier`` makes the
emoji-group classifier those measures use; ``studio model fit-prior`` fits a VAE's prior."""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.commands.job_driver import drive_job, exit_with
from studio.commands.terminal import EXIT_BAD_INPUT, EXIT_OK, apply_threads, print_error
from studio.spec.bounds import EVAL_SAMPLES, SEED, THREADS, TRAINING_STEPS

if TYPE_CHECKING:
    import argparse


def add_commands(subparsers: Any) -> None:
    evaluate = subparsers.add_parser(
        "evaluate",
        help="measure how good a model's random samples are (KID, precision/recall, density/coverage)",
        description=(
            "Draw samples from each MODEL as Randomize does and measure them against the data set's training "
            "and held-out images in two feature spaces (VGG19 and the emoji classifier): KID over 50 subsets, "
            "precision and recall (k=3), density and coverage (k=5), class agreement for a conditional model, "
            "and real against real as the ceiling. Writes MODEL-evaluation.json and MODEL-neighbours.png "
            "(each sample beside its nearest training image) into --out. MODEL may be a training checkpoint."
        ),
    )
    evaluate.add_argument("models", nargs="+", metavar="MODEL", help="model name, model file or .ckpt.safetensors")
    evaluate.add_argument("--data", required=True, help="the data set the model was trained on (folder or .npz)")
    evaluate.add_argument(
        "--samples", type=EVAL_SAMPLES.argument(), default=2000, help="samples to draw (default 2000)"
    )
    evaluate.add_argument("--out", help="folder for the report and the neighbour sheet (default: beside the model)")
    evaluate.add_argument("--classifier", help="the emoji classifier (default: the bundled one)")
    evaluate.add_argument("--threads", type=THREADS.argument(), help="CPU threads")
    evaluate.add_argument("--device", default="cpu", help="cpu (default), cuda or mps")
    evaluate.add_argument("--json", action="store_true", help="print the reports as JSON")
    evaluate.add_argument("--card", action="store_true", help="also store each report in its model's card")
    evaluate.set_defaults(run=run_evaluate)

    classifier = subparsers.add_parser(
        "train-classifier",
        help="train the emoji-group classifier that studio evaluate uses",
        description="Train the small emoji-group classifier on a data set's training split (for studio evaluate).",
    )
    classifier.add_argument("--data", required=True, help="data set folder or .npz")
    classifier.add_argument("--out", required=True, help="classifier file to write (.safetensors)")
    classifier.add_argument(
        "--steps", type=TRAINING_STEPS.argument(), default=1500, help="optimiser steps (default 1500)"
    )
    classifier.add_argument("--seed", type=SEED.argument(), default=0, help="seed (default 0)")
    classifier.add_argument("--threads", type=THREADS.argument(), help="CPU threads")
    classifier.set_defaults(run=run_train_classifier)


def _model_file(name: str, scratch: Path) -> Path:
    """A model file for ``name``; a training checkpoint is turned into one in ``scratch``."""
    from studio.engine.latent.state import find_model
    from studio.engine.models import save_generative_model
    from studio.engine.training.checkpoint import CHECKPOINT_SUFFIX, load_checkpoint, model_from_checkpoint
    from studio.files.paths import existing_file

    path = existing_file(name)  # "~nosuchuser/x" or a name too long is no file: find_model says so
    if path is not None and path.name.endswith(CHECKPOINT_SUFFIX):
        checkpoint = load_checkpoint(path)
        stem = path.name[: -len(CHECKPOINT_SUFFIX)]
        card = {
            "name": f"{checkpoint.card.get('name') or stem} (step {checkpoint.step})",
            "class_names": checkpoint.card.get("class_names", []),
        }
        return save_generative_model(
            scratch / f"{stem}-step{checkpoint.step}.safetensors", model_from_checkpoint(checkpoint), card
        )
    return find_model(name)


def run_evaluate(args: argparse.Namespace) -> int:
    from studio.engine.checkpoints import ModelFileError
    from studio.engine.data.dataset import DatasetError, load_image_dataset
    from studio.engine.evaluation.report import FeatureSpaces, default_classifier_path, evaluate_job, summary_lines
    from studio.engine.latent.state import ModelNotFoundError
    from studio.engine.training.config import TrainingError

    problem = apply_threads(args.threads)
    if problem:
        print_error(problem)
        return EXIT_BAD_INPUT
    try:
        dataset = load_image_dataset(args.data)
        spaces = FeatureSpaces(Path(args.classifier) if args.classifier else default_classifier_path(), args.device)
    except (DatasetError, ModelFileError, OSError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    reports = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.models:
            try:
                model_file = _model_file(name, Path(scratch))
                out = Path(args.out) if args.out else (Path(name).parent if Path(name).exists() else Path.cwd())
                job = evaluate_job(
                    model_file, dataset, samples=args.samples, out_dir=out, device=args.device, spaces=spaces
                )
                end = drive_job(job)  # a failure is raised to the except below
                if end.result is None:
                    return end.code
                result = end.result
                if args.card:
                    if model_file.parent == Path(scratch):
                        raise ValueError("a training checkpoint has no model card to store the report in")
                    _store_in_card(model_file, result.report)
            except (ModelFileError, ModelNotFoundError, TrainingError, ValueError, OSError) as exc:  # SaveError too
                print_error(f"{name}: {exc}")
                return EXIT_BAD_INPUT
            reports.append(result.report)
            if not args.json:
                print("\n".join(summary_lines(result.report)))
                print(f"Report: {result.json_path}\nNeighbours: {result.sheet_path}\n")
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0], indent=2))
    return EXIT_OK


def _store_in_card(model_file: Path, report: dict[str, Any]) -> None:
    from studio.engine.checkpoints import load_model, save_model
    from studio.engine.evaluation.report import card_kid

    tensors, card = load_model(model_file)
    card["evaluation"] = report
    card["kid"] = card_kid(report)
    card.pop("kid_note", None)
    save_model(model_file, tensors, card)


def run_train_classifier(args: argparse.Namespace) -> int:
    from studio.engine.data.dataset import DatasetError, load_image_dataset
    from studio.engine.evaluation.classifier import train_classifier_job
    from studio.files.atomic import SaveError

    problem = apply_threads(args.threads)
    if problem:
        print_error(problem)
        return EXIT_BAD_INPUT
    if args.steps < 1:
        print_error("--steps must be at least 1")
        return EXIT_BAD_INPUT
    command = shlex.join(["studio", *sys.argv[1:]]) if sys.argv[1:2] == ["train-classifier"] else None
    try:
        dataset = load_image_dataset(args.data)
    except (DatasetError, ValueError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    end = drive_job(
        train_classifier_job(dataset, args.out, steps=args.steps, seed=args.seed, command=command),
        failed=exit_with(EXIT_BAD_INPUT, DatasetError, ValueError, SaveError),
    )
    path = end.result
    if path is None:
        return end.code
    from studio.engine.checkpoints import load_model

    _, card = load_model(path)
    accuracy = card.get("heldout_accuracy")
    print(f"Classifier: {path}" + (f" (held-out accuracy {accuracy:.1%})" if accuracy is not None else ""))
    return EXIT_OK


def run_fit_prior(args: argparse.Namespace) -> int:
    """``studio model fit-prior``: give a VAE a mixture prior fitted on its training codes."""
    from studio.engine.checkpoints import ModelFileError
    from studio.engine.data.dataset import DatasetError, load_image_dataset
    from studio.engine.latent.state import ModelNotFoundError, find_model
    from studio.engine.models import load_generative_model, save_generative_model
    from studio.engine.models.vae_prior import fit_prior_on
    from studio.files.atomic import SaveError

    try:
        source = find_model(args.model)
        loaded = load_generative_model(source)
        if loaded.architecture != "vae":
            raise ValueError(f"{source.name} is not a VAE: only a VAE has a prior to fit")
        dataset = load_image_dataset(args.data)
        train = dataset.train()
        fitted, prior = fit_prior_on(loaded.model, train.images, train.labels.numpy(), per_class=args.per_class)
        out = Path(args.out) if args.out else source
        written = save_generative_model(out, fitted, {**loaded.card, "prior": prior})
    except (ModelFileError, ModelNotFoundError, DatasetError, ValueError, SaveError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    print(f"Fitted {prior['components']} Gaussians on {prior['codes']} training codes: {written}")
    return EXIT_OK
