"""Masked repainting (studio/engine/latent/repaint.py and `studio repaint`) on the bundled models."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.engine.jobs import JobCancelled, run_to_end
from studio.engine.latent.model import LatentModel
from studio.engine.latent.repaint import RepaintError, mask_array, repaint_job
from studio.engine.latent.state import restore_state_from_png

MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"


@pytest.fixture(scope="module")
def vae():
    return LatentModel.load(MODELS / "emoji-vae.safetensors")


@pytest.fixture(scope="module")
def faces():
    return LatentModel.load(MODELS / "emoji-faces.safetensors")


def _centre(size=64):
    mask = np.zeros((size, size), np.float32)
    mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1.0
    return mask


@pytest.mark.parametrize("which", ["vae", "faces"])
def test_repaint_keeps_the_unmasked_part_and_changes_the_masked_part(request, which, one_thread):
    model = request.getfixturevalue(which)
    state = model.state(model.random_z(5), seed=5)
    # The tolerance is measured: the starts' own change (one step = the starts as they are).
    start = run_to_end(repaint_job(model, state, _centre(), candidates=2, steps=1))
    result = run_to_end(repaint_job(model, state, _centre(), candidates=2, steps=40))
    assert len(result.candidates) == 2 and result.steps_done == 40 and not result.cancelled
    best_start = min(c.unmasked_change for c in start.candidates)
    best = result.candidates[0]
    assert best.unmasked_change == min(c.unmasked_change for c in result.candidates)  # best kept first
    assert best.unmasked_change < 0.6 * best_start  # the search pulled the kept part back
    if which == "vae":  # the encoder-guided start lands close: within the benchmark's 4/255 goal, twice over
        assert best.unmasked_change < 8 / 255
    assert all(c.masked_change > 2 * c.unmasked_change for c in result.candidates)  # the mask was repainted
    # Repainted, not the original with a faint change: about 25/255 is what the search asks for.
    assert all(c.masked_change > 15 / 255 for c in result.candidates), [
        c.masked_change * 255 for c in result.candidates
    ]
    for candidate in result.candidates:
        assert candidate.state.model_sha256 == model.sha256 and candidate.state != state
        # Emoji Faces (GAN v2) repaints in its per-layer w and keeps z; the VAE moves z.
        assert (
            (candidate.state.z == state.z and candidate.state.layers)
            if which == "faces"
            else not candidate.state.layers
        )
        model.render(candidate.state)  # each is a whole state the model draws
    pictures = [np.asarray(model.render(c.state), dtype=np.float32) for c in result.candidates]
    inside = _centre() >= 0.5
    assert np.abs(pictures[0] - pictures[1]).mean(axis=2)[inside].mean() > 3  # two different repaints


@pytest.mark.parametrize("name", ["emoji-gan", "emoji-vae"])
def test_a_conditional_model_repaints_in_the_pictures_class(name, one_thread):
    model = LatentModel.load(MODELS / f"{name}.safetensors")
    state = model.state(model.random_z(2, 1), 1)
    result = run_to_end(repaint_job(model, state, _centre(), candidates=3, steps=2))
    assert [c.state.class_index for c in result.candidates] == [1, 1, 1]


def test_cancel_stops_between_steps_and_keeps_the_candidates(vae, one_thread):
    state = vae.state(vae.random_z(1))
    job = repaint_job(vae, state, _centre(), candidates=3, steps=50)
    for _ in range(3):
        next(job)
    with pytest.raises(StopIteration) as stop:
        job.throw(JobCancelled())
    result = stop.value.value
    assert result.cancelled and result.steps_done == 3
    assert len(result.candidates) == 3


def test_a_mask_of_another_size_is_resized(vae):
    big = np.zeros((300, 200), np.float32)
    big[:150] = 1.0
    mask = mask_array(big, 64)
    assert mask.shape == (64, 64)
    assert mask[:30].min() == 1.0 and mask[34:].max() == 0.0
    picture = Image.new("RGB", (500, 500), "black")
    picture.paste((255, 255, 255), (0, 250, 500, 500))
    assert mask_array(picture, 64)[40:].min() == 1.0


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.zeros((64, 64)), "the mask is empty (all black): nothing to repaint"),
        (np.full((64, 64), 0.3), "the mask is too faint to repaint anything (its brightest pixel is 30%)"),
        (np.ones((64, 64)), "the mask covers the whole picture: nothing is left to keep"),
        (np.zeros((4, 64, 64)), "a mask is one channel, height x width; got shape (4, 64, 64)"),
        (np.full((64, 64), np.nan), "the mask holds values that are not numbers"),
    ],
)
def test_a_bad_mask_is_refused_with_the_reason(vae, mask, message):
    state = vae.state(vae.random_z(1))
    with pytest.raises(RepaintError) as caught:
        next(repaint_job(vae, state, mask))
    assert message in str(caught.value)


def test_a_state_of_another_model_is_refused(vae, faces):
    with pytest.raises(RepaintError, match="made by another model than Emoji VAE"):
        next(repaint_job(vae, faces.state(faces.random_z(1)), _centre()))


def test_the_command_writes_candidates_that_reopen_and_a_sheet(tmp_path, capsys, one_thread):
    mask = Image.new("L", (200, 200), 0)
    mask.paste(255, (50, 50, 150, 150))
    mask.save(tmp_path / "mask.png")
    code = main(
        [
            "repaint",
            "--model",
            str(MODELS / "emoji-vae.safetensors"),
            "--seed",
            "4",
            "--mask",
            str(tmp_path / "mask.png"),
            "--candidates",
            "2",
            "--steps",
            "5",
            "-o",
            str(tmp_path / "out.png"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "unmasked part changed by" in capsys.readouterr().out
    model = LatentModel.load(MODELS / "emoji-vae.safetensors")
    for number in (1, 2):
        state = restore_state_from_png(tmp_path / f"out-{number}.png")
        assert np.array_equal(
            np.asarray(Image.open(tmp_path / f"out-{number}.png").convert("RGB")), np.asarray(model.render(state))
        )
    assert Image.open(tmp_path / "out-sheet.png").size == (4 * 66 - 2, 64)
    # Repainting a candidate again: --from takes the state it carries.
    code = main(
        [
            "repaint",
            "--model",
            "Emoji VAE",
            "--from",
            str(tmp_path / "out-1.png"),
            "--mask",
            str(tmp_path / "mask.png"),
            "--candidates",
            "1",
            "--steps",
            "2",
            "-o",
            str(tmp_path / "again.png"),
        ]
    )
    assert code == 0 and (tmp_path / "again-1.png").is_file()


def test_the_command_says_why_a_mask_is_unusable_and_writes_nothing(tmp_path, capsys):
    Image.new("RGB", (64, 64), "black").save(tmp_path / "black.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    previous = tmp_path / "out-1.png"
    previous.write_bytes(b"an earlier result")
    args = ["repaint", "--model", str(MODELS / "emoji-vae.safetensors"), "--seed", "1", "-o", str(tmp_path / "out.png")]
    assert main([*args, "--mask", str(tmp_path / "black.png")]) == 2
    assert "the mask is empty (all black): nothing to repaint" in capsys.readouterr().err
    assert main([*args, "--mask", str(tmp_path / "broken.png")]) == 2
    assert "Could not open broken.png" in capsys.readouterr().err
    assert main([*args, "--mask", str(tmp_path / "missing.png")]) == 2
    assert "missing.png" in capsys.readouterr().err
    assert previous.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["black.png", "broken.png", "out-1.png"]


def _repaint_from(tmp_path, model_file: str, png: str) -> int:
    """studio repaint --from tmp_path/png --mask tmp_path/mask.png with the bundled model_file."""
    return main(
        [
            "repaint",
            "--model",
            str(MODELS / model_file),
            "--from",
            str(tmp_path / png),
            "--mask",
            str(tmp_path / "mask.png"),
            "-o",
            str(tmp_path / "out.png"),
        ]
    )


def test_a_png_from_another_model_names_the_model_to_use(tmp_path, capsys, faces):
    from studio.engine.latent.state import state_png_settings
    from studio.files.images import save_png

    state = faces.state(faces.random_z(2))
    save_png(tmp_path / "face.png", faces.render(state), state_png_settings(faces, state))
    Image.new("L", (64, 64), 255).save(tmp_path / "mask.png")
    code = _repaint_from(tmp_path, "emoji-vae.safetensors", "face.png")
    assert code == 2
    assert "face.png was made with Emoji Faces, not Emoji VAE: give --model Emoji Faces" in capsys.readouterr().err


def test_a_plain_picture_for_a_gan_says_which_pngs_it_takes(tmp_path, capsys):
    Image.new("RGB", (64, 64), "red").save(tmp_path / "photo.png")
    Image.new("L", (64, 64), 0).save(tmp_path / "mask.png")
    code = _repaint_from(tmp_path, "emoji-faces.safetensors", "photo.png")
    assert code == 2
    assert (
        "photo.png holds no latent state (it was not exported from the Latent Explorer); Emoji Faces is a GAN, "
        "so --from takes a PNG exported from the Latent Explorer" in capsys.readouterr().err
    )
