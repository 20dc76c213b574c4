"""The command line: `studio info`, `studio model inspect` and the job driver every long command runs its job
through (progress bar, Ctrl+C, exit codes), used as a user would."""

import os
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
import pytest
import torch
from PIL import Image

from studio.commands.job_driver import JobEnd, drive_job
from studio.commands.terminal import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK
from studio.engine.checkpoints import save_model
from studio.engine.jobs import JobCancelled, Progress


def run_studio(*args, home):
    env = dict(os.environ, LATENT_STUDIO_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, env=env, timeout=180)


def test_info_prints_versions_device_and_models(studio_home):
    save_model(
        studio_home / "data" / "models" / "tiny.safetensors",
        {"w": torch.ones(2, 2)},
        {"name": "Tiny test model", "architecture": "vae"},
    )
    result = run_studio("info", home=studio_home)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Latent Studio 0.1.0" in out
    assert f"torch        {metadata.version('torch')}" in out
    assert "Device: CPU (" in out or "Device: CUDA:" in out or "Device: Apple MPS" in out
    assert "Tiny test model (library, vae)" in out


class _WritesAFile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_model_inspect_refuses_a_pickle_without_running_it(tmp_path, studio_home):
    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "model.pt"
    evil.write_bytes(pickle.dumps({"weights": _WritesAFile(marker)}))
    result = run_studio("model", "inspect", str(evil), home=studio_home)
    assert result.returncode == 2
    assert "model.pt" in result.stderr and "refused" in result.stderr
    assert not marker.exists()


def test_model_inspect_prints_the_card(tmp_path, studio_home):
    path = save_model(tmp_path / "m.safetensors", {"w": torch.zeros(3, 4)}, {"name": "Card test", "licence": "CC0-1.0"})
    result = run_studio("model", "inspect", str(path), home=studio_home)
    assert result.returncode == 0, result.stderr
    assert "Card test" in result.stdout and "CC0-1.0" in result.stdout and "12" in result.stdout


def test_a_failed_training_run_says_why_and_exits_with_the_right_code(capsys):
    import errno

    from studio.commands.job_driver import JobEnd, drive_job
    from studio.commands.terminal import EXIT_BAD_INPUT, EXIT_FAILURE, training_failure
    from studio.engine.training.config import TrainingError
    from studio.engine.training.loop import TrainingDiverged
    from studio.files.atomic import SaveError

    def fails_with(exc):
        yield StepProgress(0.5, step=1, total_steps=2, losses={"loss": 1.0})
        raise exc

    def run(exc):
        return drive_job(fails_with(exc), stopping="saving a checkpoint", failed=training_failure)

    assert run(TrainingError("the folder has 3 images; at least 16 are needed")) == JobEnd(EXIT_BAD_INPUT)
    assert "\nerror: the folder has 3 images" in capsys.readouterr().err  # below the bar's line
    assert run(TrainingDiverged("the loss became NaN at step 40")) == JobEnd(EXIT_FAILURE)
    assert "NaN at step 40" in capsys.readouterr().err
    full = SaveError(errno.ENOSPC, "disk full while saving model.ckpt.safetensors")
    assert run(full) == JobEnd(EXIT_FAILURE)
    assert "error: disk full while saving" in capsys.readouterr().err
    with pytest.raises(KeyError):  # a bug is not a failure to explain: it is raised as it is
        run(KeyError("losses"))


# --- the job driver: every long command's progress bar, Ctrl+C and exit code ----------------------------------------


@dataclass(frozen=True)
class StepProgress(Progress):
    """A counted step, as training and style transfer report them."""

    phase: str = "train"
    step: int = 0
    total_steps: int = 0
    losses: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Partial:
    steps: int
    cancelled: bool


def press_ctrl_c():
    signal.raise_signal(signal.SIGINT)


def counting_job(steps, *, ctrl_c_at=(), ctrl_c_while_saving=False):
    """Counts steps; the user presses Ctrl+C during the steps in ``ctrl_c_at``; a cancel keeps the count."""
    done = 0
    try:
        for step in range(1, steps + 1):
            if step in ctrl_c_at:
                press_ctrl_c()
            done = step
            yield StepProgress(step / steps, step=step, total_steps=steps, losses={"loss": 1 / step})
    except JobCancelled:
        if ctrl_c_while_saving:
            press_ctrl_c()  # impatient: a second Ctrl+C while the partial result is being saved
        return Partial(done, cancelled=True)
    return Partial(done, cancelled=False)


def test_a_job_run_to_its_end_exits_0_and_draws_its_steps(capsys):
    assert drive_job(counting_job(3), stopping="saving a checkpoint") == JobEnd(EXIT_OK, Partial(3, False))
    err = capsys.readouterr().err
    assert "3/3" in err and "loss 0.3333" in err


def test_the_first_ctrl_c_stops_the_job_gently_and_keeps_its_partial_result(capsys):
    before = signal.getsignal(signal.SIGINT)
    end = drive_job(counting_job(10, ctrl_c_at={3}), stopping="saving a checkpoint")
    assert end == JobEnd(EXIT_INTERRUPTED, Partial(3, cancelled=True))
    err = capsys.readouterr().err
    assert "Stopping after this step and saving a checkpoint (Ctrl+C again to abort)" in err
    assert "4/10" not in err and "aborted" not in err
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl+C is the shell's again


def test_a_second_ctrl_c_aborts_without_a_result(tmp_path, capsys):
    checkpoint = tmp_path / "run.ckpt.safetensors"
    checkpoint.write_bytes(b"saved at step 2")
    from studio.commands.terminal import checkpoint_untouched

    end = drive_job(
        counting_job(10, ctrl_c_at={3}, ctrl_c_while_saving=True),
        stopping="saving a checkpoint",
        aborted=lambda: checkpoint_untouched(checkpoint),
    )
    assert end == JobEnd(EXIT_INTERRUPTED)
    assert f"error: aborted; the last checkpoint ({checkpoint}) is as it was" in capsys.readouterr().err


def test_ctrl_c_aborts_a_job_with_nothing_to_keep_at_once(capsys):
    def evaluating():
        yield Progress(0.0, "Embedding the real images…")
        raise KeyboardInterrupt  # Ctrl+C mid-way: nothing asked the job to stop gently

    assert drive_job(evaluating()) == JobEnd(EXIT_INTERRUPTED)
    err = capsys.readouterr().err
    assert "Embedding the real images" in err and err.endswith("error: aborted\n")


def test_off_a_terminal_the_bar_writes_a_line_per_tenth_of_the_way(capsys):
    def rendering():
        for fraction in (0.0, 0.02, 0.04, 0.5, 0.55, 1.0):
            yield Progress(fraction, f"Rendered {fraction:.0%}")
        return "data set"

    assert drive_job(rendering()) == JobEnd(EXIT_OK, "data set")
    assert capsys.readouterr().err.splitlines() == ["  0% Rendered 0%", " 50% Rendered 50%", "100% Rendered 100%"]


def test_ctrl_c_in_studio_stylize_writes_the_best_image_so_far(tmp_path, studio_home):
    rng = np.random.default_rng(0)
    for name in ("photo.png", "style.png"):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(tmp_path / name)
    env = dict(os.environ, LATENT_STUDIO_HOME=str(studio_home), STUDIO_DEVICE="cpu", OMP_NUM_THREADS="1")
    command = ["stylize", "photo.png", "style.png", "-o", "out.png", "--size", "48", "--steps", "10000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "studio", *command, "--threads", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stderr.readline()  # the job's first progress: the driver is running it
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == EXIT_INTERRUPTED, first_line + err
    assert "Stopping after this step and saving the best image so far" in err
    assert "stopped early, best so far" in out
    assert Image.open(tmp_path / "out.png").size == (48, 40)


def test_every_stylize_option_sets_its_setting_over_the_preset():
    from studio.cli import build_parser
    from studio.commands.style import build_settings
    from studio.spec.style_settings import PRESETS

    args = build_parser().parse_args(
        ["stylize", "photo.png", "style.png", "-o", "out.png", "--preset", "preview"]
        + ["--size", "300", "--steps", "7", "--optimizer", "adam", "--lr", "0.5", "--content-weight", "2"]
        + ["--style-weight", "50", "--tv-weight", "0", "--content-layers", "relu3_2", "--style-layers", "relu1_1"]
        + ["--style-scale", "0.5", "--preserve-color", "--seed", "9", "--no-amp"]
    )
    settings = build_settings(args, init_is_image=False)
    assert settings == PRESETS["preview"].replace(
        size=300,
        min_size=300,  # the preset runs one scale, at any size
        steps=7,
        optimizer="adam",
        learning_rate=0.5,
        content_weight=2.0,
        style_weight=50.0,
        tv_weight=0.0,
        content_layers=("relu3_2",),
        style_layers=("relu1_1",),
        style_scale=0.5,
        preserve_color="luminance",
        seed=9,
        amp=False,
    )
    untouched = build_settings(build_parser().parse_args(["stylize", "a.png", "b.png", "-o", "o.png"]), False)
    assert untouched == PRESETS["balanced"]


def test_the_command_line_parser_loads_without_torch():
    # `studio --help`, `studio info` and every option table are read before any work starts:
    # importing torch for them would add seconds to every command.
    script = (
        "import sys\n"
        "from studio.cli import build_parser\n"
        "build_parser()\n"
        "sys.exit(1 if 'torch' in sys.modules else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


class _Dataset:
    """What `studio train` reads of a data set before training: its image size and classes."""

    image_size = (64, 64)
    num_classes = 3


def test_every_studio_train_option_sets_its_run_setting():
    from studio.cli import build_parser
    from studio.commands.train import build_config

    words = ["train", "gan", "--data", "d", "--out", "o", "--steps", "300", "--batch", "8", "--lr", "0.001"]
    words += ["--d-lr", "0.002", "--lr-schedule", "cosine", "--n-critic", "2", "--gp-weight", "5", "--ema", "0"]
    words += ["--log-every", "3", "--sample-every", "30", "--checkpoint-every", "60", "--seed", "4"]
    words += ["--device", "cpu", "--amp", "--no-eval", "--name", "Mine", "--keep-best", "--lecam", "0.2"]
    words += ["--arch", "style", "--cond-ramp", "10:20", "--augment", "flip"]
    config = build_config(build_parser().parse_args(words), _Dataset(), None)
    assert (config.steps, config.batch, config.lr, config.d_lr, config.lr_schedule) == (300, 8, 0.001, 0.002, "cosine")
    assert (config.n_critic, config.gp_weight, config.ema_decay) == (2, 5.0, None)  # --ema 0: no average
    assert (config.log_every, config.sample_every, config.checkpoint_every, config.seed) == (3, 30, 60, 4)
    assert (config.device, config.amp, config.evaluate, config.name, config.keep_best) == (
        "cpu",
        True,
        False,
        "Mine",
        True,
    )
    assert (config.lecam, config.cond_ramp, config.flip) == (0.2, (10, 20), True)
    defaults = build_config(build_parser().parse_args(["train", "gan", "--data", "d", "--out", "o"]), _Dataset(), None)
    assert (defaults.steps, defaults.evaluate, defaults.keep_best, defaults.ema_decay) == (10_000, True, False, 0.999)


def test_a_vae_refuses_a_gan_option_by_its_flag():
    from studio.cli import build_parser
    from studio.commands.train import build_config

    args = build_parser().parse_args(["train", "vae", "--data", "d", "--out", "o", "--ema", "0.99"])
    with pytest.raises(ValueError, match="^--ema is for GANs"):
        build_config(args, _Dataset(), None)


def _stylize_instant(tmp_path, *extra):
    """`studio stylize --instant` in this process on a 64x48 photo and two 40x40 styles: (exit code, output)."""
    from studio.cli import build_parser

    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(tmp_path / name)
    output = tmp_path / "out.png"
    command = ["stylize", str(tmp_path / "photo.png"), str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    args = build_parser().parse_args([*command, "-o", str(output), "--instant", "--device", "cpu", *extra])
    return args.run(args), output


def test_studio_stylize_instant_writes_the_photo_size_png_with_its_instant_record(tmp_path, studio_home, capsys):
    from studio.files.images import load_image
    from studio.spec.png import STYLE_KEY
    from studio.spec.style_settings import instant_from_png, settings_from_png

    code, output = _stylize_instant(tmp_path, "--style-weights", "1,3", "--strength", "0.5")
    assert code == EXIT_OK, capsys.readouterr().err
    assert "instant, strength 0.5" in capsys.readouterr().out
    loaded = load_image(output)
    assert loaded.image.size == (64, 48)
    record = instant_from_png(loaded.settings)
    assert record == {"strength": 0.5, "weights": [1.0, 3.0], "styles": ["a.png", "b.png"], **record}
    assert loaded.settings[STYLE_KEY]["content"] == "photo.png"
    assert settings_from_png(loaded.settings) is None  # not mistaken for a Gatys run's settings


def test_studio_stylize_instant_paints_at_the_size_asked(tmp_path, studio_home):
    code, output = _stylize_instant(tmp_path, "--size", "32")
    assert code == EXIT_OK
    assert Image.open(output).size == (32, 24)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "5"], "--steps: not used by --instant"),
        (["--preset", "high"], "--preset: not used by --instant"),
    ],
)
def test_studio_stylize_instant_refuses_bad_input_with_exit_code_2(tmp_path, studio_home, capsys, extra, message):
    code, output = _stylize_instant(tmp_path, *extra)
    assert code == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_strength_with_a_start_other_than_the_instant_painting_is_refused(tmp_path, capsys):
    from studio.cli import build_parser

    command = ["stylize", "p.png", "s.png", "-o", str(tmp_path / "o.png"), "--init", "noise", "--strength", "1"]
    args = build_parser().parse_args(command)
    assert args.run(args) == EXIT_BAD_INPUT
    assert "--strength sets the instant painting's strength; it has no effect with --init noise" in (
        capsys.readouterr().err
    )


def test_refine_and_strength_set_the_instant_start_and_a_size_keeps_one_scale():
    from studio.cli import build_parser
    from studio.commands.style import build_settings
    from studio.spec.style_settings import PRESETS

    args = build_parser().parse_args(["stylize", "a.png", "b.png", "-o", "o.png", "--strength", "0.3"])
    settings = build_settings(args, init_is_image=False)
    assert settings == PRESETS["balanced"].replace(strength=0.3) and settings.init == "instant"
    args = build_parser().parse_args(["stylize", "a.png", "b.png", "-o", "o.png", "--refine", "--size", "700"])
    assert build_settings(args, init_is_image=False).scale_sizes() == [700]
    args = build_parser().parse_args(["stylize", "a.png", "b.png", "-o", "o.png", "--init", "content"])
    assert build_settings(args, init_is_image=False).init == "content"


def test_settings_from_png_still_reads_a_gatys_record():
    from studio.spec.png import STYLE_KEY
    from studio.spec.style_settings import PRESETS, instant_from_png, settings_from_png

    png = {STYLE_KEY: {**PRESETS["preview"].to_dict(), "styles": ["a.png"], "seconds": 1.0}}
    assert settings_from_png(png) == PRESETS["preview"]
    assert instant_from_png(png) is None


def test_studio_stylize_instant_takes_builtin_styles_by_name_or_number(tmp_path, studio_home, capsys, forget_networks):
    from studio.files.images import load_image
    from studio.spec.style_settings import instant_from_png

    # STYLE images first, then the built-ins, each weighted in that order.
    code, output = _stylize_instant(tmp_path, "--builtin", "MOSAIC", "--builtin", "17", "--style-weights", "1,1,2,0")
    assert code == EXIT_OK, capsys.readouterr().err
    record = instant_from_png(load_image(output).settings)
    assert record["styles"] == ["a.png", "b.png", "Mosaic (built-in)", "Red blocks (built-in)"]
    assert record["weights"] == [1.0, 1.0, 2.0, 0.0]


def test_builtin_styles_alone_paint_like_their_style_image(tmp_path, studio_home, capsys, forget_networks):
    from studio.cli import build_parser
    from studio.engine.style.builtin import builtin_style_image
    from studio.engine.style.instant import load_instant_networks

    rng = np.random.default_rng(5)
    photo = Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))
    photo.save(tmp_path / "photo.png")
    output = tmp_path / "out.png"
    args = build_parser().parse_args(
        ["stylize", str(tmp_path / "photo.png"), "--builtin", "blue swirls", "-o", str(output), "--instant"]
    )
    assert args.run(args) == EXIT_OK, capsys.readouterr().err
    net = load_instant_networks("cpu")
    expected = net.stylize(photo, net.style_vector(builtin_style_image(19)))
    assert np.abs(np.asarray(Image.open(output), np.int16) - np.asarray(expected, np.int16)).max() <= 1


def test_studio_stylize_optimises_towards_a_builtin_style(tmp_path, studio_home, capsys, forget_networks):
    from studio.cli import build_parser
    from studio.files.images import load_image
    from studio.spec.png import STYLE_KEY

    Image.fromarray(np.random.default_rng(6).integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    output = tmp_path / "out.png"
    command = ["stylize", str(tmp_path / "p.png"), "--builtin", "Wood grain", "-o", str(output)]
    args = build_parser().parse_args(
        [*command, "--preset", "preview", "--size", "32", "--steps", "2", "--device", "cpu"]
    )
    assert args.run(args) == EXIT_OK, capsys.readouterr().err
    loaded = load_image(output)
    assert loaded.image.size == (32, 24)
    assert loaded.settings[STYLE_KEY]["styles"] == ["Wood grain (built-in)"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give at least one STYLE image or --builtin NAME"),
        (["--builtin", "no such style"], "the built-in styles are: Sunny pastel, Yellow ink"),
        (["--builtin", "mosaic", "--style-weights", "1,1"], "--style-weights has 2 weights for 1 styles"),
    ],
)
def test_studio_stylize_without_a_usable_style_is_refused(tmp_path, capsys, extra, message):
    from studio.cli import build_parser

    for instant in ([], ["--instant"]):
        args = build_parser().parse_args(["stylize", "p.png", "-o", str(tmp_path / "o.png"), *extra, *instant])
        assert args.run(args) == EXIT_BAD_INPUT
        assert message in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
