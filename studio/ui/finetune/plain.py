"""The wizard's words for an artist: a model's parts, augmentations, losses and KID in plain
language; the technical names and numbers go in the tooltips (issue 13, item 3)."""

from __future__ import annotations

import re

from studio.ui.finetune.common import format_count

# network (as studio.engine.training.freezing names it) -> (plain name, what it does, technical name)
NETWORKS = {
    "generator": ("Maker", "draws the pictures", "Generator"),
    "discriminator": ("Judge", "tells your images from the maker's while it trains", "Discriminator"),
    "encoder": ("Reader", "turns a picture into its latent point", "Encoder"),
    "decoder": ("Maker", "draws the picture from its latent point", "Decoder"),
}
# the parts of a network that are not a resolution
PARTS = {
    "attention": "how distant parts agree",
    "rgb": "final colours",
    "output": "final verdict",
    "latent": "summing up",
    "mapping": "style mixing",
    "decoder": "self-check",
}
# From the finest resolution down: what a block at that scale mostly handles.
SCALES = ("finest detail", "fine detail", "small shapes", "large shapes", "overall layout")

AUGMENTATIONS = {
    # name (the CLI's) -> (plain label, technical tooltip)
    "flip": ("Mirror", "Flips: each image is also shown mirrored left to right (flip)"),
    "jitter": ("Tint", "Colour jitter: small random changes of brightness and colour (jitter)"),
    "color": ("Vary colours", "DiffAugment colour: brightness, saturation and contrast varied on both sides (color)"),
    "translation": ("Shift", "DiffAugment translation: images shifted by up to an eighth (translation)"),
    "cutout": ("Cut holes", "DiffAugment cutout: a random square blanked out (cutout)"),
}

SETTINGS = {
    # the settings page's rows: (plain label, tooltip with the technical name)
    "steps": (
        "Training length",
        "Steps: how many rounds of learning, each on a handful of your images. More adapt further and take longer",
    ),
    "batch": (
        "Images at a time",
        "Batch size: how many images each step learns from together. More is steadier and needs more memory",
    ),
    "lr": (
        "Learning speed",
        "Learning rate: how far each step changes the model. Too fast and it forgets what it knew; "
        "the recipe's default suits most runs",
    ),
    "loss": (
        "Judging rule",
        "Loss: how the Judge (discriminator) scores the Maker's (generator's) pictures. "
        "The base model's own rule is the safe choice",
    ),
}

LOSSES = {
    "d": "Judge",
    "g": "Maker",
    "gp": "Judge's steadiness",
    "loss": "Total",
    "recon": "Likeness",
    "kl": "Tidiness",
}
LOSS_TOOLTIPS = {
    "d": "discriminator loss (d)",
    "g": "generator loss (g)",
    "gp": "gradient penalty (gp)",
    "loss": "total loss",
    "recon": "reconstruction loss (recon)",
    "kl": "KL divergence (kl)",
}

KID_SCALE = 0.05  # the KID at which the "closer to your images" bar is half full


def block_size(name: str) -> int | None:
    """The resolution in a block name ("d.32x32" -> 32), or None."""
    match = re.search(r"\.(\d+)x\1$", name)
    return int(match.group(1)) if match else None


def block_words(name: str, network: str, finest: int) -> str:
    """A block in plain words: "Judge · fine detail (32 px)"."""
    who = NETWORKS.get(network, (network.capitalize(), "", ""))[0]
    size = block_size(name)
    if size is None:
        part = name.rsplit(".", 1)[-1]
        return f"{who} · {PARTS.get(part, part)}"
    level = 0
    while size * 2 ** (level + 1) <= finest and level < len(SCALES) - 1:
        level += 1
    return f"{who} · {SCALES[level]} ({size} px)"


def block_tooltip(label: str, name: str, parameters: int) -> str:
    return f"{label} ({name}) · {format_count(parameters)} parameters ({parameters:,})"


def network_words(network: str) -> tuple[str, str]:
    """(plain heading, tooltip) for a network's row: ("Judge: tells ...", "Discriminator")."""
    who, does, technical = NETWORKS.get(network, (network.capitalize(), "", network.capitalize()))
    return (f"{who}: {does}" if does else who), technical


def loss_words(losses: dict[str, float]) -> str:
    """The logged losses as a tooltip line: "discriminator loss (d) 0.604 · generator loss (g) 0.96"."""
    return " · ".join(f"{LOSS_TOOLTIPS.get(k, k)} {v:.4g}" for k, v in losses.items())


def closeness(kid: float) -> float:
    """How full the "closer to your images" bar is for a KID: 1 at 0 (the same as your
    images), half at :data:`KID_SCALE`, falling towards 0; lower KID is always fuller."""
    return 1.0 / (1.0 + max(kid, 0.0) / KID_SCALE)
