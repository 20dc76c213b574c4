"""KID on VGG19 features: the estimator is the standard unbiased one, and it tells sets apart."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from studio.engine import metrics


def _smooth_images(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """Soft random colour fields in [-1, 1]: one distribution, many different pictures."""
    coarse = torch.rand(n, 3, 4, 4, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1) * 2 - 1


def _noise_images(n: int, seed: int, size: int = 32) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _reference_mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    """The unbiased MMD^2 written out term by term, as in Binkowski et al."""
    m, d = x.shape

    def k(a, b):
        return (float(a @ b) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


# --- the estimator ---------------------------------------------------------------------------------


def test_kid_is_the_unbiased_mmd_with_the_cubic_polynomial_kernel():
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(7, 5, generator=generator), torch.randn(7, 5, generator=generator) + 0.3
    kid, std = metrics.kernel_inception_distance(x, y)
    assert kid == pytest.approx(_reference_mmd2(x.double(), y.double()), rel=1e-9)
    # Every subset is the whole set here, so there is no spread to report.
    assert std == 0.0


def test_kid_is_symmetric_and_near_zero_on_average_for_one_distribution():
    generator = torch.Generator().manual_seed(1)
    same = []
    for _ in range(20):
        x, y = torch.randn(40, 8, generator=generator), torch.randn(40, 8, generator=generator)
        kid_xy, _ = metrics.kernel_inception_distance(x, y)
        kid_yx, _ = metrics.kernel_inception_distance(y, x)
        assert kid_xy == pytest.approx(kid_yx, rel=1e-9)
        same.append(kid_xy)
    shifted, _ = metrics.kernel_inception_distance(x, torch.randn(40, 8, generator=generator) + 1.0)
    spread = torch.tensor(same).std().item()
    # Unbiased: single estimates may dip below zero, their mean sits at zero within its error.
    assert abs(sum(same) / len(same)) < 3 * spread / len(same) ** 0.5
    assert shifted > 10 * spread


def test_subsets_give_a_spread_and_the_seed_makes_them_repeatable():
    generator = torch.Generator().manual_seed(2)
    x, y = torch.randn(50, 6, generator=generator), torch.randn(60, 6, generator=generator) + 0.5
    first = metrics.kernel_inception_distance(x, y, subsets=8, subset_size=20, seed=3)
    assert first == metrics.kernel_inception_distance(x, y, subsets=8, subset_size=20, seed=3)
    assert first != metrics.kernel_inception_distance(x, y, subsets=8, subset_size=20, seed=4)
    assert first[1] > 0


def test_kid_refuses_features_it_cannot_compare():
    with pytest.raises(ValueError, match="same D"):
        metrics.kernel_inception_distance(torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(ValueError, match="at least 2 images"):
        metrics.kernel_inception_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="subsets must be at least 1"):
        metrics.kernel_inception_distance(torch.zeros(5, 3), torch.zeros(5, 3), subsets=0)


# --- the embedding ---------------------------------------------------------------------------------


def test_embedding_is_one_512_vector_per_image_whatever_the_batching():
    images = _smooth_images(5, seed=3)
    whole = metrics.vgg_embedding(images, size=None)
    batched = metrics.vgg_embedding(images, size=None, batch_size=2)
    assert whole.shape == (5, 512) and whole.dtype == torch.float32 and whole.device.type == "cpu"
    torch.testing.assert_close(batched, whole, rtol=1e-4, atol=1e-5)
    assert metrics.vgg_embedding(images[:2], size=None, layers=("relu4_1", "relu5_1")).shape == (2, 1024)


def test_embedding_resizes_small_images_before_vgg():
    images = _smooth_images(2, seed=4, size=16)
    resized = metrics.vgg_embedding(images)
    by_hand = metrics.vgg_embedding(
        F.interpolate(images, size=(128, 128), mode="bilinear", antialias=True, align_corners=False), size=None
    )
    torch.testing.assert_close(resized, by_hand)


def test_embedding_refuses_bad_images():
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        metrics.vgg_embedding(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="at least 16 px"):
        metrics.vgg_embedding(torch.zeros(2, 3, 8, 8), size=None)
    with pytest.raises(ValueError, match="NaN"):
        metrics.vgg_embedding(torch.full((2, 3, 32, 32), float("nan")))
    with pytest.raises(ValueError, match="no images"):
        metrics.vgg_embedding(torch.zeros(0, 3, 32, 32))


def test_vgg_kid_tells_noise_from_pictures_and_one_distribution_from_itself():
    # Native 32 px keeps this fast; the default 128 px embedding only sharpens the contrast.
    real = metrics.vgg_embedding(_smooth_images(24, seed=10), size=None)
    held_out = metrics.vgg_embedding(_smooth_images(24, seed=11), size=None)
    noise = metrics.vgg_embedding(_noise_images(24, seed=12), size=None)
    same, _ = metrics.kernel_inception_distance(real, held_out)
    different, _ = metrics.kernel_inception_distance(real, noise)
    assert different > 0
    assert abs(same) < 0.02 * different


def test_kid_score_reports_the_figures_a_training_report_shows():
    report = metrics.kid_score(_smooth_images(3, seed=20, size=16), _noise_images(4, seed=21, size=16))
    assert set(report) == {"kid", "kid_std", "n_real", "n_fake", "feature"}
    assert (report["n_real"], report["n_fake"], report["feature"]) == (3, 4, "vgg19 relu5_1 gap")
    assert report["kid"] > 0 and report["kid_std"] >= 0
