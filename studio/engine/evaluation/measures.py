"""Sample-quality measures on feature vectors: KID, improved precision and recall, density and coverage.

All take two sets of embeddings, ``real`` (N x D) and ``fake`` (M x D), float tensors on the CPU.

- KID (Binkowski et al. 2018): the unbiased squared MMD under a cubic polynomial kernel,
  averaged over random subsets (:func:`studio.engine.metrics.kernel_inception_distance`).
  0 for two samples of one distribution; lower is better.
- Improved precision and recall (Kynkaanniemi et al. 2019): each set's manifold is the union
  of balls around its points, each ball reaching its k-th nearest neighbour (k = 3).
  Precision is the share of fakes inside the real manifold (are samples realistic?), recall
  the share of reals inside the fake manifold (is the data's variety covered?).
- Density and coverage (Naeem et al. 2020, k = 5): density counts how many real balls hold each
  fake, divided by k (about 1 when fakes are as dense as reals; an outlier real with a huge
  ball no longer makes every fake count as realistic); coverage is the share of real points
  whose ball holds at least one fake.
"""

from __future__ import annotations

import torch

PR_NEIGHBOURS = 3
DC_NEIGHBOURS = 5
_CHUNK = 1024  # rows of a distance matrix computed at once


def _check(real: torch.Tensor, fake: torch.Tensor, k: int) -> None:
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be N x D with the same D, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if real.shape[0] <= k or fake.shape[0] <= k:
        raise ValueError(
            f"need more than {k} images in each set, got {real.shape[0]} real and {fake.shape[0]} generated"
        )


def pairwise_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances, len(a) x len(b), in float64 (sums of squares of near points cancel)."""
    a, b = a.double(), b.double()
    rows = [torch.cdist(a[i : i + _CHUNK], b) for i in range(0, a.shape[0], _CHUNK)]
    return torch.cat(rows)


def kth_neighbour_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """Each point's distance to its k-th nearest other point of the same set."""
    distances = pairwise_distances(features, features)
    # The point itself is at distance 0, the smallest: the (k+1)-th smallest is the k-th neighbour.
    return distances.kthvalue(k + 1, dim=1).values


def _inside_any(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """For each point: whether it lies within some centre's ball (bool, len(points))."""
    return (pairwise_distances(points, centres) <= radii[None, :]).any(dim=1)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = PR_NEIGHBOURS) -> dict[str, float]:
    _check(real, fake, k)
    real_radii = kth_neighbour_radii(real, k)
    fake_radii = kth_neighbour_radii(fake, k)
    precision = _inside_any(fake, real, real_radii).double().mean()
    recall = _inside_any(real, fake, fake_radii).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = DC_NEIGHBOURS) -> dict[str, float]:
    _check(real, fake, k)
    real_radii = kth_neighbour_radii(real, k)
    distances = pairwise_distances(real, fake)  # real x fake
    inside = distances <= real_radii[:, None]
    density = inside.double().sum() / (k * fake.shape[0])
    coverage = (distances.min(dim=1).values <= real_radii).double().mean()
    return {"density": float(density), "coverage": float(coverage)}


def nearest(queries: torch.Tensor, pool: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query, the index of its nearest pool point and the distance to it."""
    distances = pairwise_distances(queries, pool)
    values, indices = distances.min(dim=1)
    return indices, values


NEIGHBOUR_SUBSETS = 10


def all_measures(
    real: torch.Tensor, fake: torch.Tensor, *, kid_subsets: int, seed: int = 0, subsets: int = NEIGHBOUR_SUBSETS
) -> dict[str, float]:
    """KID (mean, std), precision, recall, density and coverage of ``fake`` against ``real``.

    The neighbour-based measures compare sets of equal size, as their authors do: the larger
    set is cut to the smaller one's size at random, ``subsets`` times, and the results are
    averaged. With 2,000 samples against 114 training images, each sample's 3rd neighbour is
    much nearer than each real image's, and recall (reals inside the samples' balls) would read
    about 0 for any model while precision read too high.
    """
    from studio.engine.metrics import kernel_inception_distance

    kid, kid_std = kernel_inception_distance(real, fake, subsets=kid_subsets, seed=seed)
    size = min(len(real), len(fake))
    generator = torch.Generator().manual_seed(seed)
    runs = 1 if len(real) == len(fake) else subsets
    totals: dict[str, float] = {}
    for _ in range(runs):
        r = real[torch.randperm(len(real), generator=generator)[:size]] if len(real) > size else real
        f = fake[torch.randperm(len(fake), generator=generator)[:size]] if len(fake) > size else fake
        for name, value in {**precision_recall(r, f), **density_coverage(r, f)}.items():
            totals[name] = totals.get(name, 0.0) + value / runs
    return {"kid": kid, "kid_std": kid_std, **totals, "set_size": size}
