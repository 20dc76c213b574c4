"""GAN v2: the mapping network and per-layer w, the discriminator's decoder, LeCam, the
conditioning ramp, its model files, and the explorer working in w."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.engine.latent.model import LatentModel
from studio.engine.models import load_generative_model, save_generative_model
from studio.engine.models.gan import build_gan
from studio.engine.models.losses import lecam_regulariser
from studio.engine.models.stylegan import RECONSTRUCTED_SIZE, ResidualDiscriminator, StyleGenerator
from studio.engine.training.config import TrainingError, default_config
from studio.spec.models import GANConfig

CLASSES = ["cats", "dogs", "birds"]


pytestmark = pytest.mark.usefixtures("one_thread")


def v2(**overrides) -> GANConfig:
    return GANConfig(
        **{
            "latent_dim": 16,
            "g_channels": 32,
            "d_channels": 8,
            "architecture": "style",
            "w_dim": 16,
            "mapping_layers": 2,
            **overrides,
        }
    )


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("num_classes", [0, 3])
def test_v2_shapes_and_per_layer_w(size, num_classes):
    torch.manual_seed(0)
    g, d = build_gan(v2(image_size=size, num_classes=num_classes))
    g.eval()  # spectral norm takes no power-iteration step between the two passes compared
    assert isinstance(g, StyleGenerator) and isinstance(d, ResidualDiscriminator)
    z = torch.randn(2, 16)
    labels = torch.tensor([0, 2]) if num_classes else None
    w = g.mapping(z, labels)
    assert w.shape == (2, 16)
    sizes = g.layer_sizes()
    assert len(sizes) == g.num_ws and sizes[0] == 4 and sizes[-1] == size
    image = g.synthesis(w[:, None, :].expand(-1, g.num_ws, -1))
    assert image.shape == (2, 3, size, size) and image.abs().max() <= 1
    torch.testing.assert_close(g(z, labels), image)
    logits, redrawn = d(image, labels, reconstruct=1)
    assert logits.shape == (2,) and redrawn.shape == (1, 3, RECONSTRUCTED_SIZE, RECONSTRUCTED_SIZE)
    assert d(image, labels).shape == (2,)


def test_each_layer_follows_its_own_w_so_styles_can_be_mixed():
    torch.manual_seed(0)
    g = StyleGenerator(v2()).eval()
    w_a, w_b = g.mapping(torch.randn(2, 16)).chunk(2)
    ws = w_a[:, None, :].repeat(1, g.num_ws, 1)
    mixed = ws.clone()
    mixed[:, -1] = w_b  # only the finest layer takes the other point's w
    a, b, m = g.synthesis(ws), g.synthesis(w_b), g.synthesis(mixed)
    assert not torch.allclose(m, a)
    # A change at the 64 px layer moves the picture less than swapping every layer.
    assert (m - a).abs().mean() < (b - a).abs().mean()
    with pytest.raises(ValueError, match="w vectors per image"):
        g.synthesis(ws[:, :2])


def test_the_generator_stays_within_the_slider_budget():
    from torch.utils.flop_counter import FlopCounterMode

    g = StyleGenerator(GANConfig(architecture="style", g_spectral_norm=False)).eval()  # as loaded: folded
    with FlopCounterMode(display=False) as counter:
        g(torch.randn(1, 128))
    assert counter.get_total_flops() / 2 < 0.12e9  # multiply-accumulates per 64 px image


def test_at_zero_strength_the_class_changes_nothing_and_at_one_it_does():
    torch.manual_seed(0)
    g, d = build_gan(v2(num_classes=3))
    g.eval(), d.eval()
    with torch.no_grad():
        g.mapping_network.class_embedding.weight.normal_()
    z = torch.randn(1, 16).repeat(2, 1)
    labels = torch.tensor([0, 1])
    off = g(z, labels, cond_strength=0.0)
    torch.testing.assert_close(off[0], off[1])
    on = g(z, labels, cond_strength=1.0)
    assert not torch.allclose(on[0], on[1])
    x = torch.rand(1, 3, 64, 64).repeat(2, 1, 1, 1)
    torch.testing.assert_close(*d(x, labels, cond_strength=0.0).chunk(2))


def test_the_conditioning_ramp_rises_from_zero_to_one():
    config = default_config("gan", v2(num_classes=3), steps=1000)
    assert config.cond_ramp == (200, 500)  # a fifth and half of the run
    assert config.cond_strength(0) == 0.0 and config.cond_strength(200) == 0.0
    assert config.cond_strength(350) == pytest.approx(0.5)
    assert config.cond_strength(500) == 1.0 and config.cond_strength(999) == 1.0
    assert default_config("gan", v2(num_classes=0), steps=1000).cond_ramp is None
    with pytest.raises(TrainingError, match="start <= end"):
        config.replace(cond_ramp=(10, 5))
    with pytest.raises(TrainingError, match="conditional GAN v2"):
        default_config("gan", GANConfig(num_classes=3), cond_ramp=(1, 2))


def test_v2_defaults_turn_on_diffaugment_and_lecam():
    config = default_config("gan", v2())
    assert config.diffaugment == ("color", "translation", "cutout") and config.lecam > 0
    assert default_config("gan", GANConfig()).lecam == 0.0


def test_lecam_is_zero_inside_the_anchors_and_grows_with_the_gap():
    anchors = torch.tensor([1.0, -1.0])  # D's averages on real and on generated images
    inside = lecam_regulariser(torch.tensor([-1.0, -2.0]), torch.tensor([1.0, 2.0]), anchors)
    assert inside == 0.0
    small = lecam_regulariser(torch.tensor([0.0]), torch.tensor([0.0]), anchors)
    large = lecam_regulariser(torch.tensor([3.0]), torch.tensor([-3.0]), anchors)
    assert 0 < small < large
    assert large == pytest.approx((3 - -1) ** 2 + (1 - -3) ** 2)


def test_a_v2_model_file_round_trips_exactly_and_v1_files_still_load(tmp_path):
    torch.manual_seed(0)
    g = StyleGenerator(v2(num_classes=3)).eval()
    z, labels = torch.randn(2, 16), torch.tensor([0, 2])
    expected = g(z, labels)
    path = save_generative_model(tmp_path / "v2.safetensors", g, {"name": "v2", "class_names": CLASSES})
    loaded = load_generative_model(path)
    assert isinstance(loaded.model, StyleGenerator) and loaded.config.style_based
    torch.testing.assert_close(loaded.model(z, labels), expected)
    # A v1 file, as the studio wrote it before v2: its card's config has no architecture fields.
    from studio.engine.checkpoints import load_model, save_model
    from studio.engine.models import Generator

    v1_path = save_generative_model(tmp_path / "v1.safetensors", Generator(GANConfig(latent_dim=16, g_channels=32)), {})
    tensors, card = load_model(v1_path)
    for key in ("architecture", "w_dim", "mapping_layers"):
        del card["config"][key]
    save_model(v1_path, tensors, card)
    v1 = load_generative_model(v1_path)
    assert isinstance(v1.model, Generator) and v1.config.architecture == "dcgan"


@pytest.fixture
def explorer_model():
    torch.manual_seed(0)
    g = StyleGenerator(v2(num_classes=3)).eval()
    with torch.no_grad():
        g.mapping_network.class_embedding.weight.normal_()
    return LatentModel(g, "gan", sha256="c" * 64, name="tiny v2", class_names=CLASSES)


def test_the_explorer_moves_in_w_and_psi_truncates_toward_the_class_mean(explorer_model):
    model = explorer_model
    assert model.latent_dim == 16 and model.style_based
    cat, dog = model.random_z(7, 0), model.random_z(7, 1)
    assert not np.allclose(cat, dog)  # a seed is a point of its class
    assert np.array_equal(cat, model.random_z(7, 0))
    mean_cat = np.asarray(model.render(np.zeros(16, np.float32), 0))
    truncated = np.asarray(model.render(cat, 0, psi=0.0))
    assert np.array_equal(mean_cat, truncated)
    assert not np.array_equal(np.asarray(model.render(cat, 0)), truncated)


@pytest.mark.parametrize("method", ["ganspace", "sefa"])
def test_w_sliders_move_their_own_coordinate_in_units_of_the_spread(explorer_model, method):
    model = explorer_model
    directions = model.directions(method)
    assert directions.method == method
    assert model.directions().method == "ganspace"  # PCA of w is the default for v2
    w = model.random_z(3, 1)
    before = model.coordinates(w, directions)
    moved = model.with_coordinate(w, 1, 2.0, directions)
    after = model.coordinates(moved, directions)
    assert after[1] == pytest.approx(2.0, abs=1e-4)
    np.testing.assert_allclose(np.delete(after, 1), np.delete(before, 1), atol=1e-4)
    # Sampled points mostly lie within the sliders' +-3 range.
    rng = np.random.default_rng(0)
    coords = np.stack([model.coordinates(v, directions) for v in model.sample_latents(rng, 200, [0] * 200)])
    assert np.mean(np.abs(coords[:, 0]) < 3) > 0.9


def test_the_studio_opens_on_the_best_scoring_bundled_model_at_its_showcase_seed(tmp_path, monkeypatch):
    from studio.cli import main
    from studio.engine.environment import installed_models
    from studio.engine.latent.model import LatentModel
    from studio.ui.latent.explorer_work import initial_state as _initial_state

    bundled = tmp_path / "bundled"
    monkeypatch.setattr("studio.engine.environment.bundled_models_dir", lambda: bundled)
    torch.manual_seed(0)
    for name, precision in (("a-plain", 0.2), ("b-best", 0.7), ("c-unmeasured", None)):
        card = {"name": name, "class_names": CLASSES}
        if precision is not None:
            card["evaluation"] = {"train": {"vgg19": {"precision": precision}}}
        save_generative_model(bundled / f"{name}.safetensors", StyleGenerator(v2(num_classes=3)).eval(), card)
    models = installed_models()
    assert [m.name for m in models if m.featured] == ["b-best"]
    best = bundled / "b-best.safetensors"
    assert main(["model", "showcase", str(best), "--seed", "42", "--class", "dogs"]) == 0
    with pytest.raises(SystemExit) as refused:  # the seed is refused as the arguments are read
        main(["model", "showcase", str(best), "--seed", "-1"])
    assert refused.value.code == 2
    model = LatentModel.load(best)
    state = _initial_state(model)
    assert state.seed == 42 and state.class_index == 1
    np.testing.assert_array_equal(state.z_array(), model.random_z(42, 1))
    assert [m.name for m in installed_models() if m.featured] == ["b-best"]  # the card keeps its measures
