"""Damaged safetensors files and model cards: a ModelFileError naming the file, or a usable model."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.engine.checkpoints import ModelFileError, inspect_model, load_model, validate_safetensors
from tests.fuzz.limits import bounded
from tests.fuzz.mutations import deeply_nested, json_values, mutated
from tests.fuzz.profile import fuzz_examples

pytestmark = pytest.mark.fuzz

NAME = "tiny.safetensors"
CARD = "tiny.json"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 4-dimensional VAE's file and card, as the studio writes them."""
    import torch

    from studio.engine.models.store import save_generative_model
    from studio.engine.models.vae import VAE
    from studio.spec.models import VAEConfig

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    path = save_generative_model(
        folder / NAME, VAE(VAEConfig(image_size=64, latent_dim=4, base_channels=2)), {"name": "Tiny"}
    )
    return _Files(path.read_bytes(), path.with_suffix(".json").read_bytes())


class _Files(tuple):
    """(model bytes, card bytes), shown short in Hypothesis's falsifying examples."""

    def __new__(cls, model: bytes, card: bytes):
        return super().__new__(cls, (model, card))

    def __repr__(self) -> str:
        return "<tiny VAE file and card>"


def _split(data: bytes) -> tuple[dict, bytes]:
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def _join(header: dict | str, body: bytes, length_delta: int = 0) -> bytes:
    raw = (header if isinstance(header, str) else json.dumps(header)).encode("utf-8")
    return struct.pack("<Q", max(len(raw) + length_delta, 0)) + raw + body


def _one_line_naming(exc: Exception, *names: str) -> None:
    message = str(exc)
    assert "\n" not in message and any(name in message for name in names), message


def _check_file(folder, data: bytes, card: bytes | None = None) -> None:
    path = folder / NAME
    path.write_bytes(data)
    if card is not None:
        (folder / CARD).write_bytes(card)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for read in (validate_safetensors, load_model, inspect_model):
        try:
            result = read(path)
        except ModelFileError as exc:
            _one_line_naming(exc, NAME, CARD)
        else:
            assert isinstance(result, (dict, tuple))
    from studio.engine.latent.model import LatentModel

    try:
        with bounded(60):  # a card's absurd sizes must not swap or hang the machine running the tests
            model = LatentModel.load(path)
    except ModelFileError as exc:
        _one_line_naming(exc, NAME, CARD)
    else:
        assert model.latent_dim >= 1
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # reading writes nothing


def test_the_tiny_model_loads(tiny_model, tmp_path):
    _check_file(tmp_path, *tiny_model)
    from studio.engine.latent.model import LatentModel

    assert LatentModel.load(tmp_path / NAME).latent_dim == 4


@fuzz_examples(40)
@given(data=st.data())
def test_damaged_model_bytes(tiny_model, tmp_path_factory, data):
    model, card = tiny_model
    with_card = data.draw(st.booleans(), label="sidecar card")
    damaged = data.draw(mutated(model), label="model bytes")
    _check_file(tmp_path_factory.mktemp("m"), damaged, card if with_card else None)


_ENTRY_KEYS = ("dtype", "shape", "data_offsets")
_WEIRD = st.sampled_from(
    [None, -1, 0, 2**63, 2**64, 10**20, 1.5, "F32", "BOOL", "C64", "X", [], {}, [1, 2, 3], [-1, 4]]
)


@fuzz_examples(40)
@given(data=st.data())
def test_damaged_model_headers(tiny_model, tmp_path_factory, data):
    model, _ = tiny_model
    header, body = _split(model)
    names = sorted(header)
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        name = data.draw(st.sampled_from(names), label="entry")
        if name == "__metadata__":
            key = data.draw(st.sampled_from(["card", "format", "other"]), label="metadata key")
            header[name][key] = data.draw(json_values(8) | _WEIRD, label="metadata value")
        else:
            key = data.draw(st.sampled_from(_ENTRY_KEYS), label="field")
            header[name][key] = data.draw(json_values(6) | _WEIRD, label="value")
    delta = data.draw(st.sampled_from([0, 0, 0, -1, 1, 7, -100, 10**6]), label="length delta")
    _check_file(tmp_path_factory.mktemp("h"), _join(header, body, delta))


# Pinned from the long profile: a JSON list or map where a tensor's dtype belongs used to be
# looked up in the dtype table and raised "TypeError: unhashable type: 'list'".
@pytest.mark.parametrize("key", _ENTRY_KEYS)
@pytest.mark.parametrize("value", [[], {}, [1, 2, 3], {"F32": 4}, None, "F32\n"], ids=repr)
def test_a_header_field_of_the_wrong_json_type(tiny_model, tmp_path, key, value):
    model, _ = tiny_model
    header, body = _split(model)
    name = next(name for name in sorted(header) if name != "__metadata__")
    header[name][key] = value
    _check_file(tmp_path, _join(header, body))
    with pytest.raises(ModelFileError, match=NAME):
        validate_safetensors(tmp_path / NAME)


_CARD_FIELDS = ("architecture", "config", "name", "class_names", "data", "showcase", "prior", "format")
_CONFIG_FIELDS = ("image_size", "channels", "latent_dim", "base_channels", "beta", "prior_components", "num_classes")
# Sizes that fail fast or fit in a moment; the absurd middle (10**6..10**9) is the bounds table's
# job (LATENT_DIM, CHANNELS...), tested where those bounds are enforced.
_CARD_NUMBERS = st.sampled_from([-1, 0, 1, 2, 3, 5, 16, 32, 64, 4097, 10**15, 2**63, 0.5, -0.0, True, "4", None])


@fuzz_examples(40)
@given(data=st.data())
def test_damaged_model_cards(tiny_model, tmp_path_factory, data):
    model, card_bytes = tiny_model
    card = json.loads(card_bytes)
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        if data.draw(st.booleans(), label="config field?"):
            if not isinstance(card.get("config"), dict):
                card["config"] = {}
            card["config"][data.draw(st.sampled_from(_CONFIG_FIELDS))] = data.draw(_CARD_NUMBERS | json_values(4))
        else:
            card[data.draw(st.sampled_from(_CARD_FIELDS))] = data.draw(
                json_values(10) | st.sampled_from(["vae", "gan-generator", ["vae"], {"vae": 1}])
            )
    text = json.dumps(card)
    if data.draw(st.booleans(), label="mutate the text too"):
        text_bytes = data.draw(mutated(text.encode("utf-8")), label="card bytes")
    else:
        text_bytes = text.encode("utf-8")
    _check_file(tmp_path_factory.mktemp("c"), model, text_bytes)


@pytest.mark.parametrize("depth", [10, 100_000])
def test_deeply_nested_header_and_card(tiny_model, tmp_path, depth):
    model, _ = tiny_model
    header, body = _split(model)
    nested = tmp_path / "header"
    nested.mkdir()
    header["__metadata__"]["card"] = deeply_nested(depth)
    _check_file(nested, _join(header, body))
    card = tmp_path / "card"
    card.mkdir()
    _check_file(card, model, ('{"architecture": "vae", "x": ' + deeply_nested(depth) + "}").encode())
    whole = tmp_path / "whole"
    whole.mkdir()
    _check_file(whole, _join(deeply_nested(depth), b""))
