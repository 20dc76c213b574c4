"""Latent Studio: a desktop studio for exploring latent spaces, style transfer and fine-tuning."""

__version__ = "0.1.0"
APP_NAME = "Latent Studio"
ORG_NAME = "LatentStudio"
