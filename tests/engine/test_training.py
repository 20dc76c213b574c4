"""The training loop: losses fall, runs resume exactly, faults leave the last checkpoint usable."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from studio.engine.data.dataset import ImageDataset, load_image_dataset
from studio.engine.devices import select_device
from studio.engine.jobs import JobCancelled, Progress, run_to_end
from studio.engine.models import load_generative_model
from studio.engine.training.checkpoint import checkpoint_path, load_checkpoint, read_checkpoint_config, samples_path
from studio.engine.training.config import TrainingError, default_config
from studio.engine.training.grid import grid_size
from studio.engine.training.loop import TrainingOutOfMemory, TrainProgress, train_job
from studio.engine.training.state import StateError, flatten_state, unflatten_state
from studio.engine.training.trainers import GANTrainer
from studio.files.atomic import SaveError
from studio.spec.models import LOSSES, GANConfig, VAEConfig

SIZE = 64
CLASSES = ["red", "green", "blue"]
COLOURS = torch.tensor([[220, 30, 30], [30, 200, 60], [40, 60, 230]], dtype=torch.uint8)


pytestmark = pytest.mark.usefixtures("one_thread")


def squares(n: int = 24, heldout_every: int = 6) -> ImageDataset:
    """Coloured squares on white, the colour is the class; every sixth image is held out."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % len(CLASSES)
    images = torch.full((n, 3, SIZE, SIZE), 255, dtype=torch.uint8)
    for i in range(n):
        x, y = torch.randint(0, SIZE // 2, (2,), generator=generator).tolist()
        images[i, :, y : y + SIZE // 2, x : x + SIZE // 2] = COLOURS[labels[i]][:, None, None]
    split = torch.zeros(n, dtype=torch.uint8)
    split[::heldout_every] = 1
    return ImageDataset(images, labels, list(CLASSES), [f"square {i}" for i in range(n)], split)


def tiny_gan(loss: str = "hinge", num_classes: int = 3, attention_res: int | None = None, **changes):
    model = GANConfig(
        latent_dim=16, g_channels=32, d_channels=8, num_classes=num_classes, loss=loss, attention_res=attention_res
    )
    settings = dict(steps=6, batch=4, log_every=1, sample_every=1000, checkpoint_every=1000, evaluate=False)
    settings.update(changes)
    return default_config("gan", model, **settings)


def tiny_gan_v2(num_classes: int = 3, **changes):
    """A conditional GAN v2 whose classes ramp in during the run (steps 1 to 4 of 6)."""
    model = GANConfig(
        latent_dim=16,
        g_channels=32,
        d_channels=8,
        num_classes=num_classes,
        architecture="style",
        w_dim=16,
        mapping_layers=2,
        g_spectral_norm=False,
    )
    settings = dict(steps=6, batch=4, log_every=1, sample_every=1000, checkpoint_every=1000, evaluate=False)
    if num_classes:
        settings["cond_ramp"] = (1, 4)
    settings.update(changes)
    return default_config("gan", model, **settings)


def tiny_vae(**changes):
    settings = dict(steps=6, batch=4, log_every=1, sample_every=1000, checkpoint_every=1000, evaluate=False)
    settings.update(changes)
    return default_config("vae", VAEConfig(latent_dim=8, base_channels=8), **settings)


def run(config, dataset, out, **kwargs):
    """Drive a job to its end; returns (result, losses logged at each step)."""
    logged: dict[int, dict[str, float]] = {}

    def collect(progress):
        if isinstance(progress, TrainProgress) and progress.losses:
            logged[progress.step] = progress.losses

    result = run_to_end(train_job(config, dataset, out, device=select_device(), **kwargs), collect)
    return result, logged


def run_until(config, dataset, out, stop_after: int, **kwargs):
    """Run a job and cancel it at the yield after step ``stop_after``, as the worker does."""
    job = train_job(config, dataset, out, device=select_device(), **kwargs)
    logged: dict[int, dict[str, float]] = {}
    progress = next(job)
    while True:
        if isinstance(progress, TrainProgress) and progress.losses:
            logged[progress.step] = progress.losses
        try:
            if isinstance(progress, TrainProgress) and progress.step == stop_after:
                job.throw(JobCancelled())
            progress = next(job)
        except StopIteration as stop:
            return stop.value, logged


def assert_same_losses(a: dict[int, dict[str, float]], b: dict[int, dict[str, float]]) -> None:
    assert a.keys() == b.keys()
    for step in a:
        for name in a[step]:
            assert b[step][name] == pytest.approx(a[step][name], rel=1e-6, abs=1e-7), (step, name)


def test_a_few_steps_lower_the_vae_loss(tmp_path):
    config = tiny_vae(steps=30, batch=8)
    result, logged = run(config, squares(), tmp_path / "vae.safetensors")
    first = np.mean([logged[s]["loss"] for s in range(1, 6)])
    last = np.mean([logged[s]["loss"] for s in range(26, 31)])
    assert last < 0.7 * first
    assert set(result.losses) == {"loss", "recon", "kl"}


def test_the_vgg_feature_loss_trains_the_vae_and_is_refused_for_a_gan(tmp_path):
    config = tiny_vae(steps=30, batch=8, feature_loss=0.5)
    result, logged = run(config, squares(), tmp_path / "vae.safetensors")
    assert set(result.losses) == {"loss", "recon", "kl", "feature"}
    first = np.mean([logged[s]["feature"] for s in range(1, 6)])
    last = np.mean([logged[s]["feature"] for s in range(26, 31)])
    assert last < 0.85 * first
    # The reconstruction term holds the L1 pixel error and the feature term.
    assert all(v["recon"] > v["feature"] > 0 for v in logged.values())
    card = json.loads(result.model_path.with_suffix(".json").read_text())
    assert card["training"]["feature_loss"] == 0.5
    with pytest.raises(TrainingError, match="for VAEs"):
        tiny_gan(feature_loss=0.5)
    with pytest.raises(TrainingError, match="between 0 and"):
        tiny_vae(feature_loss=-1.0)


def test_a_vae_trained_from_a_base_with_a_prior_gets_a_prior_fitted_on_its_own_codes(tmp_path):
    # Fine-tuning starts from the base's config: its prior (fitted on the base's data) must not
    # survive into the new model, or Randomize would draw from where the old codes were.
    from studio.engine.models.vae_prior import encode_means, prior_of

    dataset = squares()
    config = tiny_vae(steps=4).replace(model=VAEConfig(latent_dim=8, base_channels=8, prior_components=40))
    result, _ = run(config, dataset, tmp_path / "vae.safetensors")
    model = load_generative_model(result.model_path).model
    prior = prior_of(model)
    train = dataset.train()
    assert set(prior.classes.tolist()) == {0, 1, 2} and model.config.prior_components == len(prior.weights) < 40
    assert result.card["prior"]["codes"] == len(train)
    codes = encode_means(model, train.images.float() / 127.5 - 1.0)
    for c in range(3):
        own = codes[train.labels.numpy() == c].mean(0)
        np.testing.assert_allclose(prior.means[prior.classes == c].mean(0), own, atol=1e-3)


@pytest.mark.parametrize("loss", LOSSES)
def test_every_gan_loss_trains_with_finite_losses(tmp_path, loss):
    # Conditional with attention for one loss, unconditional for another, to cover both paths.
    conditional = loss != "lsgan"
    attention = 16 if loss == "hinge" else None
    config = tiny_gan(loss, num_classes=3 if conditional else 0, attention_res=attention, steps=2)
    result, logged = run(config, squares(), tmp_path / f"{loss}.safetensors")
    assert result.step == 2 and not result.cancelled
    expected = {"d", "g", "gp"} if loss == "wgan-gp" else {"d", "g"}
    for losses in logged.values():
        assert set(losses) == expected
        assert all(np.isfinite(v) for v in losses.values())
    if loss == "wgan-gp":
        assert config.n_critic == 5  # the recipe's default


@pytest.mark.parametrize("make", [tiny_gan, tiny_gan_v2, tiny_vae], ids=["gan", "gan-v2", "vae"])
def test_cancel_then_resume_reproduces_the_uninterrupted_run(tmp_path, make):
    dataset = squares()
    straight, straight_losses = run(make(), dataset, tmp_path / "straight.safetensors")

    interrupted_out = tmp_path / "interrupted.safetensors"
    cancelled, first_losses = run_until(make(), dataset, interrupted_out, stop_after=3)
    assert cancelled.cancelled and cancelled.step == 3 and cancelled.model_path is None
    assert load_checkpoint(checkpoint_path(interrupted_out)).step == 3
    # Whatever happens between the two sessions (a render drawing random numbers) must not matter.
    torch.manual_seed(1234)
    torch.randn(1000)

    resumed, second_losses = run(make(), dataset, interrupted_out, resume=True)
    assert resumed.step == 6
    assert sorted(first_losses) == [1, 2, 3] and sorted(second_losses) == [4, 5, 6]
    assert_same_losses(straight_losses, {**first_losses, **second_losses})

    a = load_generative_model(straight.model_path).model.state_dict()
    b = load_generative_model(resumed.model_path).model.state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)


def test_a_checkpoint_write_that_fails_leaves_the_previous_one_resumable(tmp_path, monkeypatch):
    dataset = squares()
    out = tmp_path / "gan.safetensors"
    ckpt = checkpoint_path(out)
    real_replace = os.replace
    writes = {"count": 0}

    def full_disk(src, dst, *args, **kwargs):
        if str(dst) == str(ckpt):
            writes["count"] += 1
            if writes["count"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(SaveError) as failure:
        run(tiny_gan(checkpoint_every=2), dataset, out)
    assert "disk full" in str(failure.value) and "step 2" in str(failure.value)
    monkeypatch.setattr(os, "replace", real_replace)

    assert load_checkpoint(ckpt).step == 2
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind
    resumed, logged = run(tiny_gan(checkpoint_every=2), dataset, out, resume=True)
    assert resumed.step == 6 and sorted(logged) == [3, 4, 5, 6]


def test_out_of_memory_keeps_the_last_checkpoint_and_says_to_lower_the_batch(tmp_path, monkeypatch):
    real_step = GANTrainer.step

    def step(self, next_batch, step):
        if step == 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self, next_batch, step)

    monkeypatch.setattr(GANTrainer, "step", step)
    out = tmp_path / "gan.safetensors"
    with pytest.raises(TrainingOutOfMemory) as failure:
        run(tiny_gan(checkpoint_every=2), squares(), out)
    message = str(failure.value)
    assert "out of memory" in message and "--batch 2" in message and "step 2" in message
    monkeypatch.setattr(GANTrainer, "step", real_step)
    resumed, _ = run(tiny_gan(checkpoint_every=2, batch=2), squares(), out, resume=True)
    assert resumed.step == 6


def test_cancel_saves_a_checkpoint_and_returns_the_run_so_far(tmp_path):
    out = tmp_path / "gan.safetensors"
    seen = []
    result, _ = run_until(tiny_gan(), squares(), out, stop_after=2, on_checkpoint=lambda p, s: seen.append(s))
    assert result.cancelled and result.step == 2 and seen == [2]
    assert result.checkpoint_path == checkpoint_path(out) and not out.exists()
    config, step = read_checkpoint_config(result.checkpoint_path)
    assert step == 2 and config == tiny_gan()


def test_resume_refuses_a_different_model_and_a_fresh_run_keeps_an_old_checkpoint(tmp_path):
    out = tmp_path / "gan.safetensors"
    run_until(tiny_gan(), squares(), out, stop_after=1)
    before = checkpoint_path(out).read_bytes()
    with pytest.raises(TrainingError, match="g_channels"):
        wider = GANConfig(latent_dim=16, g_channels=64, d_channels=8, num_classes=3)
        run(tiny_gan().replace(model=wider), squares(), out, resume=True)
    with pytest.raises(TrainingError, match="resume"):
        run(tiny_gan(), squares(), out, resume=False)
    assert checkpoint_path(out).read_bytes() == before


@pytest.mark.parametrize(
    ("make", "rows"),
    [(tiny_gan, len(CLASSES)), (lambda **c: tiny_gan(num_classes=0, **c), 8), (tiny_vae, 3)],
    ids=["conditional-gan", "gan", "vae"],
)
def test_sample_grid_has_one_row_per_class_or_originals_reconstructions_samples(tmp_path, make, rows):
    from PIL import Image

    out = tmp_path / "m.safetensors"
    grids = []
    run_to_end(
        train_job(make(steps=2, sample_every=1), squares(), out, device=select_device()),
        lambda p: grids.append(p.samples) if getattr(p, "samples", None) is not None else None,
    )
    expected = grid_size(rows, 8, (SIZE, SIZE))
    assert len(grids) == 2 and all(g.size == expected for g in grids)
    with Image.open(samples_path(out)) as saved:
        assert saved.size == expected


def test_final_model_loads_and_its_card_tells_how_it_was_made(tmp_path, monkeypatch):
    from studio.engine.evaluation import report as evaluation

    calls = []

    def fake_evaluate(model_file, dataset, *, samples, device="cpu", **_):
        calls.append((model_file.name, len(dataset), samples))
        yield Progress(0.5, "measuring")
        m = {"kid": 0.25, "kid_std": 0.01, "precision": 0.5, "recall": 0.4, "density": 0.9, "coverage": 0.6}
        both = {"vgg19": m, "classifier": m}
        report = {
            "samples": samples,
            "train": both,
            "heldout": both,
            "real_vs_real": both,
            "data": {"train": 20, "heldout": 4},
            "features": {"vgg19": "test", "classifier": "test"},
        }
        return evaluation.EvaluationResult(report, None, None)

    monkeypatch.setattr(evaluation, "evaluate_job", fake_evaluate)
    dataset = squares()
    out = tmp_path / "emoji-gan.safetensors"
    result, _ = run(
        tiny_gan(evaluate=True, name="Squares", eval_samples=100),
        dataset,
        out,
        command="studio train gan --data squares --out emoji-gan.safetensors",
        data_card={"name": "Squares", "licences": {"x": "CC0"}},
    )
    loaded = load_generative_model(out)
    card = loaded.card
    assert loaded.architecture == "gan-generator" and loaded.config.num_classes == 3
    assert card["name"] == "Squares" and card["command"].startswith("studio train gan")
    assert card["steps"] == 6 and card["batch"] == 4 and card["device"].startswith("CPU")
    assert card["class_names"] == CLASSES and card["data"]["count"] == 24 and card["data"]["licences"] == {"x": "CC0"}
    assert set(card["final_losses"]) == {"d", "g"} and card["wall_time_s"] >= 0
    assert card["licence"].startswith("MIT")
    # The card carries studio evaluate's measures of the saved model, its KID the held-out one.
    assert calls == [("emoji-gan.safetensors", 24, 100)]
    assert card["evaluation"]["train"]["vgg19"]["precision"] == 0.5
    assert card["kid"]["kid"] == 0.25 and result.kid.kid == 0.25 and card["kid"]["n_fake"] == 100
    # The finished file holds the averaged generator only, much smaller than the checkpoint.
    assert out.stat().st_size < checkpoint_path(out).stat().st_size / 3


def test_keep_best_saves_the_weights_of_the_lowest_kid_so_far(tmp_path, monkeypatch):
    from studio.engine import metrics

    kids = iter([0.9, 0.5, 0.7, 0.6])  # before training, then steps 2, 4 and 6

    def fake_kid(real, fake, *, device="cpu", batch_size=64):
        return {"kid": next(kids), "kid_std": 0.0, "n_real": real.shape[0], "n_fake": fake.shape[0], "feature": "t"}

    monkeypatch.setattr(metrics, "kid_score", fake_kid)
    monkeypatch.setattr("studio.engine.training.loop._evaluate", _no_evaluation)
    out = tmp_path / "run.safetensors"
    run(tiny_gan(evaluate=True, keep_best=True, checkpoint_every=2), squares(), out)
    best = load_generative_model(tmp_path / "run-best.safetensors").card
    assert best["steps"] == 2 and best["kid"]["kid"] == 0.5


def _no_evaluation(*args, **kwargs):
    return None, "not measured (test)"
    yield  # a generator, as the real one


def test_kid_results_read_back_what_cards_and_older_checkpoints_hold():
    from studio.engine.training.kid import KidResult

    entry = {"step": 4, "kid": 0.5, "kid_std": 0.01}  # a checkpoint's kid_history, as it has always been written
    assert KidResult.from_dict(entry).history_entry() == entry
    card = {"kid": 0.25, "kid_std": 0.02, "n_real": 10, "n_fake": 10, "feature": "vgg19"}
    kid = KidResult.from_dict(card, step=6)
    assert kid.step == 6 and kid.card_entry() == card


def test_training_state_round_trips_without_pickle():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), betas=(0.0, 0.99))
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    state = {"opt": optimizer.state_dict(), "scale": float("inf"), "rng": torch.get_rng_state(), "t": (1, "a", None)}
    tensors, skeleton = flatten_state(state, prefix="x.")
    json.dumps(skeleton, allow_nan=False)  # plain JSON: no pickle, no NaN literals
    back = unflatten_state(json.loads(json.dumps(skeleton)), tensors)
    assert back["scale"] == float("inf") and back["t"] == (1, "a", None)
    assert back["opt"]["param_groups"][0]["betas"] == (0.0, 0.99)
    assert set(back["opt"]["state"]) == {0, 1}
    torch.testing.assert_close(back["opt"]["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    with pytest.raises(StateError, match="without pickle"):
        flatten_state({"f": object()}, prefix="")


def _write_npz_dataset(folder, dataset: ImageDataset) -> None:
    folder.mkdir()
    np.savez_compressed(
        folder / "squares-64.npz",
        images=dataset.images.permute(0, 2, 3, 1).numpy(),
        labels=dataset.labels.numpy(),
        split=dataset.split.numpy(),
        names=np.array(dataset.names),
        classes=np.array(dataset.class_names),
    )
    card = {"name": "Squares", "file": "squares-64.npz", "licences": {"squares": "CC0-1.0"}}
    (folder / "dataset.json").write_text(json.dumps(card), encoding="utf-8")


def test_the_command_line_trains_resumes_and_prints_the_files(tmp_path):
    data = tmp_path / "squares"
    _write_npz_dataset(data, squares())
    assert len(load_image_dataset(data)) == 24
    out = tmp_path / "models" / "squares-gan"
    base = [
        sys.executable,
        "-m",
        "studio",
        "train",
        "gan",
        "--data",
        str(data),
        "--out",
        str(out),
        "--batch",
        "4",
        "--channels",
        "32",
        "--d-channels",
        "8",
        "--latent-dim",
        "16",
        "--sample-every",
        "2",
        "--checkpoint-every",
        "2",
        "--log-every",
        "1",
        "--no-eval",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "STUDIO_DEVICE": "cpu"}
    first = subprocess.run([*base, "--steps", "2"], capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr
    assert "2/2" in first.stderr and "Model:" in first.stdout
    second = subprocess.run([*base, "--steps", "4", "--resume"], capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0, second.stderr
    assert "from step 2" in second.stderr and "4/4" in second.stderr
    model = out.with_name("squares-gan.safetensors")
    card = json.loads(model.with_suffix(".json").read_text(encoding="utf-8"))
    assert card["steps"] == 4 and "--resume" in card["command"] and card["data"]["name"] == "Squares"
    assert card["config"]["num_classes"] == 3  # several classes: conditional by default
    assert str(model) in second.stdout and samples_path(model).exists()


def test_without_the_metrics_module_the_model_is_saved_and_the_card_says_why(tmp_path, monkeypatch):
    import studio.engine

    monkeypatch.delattr(studio.engine, "metrics", raising=False)
    monkeypatch.setitem(sys.modules, "studio.engine.metrics", None)  # importing it now fails
    result, _ = run(tiny_vae(steps=2, evaluate=True), squares(), tmp_path / "vae.safetensors")
    card = load_generative_model(result.model_path).card
    assert card["kid"] is None and "cannot be loaded" in card["kid_note"]
