"""Directions defined by example (issue 15): fitting, orthogonalisation, the file beside the model,
the PNG state and the commands. Models are tiny and random: what is tested is the geometry and
the bookkeeping."""

import json
import struct

import numpy as np
import pytest
import torch

from studio.cli import main
from studio.engine.checkpoints import ModelFileError, list_models
from studio.engine.jobs import run_to_end
from studio.engine.latent.model import LatentModel
from studio.engine.latent.named_directions import (
    DirectionError,
    NamedDirection,
    directions_path,
    fit_direction_job,
    read_directions,
    user_directions_path,
    write_directions,
)
from studio.engine.latent.state import LatentState, LatentStateError, restore_state_from_png, state_png_settings
from studio.engine.models import Generator, save_generative_model
from studio.engine.models.stylegan import StyleGenerator
from studio.files.atomic import SaveError
from studio.files.images import save_png
from studio.files.paths import models_dir
from studio.spec.models import GANConfig

pytestmark = pytest.mark.usefixtures("one_thread")

DIM = 16


def _fit(positive, negative, others=(), space="z", name="trait"):
    return run_to_end(fit_direction_job(name, positive, negative, space, list(others)))


def _labelled(rng, count, weights, noise=0.0):
    """Codes from N(0, I) split by the sign of weights . code (plus label noise)."""
    codes = rng.standard_normal((count, DIM))
    scores = codes @ weights + noise * rng.standard_normal(count)
    return codes[scores > 0], codes[scores <= 0]


def test_a_direction_from_labels_on_one_axis_recovers_that_axis():
    rng = np.random.default_rng(0)
    axis = np.eye(DIM)[3]
    positive, negative = _labelled(rng, 400, axis, noise=0.3)
    direction = _fit(positive, negative)
    assert float(direction.vector @ axis) > 0.9  # cosine: the vector has unit length
    assert abs(float(np.linalg.norm(direction.vector)) - 1.0) < 1e-5
    assert direction.accuracy is not None and direction.accuracy > 0.85
    # Value 0 is the boundary; the trait's side reads positive, one sigma is the codes' spread.
    assert abs(direction.value(np.zeros(DIM))) < 0.3
    assert direction.value(3 * axis) > 1.0 > 0.0 > direction.value(-3 * axis)
    moved = direction.moved_to(rng.standard_normal(DIM), 2.0)
    assert direction.value(moved) == pytest.approx(2.0, abs=1e-4)


def test_orthogonal_direction_leaves_the_chosen_ones_unchanged():
    rng = np.random.default_rng(1)
    first = _fit(*_labelled(rng, 300, np.eye(DIM)[3]), name="first")
    second = _fit(*_labelled(rng, 300, np.eye(DIM)[5]), name="second")
    # A trait tangled with both: mostly axis 3 and 5, a little axis 7.
    tangled = np.eye(DIM)[3] + np.eye(DIM)[5] + 0.7 * np.eye(DIM)[7]
    plain = _fit(*_labelled(rng, 400, tangled), name="plain")
    assert abs(float(plain.vector @ first.vector)) > 0.3  # without orthogonalisation it moves them
    free = _fit(*_labelled(rng, 400, tangled), [first, second], name="free")
    assert abs(float(free.vector @ first.vector)) < 1e-6
    assert abs(float(free.vector @ second.vector)) < 1e-6
    assert float(free.vector @ np.eye(DIM)[7]) > 0.8  # what is left is the trait's own part
    code = rng.standard_normal(DIM)
    for value in (-3.0, 0.0, 3.0):
        moved = free.moved_to(code, value)
        assert first.value(moved) == pytest.approx(first.value(code), abs=1e-4)
        assert second.value(moved) == pytest.approx(second.value(code), abs=1e-4)


def test_examples_that_cannot_give_a_direction_are_refused_plainly():
    rng = np.random.default_rng(2)
    with pytest.raises(DirectionError, match="at least 2 positive and 2 negative examples, got 1 and 3"):
        _fit(rng.standard_normal((1, DIM)), rng.standard_normal((3, DIM)))
    first = _fit(*_labelled(rng, 200, np.eye(DIM)[3]), name="first")
    # Once orthogonal to axis 3, nothing but noise tells these apart: the held-out accuracy says so.
    assert _fit(*_labelled(rng, 200, np.eye(DIM)[3]), [first]).accuracy < 0.7
    # Examples that differ along axis 3 alone leave nothing at all.
    along = np.zeros((8, DIM))
    along[:, 3] = np.linspace(1, 2, 8)
    with pytest.raises(DirectionError, match="differ only along the directions it must stay orthogonal to"):
        _fit(along, -along, [NamedDirection("axis 3", np.eye(DIM, dtype=np.float32)[3], 0.0, 1.0, "z")])
    bad = rng.standard_normal((4, DIM))
    bad[0, 0] = np.nan
    with pytest.raises(DirectionError, match="NaN or Inf"):
        _fit(bad, rng.standard_normal((4, DIM)))


def _gan_module():
    torch.manual_seed(1)
    return Generator(GANConfig(latent_dim=8, g_channels=16, g_spectral_norm=False))


def _style_module():
    torch.manual_seed(2)
    config = GANConfig(latent_dim=16, g_channels=32, d_channels=8, architecture="style", w_dim=16, mapping_layers=2)
    return StyleGenerator(config)


def library_gan_path():
    path = models_dir() / "tiny-gan.safetensors"
    save_generative_model(path, _gan_module(), {"name": "Tiny GAN"})
    return path


@pytest.fixture
def library_gan():
    return library_gan_path()


@pytest.fixture
def library_style():
    path = models_dir() / "tiny-style.safetensors"
    save_generative_model(path, _style_module(), {"name": "Tiny Style"})
    return path


def _seed_direction(model, name="bright"):
    """A direction from seeds labelled by the first value of their latent code."""
    codes = {seed: model.random_z(seed) for seed in range(60)}
    positive = np.stack([c for c in codes.values() if c[0] > 0])
    negative = np.stack([c for c in codes.values() if c[0] <= 0])
    return run_to_end(fit_direction_job(name, positive, negative, model.latent_space, description="first value"))


def test_save_and_load_round_trip_beside_the_model(library_style):
    model = LatentModel.load(library_style)
    assert model.latent_space == "w" and model.named_directions() == []
    direction = _seed_direction(model)
    written = model.save_named_direction(direction)
    assert written == directions_path(library_style) == models_dir() / "tiny-style.directions.safetensors"
    assert library_style in list_models([models_dir()])
    assert written not in list_models([models_dir()])  # the directions file is not a model
    again = LatentModel.load(library_style).named_directions()
    assert [d.name for d in again] == ["bright"]
    loaded = again[0]
    assert np.array_equal(loaded.vector, direction.vector)
    assert (loaded.offset, loaded.scale, loaded.space, loaded.accuracy, loaded.description) == (
        direction.offset,
        direction.scale,
        "w",
        direction.accuracy,
        "first value",
    )
    # A second direction joins the first; one of the same name replaces it.
    model.save_named_direction(_seed_direction(model, "other"))
    model.save_named_direction(_seed_direction(model, "bright"))
    assert [d.name for d in LatentModel.load(library_style).named_directions()] == ["other", "bright"]


def _tamper(path, change):
    """Rewrite the directions file's JSON header through ``change(header)``, keeping its data."""
    data = path.read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + length])
    change(header)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length :])


def _set_entry(key, value):
    def change(header):
        entries = json.loads(header["__metadata__"]["directions"])
        entries[0][key] = value
        header["__metadata__"]["directions"] = json.dumps(entries)

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_entry("accuracy", 2.5), "accuracy 2.5; expected a number from 0 to 1"),
        (_set_entry("scale", -1), "needs a positive scale, got -1"),
        (_set_entry("space", "q"), "in space 'q'"),
        (_set_entry("name", ""), "a direction's name is 1 to 64 characters"),
        (_set_entry("offset", "zero"), "no finite offset"),
        (lambda h: h["__metadata__"].update(directions="[{"), "its list of directions is not JSON"),
        (lambda h: h["__metadata__"].update(format_version="9"), "format version '9'"),
        (lambda h: h["__metadata__"].update(directions="[]"), "describes 0 directions for 1 vectors"),
        (lambda h: h["vectors"].update(dtype="F16"), "holds"),
    ],
)
def test_a_tampered_directions_file_is_a_clear_model_file_error(library_gan, change, message):
    model = LatentModel.load(library_gan)
    path = model.save_named_direction(_seed_direction(model))
    _tamper(path, change)
    before = path.read_bytes()
    reloaded = LatentModel.load(library_gan)  # the model itself still loads and renders
    reloaded.render(reloaded.random_z(0))
    with pytest.raises(ModelFileError, match="tiny-gan.directions.safetensors") as caught:
        reloaded.named_directions()
    assert message in str(caught.value)
    # Saving another direction refuses to overwrite the damaged file, which stays as it was.
    with pytest.raises(ModelFileError):
        reloaded.save_named_direction(_seed_direction(model, "other"))
    assert path.read_bytes() == before


def test_a_vector_that_is_not_unit_or_of_another_size_is_refused(tmp_path):
    good = NamedDirection("a", np.eye(DIM, dtype=np.float32)[0], 0.0, 1.0, "z")
    path = write_directions(tmp_path / "m.directions.safetensors", [good])
    with pytest.raises(ModelFileError, match="its vectors have 16 values, the model's latent vector 8"):
        read_directions(path, 8, "z")
    with pytest.raises(ModelFileError, match="'a' is in z, this model's codes are w"):
        read_directions(path, DIM, "w")
    data = bytearray(path.read_bytes())
    data[-DIM * 4 : -DIM * 4 + 4] = struct.pack("<f", 3.0)  # the first value of the last vector
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="that is not a finite unit vector"):
        read_directions(path, DIM, "z")
    path.write_bytes(bytes(data[:-3]))  # cut short
    with pytest.raises(ModelFileError, match="corrupt or incomplete"):
        read_directions(path, DIM, "z")


def test_a_failed_save_keeps_the_previous_directions(library_gan, monkeypatch):
    import studio.files.atomic as atomic

    model = LatentModel.load(library_gan)
    path = model.save_named_direction(_seed_direction(model))
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise SaveError(f"cannot write {path}: no space left on the disk")

    monkeypatch.setattr(atomic, "atomic_write_bytes", full_disk)
    with pytest.raises(SaveError, match="no space left"):
        model.save_named_direction(_seed_direction(model, "other"))
    assert path.read_bytes() == before
    assert [d.name for d in model.named_directions()] == ["bright"]


def bundled_gan_path(folder, monkeypatch):
    """A bundled GAN in ``folder`` (made) shipping the direction "smile" in the file beside it."""
    import studio.files.resources as resources

    folder.mkdir()
    path = folder / "emoji.safetensors"
    save_generative_model(path, _gan_module(), {"name": "Emoji"})
    shipped = NamedDirection("smile", np.eye(8, dtype=np.float32)[1], 0.0, 1.0, "z", 0.95, "shipped")
    write_directions(directions_path(path), [shipped])
    # First environment, which binds the name when first imported (by main in the CLI tests): were
    # resources patched before, environment would keep the patched one for the tests that follow.
    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: folder)
    monkeypatch.setattr(resources, "bundled_models_dir", lambda: folder)
    return path


def test_bundled_models_are_read_only_their_directions_go_to_the_user_folder(tmp_path, monkeypatch):
    bundled = tmp_path / "bundled"
    path = bundled_gan_path(bundled, monkeypatch)
    before = sorted(p.name for p in bundled.iterdir())
    model = LatentModel.load(path)
    assert [d.name for d in model.named_directions()] == ["smile"]
    written = model.save_named_direction(_seed_direction(model, "mine"))
    assert written == user_directions_path(path, model.sha256)
    assert sorted(p.name for p in bundled.iterdir()) == before
    assert [d.name for d in LatentModel.load(path).named_directions()] == ["smile", "mine"]


def test_a_named_direction_value_survives_a_png_round_trip(library_gan, tmp_path):
    model = LatentModel.load(library_gan)
    model.save_named_direction(_seed_direction(model))
    state = model.state(model.random_z(3), seed=3)
    moved = model.state_with_named(state, "Bright", 1.5)  # names match without regard to case
    assert moved.named == (("bright", 1.5),)
    assert model.named_direction("bright").value(moved.z_array()) == pytest.approx(1.5, abs=1e-4)
    out = save_png(tmp_path / "moved.png", model.render(moved), state_png_settings(model, moved))
    restored = restore_state_from_png(out)
    assert restored == moved
    # Older states have no named values and read as before.
    plain = state.to_settings()
    assert "named" not in plain["latent"]
    assert LatentState.from_settings(plain).named == ()
    with pytest.raises(ValueError, match="no direction named 'frown'; its named directions: bright"):
        model.state_with_named(state, "frown", 1.0)


@pytest.mark.parametrize(
    ("named", "message"),
    [
        ([1, 2], "not a map of name to value"),
        ({"smile": "big"}, "the named direction 'smile': a slider value must be a number"),
        ({"smile": 40.0}, "a slider value must be -3 to 3, got 40.0"),
        ({"smile": True}, "must be a number"),
        ({"": 1.0}, "1 to 64 characters"),
        ({f"d{i}": 0.0 for i in range(300)}, "names 300 directions; at most 256"),
    ],
)
def test_bad_named_values_in_a_png_state_are_refused(named, message):
    settings = LatentState("c" * 64, "m", (0.0, 1.0)).to_settings()
    settings["latent"]["named"] = named
    with pytest.raises(LatentStateError, match=message):
        LatentState.from_settings(settings)


def test_commands_create_list_and_sample_along_a_direction(library_gan, tmp_path, capsys):
    model = LatentModel.load(library_gan)
    codes = {seed: model.random_z(seed) for seed in range(40)}
    positive = ",".join(str(s) for s, c in codes.items() if c[2] > 0)
    negative = ",".join(str(s) for s, c in codes.items() if c[2] <= 0)
    assert main(["direction", "list", "--model", "Tiny GAN"]) == 0
    assert "Tiny GAN has no named directions yet" in capsys.readouterr().out
    code = main(
        ["direction", "create", "--model", "Tiny GAN", "--name", "third"]
        + ["--positive-seeds", positive, "--negative-seeds", negative]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Direction 'third' of Tiny GAN in z from" in out and "held-out accuracy" in out

    # Examples from folders of exported PNGs: their latent state gives the code.
    folders = {"yes": tmp_path / "yes", "no": tmp_path / "no"}
    for label, folder in folders.items():
        folder.mkdir()
        for seed, c in codes.items():
            if (c[5] > 0) == (label == "yes"):
                state = model.state(c, seed=seed)
                save_png(folder / f"{seed}.png", model.render(state), state_png_settings(model, state))
    code = main(
        ["direction", "create", "--model", "Tiny GAN", "--name", "sixth", "--orthogonal-to", "third"]
        + ["--positive", str(folders["yes"]), "--negative", str(folders["no"]), "--description", "axis 5"]
    )
    assert code == 0, capsys.readouterr()
    assert "orthogonal to third" in capsys.readouterr().out
    assert main(["direction", "list", "--model", "Tiny GAN"]) == 0
    listing = capsys.readouterr().out
    assert "third (z, held-out accuracy" in listing and "sixth (z, held-out accuracy" in listing
    assert "): axis 5" in listing
    third, sixth = LatentModel.load(library_gan).named_directions()
    assert abs(float(third.vector @ sixth.vector)) < 1e-6

    out = tmp_path / "sample.png"
    assert main(["sample", "--model", "Tiny GAN", "--seed", "7", "--direction", "sixth=2", "-o", str(out)]) == 0
    assert "sixth at 2" in capsys.readouterr().out
    state = restore_state_from_png(out)
    assert state.named == (("sixth", 2.0),)
    assert sixth.value(state.z_array()) == pytest.approx(2.0, abs=1e-4)
    assert third.value(state.z_array()) == pytest.approx(third.value(model.random_z(7)), abs=1e-4)


def test_command_mistakes_are_plain_messages(library_gan, tmp_path, capsys):
    assert main(["direction", "create", "--model", "Tiny GAN", "--name", "x", "--positive-seeds", "1,2"]) == 2
    assert "give examples of both kinds" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    save_png(plain / "a.png", np.zeros((8, 8, 3), dtype=np.uint8))
    code = main(
        ["direction", "create", "--model", "Tiny GAN", "--name", "x"]
        + ["--positive", str(plain), "--negative-seeds", "1,2"]
    )
    assert code == 2
    assert "a.png holds no latent state of Tiny GAN" in capsys.readouterr().err
    assert main(["sample", "--model", "Tiny GAN", "--seed", "1", "--direction", "smile=1", "-o", "x.png"]) == 2
    assert "Tiny GAN has no direction named 'smile'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample", "--model", "Tiny GAN", "--seed", "1", "--direction", "smile=9", "-o", "x.png"])
    assert "a slider value must be -3 to 3, got 9" in capsys.readouterr().err
