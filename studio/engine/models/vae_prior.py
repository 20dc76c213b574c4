"""A VAE's prior fitted after training: a small Gaussian mixture per class on the training codes.

A VAE is trained to decode codes that its encoder gives, and the KL term only loosely pulls
them towards N(0, I); random draws from N(0, I) land between the clusters the codes actually
form and decode to vague smears. Fitting a density to the codes afterwards and sampling from
it (ex-post density estimation, Ghosh et al. 2020) puts random samples where the decoder has
learnt to draw. One small mixture per class keeps every class represented in proportion.

Each component is stored by its principal axes and the standard deviations along them, so a
sample is ``mean + sum_i eps_i * std_i * axis_i`` and the explorer's sliders can move along a
component's axes in units of its spread.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from studio.engine.models.vae import VAE

COMPONENTS_PER_CLASS = 3
MIN_POINTS_PER_COMPONENT = 24
EM_ITERATIONS = 100
# Added to each covariance's diagonal, relative to the codes' mean variance: with a few dozen
# points per component in 32 dimensions a plain estimate would be singular.
COVARIANCE_FLOOR = 1e-2


@dataclass(frozen=True)
class MixturePrior:
    means: np.ndarray  # K x d
    axes: np.ndarray  # K x d x d, each component's principal axes as rows
    stds: np.ndarray  # K x d
    weights: np.ndarray  # K, summing to 1
    classes: np.ndarray  # K, the class each component describes

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return sample_mixture(self.means, self.axes, self.stds, self.weights, rng, count)

    @property
    def num_classes(self) -> int:
        return int(self.classes.max()) + 1 if len(self.classes) else 0

    def for_class(self, class_index: int) -> MixturePrior:
        """The components fitted on one class, their weights summing to 1 (the whole prior for a
        class it has no component of, so a point can always be drawn)."""
        keep = self.classes == class_index
        if not keep.any():
            return self
        return MixturePrior(
            self.means[keep],
            self.axes[keep],
            self.stds[keep],
            self.weights[keep] / self.weights[keep].sum(),
            self.classes[keep],
        )


def sample_mixture(
    means: np.ndarray, axes: np.ndarray, stds: np.ndarray, weights: np.ndarray, rng: np.random.Generator, count: int
) -> np.ndarray:
    """``count`` draws (count x d float32): a component by weight, then a Gaussian draw from it."""
    components = rng.choice(len(weights), size=count, p=weights / weights.sum())
    eps = rng.standard_normal((count, means.shape[1]))
    offsets = np.einsum("nd,nde->ne", eps * stds[components], axes[components])
    return (means[components] + offsets).astype(np.float32)


def _log_gaussian(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    chol = np.linalg.cholesky(cov)
    solved = np.linalg.solve(chol, (x - mean).T)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * ((solved**2).sum(axis=0) + log_det + x.shape[1] * np.log(2 * np.pi))


def fit_gaussian_mixture(
    x: np.ndarray, k: int, seed: int = 0, floor: float = 1e-3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EM for a full-covariance Gaussian mixture; returns (weights K, means K x d, covariances K x d x d)."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    # k-means++-style start: spread the first means over the data.
    starts = [x[rng.integers(n)]]
    for _ in range(1, k):
        distance = np.min([((x - m) ** 2).sum(axis=1) for m in starts], axis=0)
        starts.append(x[rng.choice(n, p=distance / distance.sum())] if distance.sum() > 0 else x[rng.integers(n)])
    means = np.array(starts)
    covs = np.repeat((np.cov(x.T) + floor * np.eye(d))[None], k, axis=0)
    weights = np.full(k, 1.0 / k)
    previous = -np.inf
    for _ in range(EM_ITERATIONS):
        log_p = np.stack([np.log(weights[j]) + _log_gaussian(x, means[j], covs[j]) for j in range(k)], axis=1)
        top = log_p.max(axis=1, keepdims=True)
        log_total = top[:, 0] + np.log(np.exp(log_p - top).sum(axis=1))
        resp = np.exp(log_p - log_total[:, None])
        counts = resp.sum(axis=0) + 1e-10
        weights = counts / n
        means = (resp.T @ x) / counts[:, None]
        for j in range(k):
            centred = x - means[j]
            covs[j] = (resp[:, j, None] * centred).T @ centred / counts[j] + floor * np.eye(d)
        likelihood = log_total.mean()
        if likelihood - previous < 1e-5:
            break
        previous = likelihood
    return weights, means, covs


def fit_mixture_prior(
    codes: np.ndarray, labels: np.ndarray, per_class: int = COMPONENTS_PER_CLASS, seed: int = 0
) -> MixturePrior:
    """A mixture of up to ``per_class`` Gaussians for each class's codes, weighted by the class's share."""
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels)
    if codes.ndim != 2 or len(codes) != len(labels) or len(codes) < 2:
        raise ValueError("fitting a prior needs at least 2 codes, one label each")
    floor = COVARIANCE_FLOOR * float(codes.var(axis=0).mean())
    means, axes, stds, weights, classes = [], [], [], [], []
    for c in np.unique(labels):
        x = codes[labels == c]
        k = max(1, min(per_class, len(x) // MIN_POINTS_PER_COMPONENT))
        w, m, cov = fit_gaussian_mixture(x, k, seed=seed + int(c), floor=floor)
        for j in range(len(w)):
            variances, vectors = np.linalg.eigh(cov[j])
            order = np.argsort(variances)[::-1]
            means.append(m[j])
            axes.append(vectors[:, order].T)
            stds.append(np.sqrt(np.clip(variances[order], 1e-12, None)))
            weights.append(w[j] * len(x) / len(codes))
            classes.append(int(c))
    return MixturePrior(
        np.array(means, dtype=np.float32),
        np.array(axes, dtype=np.float32),
        np.array(stds, dtype=np.float32),
        np.array(weights, dtype=np.float64) / np.sum(weights),
        np.array(classes, dtype=np.int64),
    )


@torch.no_grad()
def encode_means(vae: VAE, images: torch.Tensor, batch: int = 128) -> np.ndarray:
    """The encoder's mean code of each image (N x 3 x H x W in [-1, 1])."""
    was_training = vae.training
    vae.eval()
    try:
        device = next(vae.parameters()).device
        chunks = [vae.encode(images[i : i + batch].to(device))[0].float().cpu() for i in range(0, len(images), batch)]
    finally:
        vae.train(was_training)
    return torch.cat(chunks).numpy()


def with_prior(vae: VAE, prior: MixturePrior) -> VAE:
    """A copy of ``vae`` that carries ``prior`` (its config says how many components)."""
    config = dataclasses.replace(vae.config, prior_components=len(prior.weights))
    state = {k: v for k, v in vae.state_dict().items() if not k.startswith("prior_")}
    fitted = VAE(config)
    fitted.load_state_dict(state, strict=False)
    with torch.no_grad():
        fitted.prior_means.copy_(torch.from_numpy(prior.means))
        fitted.prior_axes.copy_(torch.from_numpy(prior.axes))
        fitted.prior_stds.copy_(torch.from_numpy(prior.stds))
        fitted.prior_weights.copy_(torch.from_numpy(prior.weights.astype(np.float32)))
        fitted.prior_classes.copy_(torch.from_numpy(prior.classes))
    return fitted.eval()


def fit_prior_on(
    vae: VAE, images: torch.Tensor, labels: np.ndarray, per_class: int = COMPONENTS_PER_CLASS
) -> tuple[VAE, dict]:
    """``vae`` with a prior fitted on the codes of ``images`` (uint8 N x 3 x H x W, by class
    ``labels``), and the card's ``prior`` entry that describes it."""
    codes = encode_means(vae, images.float() / 127.5 - 1.0)
    prior = fit_mixture_prior(codes, np.asarray(labels), per_class=per_class)
    card = {
        "kind": "Gaussian mixture per class on the training codes (ex-post density estimation)",
        "components": len(prior.weights),
        "per_class": per_class,
        "codes": len(codes),
    }
    return with_prior(vae, prior), card


def prior_of(vae: VAE) -> MixturePrior | None:
    """The prior a VAE carries, or None."""
    if not vae.config.prior_components:
        return None
    return MixturePrior(
        vae.prior_means.cpu().numpy().astype(np.float64),
        vae.prior_axes.cpu().numpy().astype(np.float64),
        vae.prior_stds.cpu().numpy().astype(np.float64),
        vae.prior_weights.cpu().numpy().astype(np.float64),
        vae.prior_classes.cpu().numpy(),
    )
