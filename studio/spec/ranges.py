"""Bounds that the GUI's controls, the command line and a restored PNG share."""

# Seeds are 31-bit: Qt's spin boxes hold a signed 32-bit int, and every seeded generator
# (Python's, numpy's, torch's) accepts them.
MAX_SEED = 2**31 - 1
# Latent sliders span +-3 sigma of the standard normal prior.
SLIDER_RANGE = 3.0
# The GAN truncation slider: 0 gives the mean image, 1 no truncation, above 1 wilder pictures.
PSI_RANGE = (0.0, 1.5)
