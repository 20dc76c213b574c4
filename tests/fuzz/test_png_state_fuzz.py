"""Both PNG state restorers (the explorer's latent state, the Style panel's settings) on any JSON:
a clear error (or "no state here"), or a state the studio can use."""

from __future__ import annotations

import copy
import json
import logging
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from studio.engine.latent.mixing import StyleMix
from studio.engine.latent.state import LatentState, LatentStateError, restore_state_from_png
from studio.files.images import ImageLoadError, load_image, read_png_settings
from studio.spec.bounds import MAX_SEED
from studio.spec.png import LATENT_KEY, SETTINGS_KEY, STYLE_KEY
from studio.spec.style_settings import (
    BALANCED,
    StyleSettings,
    StyleSettingsError,
    instant_from_png,
    instant_png_settings,
    settings_from_png,
)
from tests.fuzz.mutations import deeply_nested, json_values, mutated
from tests.fuzz.profile import fuzz_examples

pytestmark = pytest.mark.fuzz

VALID_LATENT = LatentState("ab" * 32, "Tiny", (0.5, -1.0, 2.0), class_index=1, psi=0.7, seed=42).to_settings()
# A style mix (GAN v2): the second point and which point each layer group takes its w from.
VALID_MIXED = LatentState(
    "ab" * 32, "Tiny", (0.5, -1.0, 2.0), psi=0.7, mix=StyleMix((1.0, 0.25, -2.0), 1, 0.5, 7, "a", "b", "a")
).to_settings()
# A repainted region (GAN v2): per-layer w offsets, an untouched layer written as null.
VALID_LAYERED = LatentState(
    "ab" * 32, "Tiny", (0.5, -1.0, 2.0), psi=0.7, layers=((0.0, 0.0, 0.0), (0.25, -0.5, 1.5), (1.0, 2.0, -3.0))
).to_settings()
VALID_STYLE = {STYLE_KEY: {**BALANCED.to_dict(), "styles": ["a.png", "b.png"], "style_weights": [1.0, 0.5]}}
VALID_INSTANT = instant_png_settings(strength=0.8, weights=[1.0], style_names=["Waves"], content_name="me.png")


@st.composite
def edited(draw: st.DrawFn, valid: dict) -> dict:
    """``valid`` with a few values anywhere in it replaced by any JSON (or removed)."""
    value = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 4))):
        node, path = value, []
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node, key=str) if isinstance(node, dict) else range(len(node))))
            path.append(key)
            parent, node = node, node[key]
        if not path:
            continue
        if draw(st.integers(0, 5)) == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values(10))
    return value


def _check_latent(settings) -> None:
    try:
        state = LatentState.from_settings(settings)
    except LatentStateError as exc:
        assert "\n" not in str(exc)
        return
    # A state the explorer can show: its numbers are finite. Its seed may be above the seed box
    # (older `studio sample` PNGs carry such seeds with their exact z): the explorer's own
    # restore (_state_in, checked in _check_png) drops it with a note.
    assert state.seed is None or state.seed >= 0, state.seed
    assert state.class_index is None or state.class_index >= 0
    assert math.isfinite(state.psi) and all(math.isfinite(v) for v in state.z)
    if state.mix is not None:
        assert len(state.mix.z) == len(state.z) and all(math.isfinite(v) for v in state.mix.z)
        assert math.isfinite(state.mix.psi) and {state.mix.coarse, state.mix.middle, state.mix.fine} <= {"a", "b"}
        assert state.mix.seed is None or state.mix.seed >= 0
        assert state.mix.class_index is None or state.mix.class_index >= 0
    for row in state.layers:
        assert len(row) == len(state.z) and all(math.isfinite(v) for v in row)
    json.dumps(state.to_settings(), allow_nan=False)  # and it can be saved again
    assert LatentState.from_settings(state.to_settings()) == state


def _check_style(png) -> None:
    try:
        restored = settings_from_png(png)
    except StyleSettingsError as exc:
        assert "\n" not in str(exc)
        restored = None
    if restored is not None:
        assert isinstance(restored, StyleSettings)
        assert StyleSettings.from_dict(restored.to_dict()) == restored  # a settings object the panel can save again
    instant = instant_from_png(png)
    assert instant is None or isinstance(instant, dict)


@fuzz_examples(60)
@given(settings=json_values(30))
def test_any_json_into_the_latent_restorer(settings):
    _check_latent(settings)
    _check_latent({LATENT_KEY: settings})


@fuzz_examples(80)
@given(settings=edited(VALID_LATENT))
def test_edited_latent_states(settings):
    _check_latent(settings)


@fuzz_examples(80)
@given(settings=edited(VALID_MIXED))
def test_edited_mixed_latent_states(settings):
    _check_latent(settings)


@fuzz_examples(80)
@given(settings=edited(VALID_LAYERED))
def test_edited_layered_latent_states(settings):
    _check_latent(settings)


@fuzz_examples(60)
@given(png=json_values(30))
def test_any_json_into_the_style_restorer(png):
    _check_style(png)
    _check_style({STYLE_KEY: png})
    _check_style({STYLE_KEY: {"instant": png}})


@fuzz_examples(80)
@given(png=edited(VALID_STYLE) | edited(VALID_INSTANT))
def test_edited_style_settings(png):
    _check_style(png)


# --- through a real PNG file: the text chunk, then the GUI's open path ---------------------------------


def _png_with_text(path, text: str | bytes) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt(SETTINGS_KEY, text if isinstance(text, str) else text.decode("utf-8", "replace"), zip=True)
    Image.new("RGB", (4, 3), (10, 20, 30)).save(path, "PNG", pnginfo=info)


@pytest.fixture(scope="module")
def style_run():
    """The Style panel's run, as the GUI's open path uses it (no worker: nothing is painted)."""
    from PySide6.QtWidgets import QApplication

    from studio.ui.style.style_run import StyleRun

    _app = QApplication.instance() or QApplication([])
    return StyleRun(None, instant=False)


def _check_png(folder, text, style_run) -> None:
    path = folder / "restored.png"
    _png_with_text(path, text)
    before = path.read_bytes()
    settings = read_png_settings(path)
    assert settings is None or isinstance(settings, dict)
    try:
        state = restore_state_from_png(path)
    except (LatentStateError, ImageLoadError) as exc:
        assert "restored.png" in str(exc) and "\n" not in str(exc)
    else:
        assert state.seed is None or state.seed >= 0
    loaded = load_image(path)
    outcome = style_run.restore(loaded)
    assert outcome is None or outcome.image.size == (4, 3)
    from studio.ui.latent.explorer_controller import _state_in

    shown, note = _state_in(loaded)
    assert shown is None or shown.seed is None or 0 <= shown.seed <= MAX_SEED
    assert note is None or ("restored.png" in note and "\n" not in note)
    assert path.read_bytes() == before


@fuzz_examples(30)
@given(
    settings=edited(VALID_LATENT)
    | edited(VALID_LAYERED)
    | edited(VALID_STYLE)
    | edited(VALID_INSTANT)
    | json_values(20),
    damage=st.booleans(),
    data=st.data(),
)
def test_states_in_png_files(tmp_path_factory, style_run, settings, damage, data, caplog):
    caplog.set_level(logging.ERROR)
    text = json.dumps(settings)
    if damage:
        text = data.draw(mutated(text.encode("utf-8")), label="damaged JSON text")
    _check_png(tmp_path_factory.mktemp("png"), text, style_run)


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deeply_nested_states(tmp_path, style_run, depth):
    nested = json.loads(deeply_nested(50))
    _check_latent({LATENT_KEY: {**VALID_LATENT[LATENT_KEY], "z": nested}})
    _check_style({STYLE_KEY: {**VALID_STYLE[STYLE_KEY], "styles": nested}})
    _check_png(tmp_path, '{"latent": ' + deeply_nested(depth) + "}", style_run)


def test_a_seed_one_past_the_seed_box(tmp_path, style_run):
    """Pinned from the long profile: a latent state whose seed is 2147483648 (an older
    ``studio sample`` PNG) is a usable state; the explorer opens its point without the seed."""
    settings = {LATENT_KEY: {**VALID_LATENT[LATENT_KEY], "seed": MAX_SEED + 1}}
    _check_latent(settings)
    assert LatentState.from_settings(settings).seed == MAX_SEED + 1
    _check_png(tmp_path, json.dumps(settings), style_run)
    from studio.ui.latent.explorer_controller import _state_in

    shown, note = _state_in(load_image(tmp_path / "restored.png"))
    assert shown is not None and shown.seed is None and shown.z == (0.5, -1.0, 2.0)
    assert note == (
        "restored.png: the seed must be 0 to 2147483647, got 2147483648; its exact point is shown, without a seed."
    )
