"""The command line: `studio info` and `studio model inspect`, run as a user would."""

import os
import pickle
import subprocess
import sys
from importlib import metadata

import torch

from studio.engine.checkpoints import save_model


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

    from studio.commands.terminal import EXIT_BAD_INPUT, EXIT_FAILURE, ProgressBar, training_failure
    from studio.engine.atomic import SaveError
    from studio.engine.training import TrainingDiverged, TrainingError

    bar = ProgressBar(None)
    assert training_failure(bar, TrainingError("the folder has 3 images; at least 16 are needed")) == EXIT_BAD_INPUT
    assert "error: the folder has 3 images" in capsys.readouterr().err
    assert training_failure(bar, TrainingDiverged("the loss became NaN at step 40")) == EXIT_FAILURE
    assert "NaN at step 40" in capsys.readouterr().err
    full = SaveError(errno.ENOSPC, "disk full while saving model.ckpt.safetensors")
    assert training_failure(bar, full) == EXIT_FAILURE
    assert "error: disk full while saving" in capsys.readouterr().err
