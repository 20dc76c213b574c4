"""Sizes the style networks can paint, for pictures of any shape (RELIABILITY.md case 5).

The networks shrink a picture several times (VGG19 by 2 at every pool, the instant network by
4), and a side that shrinks to nothing fails deep inside torch ("Output size is too small").
A wide panorama is therefore painted with its short side enlarged to what the network needs,
its aspect ratio kept, and scaled back afterwards; a picture too thin for that (beyond
:data:`studio.spec.bounds.ASPECT_RATIO`) is refused with a message that says so.
"""

from __future__ import annotations

from studio.spec.bounds import ASPECT_RATIO


class UnpaintableImage(ValueError):
    """A picture too thin to paint; ``role`` says which ("photo", "style image 2")."""

    def __init__(self, role: str, size: tuple[int, int]) -> None:
        w, h = size
        ratio = max(w, h) / max(1, min(w, h))
        self.role = role
        self.reason = (
            f"{w}x{h} px, too {'wide' if w >= h else 'tall'} to paint: its long side is {ratio:.0f} times "
            f"its short side, and style transfer takes at most {ASPECT_RATIO.high:.0f} times"
        )
        super().__init__(f"the {role} is {self.reason}")


def check_paintable(size: tuple[int, int], role: str) -> None:
    """Raise :class:`UnpaintableImage` for a picture whose shape no network can paint."""
    w, h = size
    if min(w, h) < 1 or max(w, h) / min(w, h) > ASPECT_RATIO.high:
        raise UnpaintableImage(role, size)


def fit_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) with the long side ``long_side`` and the aspect ratio of ``size``."""
    w, h = size
    scale = long_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def paint_size(size: tuple[int, int], long_side: int, min_side: int) -> tuple[int, int]:
    """:func:`fit_size`, but with the short side at least ``min_side`` (the long side grows to match)."""
    fitted = fit_size(size, long_side)
    if min(fitted) >= min_side:
        return fitted
    w, h = size
    scale = min_side / min(w, h)
    return max(min_side, round(w * scale)), max(min_side, round(h * scale))
