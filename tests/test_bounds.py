"""Every number a user types or a file says is checked against studio.spec.bounds (RELIABILITY.md item 30).

Out of range on the command line is exit 2 with the bound's message, refused while the arguments
are parsed (nothing is loaded, nothing trains); in a reopened PNG's or a job folder's settings it
is one error naming the field; the GUI's spin boxes hold the same ranges.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from studio.cli import build_parser, main
from studio.commands.terminal import EXIT_BAD_INPUT, EXIT_INTERRUPTED, apply_threads
from studio.spec import bounds
from studio.spec.bounds import (
    BATCH,
    FPS,
    FRAMES,
    LEARNING_RATE,
    MAX_SEED,
    SEED,
    STYLE_SIZE,
    STYLE_STEPS,
    STYLE_WEIGHT,
    THREADS,
    TRAINING_STEPS,
)

HUGE = str(2**64)  # above 2^63: an OverflowError deep in torch or numpy before the table
SEED_MESSAGE = f"the seed must be 0 to {MAX_SEED}, got "

SAMPLE = ["sample", "--model", "m", "-o", "out.png"]
WALK = ["interpolate", "--model", "m", "--seeds", "1,2", "-o", "out.gif"]
TRAIN = ["train", "gan", "--data", "d", "--out", "o"]
FINETUNE = ["finetune", "--base", "b", "--data", "d", "--out", "o"]
STYLIZE = ["stylize", "photo.png", "style.png", "-o", "out.png"]

BAD = [
    # (command line, what the message says)
    ([*SAMPLE, "--seed", "3000000000"], SEED_MESSAGE + "3000000000"),
    ([*SAMPLE, "--seed", "-1"], SEED_MESSAGE + "-1"),
    ([*SAMPLE, "--seed", "1", "--psi", "nan"], "the variety must be a finite number, got nan"),
    ([*SAMPLE, "--seed", "1", "--rows", "100000"], "the number of grid rows or columns must be 1 to 64, got 100000"),
    ([*SAMPLE, "--seed", "1", "--size", "99999999px"], "a pixel size must be 16 to 8192, got 99999999"),
    ([*SAMPLE, "--seed", "1", "--change", "1=1e308"], "a slider value must be -3 to 3, got 1e+308"),
    (["interpolate", "--model", "m", "--seeds", f"1,{HUGE}", "-o", "o.gif"], SEED_MESSAGE + HUGE),
    ([*WALK, "--frames", "100000000"], "the number of frames must be 2 to 10000, got 100000000"),
    ([*WALK, "--fps", "1e-300"], "frames per second must be 0.1 to 100, got 1e-300"),
    ([*WALK, "--fps", "inf"], "frames per second must be a finite number, got inf"),
    ([*TRAIN, "--seed", HUGE], SEED_MESSAGE + HUGE),
    ([*TRAIN, "--threads", "100000"], "the number of CPU threads must be 1 to 256, got 100000"),
    ([*TRAIN, "--threads", "0"], "the number of CPU threads must be 1 to 256, got 0"),
    ([*TRAIN, "--batch", "1000000000"], "the batch size must be 1 to 4096, got 1000000000"),
    ([*TRAIN, "--steps", "0"], "the number of training steps must be 1 to 10000000, got 0"),
    ([*TRAIN, "--lr", "nan"], "the learning rate must be a finite number, got nan"),
    ([*TRAIN, "--latent-dim", "10000000"], "latent_dim must be 1 to 4096, got 10000000"),
    ([*TRAIN, "--sample-every", "0"], "a step interval must be 1 to 10000000, got 0"),
    ([*TRAIN, "--ema", "1"], "the weight average decay (--ema) must be 0 to 0.99999, got 1.0"),
    ([*FINETUNE, "--seed", HUGE], SEED_MESSAGE + HUGE),
    ([*FINETUNE, "--threads", "100000"], "the number of CPU threads must be 1 to 256, got 100000"),
    ([*FINETUNE, "--batch", "1000000000"], "the batch size must be 1 to 4096, got 1000000000"),
    ([*FINETUNE, "--heldout", "0.95"], "the held-out part must be 0 to 0.8, got 0.95"),
    ([*STYLIZE, "--init", "noise", "--seed", HUGE], SEED_MESSAGE + HUGE),
    ([*STYLIZE, "--threads", "100000"], "the number of CPU threads must be 1 to 256, got 100000"),
    ([*STYLIZE, "--size", "100000"], "the size must be 16 to 8192, got 100000"),
    ([*STYLIZE, "--steps", "1e9"], "the number of steps per scale must be a whole number, got '1e9'"),
    ([*STYLIZE, "--style-weight", "-1"], "a weight must be 0 to 1000000000, got -1.0"),
    ([*STYLIZE, "--refine", "--strength", "2"], "the strength must be 0 to 1, got 2.0"),
    ([*STYLIZE, "--style-weights", "1,1e400"], "a weight must be a finite number, got inf"),
    (["model", "showcase", "m", "--seed", "3000000000"], SEED_MESSAGE + "3000000000"),
    (["model", "fit-prior", "m", "--data", "d", "--per-class", "100000"], "must be 1 to 64, got 100000"),
    (["evaluate", "m", "--data", "d", "--samples", "10000000000"], "the number of samples must be 2 to 100000"),
    (["train-classifier", "--data", "d", "--out", "c", "--seed", HUGE], SEED_MESSAGE + HUGE),
    (["data", "emoji", "--out", "o", "--size", "100000"], "the image size must be 8 to 1024, got 100000"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(argv[:1] + argv[-2:]) for argv, _ in BAD])
def test_a_number_out_of_range_exits_2_with_the_bounds_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


GOOD = [
    # (command line, argument name, the value parsed)
    ([*SAMPLE, "--seed", str(MAX_SEED)], "seed", MAX_SEED),
    ([*SAMPLE, "--seed", "0", "--rows", "64"], "rows", 64),
    ([*SAMPLE, "--seed", "0", "--size", "8192px"], "size", 8192),
    ([*SAMPLE, "--seed", "0", "--psi", "1.5"], "psi", 1.5),
    ([*WALK, "--frames", "10000"], "frames", 10_000),
    ([*WALK, "--frames", "2"], "frames", 2),
    ([*WALK, "--fps", "0.1"], "fps", 0.1),
    (["interpolate", "--model", "m", "--seeds", f"0,{MAX_SEED}", "-o", "o.gif"], "seeds", [0, MAX_SEED]),
    ([*TRAIN, "--seed", str(MAX_SEED)], "seed", MAX_SEED),
    ([*TRAIN, "--threads", "256"], "threads", 256),
    ([*TRAIN, "--batch", "4096"], "batch", 4096),
    ([*TRAIN, "--ema", "0"], "ema_decay", 0.0),
    ([*FINETUNE, "--seed", "0"], "seed", 0),
    ([*FINETUNE, "--batch", "1"], "batch", 1),
    ([*STYLIZE, "--seed", str(MAX_SEED)], "seed", MAX_SEED),
    ([*STYLIZE, "--size", "8192"], "size", 8192),
    ([*STYLIZE, "--threads", "1"], "threads", 1),
    ([*STYLIZE, "--strength", "0"], "strength", 0.0),
    (["model", "showcase", "m", "--seed", "0"], "seed", 0),
]


@pytest.mark.parametrize(("argv", "name", "value"), GOOD)
def test_the_boundary_values_are_accepted(argv, name, value):
    args = build_parser().parse_args(argv)
    assert getattr(args, name) == value


def test_threads_out_of_range_never_reach_torch(monkeypatch):
    import torch

    def crash(_count):  # what torch.set_num_threads(100000) does to the process
        raise AssertionError("torch.set_num_threads was called")

    monkeypatch.setattr(torch, "set_num_threads", crash)
    assert apply_threads(100_000) == "--threads: the number of CPU threads must be 1 to 256, got 100000"
    assert apply_threads(0) == "--threads: the number of CPU threads must be 1 to 256, got 0"


def test_a_batch_larger_than_the_data_set_says_so(capsys, monkeypatch, tmp_path):
    import studio.engine.data.dataset as dataset_module
    import studio.engine.training.loop as loop

    ten_images = SimpleNamespace(split=np.array([0] * 10 + [1] * 2), image_size=(64, 64), num_classes=1)
    monkeypatch.setattr(dataset_module, "load_image_dataset", lambda _path: ten_images)

    def stop(*_args, **_kwargs):  # the run itself is not this test's business
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train_job", stop)
    code = main(["train", "vae", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--batch", "64"])
    assert code == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "the batch (64) is larger than the data set's 10 training images" in err
    assert "--batch 10 or less" in err


def test_ctrl_c_while_the_command_line_starts_exits_130_quietly(capsys, monkeypatch):
    import studio.cli

    def interrupted(_name):  # Ctrl+C while a command's module (torch, say) is imported
        raise KeyboardInterrupt

    monkeypatch.setattr(studio.cli.importlib, "import_module", interrupted)
    assert main(["info"]) == EXIT_INTERRUPTED
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err


def test_ctrl_c_while_the_window_starts_exits_130_quietly(capsys, monkeypatch):
    import studio.app
    import studio.desktop_libraries

    def interrupted():  # Ctrl+C while Qt's libraries are looked for and imported
        raise KeyboardInterrupt

    monkeypatch.setattr(studio.desktop_libraries, "check_display_libraries", interrupted)
    assert studio.app.main([]) == EXIT_INTERRUPTED
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err


def test_the_self_test_timeout_is_bounded(capsys):
    import studio.app

    with pytest.raises(SystemExit) as exit_:
        studio.app.parse_args(["--self-test", "--timeout", "1e300"])
    assert exit_.value.code == EXIT_BAD_INPUT
    assert "the time-out in seconds must be 1 to 86400, got 1e+300" in capsys.readouterr().err


# --- settings from files -------------------------------------------------------------------------

BAD_STYLE = [
    ("seed", 2**64, "seed: the seed must be 0 to"),
    ("seed", 3_000_000_000, "seed: the seed must be 0 to"),
    ("min_size", 10**30, "min_size: the first scale's size (min_size) must be 16 to 8192"),
    ("size", math.nan, "size: the size must be a finite number, got nan"),
    ("steps", [60], "steps: the number of steps per scale must be a number, got [60]"),
    ("style_weight", "300", "style_weight: a weight must be a number, got '300'"),
    ("learning_rate", True, "learning_rate: the learning rate must be a number, got True"),
    ("tv_weight", math.inf, "tv_weight: a weight must be a finite number, got inf"),
    ("strength", -0.5, "strength: the strength must be 0 to 1, got -0.5"),
    ("style_scale", {"x": 1}, "style_scale: the style scale must be a number"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_STYLE)
def test_reopened_style_settings_name_the_number_that_is_wrong(name, value, message):
    from studio.spec.style_settings import BALANCED, StyleSettings, StyleSettingsError

    data = BALANCED.to_dict()
    data[name] = value
    with pytest.raises(StyleSettingsError) as error:
        StyleSettings.from_dict(data)
    assert str(error.value).startswith(message)


def test_reopened_style_settings_at_the_bounds_load():
    from studio.spec.style_settings import BALANCED, StyleSettings

    data = {**BALANCED.to_dict(), "seed": MAX_SEED, "size": 8192, "steps": 10_000, "style_weight": 1e9}
    data["min_size"] = 16.0  # a whole float (from any JSON writer) is the whole number
    settings = StyleSettings.from_dict(data)
    assert (settings.seed, settings.size, settings.min_size, settings.steps) == (MAX_SEED, 8192, 16, 10_000)
    assert isinstance(settings.min_size, int)


BAD_FINETUNE = [
    ("seed", 2**64, "seed: the seed must be 0 to"),
    ("steps", 0, "steps: the number of training steps must be 1 to"),
    ("batch", 10**9, "batch: the batch size must be 1 to 4096"),
    ("lr", math.nan, "lr: the learning rate must be a finite number"),
    ("ema", 5.0, "ema: the weight average decay (--ema) must be 0 to 0.99999"),
    ("heldout", [0.1], "heldout: the held-out part must be a number"),
    ("sample_every", "10", "sample_every: a step interval must be a number"),
    ("class_index", -1, "class_index: the class number must be 0 to"),
    ("betas", [0.5, 2.0], "betas: an Adam beta must be 0 to 0.9999, got 2.0"),
    ("betas", [0.5], "betas: two numbers are needed"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_FINETUNE)
def test_fine_tune_settings_from_a_file_name_the_number_that_is_wrong(name, value, message):
    from studio.engine.training.config import TrainingError
    from studio.engine.training.finetune.settings import FinetuneSettings

    data = FinetuneSettings(base="b", data="d", name="n").to_dict()
    data[name] = value
    with pytest.raises(TrainingError) as error:
        FinetuneSettings.from_dict(data)
    assert str(error.value).startswith(message)


def test_fine_tune_settings_that_are_no_object_are_refused():
    from studio.engine.training.config import TrainingError
    from studio.engine.training.finetune.settings import FinetuneSettings

    with pytest.raises(TrainingError, match="must be a JSON object, not list"):
        FinetuneSettings.from_dict([1, 2])  # type: ignore[arg-type]


# --- the GUI's forms ---------------------------------------------------------------------------------


def test_the_style_form_spin_boxes_take_the_tables_ranges(qtbot):
    from studio.ui.style.settings_form import SettingsForm

    form = SettingsForm()
    qtbot.addWidget(form)
    ranges = {name: (form.fields[name].minimum(), form.fields[name].maximum()) for name in ("size", "steps", "seed")}
    assert ranges == {
        "size": (STYLE_SIZE.low, STYLE_SIZE.high),
        "steps": (STYLE_STEPS.low, STYLE_STEPS.high),
        "seed": (SEED.low, SEED.high),
    }
    weight = form.fields["style_weight"]
    assert (weight.minimum(), weight.maximum()) == (STYLE_WEIGHT.low, STYLE_WEIGHT.high)
    assert (form.fields["style_scale"].minimum(), form.fields["style_scale"].maximum()) == (0.05, 8.0)


def test_the_fine_tune_settings_page_takes_the_tables_ranges(qtbot, fake_worker):
    from studio.ui.finetune.session import FinetuneSession
    from studio.ui.finetune.settings_page import SettingsPage

    page = SettingsPage(FinetuneSession(fake_worker))
    qtbot.addWidget(page)
    assert (page.steps.minimum(), page.steps.maximum()) == (TRAINING_STEPS.low, TRAINING_STEPS.high)
    assert (page.batch.minimum(), page.batch.maximum()) == (BATCH.low, BATCH.high)
    assert page.lr.maximum() == LEARNING_RATE.high


def test_the_interpolation_and_latent_bounds_match_the_cli():
    # The explorer's seed box and the CLI read the same constant; FRAMES and FPS hold the GUI's ranges.
    assert MAX_SEED == SEED.high == 2**31 - 1
    assert FRAMES.low <= 2 and FRAMES.high >= 240 and FPS.low <= 1 and FPS.high >= 60
    assert THREADS.low == 1
    assert all(isinstance(getattr(bounds, name), bounds.Bound) for name in ("EXPORT_SIDE", "STYLE_SIZE", "HELDOUT"))


def test_no_option_of_any_command_takes_an_unbounded_number():
    import argparse

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    unbounded = [
        f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
        for parser in parsers(build_parser())
        for action in parser._actions
        if action.type in (int, float) and not action.choices  # a fixed list of choices bounds itself
    ]
    assert unbounded == []
