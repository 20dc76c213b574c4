"""What the explorer's sliders are called on screen, and what their tooltips say.

The artist reads plain words ("Change 1", "Variety"); the technical name (the method that found
the direction, the latent dimension, truncation ψ) is in the tooltip. Plain text only: the
controller uses these for undo steps, the panel for labels and tooltips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.spec.bounds import SLIDER_RANGE

if TYPE_CHECKING:
    from studio.engine.latent.directions import Directions

VARIETY = "Variety"
VARIETY_TOOLTIP = (
    "How far the pictures may stray from the model's typical one: lower is safer and more alike, "
    "1 is everything the model learnt, higher is wilder.\n"
    "Technically: truncation ψ (psi), which scales the latent vector's distance from the mean."
)
CHANGES_HEADING = "Changes · biggest first"

# The method that found the directions, as its papers and the CLI name it.
METHOD_NAMES = {
    "sefa": "SeFa",
    "ganspace": "GANSpace",
    "vae-kl": "VAE-KL",
    "vae-variance": "VAE variance",
    "vae-prior": "VAE prior",
}
_METHOD_EXPLAINED = {
    "sefa": "closed-form factorization of the generator's first layer (Shen and Zhou, 2021)",
    "ganspace": "principal components of the generator's features (Härkönen et al., 2020)",
    "vae-kl": "single latent dimensions, ordered by how much the encoder uses them (KL divergence)",
    "vae-variance": "single latent dimensions, ordered by how much they change the decoded picture",
    "vae-prior": "principal axes of the distribution fitted to the training images' codes",
}


def method_name(method: str) -> str:
    return METHOD_NAMES.get(method, method)


def change_label(index: int) -> str:
    """The slider's name on screen: "Change 1" changes the picture most, "Change 2" next."""
    return f"Change {index + 1}"


def technical_name(directions: Directions, index: int) -> str:
    """ "SeFa direction 1", "VAE-KL dimension 13": what an engineer calls the slider."""
    label = directions.labels[index]
    if label.startswith("dim "):
        label = "dimension " + label.removeprefix("dim ")
    return f"{method_name(directions.method)} {label}"


def direction_tooltip(directions: Directions, index: int) -> str:
    rank = "the biggest change" if index == 0 else f"the {_ordinal(index + 1)} biggest change"
    return (
        f"{change_label(index)}: {rank} this model makes to a picture. The small pictures at the ends "
        f"show this picture moved all the way down (−{SLIDER_RANGE:g}) and up (+{SLIDER_RANGE:g}).\n"
        f"Technically: {technical_name(directions, index)}, importance {float(directions.scores[index]):.3g}; "
        f"±{SLIDER_RANGE:g} standard deviations."
    )


def changes_heading_tooltip(directions: Directions) -> str:
    method = directions.method
    return (
        "Each slider moves the picture one way the model knows, the biggest change first.\n"
        f"Technically: {method_name(method)} directions, {_METHOD_EXPLAINED.get(method, method)}."
    )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
