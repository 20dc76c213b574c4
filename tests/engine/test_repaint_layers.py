"""Per-layer w (LatentState.layers), what repainting a region changes on a GAN v2: it is drawn
after psi and after a style mix, survives slider moves and PNGs, is refused by models that cannot
draw it, and older states without it draw as they always did."""

import dataclasses

import numpy as np
import pytest
import torch

from studio.engine.jobs import run_to_end
from studio.engine.latent.interpolation import interpolate_path, interpolation_job
from studio.engine.latent.model import LatentModel
from studio.engine.latent.repaint import RepaintError, repaint_job
from studio.engine.latent.state import (
    MAX_LAYERS,
    LatentState,
    LatentStateError,
    restore_state_from_png,
    state_png_settings,
)
from studio.engine.models import VAE
from studio.files.images import pil_to_array, save_png
from studio.spec.models import VAEConfig
from studio.spec.png import LATENT_KEY
from tests.engine.test_style_mixing import tiny_style_generator


@pytest.fixture(scope="module")
def style_module():
    return tiny_style_generator(num_classes=0)


@pytest.fixture
def tiny(style_module, one_thread):
    return LatentModel(style_module, "gan", sha256="d" * 64, name="tiny style")


def _pixels(image) -> np.ndarray:
    return pil_to_array(image).astype(np.float32)


def _layered(model, seed=1, psi=0.7, scale=0.5):
    state = model.state(model.random_z(seed), psi=psi, seed=seed)
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((model.num_layers, model.latent_dim)).astype(np.float32) * scale
    rows[0] = 0.0  # an untouched layer
    return state, dataclasses.replace(state, layers=tuple(map(tuple, rows.astype(np.float64))))


def test_layer_offsets_are_added_to_each_layers_w_after_psi(tiny):
    state = tiny.state(tiny.random_z(2), psi=0.5)
    offset = np.random.default_rng(0).standard_normal(tiny.latent_dim).astype(np.float32)
    # The same offset on every layer is the same picture as moving w itself: z + offset / psi.
    every_layer = dataclasses.replace(state, layers=(tuple(offset.astype(np.float64)),) * tiny.num_layers)
    moved = tiny.state(state.z_array() + offset / np.float32(0.5), psi=0.5)
    assert np.abs(_pixels(tiny.render(every_layer)) - _pixels(tiny.render(moved))).max() <= 1
    # An offset on the 64 px layer only changes the picture, and differently from one on all layers.
    last = np.zeros((tiny.num_layers, tiny.latent_dim))
    last[-1] = offset * 3
    fine_only = dataclasses.replace(state, layers=tuple(map(tuple, last)))
    plain, fine = _pixels(tiny.render(state)), _pixels(tiny.render(fine_only))
    assert np.abs(fine - plain).mean() > 1.0
    assert np.abs(fine - _pixels(tiny.render(every_layer))).mean() > 1.0


def test_a_state_without_layers_draws_as_before_and_writes_no_layers(tiny):
    state = tiny.state(tiny.random_z(3), psi=0.8, seed=3)
    assert state.layers == () and state.layers_array() is None
    assert "layers" not in state.to_settings()[LATENT_KEY]
    # An older PNG's settings (no "layers" key) read back to the same state and picture.
    again = LatentState.from_settings(state.to_settings())
    assert again == state
    assert np.array_equal(_pixels(tiny.render(again)), _pixels(tiny.render(state.z_array(), None, 0.8)))


def test_a_layered_state_round_trips_through_a_png_and_draws_the_same_picture(tiny, tmp_path):
    _, layered = _layered(tiny)
    settings = state_png_settings(tiny, layered)
    written = settings[LATENT_KEY]["layers"]
    assert written[0] is None and len(written) == tiny.num_layers  # an untouched layer is written as null
    picture = tiny.render(layered)
    save_png(tmp_path / "layered.png", picture, settings)
    restored = restore_state_from_png(tmp_path / "layered.png")
    assert restored == layered and restored.layers[0] == (0.0,) * tiny.latent_dim
    assert np.array_equal(_pixels(tiny.render(restored)), _pixels(picture))


def test_sliders_psi_and_a_mix_keep_the_layers(tiny):
    state, layered = _layered(tiny)
    directions = tiny.directions()
    moved = tiny.state_with_coordinate(layered, 0, 1.5, directions)
    assert moved.layers == layered.layers and moved.z != layered.z
    # The slider still moves the picture, and the layered picture stays apart from the plain one.
    assert np.abs(_pixels(tiny.render(moved)) - _pixels(tiny.render(layered))).mean() > 0.5
    other = tiny.state(tiny.random_z(9), seed=9)
    mixed = tiny.mixed_state(layered, other, "a", "b", "b")
    assert mixed.layers == layered.layers
    plain_mix = tiny.mixed_state(state, other, "a", "b", "b")
    # The offsets ride on whichever point a layer takes its w from.
    expected = tiny.mixed_ws(plain_mix, plain_mix.mix) + torch.from_numpy(layered.layers_array())[None]
    assert torch.allclose(tiny.state_ws(mixed), expected)


def test_the_explorer_session_keeps_a_repainted_and_mixed_point_across_a_restart(tiny, tmp_path):
    from studio.ui.latent.session_store import SessionStore

    _, layered = _layered(tiny)
    mixed = tiny.mixed_state(layered, tiny.state(tiny.random_z(9), seed=9), "a", "b", "b")
    SessionStore(tmp_path / "explorer_session.json").save({mixed.model_sha256: mixed})
    assert SessionStore(tmp_path / "explorer_session.json").load() == {mixed.model_sha256: mixed}


def test_interpolating_blends_the_repainted_layers_and_keeps_the_ends(tiny):
    _, layered = _layered(tiny)
    other = tiny.state(tiny.random_z(5), psi=layered.psi, seed=5)
    frames = run_to_end(interpolation_job(tiny, [layered, other], 4, loop=False))
    assert len(frames) == 5
    assert np.array_equal(_pixels(frames[0]), _pixels(tiny.render(layered)))  # the repaint is not dropped
    assert np.array_equal(_pixels(frames[-1]), _pixels(tiny.render(other)))
    halfway = dataclasses.replace(
        layered, z=tuple(float(v) for v in interpolate_path([layered.z_array(), other.z_array()], 4, False)[2])
    )
    halfway = dataclasses.replace(halfway, layers=tuple(map(tuple, layered.layers_array().astype(np.float64) / 2)))
    assert np.abs(_pixels(frames[2]) - _pixels(tiny.render(halfway))).max() <= 1


def test_a_model_without_per_layer_w_refuses_a_layered_state_in_plain_words(tiny):
    torch.manual_seed(0)
    vae = LatentModel(VAE(VAEConfig(latent_dim=8, base_channels=4)), "vae", sha256="e" * 64, name="tiny vae")
    state = vae.state(vae.random_z(1))
    layered = dataclasses.replace(state, layers=((0.1,) * 8,) * 7)
    with pytest.raises(ValueError, match="changes per layer .a repainted region.*tiny vae is a VAE"):
        vae.render(layered)
    with pytest.raises(RepaintError, match="tiny vae is a VAE"):
        next(repaint_job(vae, layered, _mouth(vae.image_size)))
    wrong_count = dataclasses.replace(tiny.state(tiny.random_z(1)), layers=((0.0,) * 8,) * 3)
    with pytest.raises(ValueError, match="changes for 3 layers, but tiny style draws with 7"):
        tiny.render(wrong_count)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ({"0": [1.0]}, "the per-layer changes (layers) in the latent state are not a list of rows of numbers"),
        ([[1.0, 2.0]], "the per-layer change of layer 1 has 2 values; the latent vector has 3"),
        ([None, [1.0, "x", 2.0]], "the per-layer change of layer 2 holds something other than finite numbers"),
        ([[1.0, 1e400, 2.0]], "the per-layer change of layer 1 holds something other than finite numbers"),
        ([5], "the per-layer changes (layers) in the latent state are not a list of rows of numbers"),
        ([None] * (MAX_LAYERS + 1), f"per-layer changes for {MAX_LAYERS + 1} layers; at most {MAX_LAYERS}"),
    ],
)
def test_bad_layers_in_settings_are_refused_with_the_reason(layers, message):
    settings = LatentState("ab" * 32, "Tiny", (0.5, -1.0, 2.0)).to_settings()
    settings[LATENT_KEY]["layers"] = layers
    with pytest.raises(LatentStateError) as caught:
        LatentState.from_settings(settings)
    assert message in str(caught.value)


def _mouth(size=64):
    mask = np.zeros((size, size), np.float32)
    mask[int(0.6 * size) : int(0.85 * size), int(0.28 * size) : int(0.72 * size)] = 1.0
    return mask


def test_repainting_a_gan_v2_searches_the_layers_and_keeps_the_rest(tiny):
    # An untrained generator has no locality (every style moves the whole picture), so here the
    # search is checked for what it keeps; test_repaint.py checks the repaint on Emoji Faces.
    state = tiny.state(tiny.random_z(4), psi=0.9, seed=4)
    start = run_to_end(repaint_job(tiny, state, _mouth(), candidates=3, steps=1))
    result = run_to_end(repaint_job(tiny, state, _mouth(), candidates=3, steps=30))
    before = _pixels(tiny.render(state))
    inside = _mouth() >= 0.5
    sizes = tiny.module.layer_sizes()
    for candidate in result.candidates:
        # z, class and psi stay; the layers carry the repaint; the 4 px (layout) layers are untouched.
        assert candidate.state.z == state.z and candidate.state.psi == state.psi and candidate.state.seed is None
        assert len(candidate.state.layers) == tiny.num_layers
        assert all(not any(row) for row, size in zip(candidate.state.layers, sizes, strict=True) if size <= 4)
        assert any(any(row) for row in candidate.state.layers)
        picture = _pixels(tiny.render(candidate.state))
        masked = np.abs(picture - before).mean(axis=2)[inside].mean()
        assert candidate.masked_change * 255 == pytest.approx(masked, abs=0.01)  # the figure is the picture's
    # The starts (other seeds' styles) changed the kept part; the search brought it back.
    assert result.candidates[0].unmasked_change < 0.3 * start.candidates[0].unmasked_change
    assert result.candidates[0].unmasked_change * 255 <= 4.0


def test_repainting_a_repainted_state_keeps_its_earlier_layers(tiny):
    _, layered = _layered(tiny, scale=0.2)
    result = run_to_end(repaint_job(tiny, layered, _mouth(), candidates=1, steps=2))
    candidate = result.candidates[0].state
    sizes = tiny.module.layer_sizes()
    for row, old, size in zip(candidate.layers, layered.layers, sizes, strict=True):
        if size <= 4:  # a tied layer keeps exactly what the picture had
            assert row == old


def test_studio_repaint_on_emoji_faces_writes_layered_candidates_that_reopen(tmp_path, capsys, one_thread):
    from pathlib import Path

    from PIL import Image

    from studio.cli import main

    model_file = Path(__file__).resolve().parents[2] / "resources" / "models" / "emoji-faces.safetensors"
    Image.fromarray((_mouth() * 255).astype(np.uint8), "L").save(tmp_path / "mouth.png")
    args = ["repaint", "--model", str(model_file), "--seed", "1", "--mask", str(tmp_path / "mouth.png")]
    code = main([*args, "--candidates", "2", "--steps", "3", "-o", str(tmp_path / "out.png")])
    assert code == 0, capsys.readouterr().err
    assert "masked part by" in capsys.readouterr().out
    faces = LatentModel.load(model_file)
    for number in (1, 2):
        state = restore_state_from_png(tmp_path / f"out-{number}.png")
        assert len(state.layers) == faces.num_layers and state.z == tuple(faces.state(faces.random_z(1)).z)
        saved = np.asarray(Image.open(tmp_path / f"out-{number}.png").convert("RGB"))
        assert np.array_equal(saved, np.asarray(faces.render(state)))


def test_interpolating_bookmarks_repainted_by_different_models_says_why_not(tiny):
    from studio.engine.latent.interpolation import frame_layers

    _, layered = _layered(tiny)
    fewer = dataclasses.replace(layered, layers=layered.layers[:-1])
    with pytest.raises(ValueError, match="different numbers of layers"):
        frame_layers([layered, fewer], 5, 4, loop=False)


def test_another_seeds_picture_keeps_the_mix_and_drops_the_repaint_and_names(tiny):
    _, layered = _layered(tiny)
    mixed = tiny.mixed_state(layered, tiny.state(tiny.random_z(9), seed=9), "a", "b", "b")
    named = dataclasses.replace(mixed, named=(("smile", 1.0),))
    other = named.reseeded(tuple(tiny.random_z(4)), 4)
    assert other.mix == mixed.mix and other.layers == () and other.named == () and other.seed == 4
    assert named.plain() == tiny.state(layered.z_array(), psi=layered.psi, seed=layered.seed)
