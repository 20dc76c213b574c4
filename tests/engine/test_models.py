"""The generative models: shapes, losses, a few training steps, and model files that round-trip exactly.

Tiny configs keep every test to a fraction of a second on a 2-core CPU.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.nn.utils import parametrize

from studio.engine.checkpoints import ModelFileError, card_path, load_model
from studio.engine.models import (
    VAE,
    Discriminator,
    Generator,
    add_spectral_norm,
    build_gan,
    discriminator_loss,
    ema_update,
    generator_loss,
    gradient_penalty,
    load_generative_model,
    save_generative_model,
    truncate,
)
from studio.engine.models.layers import SelfAttention
from studio.spec.models import LOSSES, GANConfig, VAEConfig


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models on shared cores: a second torch thread only waits for the first (10x slower under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_gan(**overrides) -> GANConfig:
    return GANConfig(**{"latent_dim": 16, "g_channels": 32, "d_channels": 8, **overrides})


def tiny_vae(**overrides) -> VAEConfig:
    return VAEConfig(**{"latent_dim": 8, "base_channels": 8, **overrides})


def images(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def exercise(model: torch.nn.Module, steps: int, make_input) -> None:
    """Training-mode passes, so batch-norm statistics and spectral norm's vectors leave their initial values."""
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(*make_input())


# --- VAE -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 128])
def test_vae_shapes(size):
    vae = VAE(tiny_vae(image_size=size))
    x = images(2, size)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (2, 8)
    z = vae.reparameterize(mu, logvar)
    assert vae.decode(z).shape == x.shape
    recon, _, _ = vae(x)
    assert recon.shape == x.shape and recon.abs().max() <= 1
    losses = vae.loss(x)
    assert set(losses) == {"total", "recon", "kl"}
    assert all(value.dim() == 0 and torch.isfinite(value) for value in losses.values())
    per_dim = vae.kl_per_dim(mu, logvar)
    assert per_dim.shape == (8,) and (per_dim >= 0).all()


def test_vae_kl_is_the_sum_of_kl_per_dim_and_beta_weights_it():
    torch.manual_seed(0)
    x = images(4)
    vae = VAE(tiny_vae(beta=4.0)).eval()
    losses = vae.loss(x)
    mu, logvar = vae.encode(x)
    torch.testing.assert_close(vae.kl_per_dim(mu, logvar).sum(), losses["kl"])
    torch.testing.assert_close(losses["total"], losses["recon"] + 4.0 * losses["kl"])


def test_vae_sampling_is_seeded_and_eval_reconstruction_is_repeatable():
    vae = VAE(tiny_vae()).eval()
    mu, logvar = torch.zeros(3, 8), torch.zeros(3, 8)
    first = vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(5))
    again = vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, again)
    x = images(2)
    assert torch.equal(vae(x)[0], vae(x)[0])


def test_a_few_adam_steps_lower_the_vae_loss():
    torch.manual_seed(0)
    vae = VAE(tiny_vae())
    batch = images(8)
    optimizer = torch.optim.Adam(vae.parameters(), lr=2e-3)
    before = vae.loss(batch)["total"].item()
    for _ in range(15):
        optimizer.zero_grad()
        vae.loss(batch)["total"].backward()
        optimizer.step()
    after = vae.loss(batch)["total"].item()
    assert after < 0.8 * before


@pytest.mark.parametrize("bad", [{"image_size": 32}, {"latent_dim": 0}, {"beta": -1.0}, {"base_channels": "8"}])
def test_vae_config_refuses_bad_values(bad):
    with pytest.raises(ValueError):
        VAEConfig(**bad)


# --- GAN -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("num_classes", [0, 3])
@pytest.mark.parametrize("attention_res", [None, 16, 32])
def test_gan_shapes(size, num_classes, attention_res):
    config = tiny_gan(image_size=size, num_classes=num_classes, attention_res=attention_res)
    generator, discriminator = build_gan(config)
    z = torch.randn(2, 16)
    labels = torch.tensor([0, 2]) if num_classes else None
    fake = generator(z, labels)
    assert fake.shape == (2, 3, size, size)
    assert fake.abs().max() <= 1
    assert discriminator(fake, labels).shape == (2,)
    has_attention = [any(isinstance(m, SelfAttention) for m in net.modules()) for net in (generator, discriminator)]
    assert has_attention == [attention_res is not None] * 2


def test_generator_exposes_early_features_and_the_sefa_weight():
    generator = Generator(tiny_gan()).eval()
    z = torch.randn(3, 16)
    assert generator.early_features(z).shape == (3, 32, 4, 4)
    weight = generator.sefa_weight()
    assert weight.shape == (32 * 16, 16)
    # It is the matrix the first layer really applies to z, spectral norm included.
    torch.testing.assert_close(generator.first_layer(z), z @ weight.T)


def test_sefa_weight_does_not_step_spectral_norm_during_training():
    generator = Generator(tiny_gan()).train()
    u = generator.first_layer.parametrizations.weight[0]._u.clone()
    generator.sefa_weight()
    assert torch.equal(generator.first_layer.parametrizations.weight[0]._u, u)


def test_generator_spectral_norm_is_optional():
    with_sn = Generator(tiny_gan())
    without = Generator(tiny_gan(g_spectral_norm=False))
    assert parametrize.is_parametrized(with_sn.first_layer)
    assert not any(parametrize.is_parametrized(m) for m in without.modules())
    discriminator = Discriminator(tiny_gan(num_classes=3))
    weighted = (torch.nn.Conv2d, torch.nn.Linear, torch.nn.Embedding)
    layers = [m for m in discriminator.modules() if isinstance(m, weighted)]
    assert layers and all(parametrize.is_parametrized(m) for m in layers)


def test_labels_that_do_not_fit_the_model_are_refused_clearly():
    conditional = Generator(tiny_gan(num_classes=3))
    unconditional = Generator(tiny_gan())
    z = torch.randn(2, 16)
    with pytest.raises(ValueError, match="conditional on 3 classes"):
        conditional(z)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        conditional(z, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="unconditional"):
        unconditional(z, torch.tensor([0, 1]))


@pytest.mark.parametrize(
    "bad", [{"image_size": 256}, {"attention_res": 8}, {"loss": "wasserstein"}, {"num_classes": -1}, {"g_channels": 0}]
)
def test_gan_config_refuses_bad_values(bad):
    with pytest.raises(ValueError):
        tiny_gan(**bad)


def test_truncation_pulls_z_toward_the_mean():
    z = torch.randn(4, 16)
    assert torch.equal(truncate(z, 1.0), z)
    assert torch.equal(truncate(z, 0.0), torch.zeros_like(z))
    torch.testing.assert_close(truncate(z, 0.5).norm(), z.norm() / 2)


def test_a_few_gan_steps_change_the_images_and_the_discriminator_separates_real_from_fake():
    torch.manual_seed(0)
    config = tiny_gan(num_classes=2, attention_res=16)
    generator, discriminator = build_gan(config)
    g_opt = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.9))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.9))
    # A stand-in dataset the generator cannot produce at first: smooth colour gradients.
    ramp = torch.linspace(-1, 1, 64)
    real = torch.stack([ramp[None, :, None].expand(3, 64, 64), ramp[None, None, :].expand(3, 64, 64)] * 4)
    labels = torch.tensor([0, 1] * 4)
    fixed_z = torch.randn(8, 16)

    def evaluate() -> tuple[torch.Tensor, float, torch.Tensor, torch.Tensor]:
        generator.eval()
        with torch.no_grad():
            fake = generator(fixed_z, labels)
            real_logits, fake_logits = discriminator(real, labels), discriminator(fake, labels)
        generator.train()
        return fake, discriminator_loss("hinge", real_logits, fake_logits).item(), real_logits, fake_logits

    before, d_loss_before, _, _ = evaluate()
    for _ in range(8):
        fake = generator(torch.randn(8, 16), labels).detach()
        d_loss = discriminator_loss("hinge", discriminator(real, labels), discriminator(fake, labels))
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_loss = generator_loss("hinge", discriminator(generator(torch.randn(8, 16), labels), labels))
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
    after, d_loss_after, real_logits, fake_logits = evaluate()
    assert (after - before).abs().mean() > 1e-3
    assert d_loss_after < d_loss_before
    assert real_logits.mean() > fake_logits.mean()


# --- losses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LOSSES)
def test_each_loss_is_a_finite_scalar_that_rewards_the_right_side(kind):
    good_real, good_fake = torch.full((4,), 3.0), torch.full((4,), -3.0)
    confused_real, confused_fake = torch.full((4,), -3.0), torch.full((4,), 3.0)
    good = discriminator_loss(kind, good_real, good_fake)
    confused = discriminator_loss(kind, confused_real, confused_fake)
    assert good.dim() == 0 and torch.isfinite(good) and torch.isfinite(confused)
    assert good < confused
    # The generator is better off the more real its images look to the discriminator.
    assert generator_loss(kind, torch.full((4,), 1.0)) < generator_loss(kind, torch.full((4,), -1.0))


def test_losses_at_their_optimum():
    assert discriminator_loss("hinge", torch.tensor([1.5, 2.0]), torch.tensor([-1.2, -4.0])) == 0
    assert discriminator_loss("hinge", torch.tensor([0.5]), torch.tensor([-4.0])) == 0.5
    assert discriminator_loss("lsgan", torch.tensor([1.0, 1.0]), torch.tensor([0.0, 0.0])) == 0
    assert generator_loss("lsgan", torch.tensor([1.0])) == 0
    assert discriminator_loss("wgan-gp", torch.tensor([2.0]), torch.tensor([-1.0])) == -3
    # Non-saturating stays finite and near zero for confident logits instead of overflowing.
    assert 0 <= discriminator_loss("nonsaturating", torch.tensor([100.0]), torch.tensor([-100.0])) < 1e-6


def test_unknown_loss_is_refused_listing_the_valid_ones():
    with pytest.raises(ValueError, match="nonsaturating, lsgan, wgan-gp, hinge"):
        discriminator_loss("wasserstein", torch.zeros(2), torch.zeros(2))
    with pytest.raises(ValueError, match="hinge"):
        generator_loss("minimax", torch.zeros(2))


def test_gradient_penalty_is_positive_and_trains_the_discriminator():
    torch.manual_seed(0)
    config = tiny_gan(num_classes=2, loss="wgan-gp")
    _, discriminator = build_gan(config)
    real, fake, labels = images(4), images(4, seed=1), torch.tensor([0, 1, 0, 1])
    penalty = gradient_penalty(discriminator, real, fake, labels)
    assert penalty.dim() == 0 and penalty > 0
    penalty.backward()
    first_conv = discriminator.features[0].parametrizations.weight.original
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0
    discriminator.eval()  # no power-iteration step between the two calls
    unit, default = (
        gradient_penalty(discriminator, real, fake, labels, weight=w, generator=torch.Generator().manual_seed(3))
        for w in (1.0, 10.0)
    )
    torch.testing.assert_close(unit, default / 10)


# --- EMA -------------------------------------------------------------------------------------


def test_ema_update_averages_weights_and_copies_buffers():
    torch.manual_seed(0)
    source, target = Generator(tiny_gan()), Generator(tiny_gan())
    exercise(source, 2, lambda: (torch.randn(4, 16),))
    before = {name: p.detach().clone() for name, p in target.named_parameters()}
    ema_update(target, source, decay=0.75)
    for name, param in target.named_parameters():
        expected = 0.75 * before[name] + 0.25 * dict(source.named_parameters())[name]
        torch.testing.assert_close(param, expected)
    for (name, buffer), (_, source_buffer) in zip(target.named_buffers(), source.named_buffers(), strict=True):
        assert torch.equal(buffer, source_buffer), name
    ema_update(target, source, decay=0.0)
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), source.parameters(), strict=True))
    with pytest.raises(ValueError, match="same structure"):
        ema_update(target, Generator(tiny_gan(g_spectral_norm=False)), decay=0.5)


# --- model files -----------------------------------------------------------------------------


def test_vae_save_load_round_trip_reproduces_images_exactly(tmp_path):
    torch.manual_seed(0)
    vae = VAE(tiny_vae())
    exercise(vae, 3, lambda: (images(4),))
    vae.eval()
    z, x = torch.randn(3, 8), images(2)
    expected_decode, expected_recon = vae.decode(z), vae(x)[0]
    card = {"name": "Ink VAE", "data": "sketches", "licence": "CC-BY-4.0", "architecture": "ignored"}
    path = save_generative_model(tmp_path / "ink.safetensors", vae, card)
    loaded = load_generative_model(path)
    assert loaded.architecture == "vae" and loaded.config == vae.config
    assert loaded.card["name"] == "Ink VAE" and loaded.card["architecture"] == "vae"
    assert not loaded.model.training
    assert torch.equal(loaded.model.decode(z), expected_decode)
    assert torch.equal(loaded.model(x)[0], expected_recon)


def test_conditional_generator_with_attention_round_trips_exactly(tmp_path):
    torch.manual_seed(0)
    config = tiny_gan(num_classes=3, attention_res=32)
    generator = Generator(config)
    with torch.no_grad():
        generator.attention.gamma.fill_(0.5)  # so that attention changes the images
    exercise(generator, 3, lambda: (torch.randn(4, 16), torch.tensor([0, 1, 2, 1])))
    generator.eval()
    z, labels = torch.randn(5, 16), torch.tensor([0, 1, 2, 2, 0])
    expected = generator(z, labels)
    path = save_generative_model(tmp_path / "faces.safetensors", generator, {"class_names": ["a", "b", "c"]})

    tensors, card = load_model(path)
    assert card["architecture"] == "gan-generator" and card["config"]["attention_res"] == 32
    assert card["class_names"] == ["a", "b", "c"]
    # The file holds plain, effective weights: no parametrization internals.
    assert "first_layer.weight" in tensors and not any("parametrizations" in name for name in tensors)

    loaded = load_generative_model(path)
    assert loaded.config == config
    assert torch.equal(loaded.model(z, labels), expected)
    torch.testing.assert_close(loaded.model.sefa_weight(), generator.sefa_weight(), rtol=0, atol=0)
    # Saving left the caller's model as it was: still parametrized, same images, still trainable.
    assert parametrize.is_parametrized(generator.first_layer)
    assert torch.equal(generator(z, labels), expected)
    generator.train()
    generator(z, labels).mean().backward()


def test_a_loaded_generator_can_be_trained_again_with_spectral_norm(tmp_path):
    path = save_generative_model(tmp_path / "g.safetensors", Generator(tiny_gan()), {})
    model = load_generative_model(path).model
    add_spectral_norm(model)
    assert parametrize.is_parametrized(model.first_layer)
    model.train()
    model(torch.randn(2, 16)).mean().backward()
    assert model.first_layer.parametrizations.weight.original.grad is not None


def _save_vae_with_card(tmp_path, edit) -> tuple:
    path = save_generative_model(tmp_path / "sketch.safetensors", VAE(tiny_vae()), {"name": "Sketch"})
    card = json.loads(card_path(path).read_text(encoding="utf-8"))
    edit(card)
    card_path(path).write_text(json.dumps(card), encoding="utf-8")
    return path, path.read_bytes()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda card: card.update(architecture="resnet50"), r"architecture 'resnet50'.*'vae' or 'gan-generator'"),
        (lambda card: card.pop("architecture"), "no architecture"),
        (lambda card: card.pop("config"), "no model config"),
        (lambda card: card["config"].update(image_size=48), "config in its card is invalid"),
        (lambda card: card["config"].update(depth=3), "config in its card is invalid"),
        (lambda card: card["config"].update(latent_dim=16), "weights do not match"),
        (lambda card: card.update(architecture="gan-generator"), "config in its card is invalid"),
    ],
)
def test_a_card_that_does_not_describe_the_weights_is_refused_clearly(tmp_path, edit, message):
    path, data = _save_vae_with_card(tmp_path, edit)
    with pytest.raises(ModelFileError, match=message) as caught:
        load_generative_model(path)
    assert "sketch.safetensors" in str(caught.value)
    assert path.read_bytes() == data  # refusing the file does not touch it


def test_saving_something_that_is_not_a_generative_model_is_refused(tmp_path):
    with pytest.raises(TypeError, match="Discriminator"):
        save_generative_model(tmp_path / "d.safetensors", Discriminator(tiny_gan()), {})
    assert not any(tmp_path.iterdir())
