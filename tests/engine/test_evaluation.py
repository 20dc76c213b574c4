"""The quality measures on data where the answer is known, the classifier, the VAE's fitted
prior, and `studio evaluate` end to end on a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from studio.engine.data.dataset import ImageDataset
from studio.engine.evaluation.classifier import EmojiClassifier, load_classifier, train_classifier_job
from studio.engine.evaluation.measures import all_measures, density_coverage, precision_recall
from studio.engine.evaluation.report import FeatureSpaces, evaluate_job, real_ceiling
from studio.engine.jobs import run_to_end
from studio.engine.latent.model import LatentModel
from studio.engine.models import VAE, save_generative_model
from studio.engine.models.vae_prior import fit_mixture_prior, prior_of, with_prior
from studio.spec.models import VAEConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def gaussian(n: int, dims: int = 16, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dims, generator=torch.Generator().manual_seed(seed)) + shift


# --- measures ----------------------------------------------------------------------------------


def test_identical_sets_have_full_precision_recall_density_and_coverage():
    real = gaussian(300)
    scores = {**precision_recall(real, real.clone()), **density_coverage(real, real.clone())}
    assert scores["precision"] == 1.0 and scores["recall"] == 1.0 and scores["coverage"] == 1.0
    assert scores["density"] == pytest.approx(1.0, abs=0.2)


def test_two_samples_of_one_distribution_score_high_and_a_far_shifted_copy_scores_zero():
    real, same = gaussian(400, seed=1), gaussian(400, seed=2)
    near = {**precision_recall(real, same), **density_coverage(real, same)}
    assert near["precision"] > 0.6 and near["recall"] > 0.6 and near["coverage"] > 0.8
    far = gaussian(400, seed=2, shift=10.0)
    scores = {**precision_recall(real, far), **density_coverage(real, far)}
    assert scores == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_a_collapsed_model_has_precision_but_no_recall_or_coverage():
    real = gaussian(400, seed=3)
    collapsed = real[:5].repeat(80, 1) + 0.01 * gaussian(400, seed=4)  # five modes of the data, copied
    scores = {**precision_recall(real, collapsed), **density_coverage(real, collapsed)}
    assert scores["precision"] > 0.9
    assert scores["recall"] < 0.2 and scores["coverage"] < 0.2


def test_kid_of_a_set_against_another_sample_of_itself_is_near_zero_and_far_from_a_shift():
    # More samples than reals, as in an evaluation: the 50 subsets differ, so KID has a spread.
    real, same, shifted = gaussian(300, seed=5), gaussian(800, seed=6), gaussian(800, seed=6, shift=1.0)
    same_scores = all_measures(real, same, kid_subsets=50)
    shifted_scores = all_measures(real, shifted, kid_subsets=50)
    assert same_scores["kid_std"] > 0
    assert shifted_scores["kid"] > 20 * max(abs(same_scores["kid"]), same_scores["kid_std"])


def test_many_samples_against_few_reals_are_compared_on_equal_sized_sets():
    # 2,000 samples of the data's own distribution against 100 images: a perfect model.
    real, fake = gaussian(100, seed=9), gaussian(2000, seed=10)
    scores = all_measures(real, fake, kid_subsets=10)
    assert scores["set_size"] == 100
    # Without equal sizes, recall would be near 0 and precision near 1.
    assert 0.5 < scores["recall"] < 0.95 and 0.5 < scores["precision"] < 0.95
    assert abs(scores["precision"] - scores["recall"]) < 0.2


def test_measures_refuse_sets_too_small_or_of_different_sizes():
    with pytest.raises(ValueError, match="more than 3"):
        precision_recall(gaussian(3), gaussian(10))
    with pytest.raises(ValueError, match="same D"):
        density_coverage(gaussian(10, dims=4), gaussian(10, dims=5))


def test_real_against_real_ceiling_is_high():
    features = {"vgg19": gaussian(400, seed=7), "classifier": gaussian(400, dims=8, seed=8)}
    ceiling = real_ceiling(features)
    for space in features:
        assert ceiling[space]["precision"] > 0.6 and ceiling[space]["coverage"] > 0.8


# --- the VAE's fitted prior ----------------------------------------------------------------------


def clustered_codes(n_per: int = 60, dims: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (3, dims))
    codes = np.concatenate([c + 0.3 * rng.standard_normal((n_per, dims)) for c in centres])
    labels = np.repeat(np.arange(3), n_per)
    return codes.astype(np.float32), labels


def test_mixture_prior_samples_lie_near_the_codes_and_normal_samples_do_not():
    codes, labels = clustered_codes()
    prior = fit_mixture_prior(codes, labels, per_class=2)
    assert set(prior.classes.tolist()) == {0, 1, 2}
    assert prior.weights.sum() == pytest.approx(1.0)
    drawn = prior.sample(np.random.default_rng(1), 300)
    normal = np.random.default_rng(1).standard_normal(drawn.shape)

    def nearest_code(points):
        return np.sqrt(((points[:, None, :] - codes[None]) ** 2).sum(-1)).min(1)

    assert np.median(nearest_code(drawn)) < 1.5
    assert np.median(nearest_code(normal)) > 2 * np.median(nearest_code(drawn))
    # Every class's cluster gets samples, in proportion.
    assigned = np.argmin(((drawn[:, None, :] - prior.means[None]) ** 2).sum(-1), axis=1)
    assert len(set(prior.classes[assigned].tolist())) == 3


def test_a_vae_carries_its_prior_through_its_model_file_and_randomize_uses_it(tmp_path):
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=8, base_channels=4))
    codes, labels = clustered_codes()
    fitted = with_prior(vae, fit_mixture_prior(codes, labels, per_class=1))
    path = save_generative_model(tmp_path / "vae.safetensors", fitted, {"name": "prior vae"})
    model = LatentModel.load(path)
    prior = prior_of(model.module)
    np.testing.assert_allclose(prior.means, fitted.prior_means.numpy(), rtol=1e-6)
    z = model.random_z(5)
    assert np.array_equal(z, model.random_z(5))
    distances = np.sqrt(((prior.means - z) ** 2).sum(1))
    assert distances.min() < 3.0  # a draw from one of the three clusters, not from N(0, I)
    # The decoder is unchanged by fitting the prior.
    z0 = torch.zeros(1, 8)
    torch.testing.assert_close(model.module.decode(z0), vae.eval().decode(z0))


# --- the classifier and the whole evaluation -----------------------------------------------------


def blobs_dataset(n: int = 60) -> ImageDataset:
    """Red discs and blue squares on white, 64 px: two classes any classifier can tell apart."""
    generator = torch.Generator().manual_seed(0)
    images = torch.full((n, 3, 64, 64), 255, dtype=torch.uint8)
    labels = torch.arange(n) % 2
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    for i in range(n):
        cx, cy = (torch.randint(20, 44, (2,), generator=generator)).tolist()
        if labels[i] == 0:
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < 14**2
            colour = torch.tensor([220, 30, 30], dtype=torch.uint8)
        else:
            mask = ((xx - cx).abs() < 12) & ((yy - cy).abs() < 12)
            colour = torch.tensor([30, 30, 220], dtype=torch.uint8)
        images[i][:, mask] = colour[:, None]
    split = torch.zeros(n, dtype=torch.uint8)
    split[::6] = 1
    return ImageDataset(images, labels, ["discs", "squares"], [f"img {i}" for i in range(n)], split)


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("classifier") / "classifier.safetensors"
    run_to_end(train_classifier_job(blobs_dataset(), path, steps=60, batch=16))
    return path


def test_the_classifier_learns_the_groups_and_its_card_reports_accuracy(classifier_file):
    loaded = load_classifier(classifier_file)
    assert loaded.class_names == ["discs", "squares"]
    assert loaded.card["heldout_accuracy"] >= 0.9
    assert loaded.model.embed(torch.zeros(2, 3, 64, 64)).shape == (2, EmojiClassifier(2).head.in_features)


@pytest.mark.slow
def test_evaluate_reports_every_measure_and_writes_the_neighbour_sheet(tmp_path, classifier_file):
    dataset = blobs_dataset()
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=8, base_channels=4))
    path = save_generative_model(tmp_path / "tiny.safetensors", vae, {"name": "tiny"})
    spaces = FeatureSpaces(classifier_file)
    result = run_to_end(evaluate_job(path, dataset, samples=60, out_dir=tmp_path, spaces=spaces))
    report = json.loads(result.json_path.read_text())
    for against in ("train", "heldout", "real_vs_real"):
        for space in ("vgg19", "classifier"):
            assert set(report[against][space]) == {
                "kid",
                "kid_std",
                "precision",
                "recall",
                "density",
                "coverage",
                "set_size",
            }
    # An untrained VAE draws noise, far from the data: the ceiling is far above it.
    assert report["real_vs_real"]["classifier"]["coverage"] > report["train"]["classifier"]["coverage"]
    assert report["train"]["vgg19"]["kid"] > 10 * abs(report["real_vs_real"]["vgg19"]["kid"])
    from PIL import Image

    sheet = Image.open(result.sheet_path)
    assert sheet.width > 4 * 2 * 64 and sheet.height >= 64


def test_a_vae_with_a_prior_slides_along_the_priors_axes_in_units_of_its_spread(tmp_path):
    torch.manual_seed(0)
    codes, labels = clustered_codes()
    fitted = with_prior(VAE(VAEConfig(latent_dim=8, base_channels=4)), fit_mixture_prior(codes, labels, per_class=1))
    model = LatentModel.load(save_generative_model(tmp_path / "vae.safetensors", fitted, {"name": "p"}))
    directions = model.directions()
    assert directions.method == "vae-prior"
    # The codes themselves read about 0 on average and spread over about one unit per slider
    # (a little less along the thin axes, which the fit widens by a small floor).
    coordinates = np.stack([model.coordinates(c, directions) for c in codes])
    np.testing.assert_allclose(coordinates.mean(0), 0, atol=0.2)
    assert np.all((coordinates.std(0) > 0.5) & (coordinates.std(0) < 1.5))
    moved = model.with_coordinate(codes[0], 0, 2.0, directions)
    after = model.coordinates(moved, directions)
    assert after[0] == pytest.approx(2.0, abs=1e-4)
    np.testing.assert_allclose(after[1:], model.coordinates(codes[0], directions)[1:], atol=1e-4)


def test_a_vae_with_a_prior_draws_and_slides_within_the_class_picked(tmp_path):
    torch.manual_seed(0)
    codes, labels = clustered_codes()
    fitted = with_prior(VAE(VAEConfig(latent_dim=8, base_channels=4)), fit_mixture_prior(codes, labels, per_class=2))
    card = {"name": "p", "class_names": ["red", "green", "blue"]}
    model = LatentModel.load(save_generative_model(tmp_path / "vae.safetensors", fitted, card))
    assert model.class_names == ["red", "green", "blue"] and model.directions_depend_on_class
    prior = prior_of(model.module)
    for c in range(3):
        # Randomize in a class draws from that class's components.
        zs = np.stack([model.random_z(seed, c) for seed in range(20)])
        nearest = np.argmin(((zs[:, None, :] - prior.means[None]) ** 2).sum(-1), axis=1)
        assert set(prior.classes[nearest].tolist()) == {c}
        # The class's own codes sit around 0 on its sliders, about one unit of spread each.
        directions = model.directions(class_index=c)
        own = np.stack([model.coordinates(z, directions) for z in codes[labels == c]])
        np.testing.assert_allclose(own.mean(0), 0, atol=0.3)
        assert np.all((own.std(0) > 0.5) & (own.std(0) < 1.5))
        # A seed's point moves to the new class when the class changes.
        assert not np.allclose(model.random_z(3, c), model.random_z(3, (c + 1) % 3))
    assert model.directions(class_index=0) is not model.directions(class_index=1)


@pytest.mark.slow
def test_studio_evaluate_measures_a_training_checkpoint_and_writes_its_report(tmp_path, classifier_file, capsys):
    from studio.cli import main
    from studio.engine.data.dataset import save_image_dataset
    from studio.engine.devices import select_device
    from studio.engine.training.config import default_config
    from studio.engine.training.loop import train_job
    from studio.spec.models import GANConfig

    dataset = blobs_dataset()
    data = save_image_dataset(dataset, tmp_path / "blobs")
    model = GANConfig(latent_dim=16, g_channels=32, d_channels=8, num_classes=2, architecture="style", w_dim=16)
    config = default_config("gan", model, steps=2, batch=4, log_every=1, evaluate=False)
    run_to_end(train_job(config, dataset, tmp_path / "run" / "blobs.safetensors", device=select_device()))
    checkpoint = tmp_path / "run" / "blobs.ckpt.safetensors"
    code = main(
        [
            "evaluate",
            str(checkpoint),
            "--data",
            str(data.parent),
            "--samples",
            "60",
            "--classifier",
            str(classifier_file),
            "--out",
            str(tmp_path / "report"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "real vs real" in out and "class agreement" in out
    report = json.loads((tmp_path / "report" / "blobs-step2-evaluation.json").read_text())
    assert report["samples"] == 60 and 0.0 <= report["class_agreement"] <= 1.0
    assert (tmp_path / "report" / "blobs-step2-neighbours.png").is_file()
    # --card stores the report in a model's card; a checkpoint has none.
    model = tmp_path / "run" / "blobs.safetensors"
    assert (
        main(
            [
                "evaluate",
                str(model),
                "--data",
                str(data.parent),
                "--samples",
                "60",
                "--card",
                "--classifier",
                str(classifier_file),
                "--out",
                str(tmp_path / "report"),
            ]
        )
        == 0
    )
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["evaluation"]["samples"] == 60 and card["kid"]["n_fake"] == 60
    assert (
        main(
            [
                "evaluate",
                str(checkpoint),
                "--data",
                str(data.parent),
                "--samples",
                "60",
                "--card",
                "--classifier",
                str(classifier_file),
                "--out",
                str(tmp_path / "report"),
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "missing.safetensors"),
                "--data",
                str(data.parent),
                "--classifier",
                str(classifier_file),
            ]
        )
        == 2
    )
