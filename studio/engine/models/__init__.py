"""The generative models behind the Latent Explorer: a convolutional VAE and a DCGAN-style GAN.

Configs are frozen dataclasses in :mod:`studio.spec.models`; a model file (safetensors plus a
JSON card) carries its config, so :func:`load_generative_model` rebuilds the model it holds.
Images are float tensors N x 3 x H x W in [-1, 1].
"""

from studio.engine.models.gan import Discriminator, Generator, build_gan, truncate
from studio.engine.models.layers import add_spectral_norm, ema_update, fold_spectral_norm, plain_state_dict
from studio.engine.models.losses import discriminator_loss, generator_loss, gradient_penalty
from studio.engine.models.store import LoadedModel, load_generative_model, save_generative_model
from studio.engine.models.vae import VAE

__all__ = [
    "VAE",
    "Discriminator",
    "Generator",
    "LoadedModel",
    "add_spectral_norm",
    "build_gan",
    "discriminator_loss",
    "ema_update",
    "fold_spectral_norm",
    "generator_loss",
    "plain_state_dict",
    "gradient_penalty",
    "load_generative_model",
    "save_generative_model",
    "truncate",
]
