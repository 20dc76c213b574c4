"""The Latent Explorer's engine: directions, paths, states in PNGs, renders and the commands.

Models are tiny (8 latent dimensions, few channels, random weights): what is tested is the
geometry and the bookkeeping, not the pictures.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from studio.engine.checkpoints import model_sha256
from studio.engine.jobs import JobCancelled, Progress, run_to_end
from studio.engine.latent.directions import Directions, directions_cache_path
from studio.engine.latent.interpolation import interpolate_frames, interpolate_path, slerp
from studio.engine.latent.model import EncodeNotSupported, LatentModel
from studio.engine.latent.state import (
    LatentState,
    LatentStateError,
    ModelNotFoundError,
    find_model,
    find_model_for_state,
    restore_state_from_png,
    state_png_settings,
)
from studio.engine.models import VAE, Generator, save_generative_model
from studio.files.images import ImageLoadError, pil_to_array, save_png
from studio.files.paths import models_dir
from studio.spec.models import GANConfig, VAEConfig

LATENT = 8
CLASSES = ["cats", "dogs"]


def _vae_module():
    torch.manual_seed(0)
    return VAE(VAEConfig(latent_dim=LATENT, base_channels=4))


def _gan_module():
    torch.manual_seed(1)
    generator = Generator(GANConfig(latent_dim=LATENT, g_channels=16, num_classes=len(CLASSES), g_spectral_norm=False))
    with torch.no_grad():  # fresh class embeddings are all alike; training would make them differ
        for name, parameter in generator.named_parameters():
            if "embedding" in name:
                parameter.add_(0.5 * torch.randn_like(parameter))
    return generator


@pytest.fixture(scope="module")
def vae_module():
    return _vae_module()


@pytest.fixture(scope="module")
def gan_module():
    return _gan_module()


@pytest.fixture
def vae(vae_module):
    return LatentModel(vae_module, "vae", sha256="a" * 64, name="tiny vae")


@pytest.fixture
def gan(gan_module):
    return LatentModel(gan_module, "gan", sha256="b" * 64, name="tiny gan", class_names=CLASSES)


@pytest.fixture
def library_gan():
    """A conditional GAN saved in the user's model library, as the commands find it."""
    path = models_dir() / "tiny-gan.safetensors"
    save_generative_model(path, _gan_module(), {"name": "Tiny GAN", "class_names": CLASSES})
    return path


def _assert_orthonormal(directions: Directions, latent_dim: int) -> None:
    vectors = directions.vectors.astype(np.float64)
    assert vectors.shape[1] == latent_dim
    np.testing.assert_allclose(vectors @ vectors.T, np.eye(len(vectors)), atol=1e-5)
    assert np.all(np.diff(directions.scores) <= 1e-12), "scores must be in descending order"
    assert len(directions.labels) == len(vectors)


# --- directions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "method"), [("vae", "vae-kl"), ("vae", "vae-variance"), ("gan", "sefa"), ("gan", "ganspace")]
)
def test_every_kind_of_direction_is_orthonormal_and_ranked(request, which, method):
    model = request.getfixturevalue(which)
    directions = model.directions(method)
    _assert_orthonormal(directions, LATENT)
    assert directions.method == method


def test_vae_directions_are_its_own_axes_labelled_by_dimension(vae):
    directions = vae.directions()
    assert directions.method == "vae-kl" and len(directions.labels) == LATENT
    for vector, label in zip(directions.vectors, directions.labels, strict=False):
        dim = int(label.removeprefix("dim "))
        assert vector[dim] == 1.0 and np.count_nonzero(vector) == 1


def test_gan_directions_default_to_sefa_on_the_first_layer(gan, gan_module):
    directions = gan.directions()
    assert directions.method == "sefa" and directions.labels[0] == "direction 1"
    weight = gan_module.sefa_weight().double().numpy()
    # Each SeFa direction is an eigenvector of W^T W, with its eigenvalue as its score.
    gram = weight.T @ weight
    np.testing.assert_allclose(
        gram @ directions.vectors[0], directions.scores[0] * directions.vectors[0], rtol=1e-4, atol=1e-6
    )


def test_an_unknown_direction_method_is_refused_by_name(vae):
    with pytest.raises(ValueError, match="sefa"):
        vae.directions("sefa")


@pytest.mark.parametrize("which", ["vae", "gan"])
def test_a_slider_moves_its_own_coordinate_and_no_other(request, which):
    model = request.getfixturevalue(which)
    z = model.random_z(3)
    before = model.coordinates(z)
    moved = model.with_coordinate(z, 2, 2.5)
    after = model.coordinates(moved)
    assert after[2] == pytest.approx(2.5, abs=1e-5)
    np.testing.assert_allclose(np.delete(after, 2), np.delete(before, 2), atol=1e-5)
    # Coordinates are a rotation of z: the same length, and z comes back from them.
    np.testing.assert_allclose(model.directions().vectors.T @ before, z, atol=1e-5)


def test_directions_are_cached_on_disk_and_read_back_identical(gan_module, studio_home):
    first = LatentModel(gan_module, "gan", sha256="c" * 64, name="g", class_names=CLASSES).directions("ganspace")
    cache = directions_cache_path("c" * 64, "ganspace")
    assert cache.is_file() and cache.parent == studio_home / "data" / "cache" / "directions"
    mtime = cache.stat().st_mtime_ns
    again = LatentModel(gan_module, "gan", sha256="c" * 64, name="g", class_names=CLASSES).directions("ganspace")
    assert cache.stat().st_mtime_ns == mtime, "a cache hit must not rewrite the file"
    np.testing.assert_array_equal(again.vectors, first.vectors)
    np.testing.assert_array_equal(again.scores, first.scores)
    assert again.labels == first.labels


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong size"])
def test_a_damaged_directions_cache_is_recomputed_not_fatal(vae_module, damage):
    fresh = LatentModel(vae_module, "vae", sha256="d" * 64, name="v").directions()
    cache = directions_cache_path("d" * 64, "vae-kl")
    if damage == "garbage":
        cache.write_bytes(b"not a numpy file")
    elif damage == "truncated":
        cache.write_bytes(cache.read_bytes()[:100])
    else:
        np.savez(
            cache,
            vectors=np.eye(3, dtype=np.float32),
            scores=np.ones(3),
            labels=np.array(["a", "b", "c"]),
            method=np.array("vae-kl"),
        )
    recomputed = LatentModel(vae_module, "vae", sha256="d" * 64, name="v").directions()
    np.testing.assert_array_equal(recomputed.vectors, fresh.vectors)
    with np.load(cache, allow_pickle=False) as data:  # and the cache is whole again
        np.testing.assert_array_equal(data["vectors"], fresh.vectors)


# --- paths between points ------------------------------------------------------------------------


def test_slerp_ends_exactly_on_its_endpoints():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(64, dtype=np.float32), rng.standard_normal(64, dtype=np.float32)
    assert np.array_equal(slerp(a, b, 0.0), a) and np.array_equal(slerp(a, b, 1.0), b)
    assert slerp(a, b, 0.5).dtype == np.float32


def test_slerp_keeps_gaussian_latents_at_a_typical_length():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(512)
    b = rng.standard_normal(512)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    for t in (0.25, 0.5, 0.75):
        assert np.linalg.norm(slerp(a, b, t)) == pytest.approx(np.linalg.norm(a), rel=1e-5)
    # A straight line would pass about 30% closer to the origin, where no samples live.
    assert np.linalg.norm((a + b) / 2) < 0.8 * np.linalg.norm(a)


def test_slerp_of_parallel_or_zero_vectors_falls_back_to_a_line():
    a = np.ones(4, dtype=np.float32)
    np.testing.assert_allclose(slerp(a, 2 * a, 0.5), 1.5 * a)
    zero = np.zeros(4, dtype=np.float32)
    assert np.all(np.isfinite(slerp(zero, a, 0.5)))


def test_interpolate_path_starts_on_the_first_bookmark_and_passes_each():
    rng = np.random.default_rng(2)
    zs = [rng.standard_normal(LATENT, dtype=np.float32) for _ in range(3)]
    open_path = interpolate_path(zs, 4, loop=False)
    assert open_path.shape == (9, LATENT)
    assert (
        np.array_equal(open_path[0], zs[0])
        and np.array_equal(open_path[4], zs[1])
        and np.array_equal(open_path[-1], zs[2])
    )
    loop = interpolate_path(zs, 4, loop=True)
    assert loop.shape == (12, LATENT)
    assert np.array_equal(loop[0], zs[0]) and np.array_equal(loop[8], zs[2])
    assert not np.array_equal(loop[-1], zs[0]), "a loop stops one step short so its first frame is not shown twice"


def test_interpolate_frames_gives_exactly_the_frames_asked_for():
    zs = [np.full(3, v, dtype=np.float32) for v in (1.0, 2.0, 3.0)]
    assert len(interpolate_frames(zs, 24, loop=True)) == 24
    path = interpolate_frames(zs, 7, loop=False)
    assert len(path) == 7 and np.array_equal(path[-1], zs[-1])
    with pytest.raises(ValueError, match="two points"):
        interpolate_frames(zs[:1], 5, loop=False)


# --- state, PNG round trip ---------------------------------------------------------------------


def test_a_state_survives_its_settings_as_json(gan):
    state = gan.state(gan.random_z(5), class_index=1, psi=0.7, seed=5)
    restored = LatentState.from_settings(json.loads(json.dumps(state.to_settings())))
    assert restored == state
    assert np.array_equal(restored.z_array(), gan.random_z(5)), "float32 values must come back bit for bit"


def test_a_state_built_from_numpy_values_still_writes_plain_json():
    state = LatentState("e" * 64, "m", np.ones(3, dtype=np.float32), np.int64(1), np.float32(0.5), np.uint32(7))
    text = json.dumps(state.to_settings())
    assert LatentState.from_settings(json.loads(text)) == state
    with pytest.raises(ValueError, match="psi"):
        LatentState("e" * 64, "m", (0.0,), psi=float("nan"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"z": "0.1,0.2"}, "latent vector"),
        ({"z": []}, "latent vector"),
        ({"z": [1.0, "x"]}, "latent vector"),
        ({"model_sha256": None}, "which model"),
        ({"class_index": -1}, "class_index"),
        ({"class_index": True}, "class_index"),
        ({"psi": "strong"}, "psi"),
        ({"seed": 1.5}, "seed"),
        ({"version": 99}, "newer"),
    ],
)
def test_malformed_state_settings_are_refused_with_the_reason(change, message):
    settings = LatentState("e" * 64, "m", (0.1, 0.2)).to_settings()
    settings["latent"].update(change)
    with pytest.raises(LatentStateError, match=message):
        LatentState.from_settings(settings)


def test_settings_without_a_state_are_refused():
    with pytest.raises(LatentStateError):
        LatentState.from_settings({"style": {}})
    with pytest.raises(LatentStateError):
        LatentState.from_settings(["latent"])


@pytest.mark.parametrize("which", ["vae", "gan"])
def test_an_exported_png_restores_the_same_image(request, tmp_path, which):
    model = request.getfixturevalue(which)
    z = model.with_coordinate(model.random_z(11), 0, -2.0)
    state = model.state(z, class_index=1 if which == "gan" else None, psi=0.8)
    image = model.render(state)
    path = save_png(tmp_path / "export.png", image, state_png_settings(model, state))

    restored = restore_state_from_png(path)
    assert restored == state
    again = model.render(restored)
    assert np.array_equal(pil_to_array(again), pil_to_array(image))
    with Image.open(path) as saved:
        assert np.array_equal(np.asarray(saved.convert("RGB")), pil_to_array(image))


def test_a_png_without_a_state_names_the_file(tmp_path):
    path = save_png(tmp_path / "plain.png", Image.new("RGB", (4, 4)))
    with pytest.raises(LatentStateError, match="plain.png"):
        restore_state_from_png(path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ImageLoadError, match="broken.png"):
        restore_state_from_png(tmp_path / "broken.png")


def test_a_state_of_another_model_is_not_exported_as_this_ones(vae, gan):
    with pytest.raises(ValueError, match="another model"):
        state_png_settings(vae, gan.state(gan.random_z(0)))


# --- rendering -----------------------------------------------------------------------------------


def test_random_z_is_standard_normal_and_fixed_per_seed(vae):
    assert np.array_equal(vae.random_z(7), vae.random_z(7))
    assert not np.array_equal(vae.random_z(7), vae.random_z(8))
    assert vae.random_z(7).dtype == np.float32 and vae.random_z(7).shape == (LATENT,)
    with pytest.raises(ValueError):
        vae.random_z(-1)


def test_render_gives_an_rgb_image_of_the_models_size(vae, gan):
    for model in (vae, gan):
        image = model.render(model.random_z(0))
        assert image.mode == "RGB" and image.size == (64, 64) == (model.image_size,) * 2


def test_gan_truncation_pulls_toward_the_mean_image_and_vae_ignores_psi(vae, gan):
    mean_image = pil_to_array(gan.render(np.zeros(LATENT, dtype=np.float32), class_index=0))
    assert np.array_equal(pil_to_array(gan.render(gan.random_z(1), class_index=0, psi=0.0)), mean_image)
    assert not np.array_equal(pil_to_array(gan.render(gan.random_z(1), class_index=0)), mean_image)
    z = vae.random_z(1)
    assert np.array_equal(pil_to_array(vae.render(z, psi=0.0)), pil_to_array(vae.render(z)))


def test_the_class_changes_a_conditional_gans_image(gan):
    z = gan.random_z(2)
    assert not np.array_equal(pil_to_array(gan.render(z, class_index=0)), pil_to_array(gan.render(z, class_index=1)))
    with pytest.raises(ValueError, match="0..1"):
        gan.render(z, class_index=2)


def test_a_latent_of_the_wrong_size_is_refused_clearly(vae):
    with pytest.raises(ValueError, match=f"{LATENT} values"):
        vae.render(np.zeros(LATENT + 1, dtype=np.float32))


def test_a_batch_renders_what_single_renders_show(gan):
    zs = np.stack([gan.random_z(s) for s in range(3)])
    batch = gan.render_batch(zs, [0, 1, 0])
    for z, cls, image in zip(zs, [0, 1, 0], batch, strict=False):
        difference = np.abs(pil_to_array(image).astype(int) - pil_to_array(gan.render(z, class_index=cls)).astype(int))
        assert difference.max() <= 1  # batched kernels may round differently, never visibly


def test_sample_grid_is_four_by_four_of_consecutive_seeds(gan):
    grid, zs = gan.sample_grid(seed=10, class_index=1)
    assert grid.size == (4 * 64, 4 * 64) and len(zs) == 16
    assert np.array_equal(zs[5], gan.random_z(15))
    tile = grid.crop((64, 64, 128, 128))  # row 1, column 1: tile 5
    difference = np.abs(pil_to_array(tile).astype(int) - pil_to_array(gan.render(zs[5], class_index=1)).astype(int))
    assert difference.max() <= 1


def test_class_names_and_indices_resolve_for_the_command_line(gan, vae):
    assert gan.class_index("dogs") == 1 and gan.class_index("0") == 0 and gan.class_index(None) is None
    with pytest.raises(ValueError, match="cats, dogs"):
        gan.class_index("birds")
    with pytest.raises(ValueError, match="unconditional"):
        vae.class_index("cats")


# --- the artist's own image ------------------------------------------------------------------------


def test_a_vae_encodes_any_image_to_its_latent_size(vae):
    photo = Image.new("RGBA", (90, 40), (200, 30, 30, 128))  # not square, with transparency
    z = vae.encode(photo)
    assert z.shape == (LATENT,) and z.dtype == np.float32 and np.all(np.isfinite(z))


def test_a_gan_points_to_projection_instead_of_encoding(gan):
    with pytest.raises(NotImplementedError, match="project_job"):
        gan.encode(Image.new("RGB", (64, 64)))
    assert issubclass(EncodeNotSupported, NotImplementedError)


@pytest.mark.parametrize("which", ["vae", "gan"])
def test_projection_reports_progress_and_gets_closer(request, which):
    model = request.getfixturevalue(which)
    target = model.render(model.random_z(42))
    updates = []
    z = run_to_end(model.project_job(target, steps=12, lr=0.1, seed=0), updates.append)
    assert z.shape == (LATENT,) and z.dtype == np.float32
    assert len(updates) == 12 and all(isinstance(u, Progress) for u in updates)
    assert updates[-1].fraction == 1.0 and isinstance(updates[0].preview, Image.Image)
    errors = [float(u.message.rsplit(" ", 1)[1]) for u in updates]
    assert errors[-1] <= errors[0]


def test_a_cancelled_projection_returns_its_best_point_so_far(gan):
    job = gan.project_job(gan.render(gan.random_z(3), class_index=0), steps=50)
    next(job)
    next(job)
    with pytest.raises(StopIteration) as stop:
        job.throw(JobCancelled())
    assert stop.value.value.shape == (LATENT,)


# --- models on disk and the commands -----------------------------------------------------------------


def test_a_saved_model_loads_with_its_card_and_hash(library_gan):
    model = LatentModel.load(library_gan)
    assert model.kind == "gan" and model.name == "Tiny GAN" and model.class_names == CLASSES
    assert model.sha256 == model_sha256(library_gan) and model.path == library_gan
    assert find_model_for_state(model.state(model.random_z(0))) == library_gan


def test_find_model_by_name_file_name_or_path(library_gan):
    assert find_model("tiny gan") == library_gan
    assert find_model("tiny-gan") == library_gan
    assert find_model(str(library_gan)) == library_gan
    with pytest.raises(ModelNotFoundError, match="Tiny GAN"):
        find_model("sunsets")


def _studio(*args):
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=300, env={**os.environ}
    )


def test_cli_sample_and_interpolate(library_gan, tmp_path):
    out = tmp_path / "out.png"
    result = _studio("sample", "--model", "Tiny GAN", "--class", "dogs", "--seed", "4", "--psi", "0.9", "-o", str(out))
    assert result.returncode == 0, result.stderr
    state = restore_state_from_png(out)
    assert (state.seed, state.class_index, state.psi) == (4, 1, 0.9)
    model = LatentModel.load(library_gan)
    assert np.array_equal(state.z_array(), model.random_z(4))
    assert np.array_equal(pil_to_array(model.render(state)), np.asarray(Image.open(out).convert("RGB")))

    walk, frames = tmp_path / "walk.gif", tmp_path / "frames"
    result = _studio(
        "interpolate",
        "--model",
        str(library_gan),
        "--seeds",
        "1,2,3",
        "--frames",
        "6",
        "--class",
        "1",
        "-o",
        str(walk),
        "--frames-dir",
        str(frames),
    )
    assert result.returncode == 0, result.stderr
    with Image.open(walk) as gif:
        assert gif.n_frames == 6
    written = sorted(frames.glob("frame_*.png"))
    assert [p.name for p in written][:2] == ["frame_0001.png", "frame_0002.png"] and len(written) == 6
    assert np.array_equal(restore_state_from_png(written[0]).z_array(), model.random_z(1))


def test_cli_errors_name_the_problem(library_gan, tmp_path, capsys):
    from studio.cli import main

    assert main(["sample", "--model", "sunsets", "--seed", "1", "-o", str(tmp_path / "a.png")]) == 2
    assert "Tiny GAN" in capsys.readouterr().err
    assert main(["sample", "--model", "Tiny GAN", "--seed", "1", "-o", str(tmp_path / "a.jpg")]) == 2
    assert ".png" in capsys.readouterr().err
    assert (
        main(
            ["interpolate", "--model", "Tiny GAN", "--seeds", "1,2", "--class", "birds", "-o", str(tmp_path / "w.gif")]
        )
        == 2
    )
    assert "cats, dogs" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.gif")) and not list(tmp_path.glob("a.*"))


def test_an_unconditional_model_offers_no_classes_even_if_its_card_lists_the_data_classes(tmp_path):
    import torch

    from studio.engine.latent.model import LatentModel
    from studio.engine.models import VAE
    from studio.engine.models.store import save_generative_model
    from studio.spec.models import VAEConfig

    torch.manual_seed(0)
    path = save_generative_model(
        tmp_path / "vae.safetensors",
        VAE(VAEConfig(latent_dim=4, base_channels=8)),
        {"name": "tiny", "class_names": ["Smileys", "Flags"]},
    )
    model = LatentModel.load(path)
    assert model.class_names == []
    assert model.render(model.random_z(1)).size == (64, 64)


def test_cli_exports_take_a_size_and_a_resampler(library_gan, tmp_path, capsys):
    from studio.cli import main

    out = tmp_path / "big.png"
    assert (
        main(["sample", "--model", "Tiny GAN", "--seed", "4", "--scale", "4", "--resample", "crisp", "-o", str(out)])
        == 0
    )
    assert "256 x 256 px" in capsys.readouterr().out
    model = LatentModel.load(library_gan)
    native = pil_to_array(model.render(restore_state_from_png(out)))  # the state survives the enlarging
    big = np.asarray(Image.open(out).convert("RGB"))
    assert big.shape == (4 * model.image_size, 4 * model.image_size, 3)
    assert np.array_equal(big[::4, ::4], native) and np.array_equal(big[3::4, 3::4], native)

    smooth = tmp_path / "smooth.png"
    assert main(["sample", "--model", "Tiny GAN", "--seed", "4", "--size", "200", "-o", str(smooth)]) == 0
    assert Image.open(smooth).size == (200, 200)
    assert restore_state_from_png(smooth) == restore_state_from_png(out)

    walk = tmp_path / "walk.gif"
    frames = tmp_path / "frames"
    words = ["interpolate", "--model", "Tiny GAN", "--seeds", "1,2,3", "--frames", "6", "--class", "1", "--scale", "8"]
    assert main([*words, "-o", str(walk), "--frames-dir", str(frames)]) == 0
    with Image.open(walk) as animation:
        assert animation.size == (8 * model.image_size,) * 2 and animation.n_frames == 6
    first = sorted(frames.glob("*.png"))[0]
    assert Image.open(first).size == (8 * model.image_size,) * 2
    assert np.array_equal(restore_state_from_png(first).z_array(), model.random_z(1))


@pytest.mark.parametrize(
    "words",
    [
        ["--scale", "3"],
        ["--scale", "big"],
        ["--size", "5"],
        ["--size", "99999"],
        ["--resample", "blurry"],
        ["--scale", "4", "--size", "300"],
    ],
)
def test_cli_refuses_nonsense_sizes_with_exit_2(library_gan, tmp_path, capsys, words):
    from studio.cli import main

    out = tmp_path / "a.png"
    with pytest.raises(SystemExit) as exit_:
        main(["sample", "--model", "Tiny GAN", "--seed", "1", *words, "-o", str(out)])
    assert exit_.value.code == 2
    assert words[0] in capsys.readouterr().err
    assert not out.exists()


def test_cli_refuses_a_grid_too_large_to_export(library_gan, tmp_path, capsys):
    from studio.cli import main

    out = tmp_path / "grid.png"
    words = ["sample", "--model", "Tiny GAN", "--seed", "1", "--grid", "--rows", "20", "--cols", "20", "--scale", "8"]
    assert main([*words, "-o", str(out)]) == 2
    assert "8192" in capsys.readouterr().err and not out.exists()
