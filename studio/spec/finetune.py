"""What fine-tuning offers: the wizard's choices and the command line's, defined once."""

from dataclasses import dataclass

# Fewer pictures than this cannot be split into training and held-out images that mean anything.
MIN_IMAGES = 16
# How a picture that is not square becomes one (studio.engine.data.folder).
RESIZE_MODES = ("center-crop", "pad", "random-crop")
AUGMENTATIONS = ("flip", "jitter", "color", "translation", "cutout")
AUGMENT_ALIASES = {"diffaugment": ("color", "translation", "cutout"), "none": ()}
DEFAULT_AUGMENT = {"gan": ("flip", "color", "translation", "cutout"), "vae": ("flip",)}
DEFAULT_FREEZE = {"gan": "freeze-d", "vae": "last-blocks"}


@dataclass(frozen=True)
class FreezePreset:
    key: str
    label: str  # the technical name (the CLI's messages, the wizard's tooltips)
    description: str
    kinds: tuple[str, ...]  # model kinds it applies to
    plain: str = ""  # what it keeps from the original model, in an artist's words (the wizard's choice)


FREEZE_PRESETS: dict[str, FreezePreset] = {
    "freeze-d": FreezePreset(
        "freeze-d",
        "FreezeD: freeze the discriminator's lower blocks",
        "The discriminator keeps the low-level features it learnt (edges, textures) and judges the new "
        "images with them; the generator trains fully. The usual choice for a GAN and a small folder.",
        ("gan",),
        "Keep the original's eye for edges and textures (recommended)",
    ),
    "last-blocks": FreezePreset(
        "last-blocks",
        "Train the last blocks only",
        "Each network keeps its first half: the generator keeps shapes and layout and learns new "
        "textures and colours. Fastest, and the safest with very few images.",
        ("gan", "vae"),
        "Keep its shapes and layout; learn new colours and textures",
    ),
    "all": FreezePreset(
        "all",
        "Train everything",
        "Every block trains. Adapts furthest to the new images, and forgets the old ones soonest.",
        ("gan", "vae"),
        "Keep nothing fixed: relearn everything from your images",
    ),
}
