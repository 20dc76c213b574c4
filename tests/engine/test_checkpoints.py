"""Model files: what an artist sees when a model is good, hostile, damaged or half-saved.

Every bad file is built here with pickle, struct and bytes; there are no binary fixtures.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pathlib
import pickle
import struct

import pytest
import torch

from studio.engine.checkpoints import (
    CARD_SUFFIX,
    ModelFileError,
    format_inspection,
    inspect_model,
    list_models,
    load_model,
    model_sha256,
    save_model,
    validate_safetensors,
)
from studio.files.atomic import SaveError

CARD = {
    "name": "Ink VAE",
    "architecture": "vae",
    "config": {"latent_dim": 8, "channels": [32, 64]},
    "data": "my sketchbook, 412 images",
    "command": "studio train vae --data sketches/",
    "licence": "CC-BY-4.0",
    "created": "2025-01-01T00:00:00Z",
}


def _tensors(scale: float = 1.0) -> dict[str, torch.Tensor]:
    return {
        "encoder.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4) * scale,
        "encoder.bias": torch.full((3,), 0.5 * scale, dtype=torch.float16),
        "steps": torch.tensor([7], dtype=torch.int64),
        "mask": torch.tensor([True, False]),
    }


def _assert_same(loaded: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert loaded.keys() == expected.keys()
    for name, tensor in expected.items():
        assert loaded[name].dtype == tensor.dtype
        assert torch.equal(loaded[name], tensor), name


def _safetensors_bytes(header: object, data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


class TouchOnLoad:
    """Unpickling this creates a file: the stand-in for a checkpoint that runs code."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (str(self.marker),))


class Brush:
    """A custom class, as a training script might leave inside a checkpoint."""

    def __init__(self) -> None:
        self.size = 3


# -- the studio's own format -------------------------------------------------------------------


def test_round_trip_keeps_tensors_and_card(tmp_path):
    path = save_model(tmp_path / "ink.safetensors", _tensors(), CARD)

    tensors, card = load_model(path)

    _assert_same(tensors, _tensors())
    assert (tmp_path / f"ink{CARD_SUFFIX}").is_file()
    assert {k: card[k] for k in CARD} == CARD
    assert card["format_version"] == 1
    assert card["sha256"] == model_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_lone_file_still_carries_its_card(tmp_path):
    path = save_model(tmp_path / "ink.safetensors", _tensors(), CARD)
    (tmp_path / "ink.json").unlink()

    tensors, card = load_model(path)

    _assert_same(tensors, _tensors())
    assert {k: card[k] for k in CARD} == CARD
    assert card["format_version"] == 1


def test_saving_accepts_views_tied_weights_and_trainable_tensors(tmp_path):
    base = torch.randn(4, 6, requires_grad=True)
    tensors = {"weight": base, "tied": base, "transposed": base.t(), "row": base[1]}

    tensors_back, _ = load_model(save_model(tmp_path / "m.safetensors", tensors, {}))

    for name, tensor in tensors.items():
        assert torch.equal(tensors_back[name], tensor.detach()), name


def test_caller_card_is_not_changed_and_a_stale_hash_is_replaced(tmp_path):
    card = {"name": "copy", "sha256": "0" * 64}

    path = save_model(tmp_path / "m.safetensors", _tensors(), card)

    assert card == {"name": "copy", "sha256": "0" * 64}
    assert load_model(path)[1]["sha256"] == model_sha256(path)


def test_only_safetensors_is_ever_written(tmp_path):
    with pytest.raises(ModelFileError, match=r"m\.pt"):
        save_model(tmp_path / "m.pt", _tensors(), CARD)
    assert list(tmp_path.iterdir()) == []


def test_card_that_is_not_json_writes_nothing(tmp_path):
    with pytest.raises(TypeError):
        save_model(tmp_path / "m.safetensors", _tensors(), {"config": object()})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["[1, 2, 3]", "{not json"])
def test_broken_sidecar_card_is_a_clear_error(tmp_path, text):
    path = save_model(tmp_path / "ink.safetensors", _tensors(), CARD)
    (tmp_path / "ink.json").write_text(text)

    with pytest.raises(ModelFileError, match=r"ink\.json.*model card"):
        load_model(path)


# -- pickles are never run ----------------------------------------------------------------------


def test_the_payload_really_runs_when_unpickled(tmp_path):
    # Control for the tests below: the same bytes do create a file if anything unpickles them.
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps({"w": TouchOnLoad(marker)}))
    assert marker.exists()


# torch notes that plain pickle.dumps uses a newer protocol than torch.save; irrelevant here.
@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("saver", ["pickle", "torch.save"])
@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        (".pt", "contains Python objects or code"),
        (".ckpt", "contains Python objects or code"),
        (".safetensors", "is a pickled PyTorch checkpoint, not safetensors; refused"),
    ],
)
def test_pickle_with_code_is_refused_and_never_runs(tmp_path, saver, suffix, message):
    marker = tmp_path / "pwned"
    path = tmp_path / f"model{suffix}"
    payload = {"weight": torch.ones(2), "hook": TouchOnLoad(marker)}
    if saver == "pickle":
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)

    with pytest.raises(ModelFileError, match=message) as caught:
        load_model(path)
    with pytest.raises(ModelFileError):
        inspect_model(path)

    assert path.name in str(caught.value)
    assert not marker.exists()


def test_unknown_class_is_refused_without_an_unsafe_retry(tmp_path, monkeypatch):
    path = tmp_path / "brushes.pt"
    torch.save({"weight": torch.ones(2), "brush": Brush()}, path)
    calls = []
    real_load = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)

    with pytest.raises(ModelFileError, match=r"brushes\.pt contains Python objects or code, not plain tensors"):
        load_model(path)

    assert calls == [True]


# -- legacy .pt state dicts ---------------------------------------------------------------------


def test_plain_tensor_state_dict_loads(tmp_path):
    path = tmp_path / "old.pth"
    torch.save(_tensors(), path)

    tensors, card = load_model(path)

    _assert_same(tensors, _tensors())
    assert card == {"format": "legacy .pt"}


@pytest.mark.parametrize("key", ["state_dict", "model"])
def test_training_checkpoint_gives_its_weights(tmp_path, key):
    path = tmp_path / "run.ckpt"
    torch.save({key: _tensors(), "epoch": 3, "lr": 0.001}, path)

    tensors, _ = load_model(path)

    _assert_same(tensors, _tensors())


def test_pt_without_a_dict_of_tensors_is_refused(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.ones(2), torch.zeros(3)], path)

    with pytest.raises(ModelFileError, match=r"list\.pt does not hold a plain dict of tensors"):
        load_model(path)


def test_damaged_pt_is_corrupt(tmp_path):
    path = tmp_path / "cut.pt"
    torch.save(_tensors(), path)
    path.write_bytes(path.read_bytes()[:-40])

    with pytest.raises(ModelFileError, match=r"cut\.pt: corrupt or incomplete file"):
        load_model(path)


def test_old_torch_is_refused_for_pt(tmp_path, monkeypatch):
    path = tmp_path / "old.pt"
    torch.save(_tensors(), path)
    safe = save_model(tmp_path / "new.safetensors", _tensors(), CARD)
    monkeypatch.setattr(torch, "__version__", "2.9.0")
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load must not run"))

    with pytest.raises(ModelFileError, match=r"old\.pt: .*PyTorch 2\.10 or newer \(this is 2\.9\.0\)"):
        load_model(path)

    # safetensors never goes through torch.load, so it is unaffected.
    _assert_same(load_model(safe)[0], _tensors())


def test_other_suffixes_are_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")

    with pytest.raises(ModelFileError, match=r"notes\.txt: not a model file"):
        load_model(path)


# -- damaged safetensors ------------------------------------------------------------------------

F32_4 = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\x01\x02\x03", id="shorter-than-8-bytes"),
        pytest.param(b"", id="empty"),
        pytest.param(struct.pack("<Q", 2**60) + b"{}", id="huge-header-length"),
        pytest.param(struct.pack("<Q", 50) + b"{}", id="header-past-end"),
        pytest.param(struct.pack("<Q", 9) + b"not json!", id="header-not-json"),
        pytest.param(struct.pack("<Q", 4) + b"\xff\xfe{}", id="header-not-utf8"),
        pytest.param(_safetensors_bytes([1, 2], b""), id="header-a-json-list"),
        pytest.param(_safetensors_bytes({"a": F32_4}, bytes(8)), id="offsets-past-end"),
        pytest.param(
            _safetensors_bytes({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, bytes(16)),
            id="bytes-not-matching-shape",
        ),
        pytest.param(
            _safetensors_bytes({"a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 16]}}, bytes(16)),
            id="bytes-not-matching-dtype",
        ),
        pytest.param(
            _safetensors_bytes({"a": {"dtype": "F33", "shape": [4], "data_offsets": [0, 16]}}, bytes(16)),
            id="unknown-dtype",
        ),
        pytest.param(
            _safetensors_bytes({"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, bytes(16)),
            id="negative-shape",
        ),
        pytest.param(
            _safetensors_bytes({"a": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}}, bytes(16)),
            id="offsets-reversed",
        ),
        pytest.param(_safetensors_bytes({"a": F32_4, "b": F32_4}, bytes(16)), id="overlapping-tensors"),
        pytest.param(_safetensors_bytes({"a": F32_4}, bytes(20)), id="bytes-after-last-tensor"),
        pytest.param(_safetensors_bytes({"a": "F32"}, bytes(16)), id="entry-not-an-object"),
        pytest.param(_safetensors_bytes({"__metadata__": {"card": 3}}, b""), id="metadata-not-strings"),
    ],
)
def test_malformed_safetensors_is_corrupt(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)

    for reader in (validate_safetensors, load_model, inspect_model):
        with pytest.raises(ModelFileError, match=r"^bad\.safetensors: corrupt or incomplete file \(.+\)$"):
            reader(path)


def test_header_starting_with_pickle_byte_is_still_safetensors(tmp_path):
    # A 128-byte header's length begins with 0x80, the same byte a pickle begins with.
    raw = json.dumps({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode().ljust(0x280)
    path = tmp_path / "padded.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + struct.pack("<f", 2.5))
    assert path.read_bytes()[:2] == b"\x80\x02"

    tensors, card = load_model(path)

    assert tensors["a"].tolist() == [2.5]
    assert card == {}


def test_truncated_save_is_corrupt(tmp_path):
    path = save_model(tmp_path / "ink.safetensors", _tensors(), CARD)
    whole = path.read_bytes()

    for cut in (whole[:-3], whole[:20], whole[:7]):
        path.write_bytes(cut)
        with pytest.raises(ModelFileError, match=r"ink\.safetensors: corrupt or incomplete file"):
            load_model(path)


# -- a save that fails leaves the last good model -----------------------------------------------


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_keeps_the_previous_model(tmp_path, monkeypatch):
    path = save_model(tmp_path / "ink.safetensors", _tensors(1.0), {**CARD, "name": "v1"})
    monkeypatch.setattr(os, "replace", _disk_full)

    with pytest.raises(SaveError, match=r"ink\.safetensors: disk full"):
        save_model(path, _tensors(2.0), {**CARD, "name": "v2"})
    monkeypatch.undo()

    tensors, card = load_model(path)
    _assert_same(tensors, _tensors(1.0))
    assert card["name"] == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ink.json", "ink.safetensors"]


def test_failed_card_write_does_not_pair_new_tensors_with_old_card(tmp_path, monkeypatch):
    path = save_model(tmp_path / "ink.safetensors", _tensors(1.0), {**CARD, "name": "v1"})
    real_replace = os.replace

    def card_disk_full(src, dst):
        if str(dst).endswith(CARD_SUFFIX):
            _disk_full()
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", card_disk_full)

    with pytest.raises(SaveError, match=r"ink\.json: disk full"):
        save_model(path, _tensors(2.0), {**CARD, "name": "v2"})
    monkeypatch.undo()

    tensors, card = load_model(path)
    _assert_same(tensors, _tensors(2.0))
    assert card["name"] == "v2"


# -- inspecting and listing ---------------------------------------------------------------------


def test_inspect_describes_a_model_from_its_header(tmp_path):
    path = save_model(tmp_path / "ink.safetensors", _tensors(), CARD)

    info = inspect_model(path)

    assert info["format"] == "safetensors"
    assert info["tensors"] == 4
    assert info["parameters"] == 12 + 3 + 1 + 2
    assert info["dtypes"] == {"bool": 1, "float16": 1, "float32": 1, "int64": 1}
    assert info["size_bytes"] == path.stat().st_size
    assert info["card"]["name"] == "Ink VAE"
    text = format_inspection(info)
    assert "ink.safetensors" in text
    assert "Parameters: 18" in text
    assert '"licence": "CC-BY-4.0"' in text


def test_inspect_legacy_pt(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"w": torch.zeros(10, 100)}, path)

    info = inspect_model(path)

    assert (info["format"], info["tensors"], info["parameters"]) == ("legacy .pt", 1, 1000)
    assert "Parameters: 1,000" in format_inspection(info)


def test_list_models_finds_safetensors_only(tmp_path):
    first, second = tmp_path / "bundled", tmp_path / "library"
    for folder in (first, second, second / "nested"):
        folder.mkdir()
    for name in ("b.safetensors", "a.safetensors", "a.json", "c.pt"):
        (first / name).write_bytes(b"")
    (second / "z.safetensors").write_bytes(b"")
    (second / "z.ckpt.safetensors").write_bytes(b"")  # a training checkpoint, not a model
    (second / "nested" / "deep.safetensors").write_bytes(b"")

    found = list_models([first, second, tmp_path / "missing"])

    assert found == [first / "a.safetensors", first / "b.safetensors", second / "z.safetensors"]


def test_sha256_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(ModelFileError, match=r"gone\.safetensors: cannot be read"):
        model_sha256(tmp_path / "gone.safetensors")
