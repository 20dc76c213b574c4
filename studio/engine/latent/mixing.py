"""Style mixing: a picture whose layer groups take their w from two latent points (torch-free).

A GAN v2 ("style" architecture) draws its picture with one w per layer, and the layer's
resolution decides what that w changes (Karras et al. 2019): the coarse layers (4 and 8 px)
set the pose, the face's shape and the layout; the middle ones (16 and 32 px) the features;
the fine ones (64 px and above) colour and small detail. A mixed picture takes each group's w
from point A (the state itself) or point B (its :class:`StyleMix`).

A :class:`StyleMix` rides on a :class:`~studio.engine.latent.state.LatentState` (``mix``), so a
mixed picture is one state: it renders through ``LatentModel.render`` and travels in exported
PNGs. This module imports neither torch nor Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.engine.latent.state import is_number, normalise_point

GROUPS = ("coarse", "middle", "fine")
SOURCES = ("a", "b")
# The largest resolution (px) of the coarse and middle groups; every larger layer is fine.
COARSE_UP_TO = 8
MIDDLE_UP_TO = 32
GROUP_SIZES = {"coarse": "4-8 px", "middle": "16-32 px", "fine": "64 px and above"}


class MixNotSupported(ValueError):
    """The model has one w for the whole picture (a VAE, a GAN v1): there is nothing to mix."""


def layer_group(size: int) -> str:
    """The group ("coarse", "middle", "fine") of a layer drawing at ``size`` pixels."""
    if size <= COARSE_UP_TO:
        return "coarse"
    if size <= MIDDLE_UP_TO:
        return "middle"
    return "fine"


@dataclass(frozen=True)
class StyleMix:
    """The second point B of a mixed picture, and which point each layer group takes its w from.

    ``z``, ``class_index``, ``psi`` and ``seed`` mean what they mean on a LatentState (for a
    GAN v2, z is w's offset from its class's mean w). ``coarse``, ``middle`` and ``fine`` are
    "a" (the state's own point) or "b" (this one).
    """

    z: tuple[float, ...]
    class_index: int | None = None
    psi: float = 1.0
    seed: int | None = None
    coarse: str = "a"
    middle: str = "b"
    fine: str = "b"

    def __post_init__(self) -> None:
        normalise_point(self, "the second point's ")
        for group in GROUPS:
            source = getattr(self, group)
            if source not in SOURCES:
                raise ValueError(f"the {group} layers take their style from 'a' or 'b', got {source!r}")

    def z_array(self) -> np.ndarray:
        return np.asarray(self.z, dtype=np.float32)

    def source(self, group: str) -> str:
        """ "a" or "b": the point the layers of ``group`` take their w from."""
        if group not in GROUPS:
            raise ValueError(f"no layer group {group!r}; the groups are {', '.join(GROUPS)}")
        return str(getattr(self, group))

    def describe(self) -> str:
        """In words, for a status line: "coarse from A, middle from B, fine from B"."""
        return ", ".join(f"{group} from {self.source(group).upper()}" for group in GROUPS)

    def to_settings(self) -> dict[str, Any]:
        return {
            "z": list(self.z),
            "class_index": self.class_index,
            "psi": self.psi,
            "seed": self.seed,
            **{group: self.source(group) for group in GROUPS},
        }

    @classmethod
    def from_settings(cls, data: Any) -> StyleMix:
        """The mix :meth:`to_settings` wrote; ValueError naming the field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError("the style mix is not a set of named values")
        z = data.get("z")
        if not isinstance(z, list) or not z or not all(is_number(v) for v in z):
            raise ValueError(
                "the second point's latent vector (mix z) is missing or holds something other than finite numbers"
            )
        for group in GROUPS:
            if group in data and data[group] not in SOURCES:
                raise ValueError(f"the {group} layers take their style from 'a' or 'b', got {data[group]!r}")
        try:
            return cls(
                tuple(z),
                data.get("class_index"),
                data.get("psi", 1.0),
                data.get("seed"),
                **{group: data.get(group, default) for group, default in zip(GROUPS, ("a", "b", "b"), strict=True)},
            )
        except (TypeError, OverflowError) as exc:
            raise ValueError(f"the style mix: {exc}") from exc
