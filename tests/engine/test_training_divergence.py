"""A run whose weights go NaN/Inf never writes them over its last good checkpoint, and resuming
refuses a checkpoint whose stored config or weights are unusable before a trainer is built."""

from __future__ import annotations

import pytest
import torch

from studio.commands.terminal import EXIT_FAILURE, training_failure
from studio.engine.checkpoints import ModelFileError, load_model, save_model
from studio.engine.devices import select_device
from studio.engine.jobs import run_to_end
from studio.engine.training import loop
from studio.engine.training.checkpoint import checkpoint_path, load_checkpoint
from studio.engine.training.config import TrainingError
from studio.engine.training.finetune.job import finetune_job
from studio.engine.training.finetune.library import library_path, saved_settings
from studio.engine.training.finetune.settings import FinetuneSettings
from studio.engine.training.loop import TrainingDiverged
from studio.engine.training.trainers import GANTrainer, VAETrainer
from tests.engine.test_finetune import bases, pictures, settings  # noqa: F401  (fixtures)
from tests.engine.test_training import run, run_until, squares, tiny_gan, tiny_vae


def _poison_after(monkeypatch, trainer_cls, module: str, at: int) -> None:
    """After the step that takes the run from ``at`` to ``at + 1`` steps, one weight of
    ``module`` holds NaN (as a learning rate that is too high leaves it)."""
    real_step = trainer_cls.step

    def step(self, next_batch, step):
        losses = real_step(self, next_batch, step)
        if step == at:
            with torch.no_grad():
                next(p for p in self.modules[module].parameters() if p.ndim > 1).fill_(float("nan"))
        return losses

    monkeypatch.setattr(trainer_cls, "step", step)


@pytest.mark.parametrize(
    ("make", "trainer_cls", "module", "log_every"),
    [
        (tiny_gan, GANTrainer, "g", 5),  # no loss read between the NaN and the checkpoint
        (tiny_gan, GANTrainer, "g_ema", 1),  # the average is in no loss: only the weight check sees it
        (tiny_vae, VAETrainer, "vae", 5),
    ],
    ids=["gan-generator", "gan-average", "vae"],
)
def test_weights_that_go_nan_mid_run_never_replace_the_last_good_checkpoint(
    tmp_path, monkeypatch, capsys, make, trainer_cls, module, log_every
):
    out = tmp_path / "run.safetensors"
    ckpt = checkpoint_path(out)
    good: dict[int, bytes] = {}
    _poison_after(monkeypatch, trainer_cls, module, at=2)  # step 3 of 6; checkpoints at 2, 4, 6
    with pytest.raises(TrainingDiverged) as failure:
        run(
            make(checkpoint_every=2, log_every=log_every),
            squares(),
            out,
            on_checkpoint=lambda path, step: good.update({step: path.read_bytes()}),
        )
    assert str(failure.value).startswith(f"training diverged by step 4: the model's weights contain NaN/Inf ({module}.")
    # Plain words, which the fine-tune wizard shows as they are; the CLI adds its options.
    assert str(failure.value).endswith(
        "so it was not saved. The checkpoint from step 2 (run.ckpt.safetensors) is intact; "
        "resume from it with a lower learning rate."
    )
    assert "--" not in str(failure.value) and failure.value.flags == "--resume --lr"
    assert training_failure(failure.value) == EXIT_FAILURE
    assert capsys.readouterr().err.rstrip().endswith("resume from it with a lower learning rate (--resume --lr).")
    assert sorted(good) == [2] and ckpt.read_bytes() == good[2]  # the good checkpoint, byte for byte
    assert not out.exists()
    monkeypatch.undo()
    resumed, _ = run(make(checkpoint_every=2, log_every=log_every), squares(), out, resume=True)
    assert resumed.step == 6 and resumed.model_path == out and load_checkpoint(ckpt).step == 6


def test_a_run_cancelled_after_its_weights_went_nan_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "run.safetensors"
    _poison_after(monkeypatch, GANTrainer, "d", at=3)
    config = tiny_gan(checkpoint_every=2, log_every=100)
    with pytest.raises(TrainingDiverged, match=r"by step 4: .*NaN/Inf \(d\..*The checkpoint from step 2 "):
        run_until(config, squares(), out, stop_after=4)
    assert load_checkpoint(checkpoint_path(out)).step == 2


def test_a_fine_tune_whose_weights_go_nan_keeps_its_last_good_checkpoint_and_resumes(
    bases,  # noqa: F811
    pictures,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    recipe = settings(bases, pictures, name="Diverging", log_every=5, checkpoint_every=2)
    ckpt = checkpoint_path(library_path("Diverging", tmp_path))
    _poison_after(monkeypatch, GANTrainer, "g", at=2)
    with pytest.raises(TrainingDiverged, match=r"by step 4: .*NaN/Inf \(g\..*The checkpoint from step 2 .* is intact"):
        run_to_end(finetune_job(recipe, device=select_device(), out_dir=tmp_path))
    assert load_checkpoint(ckpt).step == 2
    monkeypatch.undo()
    resumed = run_to_end(finetune_job(recipe, device=select_device(), out_dir=tmp_path, resume=True))
    assert resumed.model_path is not None and load_checkpoint(ckpt).step == 6


# --- resuming a checkpoint that lies ------------------------------------------------------------------------


def _craft(ckpt, *, config=None, tensors=None) -> bytes:
    """Rewrite a checkpoint with its stored config or tensors edited (card inside and beside alike)."""
    weights, card = load_model(ckpt)
    card.pop("sha256", None)
    if config is not None:
        config(card["train_config"])
    if tensors is not None:
        tensors(weights)
    save_model(ckpt, weights, card)
    return ckpt.read_bytes()


@pytest.fixture
def stopped(tmp_path, monkeypatch):
    """A GAN run stopped at step 2, and build_trainer made to fail if anything reaches it."""
    out = tmp_path / "gan.safetensors"
    run_until(tiny_gan(), squares(), out, stop_after=2)

    def no_trainer(*args, **kwargs):
        raise AssertionError("a trainer was built from a checkpoint that should have been refused")

    monkeypatch.setattr(loop, "build_trainer", no_trainer)
    return out


def _set(field, value):
    return lambda config: config.update({field: value})


STORED_CONFIGS = {
    "batch 10**9": (_set("batch", 10**9), "batch: the batch size must be 1 to 4096, got 1000000000"),
    "lr NaN": (_set("lr", float("nan")), "lr: the learning rate must be a finite number, got nan"),
    "latent_dim 10**9": (
        lambda config: config["model"].update(latent_dim=10**9),
        "model: latent_dim must be 1 to 4096, got 1000000000",
    ),
    "steps a list": (_set("steps", [6]), "steps: the number of training steps must be a number, got [6]"),
    "betas text": (_set("betas", "ab"), "betas: two numbers are needed, got 'ab'"),
    "seed 2**63": (_set("seed", 2**63), "seed: the seed must be 0 to 2147483647, got 9223372036854775808"),
    "amp text": (_set("amp", "yes"), "amp must be true or false, got 'yes'"),
    "model a list": (_set("model", [16]), "model must be a JSON object of the model's settings, got [16]"),
}


@pytest.mark.parametrize("case", list(STORED_CONFIGS))
def test_resume_refuses_a_stored_config_out_of_bounds_before_building_anything(stopped, case):
    edit, detail = STORED_CONFIGS[case]
    ckpt = checkpoint_path(stopped)
    before = _craft(ckpt, config=edit)
    with pytest.raises(ModelFileError) as failure:
        run(tiny_gan(), squares(), stopped, resume=True)
    assert str(failure.value) == f"gan.ckpt.safetensors: its training config cannot be read ({detail})"
    assert ckpt.read_bytes() == before


def _first(module: str, ndim: int = 2):
    def pick(tensors) -> str:
        return next(name for name, t in tensors.items() if f".modules.{module}." in f".{name}" and t.ndim >= ndim)

    return pick


def _nan_in(module: str, value: float = float("nan")):
    def edit(tensors):
        tensors[_first(module)(tensors)].fill_(value)

    return edit


def _wider(module: str):
    def edit(tensors):
        name = _first(module)(tensors)
        tensors[name] = torch.zeros(tensors[name].shape[0] * 2, *tensors[name].shape[1:])

    return edit


WEIGHTS = {
    "generator NaN": (_nan_in("g"), r"gan\.ckpt\.safetensors: this model's weights contain NaN/Inf \(in "),
    "average NaN": (_nan_in("g_ema"), r"gan\.ckpt\.safetensors: this model's weights contain NaN/Inf \(in "),
    "discriminator Inf": (
        _nan_in("d", float("inf")),
        r"gan\.ckpt\.safetensors: this model's weights contain NaN/Inf \(in ",
    ),
    "generator mis-shaped": (_wider("g"), r"gan\.ckpt\.safetensors: .*the card needs \["),
    "discriminator mis-shaped": (_wider("d"), r"gan\.ckpt\.safetensors: .*the card needs \["),
}


@pytest.mark.parametrize("case", list(WEIGHTS))
def test_resume_refuses_weights_that_are_nan_or_do_not_fit_before_building_anything(stopped, case):
    edit, message = WEIGHTS[case]
    ckpt = checkpoint_path(stopped)
    before = _craft(ckpt, tensors=edit)
    with pytest.raises(ModelFileError, match=message):
        run(tiny_gan(), squares(), stopped, resume=True)
    assert ckpt.read_bytes() == before


def test_a_fine_tune_checkpoint_with_bad_stored_settings_names_the_file_and_the_field(tmp_path):
    out = library_path("Crafted", tmp_path)
    run_until(tiny_gan(), squares(), out, stop_after=1)
    ckpt = checkpoint_path(out)
    settings = FinetuneSettings(base="emoji-gan", data=str(tmp_path), name="Crafted").to_dict()
    weights, card = load_model(ckpt)
    card.pop("sha256", None)
    card["finetune_settings"] = {**settings, "batch": 10**9}
    save_model(ckpt, weights, card)
    with pytest.raises(TrainingError) as failure:
        saved_settings("Crafted", tmp_path)
    assert str(failure.value) == (
        f"{ckpt.name}: its fine-tune settings cannot be read (batch: the batch size must be 1 to 4096, got 1000000000)"
    )
