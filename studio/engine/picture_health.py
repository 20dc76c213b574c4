"""One check that a picture a network drew holds numbers (RELIABILITY.md item 33).

NaN or Inf in a rendered latent image or a stylised photo used to become a flat grey picture
(the conversion to 8-bit pixels maps them to a constant). Weights that diverged, half
precision on some GPUs or an overflowing optimisation cause it; the user needs to be told,
not shown grey. The latent explorer, ``studio sample``, both style-transfer paths and
``studio stylize`` call :func:`check_picture` before a tensor becomes an image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class PictureNotFinite(ValueError):
    """A drawn picture holds NaN or Inf; the message names what drew it and is meant for the user."""


def check_picture(pixels: torch.Tensor, drawn_by: str) -> None:
    """Raise :class:`PictureNotFinite` when ``pixels`` holds NaN or Inf.

    ``drawn_by`` says what made it and, where it helps, what to try: "Emoji GAN
    (emoji.safetensors) gave no numbers at this point".
    """
    import torch

    if not bool(torch.isfinite(pixels).all()):
        raise PictureNotFinite(f"the picture came out as NaN/Inf: {drawn_by}")
