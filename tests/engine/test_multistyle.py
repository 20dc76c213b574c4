"""The 26-style network: the torch port against onnxruntime, any size, blends, the cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.engine.checkpoints import card_path
from studio.engine.style import multistyle

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def _picture(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth colourful HxWx3 float image in 0..1 with some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    f = rng.uniform(2, 9, 3)
    img = np.stack([np.sin(xx * f[0]) * 0.5 + 0.5, np.cos(yy * f[1] + xx * 3) * 0.5 + 0.5, xx * yy], -1)
    img += rng.normal(0, 0.05, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def _pil(arr: np.ndarray) -> Image.Image:
    return Image.fromarray((arr * 255 + 0.5).astype(np.uint8))


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(((a - b) ** 2).mean()), 1e-20)))


@pytest.fixture(scope="module")
def styler():
    return multistyle.MultiStyle(multistyle.network_from_onnx(), torch.device("cpu"))


def test_port_agrees_with_onnxruntime(styler, one_thread):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(multistyle.onnx_folder() / multistyle.ONNX_FILE), options, providers=["CPUExecutionProvider"]
    )
    photo = _picture(64, 96, 0).transpose(2, 0, 1)[None].copy()
    weights = np.random.default_rng(1).uniform(0, 1, multistyle.NUM_STYLES).astype(np.float32)
    weights /= weights.sum()
    for w in (weights, np.eye(multistyle.NUM_STYLES, dtype=np.float32)[7]):
        ref = session.run(None, {"image": photo, "style_weights": w})[0]
        ours = styler.render(torch.from_numpy(photo), torch.from_numpy(w)).numpy()
        psnr = _psnr(ours, ref)
        print(f"\nmulti-style port vs onnxruntime: PSNR {psnr:.1f} dB")
        assert psnr > 60  # the same float network: agreement up to float rounding


def test_any_size(styler, one_thread):
    for h, w in ((37, 53), (8, 11), (70, 64)):
        photo = _pil(_picture(h, w, 2))
        out = styler.stylize(photo, {"style 3": 1.0})
        assert out.size == photo.size and out.mode == "RGB"
    with pytest.raises(ValueError, match="at least 8"):
        styler.stylize(_pil(_picture(5, 40, 2)), {"style 3": 1.0})


def test_one_style_against_a_blend(styler, one_thread):
    photo = _pil(_picture(48, 40, 3))
    a = _arr(styler.stylize(photo, {"style 2": 1.0}))
    b = _arr(styler.stylize(photo, {"style 19": 1.0}))
    one_hot = [0.0] * multistyle.NUM_STYLES
    one_hot[2] = 5.0  # normalised: any positive weight is all of style 2
    assert np.array_equal(_arr(styler.stylize(photo, one_hot)), a)
    assert np.array_equal(_arr(styler.stylize(photo, {2: 0.3})), a)
    mixed = _arr(styler.stylize(photo, {"style 2": 1.0, "style 19": 1.0}))
    apart = np.abs(a - b).mean()
    assert apart > 5  # two different styles paint differently
    # A half-and-half blend paints something between the two styles.
    assert np.abs(mixed - a).mean() < apart and np.abs(mixed - b).mean() < apart

    assert torch.allclose(multistyle.style_weights({"style 2": 2, 19: 2})[[2, 19]], torch.tensor([0.5, 0.5]))
    for bad in ({"style 2": 0.0}, {"style 2": -1.0, "style 3": 2.0}, {"Monet": 1.0}, {26: 1.0}, [1.0] * 25):
        with pytest.raises(ValueError):
            multistyle.style_weights(bad)
    assert len(styler.style_names) == multistyle.NUM_STYLES == len(set(styler.style_names))


def test_cache_is_written_then_used_without_onnx(monkeypatch):
    # A network an earlier test loaded (under its own user data folder) would skip the first load.
    multistyle.forget_loaded()
    first = multistyle.load_multistyle("cpu")
    path = multistyle.cache_path()
    assert path.is_file() and path.parent.name == "instant-style"
    card = card_path(path).read_text(encoding="utf-8")
    assert "Apache-2.0" in card and "Dumoulin" in card

    def no_parsing(*args, **kwargs):
        raise AssertionError("the ONNX file was parsed although the cache exists")

    monkeypatch.setattr(onnx, "load", no_parsing)
    multistyle.forget_loaded()
    second = multistyle.load_multistyle("cpu")
    assert second is not first
    for a, b in zip(first.net.state_dict().values(), second.net.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    multistyle.forget_loaded()


@pytest.mark.parametrize("damage", ["flip", "truncate", "card"])
def test_a_damaged_cache_is_rebuilt(damage):
    net = multistyle.load_network()
    path = multistyle.cache_path()
    original = path.read_bytes()
    data = bytearray(original)
    if damage == "flip":
        data[-100] ^= 0xFF  # inside a tensor: the header still parses
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        card_path(path).write_text("{not json", encoding="utf-8")

    rebuilt = multistyle.load_network()
    assert torch.equal(rebuilt.expand[2].norm.gamma, net.expand[2].norm.gamma)
    assert path.read_bytes() == original
    multistyle._network_from_cache(path)


def test_missing_or_wrong_onnx_is_a_clear_error(tmp_path):
    with pytest.raises(multistyle.InstantStyleError, match="does not exist"):
        multistyle.network_from_onnx(tmp_path)
    folder = multistyle.onnx_folder()
    (tmp_path / multistyle.ONNX_FILE).write_bytes((folder / "arbitrary_transform.onnx").read_bytes())
    with pytest.raises(multistyle.InstantStyleError, match=r"multistyle26\.onnx lacks the tensor 'contract\.0\.w'"):
        multistyle.network_from_onnx(tmp_path)
