"""What one training step does to the models: one class per model kind, one loop for all.

A trainer owns its modules, optimisers, learning-rate schedulers and (fp16) grad scalers. Its
:meth:`Trainer.step` pulls the batches it needs (a WGAN critic takes several per generator
step) and returns that step's losses as tensors still on the device: reading them back is a
host sync, so the loop does it only every ``log_every`` steps.

Fine-tuning plugs in here, without a second loop:

- starting weights: ``init`` (module name -> state dict in the trainer's own layout) is loaded
  right after the modules are built;
- freezing: ``config.freeze`` switches off ``requires_grad`` for those blocks (see
  :mod:`.freezing`) before the optimisers are built, so the optimisers and the discriminator's
  grad toggling cover only the parameters that train;
- augmentation: ``config.flip``/``jitter``/``random_crop`` change each real batch, and
  DiffAugment (:attr:`GANTrainer.augment`) every image the discriminator sees, real and
  generated alike (see :mod:`.augment`);
- DDP: :meth:`Trainer.distribute` wraps the modules a step differentiates through in
  DistributedDataParallel and gives each process its own random streams.

Randomness: the trainer keeps its own generator for latent noise and its own copy of torch's
global random state (which the VAE's reparameterisation draws from), swapped in only while a
step runs. Renders the GUI worker serves between two steps therefore cannot shift the run, and
a checkpoint captures every random state the next step will use.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from studio.engine.models import (
    VAE,
    Generator,
    build_gan,
    discriminator_loss,
    ema_update,
    generator_loss,
    gradient_penalty,
)
from studio.engine.models.gan import generator_class
from studio.engine.models.losses import lecam_regulariser
from studio.engine.models.stylegan import StyleGenerator, reconstruction_target
from studio.engine.style.losses import content_loss
from studio.engine.style.vgg import load_vgg19, preprocess
from studio.engine.training.augment import diffaugmenter, real_augmenter
from studio.engine.training.config import TrainConfig, TrainingError
from studio.engine.training.freezing import freeze_blocks
from studio.engine.training.grid import COLUMNS
from studio.spec.models import GANConfig, VAEConfig

if TYPE_CHECKING:
    from studio.engine.training.distributed import DistributedContext

NextBatch = Callable[[], tuple[torch.Tensor, torch.Tensor]]
MAX_PREVIEW_CLASSES = 16
FEATURE_LOSS_LAYERS = ("relu1_1", "relu2_1", "relu3_1")  # DFC-VAE's VAE-123
GENERATE_CHUNK = 64
# Seeds derived from the run's seed, one per use, so no two draw the same numbers.
_INIT, _GLOBAL, _NOISE, _PREVIEW, _EVAL = range(5)
_RANK_SEED = 1_000_003  # distributed: process r adds r times this to its random streams' seeds
LECAM_DECAY = 0.99  # of LeCam's anchors, as in Tseng et al.


def lr_factor(config: TrainConfig, step: int) -> float:
    """The multiplier on the base learning rate after ``step`` optimiser steps."""
    if config.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step, config.steps) / config.steps))
    return 1.0


def ema_decay_at(decay: float, step: int) -> float:
    """The average's decay at ``step``: lower at first, so early weights, which are mostly the
    random initialisation, fade out within a run of a few thousand steps."""
    return min(decay, (1.0 + step) / (10.0 + step))


def _seeded_state(seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator(device=device) if device.type != "cpu" else torch.Generator()
    return generator.manual_seed(seed).get_state()


class Trainer:
    """The parts every model kind shares: optimisers, schedules, AMP, random states, saving."""

    kind = ""

    def __init__(
        self, config: TrainConfig, device: torch.device, init: dict[str, dict[str, torch.Tensor]] | None = None
    ) -> None:
        self.config = config
        self.device = device
        self.init = init or {}
        self.frozen_parameters = 0
        self.distributed: DistributedContext | None = None
        self.augment_real = real_augmenter(config)
        self.use_amp = bool(config.amp and device.type == "cuda")
        bf16 = self.use_amp and torch.cuda.is_bf16_supported()
        self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
        # NHWC convolutions: about a fifth less time per GAN step on a CPU (oneDNN), and what
        # tensor cores want on CUDA. MPS gains nothing from it.
        self.memory_format = torch.channels_last if device.type in ("cpu", "cuda") else torch.contiguous_format
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LambdaLR] = {}
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        self.noise = torch.Generator(device=device) if device.type != "cpu" else torch.Generator()
        self.noise.manual_seed(config.seed * 10 + _NOISE)
        self.cpu_rng = _seeded_state(config.seed * 10 + _GLOBAL, torch.device("cpu"))
        self.cuda_rng = _seeded_state(config.seed * 10 + _GLOBAL, device) if device.type == "cuda" else None

    # --- randomness ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def own_random_state(self) -> Iterator[None]:
        """Run with the trainer's global random state, then give the caller's back."""
        outer_cpu = torch.get_rng_state()
        torch.set_rng_state(self.cpu_rng)
        outer_cuda = None
        if self.cuda_rng is not None:
            outer_cuda = torch.cuda.get_rng_state(self.device)
            torch.cuda.set_rng_state(self.cuda_rng, self.device)
        try:
            yield
        finally:
            self.cpu_rng = torch.get_rng_state()
            torch.set_rng_state(outer_cpu)
            if outer_cuda is not None:
                self.cuda_rng = torch.cuda.get_rng_state(self.device)
                torch.cuda.set_rng_state(outer_cuda, self.device)

    def build(self, make: Callable[[], dict[str, nn.Module]]) -> None:
        """Create the modules from the seed on the CPU (so every device starts from the same
        weights), without disturbing the caller's random state, load the starting weights
        (``init``), freeze ``config.freeze``'s blocks and move the modules to the device."""
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(self.config.seed * 10 + _INIT)
            modules = make()
        for name, state in self.init.items():
            if name not in modules:
                continue  # e.g. the base's weight average, for a run without one
            try:
                modules[name].load_state_dict(state, strict=True)
            except RuntimeError as exc:
                detail = " ".join(str(exc).split())[:300]
                raise TrainingError(f"the starting weights do not fit the model ({name}: {detail})") from exc
        if self.config.freeze:
            self.frozen_parameters = freeze_blocks(self.config.model, modules, self.config.freeze)
        for name, module in modules.items():
            self.modules[name] = module.to(self.device).to(memory_format=self.memory_format).train()

    def add_optimizer(self, name: str, module: nn.Module, lr: float) -> None:
        trainable = [p for p in module.parameters() if p.requires_grad]
        beta1, beta2 = self.config.betas
        optimizer = torch.optim.Adam(trainable, lr=lr, betas=(beta1, beta2))
        owner = self

        def factor(step: int) -> float:  # a plain function: LambdaLR's state_dict skips those
            return lr_factor(owner.config, step)

        self.optimizers[name] = optimizer
        self.schedulers[name] = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        fp16 = self.use_amp and self.amp_dtype == torch.float16
        self.scalers[name] = torch.amp.GradScaler("cuda", enabled=fp16)

    def base_lr(self, name: str) -> float:
        return self.config.lr

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.use_amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def update(self, name: str, loss: torch.Tensor) -> None:
        optimizer, scaler = self.optimizers[name], self.scalers[name]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def end_step(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.step()

    def real_batch(self, next_batch: NextBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """The next real batch, augmented as the config asks (call inside :meth:`own_random_state`)."""
        images, labels = next_batch()
        if self.augment_real is not None:
            images = self.augment_real(images)
        return images, labels

    # --- several processes ----------------------------------------------------------------------

    def distribute(self, context: DistributedContext, step: int) -> None:
        """Wrap the trained modules in DDP and give this process its own random streams.

        Process 0 keeps the streams a single-process run would use (or the checkpoint's); the
        others derive theirs from the seed, their rank and the step, since a checkpoint holds
        the streams of process 0 only.
        """
        self.distributed = context
        if context.rank:
            offset = _RANK_SEED * context.rank
            self.noise.manual_seed(self.config.seed * 10 + _NOISE + offset + 1000 * step)
            self.cpu_rng = _seeded_state(self.config.seed * 10 + _GLOBAL + offset + 1000 * step, torch.device("cpu"))
            if self.cuda_rng is not None:
                self.cuda_rng = _seeded_state(self.config.seed * 10 + _GLOBAL + offset + 1000 * step, self.device)
        self.wrap_modules(context)

    def wrap_modules(self, context: DistributedContext) -> None:
        raise NotImplementedError

    # --- the step, previews and results (per kind) -----------------------------------------------

    def step(self, next_batch: NextBatch, step: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def preview(self) -> torch.Tensor:
        """The sample grid's images, rows of :data:`COLUMNS`, on the CPU."""
        raise NotImplementedError

    def generate(self, count: int, labels: torch.Tensor | None) -> torch.Tensor:
        """``count`` new images (for KID), N x 3 x H x W in [-1, 1] on the CPU."""
        raise NotImplementedError

    def final_model(self) -> VAE | Generator | StyleGenerator:
        raise NotImplementedError

    # --- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "modules": {name: module.state_dict() for name, module in self.modules.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "schedulers": {name: sched.state_dict() for name, sched in self.schedulers.items()},
            "scalers": {name: scaler.state_dict() for name, scaler in self.scalers.items()},
            "random": {
                "device": self.device.type,
                "noise": self.noise.get_state(),
                "cpu": self.cpu_rng.clone(),
                "cuda": None if self.cuda_rng is None else self.cuda_rng.clone(),
            },
        }

    def load_state_dict(self, state: dict[str, Any], step: int) -> list[str]:
        """Restore a checkpoint's state; returns notes on what could not carry over exactly."""
        notes: list[str] = []
        for name, module in self.modules.items():
            if name in state["modules"]:
                module.load_state_dict(state["modules"][name], strict=True)
            elif not self.missing_module(name):
                raise KeyError(f"the checkpoint has no weights for {name!r}")
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
            self.schedulers[name].load_state_dict(state["schedulers"][name])
            scaler_state = state["scalers"].get(name) or {}
            if self.scalers[name].is_enabled() and scaler_state:
                self.scalers[name].load_state_dict(scaler_state)
        self._apply_hyperparameters()
        random = state["random"]
        self.cpu_rng = random["cpu"].to(torch.uint8).clone()
        if random["device"] == self.device.type:
            self.noise.set_state(random["noise"].to(torch.uint8))
            if self.cuda_rng is not None and random.get("cuda") is not None:
                self.cuda_rng = random["cuda"].to(torch.uint8).clone()
        else:
            # A generator's state only fits a generator of the same kind of device.
            self.noise.manual_seed(self.config.seed * 10 + _NOISE + 1000 * step)
            notes.append(
                f"the checkpoint was trained on {random['device']}, so the noise sequence restarts "
                f"(the run continues correctly, but not bit for bit as on {random['device']})"
            )
        return notes

    def missing_module(self, name: str) -> bool:
        """Fill in a module the checkpoint lacks (one a changed option adds); False if none can be."""
        return False

    def _apply_hyperparameters(self) -> None:
        # A resumed run may change learning rates or betas; the checkpoint's moments stay.
        for name, optimizer in self.optimizers.items():
            scheduler = self.schedulers[name]
            base = self.base_lr(name)
            scheduler.base_lrs = [base for _ in optimizer.param_groups]
            for group in optimizer.param_groups:
                group["initial_lr"] = base
                group["betas"] = tuple(self.config.betas)
                group["lr"] = base * lr_factor(self.config, scheduler.last_epoch)
            scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]


def _set_requires_grad(params: list[nn.Parameter], flag: bool) -> None:
    for param in params:
        param.requires_grad_(flag)


class _VAEObjective(nn.Module):
    """The VAE's loss as a module's forward, so DDP can wrap it (DDP syncs on forward/backward).

    With ``feature_weight`` > 0 the reconstruction term is DFC-VAE's (Hou et al. 2017): the L1
    pixel error plus the VGG19 feature error at relu1_1, relu2_1 and relu3_1, which keeps edges
    and textures that a squared pixel error averages into blur. Both are per image sums, the
    feature term being the Gatys content loss (relative squared error, mean over the layers)
    times the image's number of values, so it sits on the pixel term's scale: at 0.5 the two
    weigh about the same on a trained model, and the KL term keeps its usual balance.
    """

    def __init__(self, vae: VAE, feature_weight: float = 0.0) -> None:
        super().__init__()
        self.vae = vae
        self.feature_weight = feature_weight
        self.features: nn.Module | None = None
        if feature_weight:
            device = next(vae.parameters()).device
            self.features = load_vgg19(FEATURE_LOSS_LAYERS, device=device)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.vae.loss(images, self._pixel_and_feature_error if self.features is not None else None)

    def _pixel_and_feature_error(self, recon: torch.Tensor, images: torch.Tensor) -> dict[str, torch.Tensor]:
        assert self.features is not None  # forward passes this method only when there are features
        pixel = (recon - images).abs().flatten(1).sum(dim=1).mean()
        with torch.no_grad():
            targets = self.features(preprocess((images.float() + 1.0) / 2.0))
        relative = content_loss(self.features(preprocess((recon.float() + 1.0) / 2.0)), targets)
        feature = self.feature_weight * relative * images[0].numel()
        return {"recon": pixel + feature, "feature": feature}


class VAETrainer(Trainer):
    kind = "vae"

    def __init__(
        self,
        config: TrainConfig,
        device: torch.device,
        preview_images: torch.Tensor,
        init: dict[str, dict[str, torch.Tensor]] | None = None,
    ) -> None:
        super().__init__(config, device, init)
        model = config.model
        assert isinstance(model, VAEConfig)  # TrainConfig checks the model against its kind
        self.build(lambda: {"vae": VAE(model)})
        vae = self.modules["vae"]
        assert isinstance(vae, VAE)  # built just above
        self.vae = vae
        self.objective: nn.Module = _VAEObjective(self.vae, config.feature_loss)
        self.add_optimizer("vae", self.vae, config.lr)
        generator = torch.Generator().manual_seed(config.seed * 10 + _PREVIEW)
        self.preview_originals = preview_images[:COLUMNS].to(device)
        self.preview_z = torch.randn(COLUMNS, config.model.latent_dim, generator=generator).to(device)

    def wrap_modules(self, context: DistributedContext) -> None:
        self.objective = context.wrap(_VAEObjective(self.vae, self.config.feature_loss))

    def step(self, next_batch: NextBatch, step: int) -> dict[str, torch.Tensor]:
        with self.own_random_state():
            images, _ = self.real_batch(next_batch)  # the sampler has its own generator
            with self.autocast():
                losses = self.objective(images)
            self.update("vae", losses["total"])
        self.end_step()
        return {name if name != "total" else "loss": value.detach() for name, value in losses.items()}

    @torch.no_grad()
    def preview(self) -> torch.Tensor:
        self.vae.eval()
        try:
            recon, _, _ = self.vae(self.preview_originals)
            samples = self.vae.decode(self.preview_z)
        finally:
            self.vae.train()
        return torch.cat([self.preview_originals, recon, samples]).float().cpu()

    @torch.no_grad()
    def generate(self, count: int, labels: torch.Tensor | None) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.config.seed * 10 + _EVAL)
        self.vae.eval()
        try:
            chunks = []
            for start in range(0, count, GENERATE_CHUNK):
                n = min(GENERATE_CHUNK, count - start)
                z = torch.randn(n, self.config.model.latent_dim, generator=generator).to(self.device)
                chunks.append(self.vae.decode(z).float().cpu())
        finally:
            self.vae.train()
        return torch.cat(chunks)

    def final_model(self) -> VAE:
        return self.vae


class GANTrainer(Trainer):
    kind = "gan"

    def __init__(
        self, config: TrainConfig, device: torch.device, init: dict[str, dict[str, torch.Tensor]] | None = None
    ) -> None:
        super().__init__(config, device, init)
        model = config.model
        assert isinstance(model, GANConfig)  # TrainConfig checks the model against its kind

        def make() -> dict[str, nn.Module]:
            g, d = build_gan(model)
            modules: dict[str, nn.Module] = {"g": g, "d": d}
            if config.ema_decay is not None:
                # A fresh module loaded with G's state, not a deepcopy: deepcopies of
                # parametrized modules share their class, and folding one breaks the other.
                g_ema = generator_class(model)(model)
                g_ema.load_state_dict(g.state_dict())
                modules["g_ema"] = g_ema.requires_grad_(False)
            return modules

        self.build(make)
        g, g_ema = self.modules["g"], self.modules.get("g_ema")
        # Built just above, by build_gan and generator_class.
        assert isinstance(g, (Generator, StyleGenerator))
        assert g_ema is None or isinstance(g_ema, (Generator, StyleGenerator))
        self.g = g
        self.d: nn.Module = self.modules["d"]
        self.g_ema = g_ema
        if self.g_ema is not None:
            self.g_ema.eval()
        self.add_optimizer("g", self.g, config.lr)
        self.add_optimizer("d", self.d, self.base_lr("d"))
        self.d_trainable = [p for p in self.d.parameters() if p.requires_grad]
        self.conditional = model.num_classes > 0
        self.style_based = model.style_based
        # LeCam's anchors: moving averages of D's mean output on real and on generated images.
        self.lecam_anchors = torch.zeros(2, device=device)
        self.strength = config.cond_strength(0)  # the class's weight at the current step
        # DiffAugment: applied to every image the discriminator sees, real and generated alike.
        self.augment: Callable[[torch.Tensor], torch.Tensor] = diffaugmenter(config) or (lambda images: images)
        # The modules a step differentiates through; DDP wrappers of them when distributed.
        self.g_train: nn.Module = self.g
        self.d_train: nn.Module = self.d

        generator = torch.Generator().manual_seed(config.seed * 10 + _PREVIEW)
        if self.conditional and config.fixed_class is not None:
            # One class trained (fine-tuning on unlabelled images): an 8 x 8 grid of it.
            z = torch.randn(COLUMNS * COLUMNS, model.latent_dim, generator=generator)
            fixed = torch.full((COLUMNS * COLUMNS,), config.fixed_class, dtype=torch.long)
            self.preview_labels: torch.Tensor | None = fixed.to(device)
        elif self.conditional:
            classes = min(model.num_classes, MAX_PREVIEW_CLASSES)
            # The same eight latents in every row: each column shows one z across the classes.
            z = torch.randn(COLUMNS, model.latent_dim, generator=generator).repeat(classes, 1)
            labels = torch.arange(classes).repeat_interleave(COLUMNS)
            self.preview_labels = labels.to(device)
        else:
            z = torch.randn(COLUMNS * COLUMNS, model.latent_dim, generator=generator)
            self.preview_labels = None
        self.preview_z = z.to(device)

    def base_lr(self, name: str) -> float:
        if name == "d" and self.config.d_lr is not None:
            return self.config.d_lr
        return self.config.lr

    def missing_module(self, name: str) -> bool:
        if name == "g_ema" and self.g_ema is not None:  # the average was switched on at resume
            self.g_ema.load_state_dict(self.g.state_dict())
            return True
        return False

    def wrap_modules(self, context: DistributedContext) -> None:
        # Only the forward passes whose backward updates a module go through its DDP wrapper:
        # G's forward in the last critic step, D's forward on real and fake. The gradient
        # penalty and the generator step call D itself (its gradients there are not D's
        # update), so each wrapper sees exactly one forward per backward.
        self.g_train = context.wrap(self.g)
        self.d_train = context.wrap(self.d)

    def _noise(self, count: int) -> torch.Tensor:
        return torch.randn(count, self.config.model.latent_dim, generator=self.noise, device=self.device)

    def _g_kwargs(self) -> dict[str, float]:
        return {"cond_strength": self.strength} if self.style_based else {}

    def step(self, next_batch: NextBatch, step: int) -> dict[str, torch.Tensor]:
        config = self.config
        kind = config.loss
        assert kind is not None  # a GAN run's model config has one
        g, d = self.g, self.d
        self.strength = config.cond_strength(step)
        extra = self._g_kwargs()
        losses: dict[str, torch.Tensor] = {}
        with self.own_random_state():
            _set_requires_grad(self.d_trainable, True)
            for critic_step in range(config.n_critic):
                real, labels = self.real_batch(next_batch)
                cond = labels if self.conditional else None
                last = critic_step == config.n_critic - 1
                z = self._noise(real.shape[0])
                with self.autocast():
                    # The last critic step's fakes keep their graph and feed the generator
                    # step too: one generator forward per step, as in DCGAN.
                    with torch.set_grad_enabled(last):
                        fake = (self.g_train if last else g)(z, cond, **extra)
                    real_in, fake_in = self.augment(real), self.augment(fake.detach())
                    # One discriminator pass over both halves (it has no batch norm to mix them).
                    both_labels = None if cond is None else torch.cat([cond, cond])
                    both = torch.cat([real_in, fake_in.to(real_in.dtype)])
                    if self.style_based:
                        # v2's discriminator also redraws the real images it saw (self-supervision).
                        logits, redrawn = self.d_train(both, both_labels, reconstruct=real.shape[0], **extra)
                        rec = F.l1_loss(redrawn.float(), reconstruction_target(real_in).float())
                        losses["rec"] = rec.detach()
                    else:
                        logits = self.d_train(both, both_labels)
                    real_logits, fake_logits = logits.float().chunk(2)
                    d_loss = discriminator_loss(kind, real_logits, fake_logits)
                # "d" is logged as the adversarial loss alone; the regularisers have their own names.
                adversarial = d_loss.detach()
                if self.style_based:
                    d_loss = d_loss + rec
                if config.lecam > 0:
                    lecam = lecam_regulariser(real_logits, fake_logits, self.lecam_anchors)
                    losses["lecam"] = lecam.detach()
                    d_loss = d_loss + config.lecam * lecam
                    with torch.no_grad():
                        means = torch.stack([real_logits.mean(), fake_logits.mean()])
                        self.lecam_anchors.lerp_(means, 1.0 - LECAM_DECAY)
                if kind == "wgan-gp" and config.gp_weight > 0:
                    gp = gradient_penalty(
                        d, real_in.float(), fake_in.float(), cond, weight=config.gp_weight, generator=self.noise
                    )
                    losses["gp"] = gp.detach()
                    d_loss = d_loss + gp
                self.update("d", d_loss)
            _set_requires_grad(self.d_trainable, False)
            try:
                with self.autocast():
                    g_loss = generator_loss(kind, d(self.augment(fake), cond, **extra).float())
                self.update("g", g_loss)
            finally:
                _set_requires_grad(self.d_trainable, True)
            if self.g_ema is not None:
                assert config.ema_decay is not None  # g_ema exists only with a decay
                ema_update(self.g_ema, g, ema_decay_at(config.ema_decay, step))
        self.end_step()
        return {"d": adversarial, "g": g_loss.detach(), **losses}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "lecam_anchors": self.lecam_anchors.clone()}

    def load_state_dict(self, state: dict[str, Any], step: int) -> list[str]:
        notes = super().load_state_dict(state, step)
        if "lecam_anchors" in state:  # absent from checkpoints older than LeCam
            self.lecam_anchors.copy_(state["lecam_anchors"])
        self.strength = self.config.cond_strength(step)
        return notes

    def _sampler(self) -> contextlib.AbstractContextManager[Generator | StyleGenerator]:
        @contextlib.contextmanager
        def use() -> Iterator[Generator | StyleGenerator]:
            if self.g_ema is not None:
                yield self.g_ema
                return
            self.g.eval()
            try:
                yield self.g
            finally:
                self.g.train()

        return use()

    @torch.no_grad()
    def preview(self) -> torch.Tensor:
        with self._sampler() as g:
            return g(self.preview_z, self.preview_labels, **self._g_kwargs()).float().cpu()

    @torch.no_grad()
    def generate(self, count: int, labels: torch.Tensor | None) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.config.seed * 10 + _EVAL)
        chunks = []
        with self._sampler() as g:
            for start in range(0, count, GENERATE_CHUNK):
                n = min(GENERATE_CHUNK, count - start)
                z = torch.randn(n, self.config.model.latent_dim, generator=generator).to(self.device)
                chunk_labels = None if labels is None else labels[start : start + n].to(self.device)
                chunks.append(g(z, chunk_labels, **self._g_kwargs()).float().cpu())
        return torch.cat(chunks)

    def final_model(self) -> Generator | StyleGenerator:
        return self.g_ema if self.g_ema is not None else self.g


def build_trainer(
    config: TrainConfig,
    device: torch.device,
    preview_images: torch.Tensor,
    init: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Trainer:
    """The trainer for ``config.kind``; ``init`` holds starting weights per module (fine-tuning)."""
    if config.kind == "vae":
        return VAETrainer(config, device, preview_images, init)
    return GANTrainer(config, device, init)
