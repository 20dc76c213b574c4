"""Fine-tune job folders: run the same fine-tune on a bigger machine, bring the result back.

Public API:

- :func:`export_job_folder` ``(settings, folder, *, nproc_per_node="auto") -> ExportedJob``
  (and :func:`export_job`, the same as a job generator with progress): writes ``folder`` with

  - ``job.json``: the fine-tune settings (paths relative to the folder), the exact command;
  - ``base/``: the base model, its card and, when it has one, its training checkpoint;
  - ``data/``: the folder's images as the studio's prepared data set (``images.npz``, resized,
    with the held-out split fixed) and ``dataset.json``, whose ``manifest`` lists every source
    file with its size and sha256, and every skipped file with its reason;
  - ``run.sh`` and ``README.txt``: the torchrun command, to run from inside the folder;

  the run writes ``out/`` (the model, its checkpoint, sample grids) and, run again, resumes;
- :func:`job_settings` ``(folder) -> (settings, out_dir)``: what ``studio finetune --job``
  runs;
- :func:`import_checkpoint` ``(path, *, name=None, overwrite=False) -> Path``: a finished model,
  a training checkpoint or a whole job folder into the model library, checked first, where
  the Latent Explorer lists it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.engine.checkpoints import ModelFileError, card_path, load_model, save_model
from studio.engine.data.dataset import save_image_dataset
from studio.engine.jobs import Progress, run_to_end
from studio.engine.training.checkpoint import (
    CHECKPOINT_SUFFIX,
    checkpoint_path,
    load_checkpoint,
    model_from_checkpoint,
    model_path,
    read_checkpoint_config,
)
from studio.engine.training.config import TrainingError
from studio.engine.training.finetune.base import load_base
from studio.engine.training.finetune.config import class_names, finetune_config
from studio.engine.training.finetune.library import library_path
from studio.engine.training.finetune.settings import FinetuneSettings
from studio.files.atomic import (
    NEW_FOLDER_MODE,
    SaveError,
    atomic_write,
    atomic_write_bytes,
    clean_stale_temps,
    save_error,
)
from studio.files.paths import user_path

if TYPE_CHECKING:
    from collections.abc import Generator

JOB_FORMAT = 1
JOB_FILE = "job.json"
OUT_DIR = "out"
STAGING_SUFFIX = ".partial"  # ".NAME.RANDOM.partial": a job folder being written


@dataclass(frozen=True)
class ExportedJob:
    folder: Path
    command: str  # run inside ``folder``
    images: int
    skipped: int


def torchrun_command(nproc_per_node: int | str = "auto", nnodes: int = 1) -> str:
    """The command that runs a job folder (from inside it) on one machine, or on ``nnodes``."""
    parts = ["torchrun"]
    if nnodes > 1:
        parts += [
            f"--nnodes={nnodes}",
            "--node_rank=$NODE_RANK",
            "--rdzv_backend=c10d",
            "--rdzv_endpoint=$MASTER:29500",
        ]
    else:
        parts.append("--standalone")
    parts += [f"--nproc_per_node={nproc_per_node}", "-m", "studio", "finetune", "--job", "."]
    return " ".join(parts)


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _copy(source: Path, target: Path) -> None:
    with open(source, "rb") as handle:
        atomic_write(target, lambda out: shutil.copyfileobj(handle, out, 1 << 20))


def export_job(
    settings: FinetuneSettings, folder: str | os.PathLike[str], *, nproc_per_node: int | str = "auto", nnodes: int = 1
) -> Generator[Progress, None, ExportedJob]:
    """Write a job folder for ``settings`` (see the module's docstring); ``folder`` must be new or empty."""
    from studio.engine.data.folder import folder_dataset_job
    from studio.spec.finetune import MIN_IMAGES

    target = user_path(folder, TrainingError)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise TrainingError(f"{target} is not empty: choose a new folder for the job")
    base = load_base(settings.base)
    config = finetune_config(settings, base)  # refuses unusable settings before anything is written
    data_name = Path(settings.data).name or "my images"
    job = folder_dataset_job(
        settings.data,
        image_size=config.model.image_size,
        resize=settings.resize,
        heldout=settings.heldout,
        seed=settings.seed,
        label=config.fixed_class or 0,
        class_names=class_names(base, config.fixed_class, data_name),
        minimum=MIN_IMAGES,
    )
    try:
        while True:
            yield next(job)
    except StopIteration as stop:
        dataset, scan = stop.value
    yield Progress(None, "Writing the job folder…")
    # Written beside the target under a temporary name and renamed at the end: a failure (a
    # full or read-only disk) or a cancel leaves no half folder that would refuse the retry.
    staging: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # What an export killed mid-write (kill -9, a power cut) left here: the cleanup above never ran.
        clean_stale_temps(target.parent, suffix=STAGING_SUFFIX, folders=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=STAGING_SUFFIX, dir=target.parent))
        os.chmod(staging, NEW_FOLDER_MODE)
        command = _write_job_folder(staging, settings, base, config, dataset, scan, data_name, nproc_per_node, nnodes)
        if target.exists():
            target.rmdir()  # empty (checked above); a rename over a folder fails on Windows
        os.replace(staging, target)
        staging = None
    except OSError as exc:  # SaveError too: the message names the job folder, not the staging one
        cause = exc.__cause__ if isinstance(exc, SaveError) and isinstance(exc.__cause__, OSError) else exc
        raise save_error(target, cause) from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return ExportedJob(folder=target, command=command, images=scan.count, skipped=scan.skipped_count)


def _write_job_folder(
    target: Path,
    settings: FinetuneSettings,
    base: Any,
    config: Any,
    dataset: Any,
    scan: Any,
    data_name: str,
    nproc_per_node: int | str,
    nnodes: int,
) -> str:
    """Write the job folder's files into ``target`` (an empty folder); the command that runs it."""
    (target / "base").mkdir()
    copied = [base.path, card_path(base.path)]
    if base.checkpoint is not None:
        copied += [base.checkpoint, card_path(base.checkpoint)]
    for source in copied:
        if source.is_file():
            _copy(source, target / "base" / source.name)
    manifest = [
        {"file": scan.relative(path), "bytes": path.stat().st_size, "sha256": _sha256(path), "heldout": bool(split)}
        for path, split in zip(scan.images, dataset.split.tolist(), strict=False)
    ]
    data_card = {
        "name": data_name,
        "source": str(scan.folder),
        "resize": settings.resize,
        "manifest": manifest,
        "skipped": [{"file": scan.relative(s.path), "reason": s.reason} for s in scan.skipped],
    }
    save_image_dataset(dataset, target / "data", data_card)
    job_settings_dict = settings.replace(base=f"base/{base.path.name}", data="data").to_dict()
    command = torchrun_command(nproc_per_node, nnodes)
    from studio import __version__

    job_card = {
        "format": JOB_FORMAT,
        "studio": __version__,
        "settings": job_settings_dict,
        "source": {"base": settings.base, "base_sha256": base.sha256, "data": str(scan.folder)},
        "command": command,
        "output": f"{OUT_DIR}/",
    }
    atomic_write_bytes(target / JOB_FILE, (json.dumps(job_card, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    script = (
        "#!/bin/sh\n"
        "# Fine-tune job exported by Latent Studio. Runs from this folder; run it again to resume.\n"
        "# NPROC=4 ./run.sh starts 4 processes (default: one per GPU, else per CPU core).\n"
        'cd "$(dirname "$0")" || exit 1\n'
        f'exec {torchrun_command("${NPROC:-" + str(nproc_per_node) + "}", nnodes)} "$@"\n'
    )
    atomic_write_bytes(target / "run.sh", script.encode("utf-8"))
    os.chmod(target / "run.sh", 0o755)
    readme = f"""Latent Studio fine-tune job: {settings.name}

Base model: {base.name} ({base.path.name}, sha256 {base.sha256[:12]}...)
Data: {scan.count} images from {scan.folder} ({scan.skipped_count} skipped; see data/dataset.json)
Steps: {settings.steps}, batch {settings.batch} (split over the processes; it must divide evenly)

On the machine that runs it: pip install latent-studio (the same version: {__version__}), then
from this folder:

    {command}

(or ./run.sh). One process per GPU (NCCL); without GPUs, gloo on the CPUs. Several machines
sharing this folder (e.g. over NFS): on each, with MASTER the first machine's address,

    {torchrun_command(nproc_per_node, 2).replace("--nnodes=2", "--nnodes=N")}

The result lands in {OUT_DIR}/: the model (.safetensors + .json card), its checkpoint
(.ckpt.safetensors, written every {settings.cadence().checkpoint_every} steps) and sample grids. If the run
stops, run the same command again: it resumes at the last checkpoint. Bring the folder (or
just {OUT_DIR}/) back and import it: File > Import fine-tuned model, or
    studio finetune --import {OUT_DIR}/
"""
    atomic_write_bytes(target / "README.txt", readme.encode("utf-8"))

    return command


def export_job_folder(
    settings: FinetuneSettings, folder: str | os.PathLike[str], *, nproc_per_node: int | str = "auto", nnodes: int = 1
) -> ExportedJob:
    """:func:`export_job` run to its end on the calling thread."""
    return run_to_end(export_job(settings, folder, nproc_per_node=nproc_per_node, nnodes=nnodes))


def job_settings(folder: str | os.PathLike[str]) -> tuple[FinetuneSettings, Path]:
    """The settings a job folder runs (paths made absolute) and where it writes its result."""
    root = user_path(folder, TrainingError).resolve()
    try:
        card = json.loads((root / JOB_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TrainingError(f"{root} is not a fine-tune job folder (no {JOB_FILE})") from exc
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{root / JOB_FILE} cannot be read ({exc})") from exc
    if not isinstance(card, dict) or card.get("format") != JOB_FORMAT or not isinstance(card.get("settings"), dict):
        raise TrainingError(f"{root / JOB_FILE} is not a job this version of the studio can run")
    settings = FinetuneSettings.from_dict(card["settings"])
    resolved = {}
    for key in ("base", "data"):
        value = Path(getattr(settings, key))
        path = value if value.is_absolute() else root / value
        if not path.resolve().is_relative_to(root):
            raise TrainingError(f"{JOB_FILE} points outside the job folder ({key}: {value})")
        resolved[key] = str(path)
    return settings.replace(**resolved), root / OUT_DIR


# --- importing ---------------------------------------------------------------------------------------


def _find_result(folder: Path) -> Path:
    out = folder / OUT_DIR if (folder / JOB_FILE).is_file() else folder
    models = sorted(p for p in out.glob("*.safetensors") if not p.name.endswith(CHECKPOINT_SUFFIX))
    if len(models) == 1:
        return models[0]
    checkpoints = sorted(out.glob(f"*{CHECKPOINT_SUFFIX}"))
    if not models and len(checkpoints) == 1:
        return checkpoints[0]
    if not models and not checkpoints:
        raise TrainingError(f"no model or checkpoint in {out}: has the job run?")
    raise TrainingError(f"several models in {out}; import one of them by its file")


def _checked_target(name: str, overwrite: bool) -> Path:
    from studio.engine.environment import installed_models

    target = library_path(name)
    if not overwrite:
        if target.exists():
            raise TrainingError(
                f"a model called {name!r} is already in the library ({target}); import under another name"
            )
        taken = {m.name.casefold(): m for m in installed_models()}
        if name.casefold() in taken:
            raise TrainingError(
                f"the name {name!r} is taken by {taken[name.casefold()].path}; import under another name"
            )
    return target


def _refuse_diverged(source: Path, card: dict[str, Any]) -> None:
    """A run whose last losses were NaN/Inf (a model card's ``final_losses``) is not a model to keep."""
    losses = card.get("final_losses")
    if not isinstance(losses, dict):
        return
    bad = [str(name) for name, value in losses.items() if isinstance(value, float) and not math.isfinite(value)]
    if bad:
        raise TrainingError(
            f"{source.name}: its training diverged (the {', '.join(bad)} loss is NaN/Inf), "
            "so it was not imported into the library; import an earlier checkpoint or train again with a lower "
            "learning rate"
        )


def import_checkpoint(path: str | os.PathLike[str], *, name: str | None = None, overwrite: bool = False) -> Path:
    """Bring a fine-tune result into the model library; returns the library file.

    ``path``: a finished model (``.safetensors`` + card), a training checkpoint
    (``.ckpt.safetensors``: its averaged generator, or the VAE, becomes the model) or a job
    folder (its ``out/`` result). The model is loaded and checked first; nothing is written
    when it is damaged or not a model the Latent Explorer can open. ``name`` renames it.
    """
    from studio.engine.models import load_generative_model, save_generative_model

    source = user_path(path, TrainingError)
    if source.is_dir():
        source = _find_result(source)
    if not source.is_file():
        raise TrainingError(f"{source} does not exist")
    if source.name.endswith(CHECKPOINT_SUFFIX):
        checkpoint = load_checkpoint(source)  # ModelFileError names a damaged file
        config, card = checkpoint.config, dict(checkpoint.card)
        _refuse_diverged(source, card)
        module = model_from_checkpoint(checkpoint)  # and its weights that do not fit, or are NaN/Inf
        model_name = name or str(card.get("name") or source.name[: -len(CHECKPOINT_SUFFIX)])
        target = _checked_target(model_name, overwrite)
        new_card: dict[str, Any] = {
            "name": model_name,
            "description": f"imported from the training checkpoint {source.name} at step {checkpoint.step}",
            "class_names": card.get("class_names", []),
            "steps": checkpoint.step,
            "training": config.to_dict(),
            "kid_history": card.get("kid_history"),
            "finetune": card.get("finetune"),
            "imported_from": str(source),
            "licence": "MIT (the weights); see the base model's card for its data's licences",
        }
        saved = save_generative_model(target, module, new_card)
        _copy(source, checkpoint_path(saved))
        return saved
    loaded = load_generative_model(source)  # checks the file, its card and that the weights fit
    _refuse_diverged(source, loaded.card)
    model_name = name or str(loaded.card.get("name") or source.stem)
    target = _checked_target(model_name, overwrite)
    tensors, card = load_model(source)
    saved = save_model(target, tensors, {**card, "name": model_name, "imported_from": str(source)})
    ckpt = checkpoint_path(source)
    if ckpt.is_file():
        try:
            read_checkpoint_config(ckpt)
        except (ModelFileError, TrainingError):
            pass  # a damaged checkpoint stays behind: the model itself is complete
        else:
            _copy(ckpt, checkpoint_path(saved))
    return model_path(saved)


def describe_job(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """``job.json`` of a job folder, for showing what an import would bring back."""
    root = user_path(folder, TrainingError)
    return json.loads((root / JOB_FILE).read_text(encoding="utf-8"))


__all__ = [
    "ExportedJob",
    "describe_job",
    "export_job",
    "export_job_folder",
    "import_checkpoint",
    "job_settings",
    "torchrun_command",
]
