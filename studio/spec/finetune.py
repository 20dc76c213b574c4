"""What fine-tuning offers: the wizard's choices and the command line's, defined once."""

# Fewer pictures than this cannot be split into training and held-out images that mean anything.
MIN_IMAGES = 16
# How a picture that is not square becomes one (studio.engine.data.folder).
RESIZE_MODES = ("center-crop", "pad", "random-crop")
AUGMENTATIONS = ("flip", "jitter", "color", "translation", "cutout")
AUGMENT_ALIASES = {"diffaugment": ("color", "translation", "cutout"), "none": ()}
DEFAULT_AUGMENT = {"gan": ("flip", "color", "translation", "cutout"), "vae": ("flip",)}
DEFAULT_FREEZE = {"gan": "freeze-d", "vae": "last-blocks"}
