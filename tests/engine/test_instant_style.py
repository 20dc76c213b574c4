"""The instant style networks: the torch port against onnxruntime, strength, blends, the cache."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from studio.engine.style import instant

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

SIZE = 384  # the shipped transformer's fixed input size


def _picture(size: int, seed: int) -> np.ndarray:
    """A smooth colourful HxWx3 float image in 0..1 with some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    f = rng.uniform(2, 9, 3)
    img = np.stack([np.sin(xx * f[0]) * 0.5 + 0.5, np.cos(yy * f[1] + xx * 3) * 0.5 + 0.5, xx * yy], -1)
    img += rng.normal(0, 0.05, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def _pil(arr: np.ndarray) -> Image.Image:
    return Image.fromarray((arr * 255 + 0.5).astype(np.uint8))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(((a - b) ** 2).mean()), 1e-20)))


def _session(path, float_activations: bool):
    """onnxruntime on a shipped file; optionally with the activations' int8 round trips removed
    (QuantizeLinear, and DequantizeLinear of anything but a stored weight, become Identity), which
    is the float network the port implements, weights still dequantised from the same int8."""
    model = onnx.load(str(path))
    if float_activations:
        stored = {t.name for t in model.graph.initializer}
        for node in model.graph.node:
            if node.op_type == "QuantizeLinear" or (node.op_type == "DequantizeLinear" and node.input[0] not in stored):
                del node.input[1:]
                del node.attribute[:]
                node.op_type = "Identity"
        del model.graph.value_info[:]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def nets():
    return instant.networks_from_onnx()


@pytest.fixture(scope="module")
def inputs():
    photo = _picture(SIZE, 0)
    painting = _picture(instant.STYLE_SIZE, 1)[::-1, :, ::-1].copy()
    return photo, painting


def _ours(nets, photo, painting, vector=None):
    predictor, transformer = nets
    with torch.no_grad():
        vec = predictor(torch.from_numpy(painting).permute(2, 0, 1)[None])[0].numpy()
        style = torch.from_numpy(vector if vector is not None else vec)[None]
        out = transformer(torch.from_numpy(photo).permute(2, 0, 1)[None], style)[0].permute(1, 2, 0).numpy()
    return vec, out


@pytest.mark.parametrize("float_activations", [True, False], ids=["float-activations", "shipped-int8"])
def test_port_agrees_with_onnxruntime(nets, inputs, float_activations, one_thread):
    folder = instant.onnx_folder()
    photo, painting = inputs
    predict = _session(folder / instant.PREDICT_FILE, float_activations)
    transform = _session(folder / instant.TRANSFORM_FILE, float_activations)
    vec_ref = predict.run(None, {predict.get_inputs()[0].name: painting[None]})[0].reshape(-1)
    names = [i.name for i in transform.get_inputs()]
    out_ref = transform.run(None, {names[0]: photo[None], names[1]: vec_ref.reshape(1, 1, 1, -1)})[0][0]
    if float_activations:  # the port without its int8 roundings of the activations
        nets = tuple(copy.deepcopy(net) for net in nets)
        for net in nets:
            instant.set_activation_quantisation(net, {})
    vec, out = _ours(nets, photo, painting, vector=vec_ref)
    _, end_to_end = _ours(nets, photo, painting)  # with the port's own style vector

    vec_err = float(np.linalg.norm(vec - vec_ref) / np.linalg.norm(vec_ref))
    psnr, psnr_end_to_end = _psnr(out, out_ref), _psnr(end_to_end, out_ref)
    graph = "float activations" if float_activations else "shipped int8 graph"
    print(
        f"\n{graph}: style vector rel. error {vec_err:.2e}, transformer PSNR {psnr:.1f} dB, "
        f"both networks {psnr_end_to_end:.1f} dB"
    )
    if float_activations:
        # Same weights, same arithmetic: the port is the network, up to float rounding.
        assert vec_err < 1e-4
        assert psnr > 60
    else:
        # The port rounds the activations where the shipped graph does, in float arithmetic;
        # a value within float noise of a rounding tie can round the other way, and that step
        # travels on, so it agrees closely but not bit for bit.
        assert vec_err < 0.03
        assert psnr >= 30
        # The port's own style vector carries the predictor's share of those flips (about 1%).
        assert psnr_end_to_end >= 27


def test_any_size_and_blends(nets, inputs, one_thread):
    predictor, transformer = nets
    style = instant.InstantStyle(predictor, transformer, torch.device("cpu"))
    photo = _pil(_picture(70, 2)[:, :53])  # odd sizes, not multiples of 4
    a = style.style_vector(_pil(inputs[1]))
    b = style.style_vector(_pil(_picture(96, 3)))
    assert a.shape == (instant.STYLE_DIM,)
    out = style.stylize(photo, a)
    assert out.size == photo.size

    assert torch.allclose(instant.blend_style_vectors([a, b], [1.0, 0.0]), a)
    assert torch.allclose(instant.blend_style_vectors([a, b], [2.0, 2.0]), (a + b) / 2, atol=1e-6)
    mixed = np.asarray(style.stylize(photo, instant.blend_style_vectors([a, b], [1, 1])), dtype=np.float32)
    only_a = np.asarray(out, dtype=np.float32)
    only_b = np.asarray(style.stylize(photo, b), dtype=np.float32)
    # A half-and-half blend paints something between the two styles.
    assert np.abs(mixed - only_a).mean() < np.abs(only_b - only_a).mean()
    assert np.abs(mixed - only_b).mean() < np.abs(only_b - only_a).mean()
    with pytest.raises(ValueError):
        instant.blend_style_vectors([a, b], [0, 0])
    with pytest.raises(ValueError):
        style.stylize(photo, a, strength=1.5)


def test_strength_runs_from_the_photos_own_style_to_the_paintings(nets, inputs, one_thread):
    predictor, transformer = nets
    style = instant.InstantStyle(predictor, transformer, torch.device("cpu"))
    photo = _pil(_picture(64, 4))
    painting = style.style_vector(_pil(inputs[1]))
    own = style.style_vector(photo)

    def arr(img: Image.Image) -> np.ndarray:
        return np.asarray(img, dtype=np.float32)

    at_zero, at_half, at_one = (arr(style.stylize(photo, painting, s)) for s in (0.0, 0.5, 1.0))
    assert np.abs(at_zero - arr(style.stylize(photo, own))).max() <= 1
    assert np.abs(at_one - arr(style.stylize(photo, painting))).max() <= 1
    assert np.abs(at_one - at_zero).mean() > 5
    assert np.abs(at_half - at_zero).mean() < np.abs(at_one - at_zero).mean()


def test_cache_is_written_then_used_without_onnx(monkeypatch):
    # Networks an earlier test loaded (under its own user data folder) would skip the first load.
    instant.forget_loaded()
    first = instant.load_instant_networks("cpu")
    path = instant.cache_path()
    assert path.is_file()
    card = instant.card_path(path).read_text(encoding="utf-8")
    assert "Apache-2.0" in card and "Ghiasi" in card

    def no_parsing(*args, **kwargs):
        raise AssertionError("the ONNX file was parsed although the cache exists")

    monkeypatch.setattr(onnx, "load", no_parsing)
    instant.forget_loaded()
    second = instant.load_instant_networks("cpu")
    assert second is not first
    for a, b in zip(first.transformer.state_dict().values(), second.transformer.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # The activations' int8 roundings come back from the cache too: the same pictures.
    for net_a, net_b in ((first.predictor, second.predictor), (first.transformer, second.transformer)):
        assert instant.activation_quantisation(net_b) == instant.activation_quantisation(net_a) != {}
    photo = torch.rand(1, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    vector = second.style_vector(_pil(_picture(64, 5)))
    assert torch.equal(vector, first.style_vector(_pil(_picture(64, 5))))
    assert torch.equal(first.render(photo, vector), second.render(photo, vector))
    instant.forget_loaded()


@pytest.mark.parametrize("damage", ["flip", "truncate", "card"])
def test_a_damaged_cache_is_rebuilt(damage):
    predictor, transformer = instant.load_networks()
    path = instant.cache_path()
    original = path.read_bytes()
    data = bytearray(original)
    if damage == "flip":
        data[-100] ^= 0xFF  # inside a tensor: the header still parses
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        instant.card_path(path).write_text("{not json", encoding="utf-8")

    rebuilt_predictor, rebuilt_transformer = instant.load_networks()
    assert torch.equal(rebuilt_transformer.expand[2].conv.weight, transformer.expand[2].conv.weight)
    # The rebuilt cache is the file as first written, and loads cleanly.
    assert path.read_bytes() == original
    instant._networks_from_cache(path)


def test_missing_or_wrong_onnx_is_a_clear_error(tmp_path):
    with pytest.raises(instant.InstantStyleError, match="does not exist"):
        instant.networks_from_onnx(tmp_path)
    (tmp_path / instant.PREDICT_FILE).write_bytes(b"not an onnx file")
    with pytest.raises(instant.InstantStyleError, match=instant.PREDICT_FILE):
        instant.networks_from_onnx(tmp_path)
    # A real ONNX file of another network names what it lacks.
    folder = instant.onnx_folder()
    (tmp_path / instant.PREDICT_FILE).write_bytes((folder / instant.TRANSFORM_FILE).read_bytes())
    with pytest.raises(instant.InstantStyleError, match=r"arbitrary_predict\.onnx lacks the tensor 'MobilenetV2/Conv"):
        instant.networks_from_onnx(tmp_path)
