"""Deleting a named direction the artist made (issue 15): the user's file is rewritten without it
(or removed when it empties), a shipped direction beside a bundled model is refused and its file
never written, a state that recorded the deleted name still renders and exports, and the command."""

import numpy as np
import pytest

from studio.cli import main
from studio.engine.latent.model import LatentModel
from studio.engine.latent.named_directions import (
    DirectionError,
    delete_direction,
    directions_path,
    user_directions_path,
)
from studio.engine.latent.state import restore_state_from_png, state_png_settings
from studio.files.atomic import SaveError
from studio.files.images import save_png
from tests.engine.test_named_directions import _seed_direction, bundled_gan_path, library_gan_path

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def library_gan():
    return library_gan_path()


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """A bundled GAN shipping the direction "smile" in the file beside it."""
    return bundled_gan_path(tmp_path / "bundled", monkeypatch)


def test_deleting_rewrites_the_file_without_it_and_removes_the_file_when_empty(library_gan, tmp_path):
    model = LatentModel.load(library_gan)
    model.save_named_direction(_seed_direction(model, "bright"))
    model.save_named_direction(_seed_direction(model, "other"))
    state = model.state_with_named(model.state(model.random_z(4), seed=4), "bright", 1.5)
    assert model.own_named_directions() == ["bright", "other"]

    written = model.delete_named_direction("Bright")  # names match without regard to case
    assert written == directions_path(library_gan) and written.is_file()
    assert [d.name for d in model.named_directions()] == ["other"]
    assert [d.name for d in LatentModel.load(library_gan).named_directions()] == ["other"]

    # The state still records the deleted name's value: it renders and exports as before.
    assert state.named == (("bright", 1.5),)
    out = save_png(tmp_path / "kept.png", model.render(state), state_png_settings(model, state))
    assert restore_state_from_png(out) == state
    assert np.array_equal(np.asarray(model.render(restore_state_from_png(out))), np.asarray(model.render(state)))

    model.delete_named_direction("other")
    assert not written.exists()  # no empty directions file is left behind
    assert model.named_directions() == [] and model.own_named_directions() == []


def test_a_shipped_direction_is_refused_and_its_file_stays_byte_identical(bundled):
    shipped_file = directions_path(bundled)
    before = shipped_file.read_bytes()
    model = LatentModel.load(bundled)
    mine = model.save_named_direction(_seed_direction(model, "mine"))
    assert mine == user_directions_path(bundled, model.sha256)
    assert model.own_named_directions() == ["mine"]
    with pytest.raises(DirectionError, match=r"'smile' comes with the model \(emoji.directions.safetensors\)"):
        model.delete_named_direction("smile")
    assert [d.name for d in model.named_directions()] == ["smile", "mine"]
    assert model.delete_named_direction("mine") == mine and not mine.exists()
    assert [d.name for d in LatentModel.load(bundled).named_directions()] == ["smile"]
    assert shipped_file.read_bytes() == before


def test_an_unknown_name_is_a_plain_message(library_gan, bundled):
    model = LatentModel.load(library_gan)
    model.save_named_direction(_seed_direction(model, "bright"))
    with pytest.raises(DirectionError, match="no direction named 'frown' to delete; its named directions: bright"):
        model.delete_named_direction("frown")
    emoji = LatentModel.load(bundled)
    with pytest.raises(DirectionError, match="no direction named 'frown' to delete; its named directions: smile"):
        delete_direction(emoji.path, emoji.sha256, emoji.latent_dim, emoji.latent_space, "frown")


def test_a_failed_delete_names_the_file_and_keeps_it(library_gan, monkeypatch):
    import studio.files.atomic as atomic

    model = LatentModel.load(library_gan)
    model.save_named_direction(_seed_direction(model, "bright"))
    path = model.save_named_direction(_seed_direction(model, "other"))
    before = path.read_bytes()

    def full_disk(target, data):
        raise SaveError(28, f"cannot write {target}: disk full")

    monkeypatch.setattr(atomic, "atomic_write_bytes", full_disk)
    with pytest.raises(SaveError, match=f"cannot write {path}: disk full"):
        model.delete_named_direction("bright")
    assert path.read_bytes() == before
    assert [d.name for d in model.named_directions()] == ["bright", "other"]


def test_command_delete(library_gan, bundled, capsys):
    model = LatentModel.load(library_gan)
    model.save_named_direction(_seed_direction(model, "bright"))
    model.save_named_direction(_seed_direction(model, "other"))
    assert main(["direction", "delete", "--model", "Tiny GAN", "--name", "bright"]) == 0
    out = capsys.readouterr().out
    assert "Deleted the direction 'bright' of Tiny GAN" in out and "1 named directions left" in out
    assert [d.name for d in LatentModel.load(library_gan).named_directions()] == ["other"]
    assert main(["direction", "delete", "--model", "Tiny GAN", "--name", "bright"]) == 2
    assert "no direction named 'bright' to delete; its named directions: other" in capsys.readouterr().err

    before = directions_path(bundled).read_bytes()
    assert main(["direction", "delete", "--model", str(bundled), "--name", "smile"]) == 2
    assert "'smile' comes with the model" in capsys.readouterr().err
    assert directions_path(bundled).read_bytes() == before
