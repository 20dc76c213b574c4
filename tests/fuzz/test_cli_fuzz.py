"""Random argument vectors into every ``studio`` subcommand: a clear error (exit 2 or 1 with a
message), a help text, or the command getting as far as its heavy work, which is stubbed out here.

Every leaf subcommand of the real parser is enumerated, and its flags and positionals are drawn
from its own argparse actions with boundary and garbage values. The jobs themselves never run:
the job driver, the instant network, the GUI and the prior fit raise ``HeavyWorkReached`` in
their place, after the command has validated what it was given. torch's thread count and the
number of frames an interpolation asks for are checked where they reach torch and numpy, so an
unbounded value is a failure here rather than a crashed or swapping test run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from studio.cli import build_parser, main
from studio.spec.bounds import FRAMES, THREADS
from tests.fuzz.limits import bounded
from tests.fuzz.profile import fuzz_examples

pytestmark = pytest.mark.fuzz

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_SECONDS = 60  # far above what any example needs: only a hang gets near it


class HeavyWorkReached(BaseException):
    """The command validated its input and would now start its long job (a BaseException, so that
    no `except Exception` in a command takes it for a failure)."""


def _leaf_parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*prefix, name))
                return
        found[prefix] = parser

    walk(build_parser(), ())
    return found


LEAVES = _leaf_parsers()

# Arguments that name files or folders get paths from this pool (all inside the example's folder).
_PATH_DESTS = {
    "path", "checkpoint", "out", "output", "data", "model", "models", "content", "styles", "init",
    "frames_dir", "font", "emoji_test", "base", "import_", "import", "job", "export_job", "classifier",
}  # fmt: skip
PATHS = (
    "in.png", "garbage.png", "missing.png", "data", "missing-folder", "tiny-vae", "Tiny VAE",
    "models/tiny-vae.safetensors", "out.png", "out.gif", "out.webp", "out-folder", "out.safetensors",
    "out.txt", ".", "", "in.png/inside", "tiny.json", "~0", "~no-such-user/x.png", "n" * 300,
)  # fmt: skip
INTS = st.sampled_from(
    ["0", "1", "-1", "2", "3", "4", "16", "64", "255", "256", "257", "4097", "10000", "10001", "2147483647",
     "2147483648", "3000000000", "9223372036854775808", "18446744073709551616", "100000000", "1e3", "0x10",
     "nan", "", " 5", "five"]
) | st.integers(-(10**20), 10**20).map(str)  # fmt: skip
FLOATS = st.sampled_from(
    ["0", "1", "-1", "0.5", "1.5", "3", "-3", "1e-300", "1e300", "nan", "inf", "-inf", "-0", "", "x", "1e3"]
) | st.floats(allow_nan=True, allow_infinity=True).map(repr)
TEXT = st.text(st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)), max_size=12)
SEEDS = st.sampled_from(["1,2", "0,2147483647", "3000000000,1", "1", "a,b", "1,,2", "-1,3", "1,2,3,4"])


def _value(action: argparse.Action) -> st.SearchStrategy[str]:
    if action.choices is not None:
        return st.sampled_from([str(c) for c in action.choices]) | TEXT
    name = getattr(action.type, "__name__", "") if action.type is not None else ""
    if action.dest in _PATH_DESTS:
        return st.sampled_from(PATHS) | TEXT
    if action.dest == "seeds":
        return SEEDS
    if action.dest == "change":
        return st.sampled_from(["1=-3", "1=3", "2=0.5", "99=1", "0=1", "1=nan", "1=1e308", "x", "1="])
    if name == "float":
        return FLOATS
    if name == "int" or "seed" in name or "side" in name or "count" in name or "size" in name or "scale" in name:
        return INTS
    if "weight" in name:
        return st.sampled_from(["1", "1,0.5", "-1", "0,0", "nan", "1,,2", "inf"]) | TEXT
    return st.sampled_from(["auto", "cpu", "cuda", "mps", "none", "all", "1", "0"]) | TEXT


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(LEAVES)))
    argv = list(command)
    for action in LEAVES[command]._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        wanted = 0.9 if action.required else 0.4
        if draw(st.floats(0, 1)) > wanted:
            continue
        if not action.option_strings:  # a positional
            count = 1 if action.nargs in (None, "?") else draw(st.integers(0 if action.nargs == "*" else 1, 3))
            if action.nargs == argparse.REMAINDER:
                count = draw(st.integers(0, 2))
            argv += [draw(_value(action)) for _ in range(count)]
            continue
        flag = draw(st.sampled_from(action.option_strings))
        if action.nargs == 0:
            argv.append(flag)
        elif action.nargs == "?" and draw(st.booleans()):
            argv.append(flag)
        else:
            argv += [flag, draw(_value(action))]
    if draw(st.integers(0, 9)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(st.sampled_from(["--bogus", "-", "--", "-x", "--help"])))
    return argv


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The example files: a picture, a damaged one, a tiny VAE and its card, a tiny data set."""
    import numpy as np
    import torch
    from PIL import Image

    from studio.engine.data.dataset import ImageDataset, save_image_dataset
    from studio.engine.models.store import save_generative_model
    from studio.engine.models.vae import VAE
    from studio.spec.models import VAEConfig

    folder = tmp_path_factory.mktemp("inputs")
    Image.new("RGB", (24, 16), (200, 100, 50)).save(folder / "in.png")
    (folder / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    torch.manual_seed(0)
    save_generative_model(
        folder / "models" / "tiny-vae.safetensors",
        VAE(VAEConfig(image_size=64, latent_dim=4, base_channels=2)),
        {"name": "Tiny VAE"},
    )
    (folder / "tiny.json").write_bytes((folder / "models" / "tiny-vae.json").read_bytes())
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 255, (6, 3, 64, 64), dtype=np.uint8))
    dataset = ImageDataset(
        images, torch.tensor([0, 1, 0, 1, 0, 1]), ["a", "b"], [f"{i}.png" for i in range(6)],
        torch.tensor([0, 0, 0, 0, 1, 1], dtype=torch.uint8),
    )  # fmt: skip
    save_image_dataset(dataset, folder / "data")
    return folder


def _snapshot(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def stubbed(monkeypatch):
    """Every entry point of heavy work raises HeavyWorkReached; unbounded values reaching torch fail."""
    import torch

    def reached(*_args, **_kwargs):
        raise HeavyWorkReached

    for module in ("data", "evaluate", "finetune", "repaint", "style", "train"):
        monkeypatch.setattr(f"studio.commands.{module}.drive_job", reached)
    monkeypatch.setattr("studio.engine.style.instant.load_instant_networks", reached)
    monkeypatch.setattr("studio.engine.models.vae_prior.fit_prior_on", reached)
    monkeypatch.setattr("studio.app.main", reached)

    def threads(count: int) -> None:
        assert THREADS.low <= count <= THREADS.high, f"torch was asked for {count} threads (it crashes on such counts)"

    monkeypatch.setattr(torch, "set_num_threads", threads)
    monkeypatch.setattr(torch, "set_num_interop_threads", threads)

    from studio.engine.latent import interpolation

    real = interpolation.interpolate_frames

    def frames(latents, count, *args, **kwargs):
        assert FRAMES.low <= count <= FRAMES.high, f"an interpolation of {count} frames reached numpy"
        return real(latents, min(count, 4), *args, **kwargs)

    monkeypatch.setattr(interpolation, "interpolate_frames", frames)
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--ignored=no"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout


# The command-line cases of issue 14, always tried besides the drawn ones.
@example(argv=["stylize", "in.png", "in.png", "-o", "out.png", "--threads", "100000"])
@example(argv=["train", "vae", "--data", "data", "--out", "out-folder", "--threads", "100000"])
@example(argv=["interpolate", "--model", "tiny-vae", "--seeds", "1,2", "--frames", "100000000", "-o", "out.gif"])
@example(argv=["interpolate", "--model", "tiny-vae", "--seeds", "1,2", "--fps", "1e-300", "-o", "out.gif"])
@example(argv=["sample", "--model", "~0", "--seed", "1", "-o", "out.png"])
@fuzz_examples(80)
@given(argv=argvs())
def test_random_arguments_give_a_clear_error_or_reach_the_work(argv, inputs, stubbed, tmp_path_factory, monkeypatch):
    import shutil

    work = tmp_path_factory.mktemp("cwd")
    for name in ("in.png", "garbage.png", "tiny.json", "data", "models"):
        source = inputs / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, work / name)
    home = work / "home"
    monkeypatch.setenv("LATENT_STUDIO_HOME", str(home))
    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: work / "no-bundled-models")
    monkeypatch.chdir(work)
    from studio.files.paths import models_dir

    models_dir().mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "models" / "tiny-vae.safetensors", models_dir() / "tiny-vae.safetensors")
    shutil.copy(work / "models" / "tiny-vae.json", models_dir() / "tiny-vae.json")
    given_inputs = {name: data for name, data in _snapshot(work).items() if not name.startswith("home/")}
    outside = sorted(p.name for p in work.parent.iterdir())

    out, err = io.StringIO(), io.StringIO()
    code: object = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), bounded(EXAMPLE_SECONDS):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
        except HeavyWorkReached:
            code = "reached the work"
    text = err.getvalue()
    assert "Traceback" not in text, text
    assert code in (0, 1, 2, "reached the work"), (code, text)
    if code in (1, 2):
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines, f"exit {code} without a message"
        # The studio's "error: ..." or argparse's "studio COMMAND: error: ..." (a typed path may hold a line break).
        assert any(line.startswith(("error: ", "studio")) for line in lines), text
    # Nothing the command was given changed, and nothing appeared beside its folder.
    after = {name: data for name, data in _snapshot(work).items() if name in given_inputs}
    changed = sorted(name for name in given_inputs if after.get(name) != given_inputs[name])
    writes_its_input = {"model"}  # showcase, slim and fit-prior (without -o) replace the model they are given
    assert not changed or argv[0] in writes_its_input, changed
    assert sorted(p.name for p in work.parent.iterdir()) == outside


def test_every_subcommand_is_fuzzed():
    names = {" ".join(command) for command in LEAVES}
    assert {"sample", "interpolate", "stylize", "train", "finetune", "evaluate", "info", "gui"} <= names
    assert {"model inspect", "model slim", "model fit-prior", "model showcase", "data emoji"} <= names


def test_the_repository_is_untouched_by_the_fuzzed_commands():
    """Runs last in this module (pytest keeps file order): the fuzzed commands wrote only under tmp."""
    assert _git_status() == STATUS_AT_IMPORT, "a fuzzed command changed a file in the repository"


STATUS_AT_IMPORT = _git_status()
