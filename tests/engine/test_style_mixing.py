"""Style mixing (GAN v2): which point's w reaches which layers, the same picture for the same
point, A's structure with B's look on the bundled model, the mix in PNGs, and models that
cannot mix saying so."""

import copy
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from studio.engine.latent.mixing import GROUPS, MixNotSupported, StyleMix, layer_group
from studio.engine.latent.model import LatentModel
from studio.engine.latent.state import (
    LatentState,
    LatentStateError,
    find_model,
    restore_state_from_png,
    state_png_settings,
)
from studio.engine.models import VAE, Generator, save_generative_model
from studio.engine.models.stylegan import StyledConv, StyleGenerator
from studio.files.images import pil_to_array, read_png_settings, save_png
from studio.files.paths import models_dir
from studio.spec.models import GANConfig, VAEConfig
from studio.spec.png import LATENT_KEY

CLASSES = ["cats", "dogs"]


def tiny_style_generator(num_classes: int = len(CLASSES)) -> StyleGenerator:
    """A tiny style GAN (64 px: coarse, middle and fine layers), the same weights each call."""
    torch.manual_seed(3)
    config = GANConfig(
        architecture="style",
        image_size=64,
        latent_dim=8,
        w_dim=8,
        g_channels=16,
        mapping_layers=2,
        num_classes=num_classes,
        g_spectral_norm=False,
    )
    return StyleGenerator(config)


@pytest.fixture(scope="module")
def style_module():
    return tiny_style_generator()


@pytest.fixture
def tiny(style_module, one_thread):
    return LatentModel(style_module, "gan", sha256="c" * 64, name="tiny style", class_names=CLASSES)


@pytest.fixture(scope="module")
def faces():
    torch.set_num_threads(1)
    return LatentModel.load(find_model("Emoji Faces"))


def _points(model, seed_a=1, seed_b=2, class_a=0, class_b=1, psi_a=0.8, psi_b=0.6):
    a = model.state(model.random_z(seed_a, class_a), class_a, psi_a, seed=seed_a)
    b = model.state(model.random_z(seed_b, class_b), class_b, psi_b, seed=seed_b)
    return a, b


def _pixels(image: Image.Image) -> np.ndarray:
    return pil_to_array(image).astype(np.float32)


# --- the groups and the split ---------------------------------------------------------------------


def test_layers_fall_into_the_three_groups_by_resolution(tiny):
    assert [layer_group(s) for s in (4, 8, 16, 32, 64, 128)] == ["coarse", "coarse", "middle", "middle", "fine", "fine"]
    assert tiny.can_mix
    assert tiny.mix_groups() == {"coarse": [4, 8], "middle": [16, 32], "fine": [64]}


@pytest.mark.parametrize(
    "choice", [("a", "b", "b"), ("b", "a", "b"), ("b", "b", "a"), ("a", "a", "b"), ("b", "a", "a")]
)
def test_each_layer_gets_the_w_of_the_point_its_group_names(tiny, choice):
    a, b = _points(tiny)
    mixed = tiny.mixed_state(a, b, *choice)
    generator = tiny.module
    # The w each styled layer is called with, recorded as it draws.
    seen: list[tuple[int, torch.Tensor]] = []
    hooks = [
        conv.register_forward_hook(
            lambda module, inputs, _out: seen.append((inputs[0].shape[-1], inputs[1][0].clone()))
        )
        for conv in generator.modules()
        if isinstance(conv, StyledConv)
    ]
    try:
        image = tiny.render(mixed)
    finally:
        for hook in hooks:
            hook.remove()
    means = tiny._w_means
    w_a = means[0] + 0.8 * torch.from_numpy(a.z_array())
    w_b = means[1] + 0.6 * torch.from_numpy(b.z_array())
    sources = dict(zip(GROUPS, choice, strict=True))
    assert len(seen) == generator.num_ws == 7
    for (input_size, w), size in zip(seen, generator.layer_sizes(), strict=True):
        expected = w_a if sources[layer_group(size)] == "a" else w_b
        assert torch.allclose(w, expected, atol=1e-6), (size, input_size, choice)
    # And the picture is synthesis of that hand-built ws tensor.
    ws = torch.stack([w_a if sources[layer_group(s)] == "a" else w_b for s in generator.layer_sizes()])[None]
    with torch.inference_mode():
        by_hand = generator.synthesis(ws)[0]
    expected_pixels = by_hand.add(1).mul(127.5).clamp(0, 255).add(0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(pil_to_array(image), expected_pixels)


def test_mixing_a_point_with_itself_is_the_point(tiny):
    a, _ = _points(tiny)
    plain = pil_to_array(tiny.render(a))
    for choice in [("a", "b", "b"), ("b", "b", "b"), ("a", "a", "a"), ("b", "a", "b")]:
        assert np.array_equal(pil_to_array(tiny.render(tiny.mixed_state(a, a, *choice))), plain)


def test_all_from_a_is_a_and_all_from_b_is_b(tiny):
    a, b = _points(tiny)
    assert np.array_equal(
        pil_to_array(tiny.render(tiny.mixed_state(a, b, "a", "a", "a"))), pil_to_array(tiny.render(a))
    )
    assert np.array_equal(
        pil_to_array(tiny.render(tiny.mixed_state(a, b, "b", "b", "b"))), pil_to_array(tiny.render(b))
    )
    mixed = pil_to_array(tiny.render(tiny.mixed_state(a, b, "a", "b", "b")))
    assert not np.array_equal(mixed, pil_to_array(tiny.render(a)))
    assert not np.array_equal(mixed, pil_to_array(tiny.render(b)))


def test_a_mixed_state_moves_its_sliders_and_keeps_its_mix(tiny):
    a, b = _points(tiny)
    mixed = tiny.mixed_state(a, b)
    moved = tiny.state_with_coordinate(mixed, 0, 1.5)
    assert moved.mix == mixed.mix and moved.z != mixed.z


# --- the bundled model: A's structure, B's look ------------------------------------------------------


def _structure(image: Image.Image) -> np.ndarray:
    """The picture's layout without its colours: luminance averaged over 4 x 4 blocks (a low
    pass), then made zero-mean and unit-spread, so a yellow and a purple face of the same shape match."""
    grey = _pixels(image).mean(axis=2)
    blocks = grey.reshape(16, grey.shape[0] // 16, 16, grey.shape[1] // 16).mean(axis=(1, 3)).ravel()
    return (blocks - blocks.mean()) / (blocks.std() + 1e-6)


def _likeness(x: Image.Image, y: Image.Image) -> float:
    return float((_structure(x) * _structure(y)).mean())  # correlation of the two layouts


PAIRS = [(0, 1), (2, 3), (4, 5), (6, 7), (12, 13), (20, 21), (24, 25), (28, 29)]


def test_on_emoji_faces_coarse_from_a_keeps_as_structure_and_bs_look(faces):
    assert faces.can_mix and faces.mix_groups() == {"coarse": [4, 8], "middle": [16, 32], "fine": [64]}
    to_a, to_b, fine_to_a, fine_to_b = [], [], [], []
    for seed_a, seed_b in PAIRS:
        a = faces.state(faces.random_z(seed_a), seed=seed_a)
        b = faces.state(faces.random_z(seed_b), seed=seed_b)
        image_a, image_b = faces.render(a), faces.render(b)
        coarse_from_a = faces.render(faces.mixed_state(a, b, coarse="a", middle="b", fine="b"))
        to_a.append(_likeness(coarse_from_a, image_a))
        to_b.append(_likeness(coarse_from_a, image_b))
        only_fine_from_a = faces.render(faces.mixed_state(a, b, coarse="b", middle="b", fine="a"))
        fine_to_a.append(_likeness(only_fine_from_a, image_a))
        fine_to_b.append(_likeness(only_fine_from_a, image_b))
        # B's layers change the picture: it is not simply A.
        assert not np.array_equal(pil_to_array(coarse_from_a), pil_to_array(image_a))
    # Coarse from A: A's layout, in every pair and on average by a clear margin.
    assert all(x > y for x, y in zip(to_a, to_b, strict=True)), (to_a, to_b)
    assert np.mean(to_a) > np.mean(to_b) + 0.1
    # Only the fine layers from A: B's layout.
    assert np.mean(fine_to_b) > np.mean(fine_to_a) + 0.1, (fine_to_a, fine_to_b)


# --- PNGs -------------------------------------------------------------------------------------------


def test_a_mixed_state_round_trips_through_a_png(tiny, tmp_path):
    a, b = _points(tiny)
    state = tiny.mixed_state(a, b, coarse="b", middle="a", fine="b")
    image = tiny.render(state)
    path = save_png(tmp_path / "mix.png", image, state_png_settings(tiny, state))
    restored = restore_state_from_png(path)
    assert restored == state
    assert restored.mix == StyleMix(b.z, 1, 0.6, 2, coarse="b", middle="a", fine="b")
    assert np.array_equal(pil_to_array(tiny.render(restored)), pil_to_array(image))
    assert np.array_equal(pil_to_array(Image.open(path).convert("RGB")), pil_to_array(image))
    stored = read_png_settings(path)[LATENT_KEY]["mix"]
    assert (stored["coarse"], stored["middle"], stored["fine"], stored["seed"]) == ("b", "a", "b", 2)


def test_a_state_without_a_mix_writes_none_and_older_pngs_open():
    plain = LatentState("ab" * 32, "Tiny", (0.5, -1.0), psi=0.7, seed=3)
    settings = plain.to_settings()
    assert "mix" not in settings[LATENT_KEY]  # written as before
    assert LatentState.from_settings(settings) == plain
    settings[LATENT_KEY]["mix"] = None  # a null mix is no mix
    assert LatentState.from_settings(settings).mix is None


VALID_MIX = {"z": [0.1, 0.2], "class_index": 1, "psi": 0.5, "seed": 9, "coarse": "a", "middle": "b", "fine": "b"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (None, "mixed", "the style mix is not a set of named values"),
        (None, [1, 2], "the style mix is not a set of named values"),
        ("z", None, "the second point's latent vector (mix z) is missing or holds something other than finite numbers"),
        ("z", [], "the second point's latent vector (mix z) is missing"),
        ("z", [0.1, "x"], "the second point's latent vector (mix z) is missing"),
        ("z", [0.1, float("nan")], "the second point's latent vector (mix z) is missing"),
        ("z", [0.1, 0.2, 0.3], "the second point has 3 latent values, the first 2"),
        ("class_index", -1, "the second point's class_index must be a non-negative whole number or None, got -1"),
        ("class_index", 1.5, "the second point's class_index must be a non-negative whole number or None, got 1.5"),
        ("class_index", True, "the second point's class_index must be a non-negative whole number or None, got True"),
        ("seed", "9", "the second point's seed must be a non-negative whole number or None, got '9'"),
        ("psi", "high", "the second point's psi must be a finite number, got 'high'"),
        ("psi", 10**400, "the second point's psi must be a finite number"),
        ("coarse", "c", "the coarse layers take their style from 'a' or 'b', got 'c'"),
        ("middle", 1, "the middle layers take their style from 'a' or 'b', got 1"),
        ("fine", None, "the fine layers take their style from 'a' or 'b', got None"),
        ("fine", "A", "the fine layers take their style from 'a' or 'b', got 'A'"),
    ],
)
def test_every_field_of_a_stored_mix_is_checked(field, value, message):
    settings = LatentState("ab" * 32, "Tiny", (0.5, -1.0), psi=0.7).to_settings()
    mix = copy.deepcopy(VALID_MIX)
    if field is None:
        mix = value
    else:
        mix[field] = value
    settings[LATENT_KEY]["mix"] = mix
    with pytest.raises(LatentStateError) as caught:
        LatentState.from_settings(json.loads(json.dumps(settings)) if field != "psi" else settings)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_stored_mix_may_leave_out_its_optional_fields():
    settings = LatentState("ab" * 32, "Tiny", (0.5, -1.0)).to_settings()
    settings[LATENT_KEY]["mix"] = {"z": [1.0, 2.0]}
    mix = LatentState.from_settings(settings).mix
    assert mix == StyleMix((1.0, 2.0), None, 1.0, None, "a", "b", "b")


def test_a_png_with_a_bad_mix_names_the_file(tmp_path):
    settings = LatentState("ab" * 32, "Tiny", (0.5, -1.0)).to_settings()
    settings[LATENT_KEY]["mix"] = {**VALID_MIX, "fine": "c"}
    path = save_png(tmp_path / "odd.png", Image.new("RGB", (4, 4)), settings)
    with pytest.raises(LatentStateError, match=r"^odd.png: the fine layers take their style from 'a' or 'b', got 'c'$"):
        restore_state_from_png(path)
    assert path.exists()  # the file is left as it was


# --- models that cannot mix ------------------------------------------------------------------------


def test_a_vae_and_a_gan_v1_refuse_to_mix_and_say_why(one_thread):
    torch.manual_seed(0)
    vae = LatentModel(VAE(VAEConfig(latent_dim=8, base_channels=4)), "vae", sha256="a" * 64, name="tiny vae")
    gan = LatentModel(
        Generator(GANConfig(latent_dim=8, g_channels=16, g_spectral_norm=False)), "gan", sha256="b" * 64, name="old gan"
    )
    for model, what in ((vae, "a VAE"), (gan, "a GAN v1 (DCGAN)")):
        assert not model.can_mix
        a, b = model.state(model.random_z(1)), model.state(model.random_z(2))
        expected = re.escape(f"{model.name} is {what}: it draws with one latent vector for the whole picture")
        with pytest.raises(MixNotSupported, match=expected):
            model.mixed_state(a, b)
        with pytest.raises(MixNotSupported, match=expected):
            model.mix_groups()
        # A mixed state made elsewhere (a hand-edited PNG) is refused when rendered, not drawn as A.
        with pytest.raises(MixNotSupported, match=expected):
            model.render(LatentState(a.model_sha256, a.model_name, a.z, mix=StyleMix(b.z)))
        assert model.render(a).size == (model.image_size, model.image_size)  # still usable


def test_mixing_refuses_a_point_of_another_model_or_of_another_size(tiny):
    a, b = _points(tiny)
    stranger = LatentState("d" * 64, "other", b.z)
    with pytest.raises(ValueError, match="the second point belongs to another model than tiny style"):
        tiny.mixed_state(a, stranger)
    with pytest.raises(ValueError, match="the second point has 3 latent values, the first 8"):
        LatentState(a.model_sha256, a.model_name, a.z, mix=StyleMix((1.0, 2.0, 3.0)))
    with pytest.raises(ValueError, match="class index 5 is outside 0..1"):
        tiny.mixed_state(a, LatentState(b.model_sha256, b.model_name, b.z, class_index=5))
    with pytest.raises(ValueError, match="the fine layers take their style from 'a' or 'b', got 'x'"):
        tiny.mixed_state(a, b, fine="x")


# --- studio mix ------------------------------------------------------------------------------------


@pytest.fixture
def library_style_gan():
    path = models_dir() / "tiny-style.safetensors"
    save_generative_model(path, tiny_style_generator(), {"name": "Tiny Style", "class_names": CLASSES})
    return path


def test_cli_mix_writes_a_png_that_reopens_as_the_same_picture(library_style_gan, tmp_path, capsys, one_thread):
    from studio.cli import main

    out = tmp_path / "mix.png"
    argv = ["mix", "--model", "Tiny Style", "--seed", "4", "--with-seed", "7", "--class", "dogs"]
    argv += ["--with-class", "cats", "--psi", "0.9", "--coarse", "a", "--middle", "b", "--fine", "a", "-o", str(out)]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "seed 4 (A) mixed with seed 7 (B): coarse from A, middle from B, fine from A, 64 x 64 px" in said
    state = restore_state_from_png(out)
    assert (state.seed, state.class_index, state.psi) == (4, 1, 0.9)
    assert state.mix is not None
    assert (state.mix.seed, state.mix.class_index, state.mix.psi) == (7, 0, 0.9)
    assert (state.mix.coarse, state.mix.middle, state.mix.fine) == ("a", "b", "a")
    model = LatentModel.load(library_style_gan)
    assert np.array_equal(state.z_array(), model.random_z(4, 1))
    assert np.array_equal(state.mix.z_array(), model.random_z(7, 0))
    assert np.array_equal(pil_to_array(model.render(state)), pil_to_array(Image.open(out).convert("RGB")))
    a = model.state(model.random_z(4, 1), 1, 0.9, seed=4)
    b = model.state(model.random_z(7, 0), 0, 0.9, seed=7)
    assert state == model.mixed_state(a, b, "a", "b", "a")


def test_cli_mix_refuses_what_cannot_be_mixed_and_writes_nothing(library_style_gan, tmp_path, capsys):
    from studio.cli import main

    vae_path = models_dir() / "tiny-vae.safetensors"
    torch.manual_seed(0)
    save_generative_model(vae_path, VAE(VAEConfig(latent_dim=8, base_channels=4)), {"name": "Tiny VAE"})
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "mix.png"
    assert main(["mix", "--model", "Tiny VAE", "--seed", "1", "--with-seed", "2", "-o", str(out)]) == 2
    assert "error: Tiny VAE is a VAE: it draws with one latent vector for the whole picture" in capsys.readouterr().err
    assert main(["mix", "--model", "Tiny Style", "--seed", "1", "--with-seed", "2", "-o", str(folder / "m.jpg")]) == 2
    assert "m.jpg: mixes are saved as .png" in capsys.readouterr().err
    argv = ["mix", "--model", "Tiny Style", "--seed", "1", "--with-seed", "2", "--with-class", "birds", "-o", str(out)]
    assert main(argv) == 2
    assert "Tiny Style has no class 'birds'; its classes: cats, dogs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["mix", "--model", "Tiny Style", "--seed", "1", "--with-seed", "2", "--coarse", "c", "-o", str(out)])
    assert exited.value.code == 2
    assert "invalid choice: 'c'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["mix", "--model", "Tiny Style", "--seed", "1", "--with-seed", "3000000000", "-o", str(out)])
    assert "the seed must be 0 to 2147483647, got 3000000000" in capsys.readouterr().err
    assert not list(folder.iterdir())


def test_cli_mix_keeps_the_previous_file_when_the_save_fails(library_style_gan, tmp_path, capsys, monkeypatch):
    import os

    from studio.cli import main

    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "mix.png"
    out.write_bytes(b"the earlier picture")

    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("studio.files.atomic.tempfile.mkstemp", refuse)
    assert main(["mix", "--model", "Tiny Style", "--seed", "1", "--with-seed", "2", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "mix.png" in err and "ermission denied" in err
    assert out.read_bytes() == b"the earlier picture"
    assert sorted(os.listdir(folder)) == ["mix.png"]
