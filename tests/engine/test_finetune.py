"""Fine-tuning on the one training loop: frozen blocks stay put, runs resume exactly, faults lose nothing,
and the result is a library model the Latent Explorer opens."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from studio.engine.data.dataset import ImageDataset
from studio.engine.devices import select_device
from studio.engine.jobs import JobCancelled, run_to_end
from studio.engine.latent.model import LatentModel
from studio.engine.latent.state import find_model
from studio.engine.training.checkpoint import checkpoint_path, load_checkpoint, read_checkpoint_config
from studio.engine.training.config import TrainingError, default_config
from studio.engine.training.finetune.base import base_init, load_base
from studio.engine.training.finetune.config import finetune_config
from studio.engine.training.finetune.estimate import estimate_step
from studio.engine.training.finetune.job import finetune_job
from studio.engine.training.finetune.library import library_path
from studio.engine.training.finetune.settings import FinetuneSettings
from studio.engine.training.jobfolder import export_job_folder, import_checkpoint, job_settings
from studio.engine.training.loop import TrainProgress, train_job
from studio.engine.training.sampler import BatchSampler
from studio.engine.training.trainers import build_trainer
from studio.files.atomic import SaveError
from studio.files.paths import models_dir
from studio.spec.models import GANConfig, VAEConfig
from studio.spec.options import options_of
from tests.engine.test_finetune_data import junk_folder, write_pictures

GAN_CLASSES = ["circles", "squares", "stars"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _train_base(folder, kind: str, name: str, with_checkpoint: bool = True):
    n = 12
    images = torch.randint(0, 256, (n, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(7))
    classes = GAN_CLASSES if kind == "gan" else ["all"]
    dataset = ImageDataset(
        images, torch.arange(n) % len(classes), classes, [str(i) for i in range(n)], torch.zeros(n, dtype=torch.uint8)
    )
    if kind == "gan":
        model = GANConfig(latent_dim=16, g_channels=32, d_channels=8, num_classes=3)
    else:
        model = VAEConfig(latent_dim=8, base_channels=8)
    config = default_config(kind, model, steps=2, batch=4, evaluate=False, name=name)
    out = folder / f"{name.lower().replace(' ', '-')}.safetensors"
    result = run_to_end(train_job(config, dataset, out, device=select_device()))
    if not with_checkpoint:
        checkpoint_path(out).unlink()
        checkpoint_path(out).with_suffix(".json").unlink()
    return result.model_path


@pytest.fixture(scope="session")
def bases(tmp_path_factory):
    """Tiny base models (trained here, 2 steps): a conditional GAN with its checkpoint, one without, a VAE."""
    folder = tmp_path_factory.mktemp("bases")
    torch.set_num_threads(1)
    return {
        "gan": _train_base(folder, "gan", "Tiny GAN"),
        "bare-gan": _train_base(folder, "gan", "Bare GAN", with_checkpoint=False),
        "vae": _train_base(folder, "vae", "Tiny VAE"),
    }


@pytest.fixture(scope="session")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures") / "my drawings"
    write_pictures(folder, 20)
    return folder


def settings(bases, pictures, kind="gan", **changes) -> FinetuneSettings:
    values = dict(
        base=str(bases[kind]),
        data=str(pictures),
        name="My drawings",
        steps=6,
        batch=4,
        sample_every=100,
        checkpoint_every=2,
        log_every=1,
        kid=False,
        heldout=0.1,
    )
    values.update(changes)
    return FinetuneSettings(**values)


def drive(job, stop_after: int | None = None, abandon: bool = False):
    """Run a job; at the yield after step ``stop_after`` cancel it (Stop pressed) or abandon it
    (the process killed: nothing more runs, nothing is saved). Returns (result, losses by step)."""
    logged: dict[int, dict[str, float]] = {}
    progress = next(job)
    while True:
        if isinstance(progress, TrainProgress) and progress.losses:
            logged[progress.step] = progress.losses
        if (
            stop_after is not None
            and isinstance(progress, TrainProgress)
            and progress.step == stop_after
            and progress.phase == "train"
        ):
            if abandon:
                job.close()
                return None, logged
            try:
                job.throw(JobCancelled())
            except StopIteration as stop:
                return stop.value, logged
        try:
            progress = next(job)
        except StopIteration as stop:
            return stop.value, logged


def assert_same_losses(a, b):
    assert a.keys() == b.keys()
    for step in a:
        for name in a[step]:
            assert b[step][name] == pytest.approx(a[step][name], rel=1e-6, abs=1e-7), (step, name)


# --- freezing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "preset", "frozen_prefixes"),
    [
        (
            "gan",
            "last-blocks",
            {"g": ("first_layer.", "first_norm.", "blocks.0.", "blocks.1."), "d": ("features.0.", "features.2.")},
        ),
        ("gan", "freeze-d", {"g": (), "d": ("features.0.", "features.2.")}),
        (
            "vae",
            "last-blocks",
            {
                "vae": (
                    "encoder.0.",
                    "encoder.2.",
                    "encoder.3.",
                    "from_latent.",
                    "decoder.1.",
                    "decoder.2.",
                    "decoder.5.",
                    "decoder.6.",
                )
            },
        ),
    ],
)
def test_frozen_parameters_stay_bit_identical_and_are_not_in_the_optimiser(
    bases, pictures, kind, preset, frozen_prefixes
):
    base = load_base(str(bases[kind]))
    config = finetune_config(settings(bases, pictures, kind=kind, freeze=preset), base)
    init, _ = base_init(base, config)
    images = torch.randint(0, 256, (8, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    trainer = build_trainer(config, torch.device("cpu"), images.float() / 127.5 - 1, init)
    before = {(m, n): p.detach().clone() for m in frozen_prefixes for n, p in trainer.modules[m].named_parameters()}
    sampler = BatchSampler(images, torch.zeros(8, dtype=torch.long), 4, seed=0)
    for step in range(3):
        trainer.step(sampler, step)

    in_optimisers = {
        id(p) for opt in trainer.optimizers.values() for group in opt.param_groups for p in group["params"]
    }
    frozen_count = changed = 0
    for module, prefixes in frozen_prefixes.items():
        for name, param in trainer.modules[module].named_parameters():
            frozen = name.startswith(prefixes) if prefixes else False
            if frozen:
                frozen_count += 1
                assert torch.equal(param, before[(module, name)]), f"{module}.{name} changed"
                assert id(param) not in in_optimisers and not param.requires_grad and param.grad is None
            else:
                assert id(param) in in_optimisers, f"{module}.{name} should train"
                changed += not torch.equal(param, before[(module, name)])
    assert frozen_count > 0 and changed > 0
    assert trainer.frozen_parameters == sum(
        p.numel()
        for m, prefixes in frozen_prefixes.items()
        if prefixes
        for n, p in trainer.modules[m].named_parameters()
        if n.startswith(prefixes)
    )


def test_freeze_d_needs_a_trained_discriminator_and_auto_then_trains_everything(bases, pictures):
    with pytest.raises(TrainingError, match="no training checkpoint.*FreezeD"):
        run_to_end(finetune_job(settings(bases, pictures, kind="bare-gan", freeze="freeze-d"), device=select_device()))
    result = run_to_end(finetune_job(settings(bases, pictures, kind="bare-gan", steps=2), device=select_device()))
    card = json.loads(result.model_path.with_suffix(".json").read_text(encoding="utf-8"))
    assert card["finetune"]["freeze"]["preset"] == "all" and card["finetune"]["discriminator"].startswith("new")


# --- resuming --------------------------------------------------------------------------------------------


def test_a_killed_run_resumes_from_its_last_checkpoint_and_matches_the_uninterrupted_run(bases, pictures):
    # Every random path on: flips, random crops, DiffAugment, a frozen discriminator.
    recipe = dict(resize="random-crop", augment=("flip", "jitter", "diffaugment"), freeze="freeze-d")
    straight, straight_losses = drive(
        finetune_job(settings(bases, pictures, name="Straight", **recipe), device=select_device())
    )
    assert straight.model_path is not None and sorted(straight_losses) == [1, 2, 3, 4, 5, 6]

    _, first = drive(
        finetune_job(settings(bases, pictures, name="Killed", **recipe), device=select_device()),
        stop_after=5,
        abandon=True,
    )
    ckpt = checkpoint_path(library_path("Killed"))
    assert read_checkpoint_config(ckpt)[1] == 4  # step 5 was never saved
    torch.manual_seed(99)  # whatever ran in between must not matter
    resumed, second = drive(
        finetune_job(settings(bases, pictures, name="Killed", **recipe), resume=True, device=select_device())
    )
    assert sorted(second) == [5, 6] and resumed.train.step == 6
    assert_same_losses(straight_losses, {**{s: first[s] for s in range(1, 5)}, **second})
    a = load_checkpoint(checkpoint_path(straight.model_path)).state["trainer"]["modules"]["g_ema"]
    b = load_checkpoint(checkpoint_path(resumed.model_path)).state["trainer"]["modules"]["g_ema"]
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)


def test_a_checkpoint_write_that_fails_part_way_leaves_the_previous_one_loadable(bases, pictures, monkeypatch):
    import studio.engine.checkpoints as checkpoints
    from studio.files.atomic import atomic_write

    out = library_path("My drawings")
    ckpt = checkpoint_path(out)
    writes = {"count": 0}
    real = checkpoints.atomic_write_bytes

    def half_then_disk_full(path, data):
        if str(path) == str(ckpt):
            writes["count"] += 1
            if writes["count"] == 2:  # the step-4 checkpoint: half its bytes land, then the disk is full

                def write(handle):
                    handle.write(data[: len(data) // 2])
                    handle.flush()
                    raise OSError(errno.ENOSPC, "No space left on device")

                return atomic_write(path, write)
        return real(path, data)

    monkeypatch.setattr(checkpoints, "atomic_write_bytes", half_then_disk_full)
    with pytest.raises(SaveError) as failure:
        run_to_end(finetune_job(settings(bases, pictures), device=select_device()))
    assert "disk full" in str(failure.value) and "step 4" in str(failure.value) and "step 2" in str(failure.value)
    monkeypatch.setattr(checkpoints, "atomic_write_bytes", real)

    assert load_checkpoint(ckpt).step == 2
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    resumed, logged = drive(finetune_job(settings(bases, pictures), resume=True, device=select_device()))
    assert resumed.train.step == 6 and sorted(logged) == [3, 4, 5, 6]


# --- data, results and the library --------------------------------------------------------------------------


def test_a_folder_with_junk_trains_on_the_good_images_and_the_model_card_lists_the_rest(bases, tmp_path):
    folder = tmp_path / "junk"
    expected = junk_folder(folder)
    result = run_to_end(finetune_job(settings(bases, folder, steps=2, name="From junk"), device=select_device()))
    assert result.scan.count == 19 and result.scan.skipped_count == len(expected)
    card = json.loads(result.model_path.with_suffix(".json").read_text(encoding="utf-8"))
    assert card["data"]["count"] == 19 and card["data"]["skipped_count"] == len(expected)
    assert {s["file"] for s in card["data"]["skipped"]} == set(expected)


def test_too_few_images_stop_before_training_with_a_clear_message(bases, tmp_path):
    small = tmp_path / "small"
    write_pictures(small, 4)
    with pytest.raises(TrainingError, match="Only 4 usable images.*at least 16"):
        run_to_end(finetune_job(settings(bases, small), device=select_device()))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TrainingError, match="No usable images"):
        run_to_end(finetune_job(settings(bases, empty), device=select_device()))
    assert not list(models_dir().iterdir())  # nothing half-made in the library


def test_the_result_opens_in_the_latent_explorer_with_its_lineage(bases, pictures, monkeypatch):
    from studio.engine import metrics

    kid_calls = []

    def fake_kid(real, fake, *, device="cpu", batch_size=64):  # VGG19 is tested elsewhere; this is the bookkeeping
        kid_calls.append(real.shape[0])
        return {
            "kid": 1.0 / len(kid_calls),
            "kid_std": 0.0,
            "n_real": real.shape[0],
            "n_fake": fake.shape[0],
            "feature": "test",
        }

    monkeypatch.setattr(metrics, "kid_score", fake_kid)
    seen = []
    result = run_to_end(
        finetune_job(
            settings(bases, pictures, steps=4, kid=True, sample_every=2, class_index=1), device=select_device()
        ),
        seen.append,
    )
    assert kid_calls == [2, 2, 2]  # before training and at the checkpoints of steps 2 and 4, on the held-out images
    assert result.kid_before.kid == 1.0 and result.kid_after.kid == pytest.approx(1 / 3)
    grids = [p.samples for p in seen if isinstance(p, TrainProgress) and p.samples is not None]
    assert len(grids) == 2 and grids[0].size == grids[1].size  # the fixed-seed grid, one class, 8 x 8

    path = find_model("My drawings")  # the library lists it by name
    assert path == result.model_path == library_path("My drawings")
    model = LatentModel.load(path)
    assert model.kind == "gan" and model.class_names == ["circles", "my drawings", "stars"]
    assert model.render(model.random_z(3), class_index=1).size == (64, 64)
    card = model.card
    assert card["finetune"]["base"]["name"] == "Tiny GAN" and len(card["finetune"]["base"]["sha256"]) == 64
    assert card["finetune"]["class"] == {"index": 1, "base_name": "squares", "name": "my drawings"}
    assert card["finetune"]["freeze"]["preset"] == "freeze-d" and card["finetune"]["freeze"]["frozen_parameters"] > 0
    assert card["data"]["count"] == 20 and card["data"]["heldout"] == 2 and card["data"]["skipped_count"] == 0
    assert [h["step"] for h in card["kid_history"]] == [0, 2, 4]
    assert card["command"].startswith("studio finetune --base") and "--class 1" in card["command"]
    assert card["training"]["fixed_class"] == 1 and card["training"]["diffaugment"] == [
        "color",
        "translation",
        "cutout",
    ]


def test_a_name_already_in_the_library_is_refused_and_left_alone(bases, pictures):
    first = run_to_end(finetune_job(settings(bases, pictures, steps=2), device=select_device()))
    before = first.model_path.read_bytes()
    with pytest.raises(TrainingError, match="already in the library"):
        run_to_end(finetune_job(settings(bases, pictures, steps=2), device=select_device()))
    with pytest.raises(TrainingError, match="taken by"):
        run_to_end(
            finetune_job(settings(bases, pictures, steps=2, name="EMOJI GAN"), device=select_device())
        )  # a bundled model's name
    assert first.model_path.read_bytes() == before


def test_an_estimate_measures_time_and_memory_per_step(bases, pictures):
    estimate = estimate_step(settings(bases, pictures, steps=100), select_device(), measure_steps=1)
    assert estimate.seconds_per_step > 0 and estimate.memory_bytes > 100_000
    assert estimate.total_seconds == pytest.approx(100 * estimate.seconds_per_step)
    assert estimate.device.startswith("CPU")


def test_a_job_folder_runs_elsewhere_and_its_result_imports_into_the_library(bases, pictures, tmp_path):
    folder = tmp_path / "job"
    exported = export_job_folder(settings(bases, pictures, steps=2, name="Big run"), folder, nproc_per_node=2)
    assert "torchrun --standalone --nproc_per_node=2 -m studio finetune --job ." == exported.command
    assert (folder / "base" / bases["gan"].name).is_file() and (folder / "data" / "images.npz").is_file()
    manifest = json.loads((folder / "data" / "dataset.json").read_text(encoding="utf-8"))["manifest"]
    assert len(manifest) == 20 and all(len(entry["sha256"]) == 64 for entry in manifest)
    assert "--nproc_per_node=${NPROC:-2}" in (folder / "run.sh").read_text(encoding="utf-8")

    job, out_dir = job_settings(folder)
    result = run_to_end(finetune_job(job, device=select_device(), out_dir=out_dir, resume=True))
    assert result.model_path.parent == folder / "out" and not library_path("Big run").exists()

    imported = import_checkpoint(folder)
    assert imported == library_path("Big run")
    assert LatentModel.load(imported).card["finetune"]["base"]["name"] == "Tiny GAN"
    with pytest.raises(TrainingError, match="already in the library"):
        import_checkpoint(folder)
    from_checkpoint = import_checkpoint(checkpoint_path(result.model_path), name="Big run at step 2")
    assert LatentModel.load(from_checkpoint).card["steps"] == 2

    (folder / "out" / "damaged.ckpt.safetensors").write_bytes(b"\x10\x00")
    with pytest.raises(Exception, match="corrupt or incomplete"):
        import_checkpoint(folder / "out" / "damaged.ckpt.safetensors", name="Damaged")
    assert not library_path("Damaged").exists()


def test_exporting_a_job_folder_removes_the_stale_staging_folders_a_killed_export_left(bases, pictures, tmp_path):
    import os
    import time

    def aged(path, seconds):
        then = time.time() - seconds
        for parent, names, files in os.walk(path):
            for name in names + files:
                os.utime(os.path.join(parent, name), (then, then))
        os.utime(path, (then, then))
        return path

    def staging(name):
        folder = tmp_path / name
        (folder / "base").mkdir(parents=True)
        (folder / "base" / "model.safetensors").write_bytes(b"half a copy")
        return folder

    killed = aged(staging(".old job.k3_9zq1w.partial"), 3600)  # an export killed an hour ago (kill -9)
    running = staging(".other job.abcd1234.partial")  # an export writing right now
    touched = aged(staging(".slow job.zzzzzzzz.partial"), 3600)
    (touched / "base" / "model.safetensors").write_bytes(b"still copying")  # its folder is old, its copy new
    theirs = [tmp_path / name for name in (".partial", ".notes.partial", "old job.x.partial")]  # not the pattern
    for folder in theirs:
        folder.mkdir()
        aged(folder, 3600)
    linked = tmp_path / ".linked.abcd1234.partial"  # a link, never followed nor removed
    linked.symlink_to(aged(staging("kept"), 3600), target_is_directory=True)

    export_job_folder(settings(bases, pictures, steps=2), tmp_path / "job")

    assert not killed.exists()
    assert running.is_dir() and touched.is_dir() and all(folder.is_dir() for folder in theirs)
    assert linked.is_symlink() and (tmp_path / "kept" / "base" / "model.safetensors").is_file()
    assert (tmp_path / "job" / "job.json").is_file()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".job.")]  # its own staging is renamed


# --- the command line ------------------------------------------------------------------------------------------------


def test_every_setting_survives_its_reproducible_command_line():
    import dataclasses
    import shlex

    from studio.cli import build_parser

    changed = FinetuneSettings(
        base="Emoji GAN",
        data="my drawings",
        name="Ink and wash",
        steps=300,
        freeze=("g.4x4", "d.rgb"),
        loss="lsgan",
        batch=8,
        lr=1e-4,
        d_lr=4e-4,
        betas=(0.0, 0.99),
        ema=None,
        augment=("flip", "jitter"),
        resize="pad",
        class_index=None,  # given by name or number: the base model resolves it (the lineage test covers it)
        heldout=0.2,
        seed=3,
        sample_every=7,
        checkpoint_every=70,
        log_every=2,
        device="cpu",
        amp=False,
        kid=False,
    )
    unchanged = [f.name for f in dataclasses.fields(FinetuneSettings) if getattr(changed, f.name) == f.default]
    assert unchanged == ["class_index"]  # every other option is on the command line below
    for settings in (changed, FinetuneSettings(base="b", data="d", name="n")):
        args = build_parser().parse_args(shlex.split(settings.command_line())[1:])
        given = {name: getattr(args, name) for name, _ in options_of(FinetuneSettings)}
        assert FinetuneSettings.from_options(given) == settings


def test_a_run_logs_samples_and_checkpoints_in_proportion_to_its_length_unless_told_otherwise():
    def cadence(**changes):
        chosen = FinetuneSettings(base="b", data="d", name="n", **changes).cadence()
        return chosen.log_every, chosen.sample_every, chosen.checkpoint_every

    assert cadence(steps=20) == (1, 10, 50)
    assert cadence(steps=1000) == (10, 50, 250)
    assert cadence(steps=100_000) == (10, 100, 500)
    assert cadence(steps=20, checkpoint_every=2, log_every=5) == (5, 10, 2)


def _studio(*args, env, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_studio_finetune_killed_mid_run_resumes_at_its_checkpoint(bases, pictures, studio_home):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "STUDIO_DEVICE": "cpu", "LATENT_STUDIO_HOME": str(studio_home)}
    common = [
        "finetune",
        "--base",
        str(bases["gan"]),
        "--data",
        str(pictures),
        "--out",
        "Killed",
        "--batch",
        "4",
        "--checkpoint-every",
        "2",
        "--no-kid",
        "--threads",
        "1",
    ]
    ckpt = checkpoint_path(library_path("Killed"))
    process = subprocess.Popen(
        [sys.executable, "-m", "studio", *common, "--steps", "100000"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        step = 0
        while time.monotonic() < deadline and step < 2:
            time.sleep(0.2)
            try:
                step = read_checkpoint_config(ckpt)[1]
            except Exception:  # noqa: BLE001 - not written yet (or being replaced): try again
                step = 0
        assert step >= 2, "no checkpoint appeared"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    killed_at = read_checkpoint_config(ckpt)[1]
    assert killed_at >= 2 and killed_at % 2 == 0

    resumed = _studio(
        "finetune", "--out", "Killed", "--resume", "--steps", str(killed_at + 2), "--threads", "1", env=env
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"from step {killed_at}" in resumed.stderr and f"{killed_at + 2}/{killed_at + 2}" in resumed.stderr
    card = json.loads(library_path("Killed").with_suffix(".json").read_text(encoding="utf-8"))
    assert card["steps"] == killed_at + 2 and "--resume" in card["command"]


def test_studio_finetune_says_what_is_wrong_with_the_folder_and_lists_blocks(bases, tmp_path, capsys):
    from studio.cli import main

    small = tmp_path / "three"
    write_pictures(small, 3)
    (small / "scan.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    code = main(["finetune", "--base", str(bases["gan"]), "--data", str(small), "--out", "X", "--steps", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "Only 3 usable images" in err and "scan.jpg: truncated or corrupt file" in err
    assert main(["finetune", "--base", str(bases["gan"]), "--data", str(tmp_path / "nowhere"), "--out", "X"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["finetune", "--base", str(bases["gan"]), "--list-blocks", "--freeze", "last-blocks"]) == 0
    listing = capsys.readouterr().out
    assert "frozen  g.4x4" in listing and "trains  g.rgb" in listing and "frozen  d.16x16" in listing


def test_torchrun_with_two_cpu_processes_trains_and_saves_one_checkpoint(bases, pictures, studio_home):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "STUDIO_DEVICE": "cpu", "LATENT_STUDIO_HOME": str(studio_home)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "studio",
        "finetune",
        "--base",
        str(bases["gan"]),
        "--data",
        str(pictures),
        "--out",
        "Two processes",
        "--steps",
        "2",
        "--batch",
        "4",
        "--checkpoint-every",
        "2",
        "--log-every",
        "1",
        "--no-kid",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("Model:") == 1  # one process reports and saves
    model = library_path("Two processes")
    checkpoint = load_checkpoint(checkpoint_path(model))
    assert checkpoint.step == 2 and checkpoint.config.batch == 4
    assert LatentModel.load(model).card["steps"] == 2


def test_a_slim_checkpoint_ships_the_discriminator_for_freeze_d_but_cannot_be_resumed(bases, pictures, tmp_path):
    import shutil

    from studio.engine.models import load_generative_model
    from studio.engine.training.checkpoint import slim_checkpoint

    # A copy of the base with its full checkpoint, slimmed as the bundled Emoji GAN is.
    base = tmp_path / "shipped.safetensors"
    for source, target in ((bases["gan"], base), (checkpoint_path(bases["gan"]), checkpoint_path(base))):
        shutil.copy(source, target)
        shutil.copy(source.with_suffix(".json"), target.with_suffix(".json"))
    full = load_checkpoint(checkpoint_path(base))
    full_d = full.state["trainer"]["modules"]["d"]
    slim_checkpoint(checkpoint_path(base))
    slim = load_checkpoint(checkpoint_path(base))
    assert slim.card["slim"] is True and slim.step == full.step
    assert set(slim.state["trainer"]["modules"]) == {"g_ema", "d"}
    assert checkpoint_path(base).stat().st_size < 0.6 * checkpoint_path(bases["gan"]).stat().st_size

    # FreezeD starts from the discriminator it carries, bit for bit.
    loaded = load_base(str(base))
    assert loaded.checkpoint == checkpoint_path(base)
    init, d_source = base_init(loaded, finetune_config(settings(bases, pictures, base=str(base)), loaded))
    assert "training checkpoint" in d_source
    assert init["d"].keys() == full_d.keys() and all(torch.equal(init["d"][k], full_d[k]) for k in full_d)
    result = run_to_end(
        finetune_job(settings(bases, pictures, base=str(base), freeze="freeze-d", steps=2), device=select_device())
    )
    assert load_generative_model(result.model_path).card["finetune"]["freeze"]["preset"] == "freeze-d"

    # It is not a run to go on with: resuming says why instead of failing on missing state.
    n = 8
    dataset = ImageDataset(
        torch.zeros((n, 3, 64, 64), dtype=torch.uint8),
        torch.arange(n) % 3,
        GAN_CLASSES,
        [str(i) for i in range(n)],
        torch.zeros(n, dtype=torch.uint8),
    )
    with pytest.raises(TrainingError, match="cannot be resumed"):
        run_to_end(train_job(full.config, dataset, base, device=select_device(), resume=True))


def test_studio_model_slim_writes_a_slim_checkpoint_and_refuses_to_slim_twice(bases, tmp_path, capsys):
    from studio.cli import main

    out = tmp_path / "slim.ckpt.safetensors"
    assert main(["model", "slim", str(checkpoint_path(bases["gan"])), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert load_checkpoint(out).card["slim"] is True
    assert main(["model", "slim", str(out)]) == 2
    assert "already slim" in capsys.readouterr().err
