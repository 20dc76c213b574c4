"""The named directions shipped with the bundled Emoji Faces model (issue 15): the file beside the
model lists them for the bundled model, its claims hold, and the committed labels rebuild it."""

import json
from pathlib import Path

import numpy as np
import pytest

from studio.engine.latent.direction_labels import fit_labelled, read_labels
from studio.engine.latent.model import LatentModel
from studio.engine.latent.named_directions import DirectionError, directions_path, read_directions

pytestmark = pytest.mark.usefixtures("one_thread")

MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"  # this checkout's
MODEL = MODELS / "emoji-faces.safetensors"
LABELS = MODELS / "emoji-faces.direction-labels.json"
SHIPPED = ["open mouth", "tears"]


@pytest.fixture
def bundled(monkeypatch):
    import studio.files.resources as resources

    monkeypatch.setattr(resources, "bundled_models_dir", lambda: MODELS)
    return LatentModel.load(MODEL)


def test_the_bundled_model_lists_its_shipped_directions_first_and_keeps_the_file(bundled):
    before = directions_path(MODEL).read_bytes()
    assert [d.name for d in bundled.named_directions()] == SHIPPED
    assert all(d.accuracy is not None and d.accuracy >= 0.9 for d in bundled.named_directions())
    shipped = bundled.named_direction("open mouth")
    mine = type(shipped)(
        "my open mouth", shipped.vector, shipped.offset, shipped.scale, shipped.space, 0.95, "mine", shipped.normal
    )
    written = bundled.save_named_direction(mine)
    assert written.parent != MODELS  # the artist's own go to their data folder
    assert directions_path(MODEL).read_bytes() == before
    assert [d.name for d in LatentModel.load(MODEL).named_directions()] == [*SHIPPED, "my open mouth"]


def test_the_committed_labels_rebuild_the_shipped_directions(bundled):
    labels = read_labels(LABELS)
    assert labels.model_sha256 == bundled.sha256
    shipped = read_directions(directions_path(MODEL), bundled.latent_dim, bundled.latent_space)
    rebuilt = fit_labelled(bundled, labels)
    assert [d.name for d in rebuilt] == SHIPPED
    for old, new in zip(shipped, rebuilt, strict=True):
        assert float(old.vector @ new.vector) > 0.9999
        assert new.offset == pytest.approx(old.offset, abs=1e-4)
        assert new.accuracy == pytest.approx(old.accuracy)
    # Each is orthogonal to the ones before it: moving it leaves their scores unchanged.
    for later, d in enumerate(shipped):
        for earlier in shipped[:later]:
            assert abs(earlier.value(d.moved_to(np.zeros(bundled.latent_dim), 2.0))) == pytest.approx(
                abs(earlier.value(np.zeros(bundled.latent_dim))), abs=0.01
            )


def test_the_labels_file_says_how_each_direction_was_labelled():
    data = json.loads(LABELS.read_text(encoding="utf-8"))
    assert [d["name"] for d in data["directions"]] == SHIPPED
    for item in data["directions"]:
        assert item["positive"] and item["negative"] and item["description"]
        assert not set(item["positive_seeds"]) & set(item["negative_seeds"])
    # The traits that were tried and not shipped say why, so nobody ships them unseen.
    assert {"grin", "frown", "smiling eyes"} <= {d["name"] for d in data["left_out"]}
    assert all(d["why"] for d in data["left_out"])


def test_a_labels_file_with_a_seed_on_both_sides_is_refused(tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text(json.dumps({"directions": [{"name": "x", "positive_seeds": [1, 2], "negative_seeds": [2, 3]}]}))
    with pytest.raises(DirectionError, match=r"seeds \[2\] are both positive and negative"):
        read_labels(bad)
