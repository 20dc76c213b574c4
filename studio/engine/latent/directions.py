"""Slider axes of a latent space: computed once per model and method, cached on disk.

Every set has orthonormal rows, so a slider value is the projection of z on its axis, and
moving one slider leaves every other slider where it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from studio.files.atomic import SaveError, atomic_write

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)  # arrays have no single truth value; compare the fields instead
class Directions:
    vectors: np.ndarray  # [k, latent_dim], orthonormal rows
    scores: np.ndarray  # [k], descending importance
    labels: list[str]
    method: str
    # A slider's unit along each direction: 1 for N(0, I) latents, where a standard deviation
    # is 1 in every direction; the spread of the data along it for w (GAN v2), whose scale
    # differs from direction to direction. None: 1 everywhere.
    scales: np.ndarray | None = None
    # Where every slider reads 0: the origin of N(0, I) or of w offsets, the mean code of a
    # VAE's fitted prior. None: the zero vector.
    origin: np.ndarray | None = None

    def __post_init__(self) -> None:
        k = self.vectors.shape[0] if self.vectors.ndim == 2 else -1
        if k < 1 or self.scores.shape != (k,) or len(self.labels) != k:
            raise ValueError("directions need [k, d] vectors, k scores and k labels")
        scales = np.ones(k, dtype=np.float32) if self.scales is None else np.asarray(self.scales, dtype=np.float32)
        if scales.shape != (k,) or not np.all(np.isfinite(scales)) or not np.all(scales > 0):
            raise ValueError("directions need k positive, finite scales")
        object.__setattr__(self, "scales", scales)
        scales.setflags(write=False)
        dims = self.vectors.shape[1]
        origin = np.zeros(dims, dtype=np.float32) if self.origin is None else np.asarray(self.origin, dtype=np.float32)
        if origin.shape != (dims,) or not np.all(np.isfinite(origin)):
            raise ValueError("directions need a finite origin of the latent size")
        object.__setattr__(self, "origin", origin)
        origin.setflags(write=False)
        # Shared by every caller of LatentModel.directions(): nobody may change them in place.
        self.vectors.setflags(write=False)
        self.scores.setflags(write=False)


def directions_cache_path(sha256: str, method: str) -> Path:
    from studio.files.paths import data_dir

    return data_dir() / "cache" / "directions" / f"{sha256}-{method}.npz"


def read_cached_directions(path: Path, latent_dim: int, method: str) -> Directions | None:
    """The cached directions, or None when absent or unusable (a damaged cache is recomputed)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            vectors = np.asarray(data["vectors"], dtype=np.float32)
            scores = np.asarray(data["scores"], dtype=np.float64)
            labels = [str(label) for label in data["labels"]]
            stored_method = str(data["method"])
            scales = np.asarray(data["scales"], dtype=np.float32) if "scales" in data.files else None
            origin = np.asarray(data["origin"], dtype=np.float32) if "origin" in data.files else None
        directions = Directions(vectors, scores, labels, stored_method, scales, origin)
        gram = vectors.astype(np.float64) @ vectors.T.astype(np.float64)
        if (
            stored_method != method
            or vectors.shape[1] != latent_dim
            or not np.all(np.isfinite(scores))
            or not np.allclose(gram, np.eye(len(labels)), atol=1e-4)
        ):
            raise ValueError("contents do not fit the model")
        return directions
    except Exception as exc:  # noqa: BLE001 - a torn or foreign file fails in many ways; all mean "recompute"
        log.warning("Ignoring the directions cache %s (%s); computing again", path, exc)
        return None


def write_cached_directions(path: Path, directions: Directions) -> None:
    def write(handle) -> None:
        assert directions.scales is not None and directions.origin is not None  # __post_init__ fills them in
        np.savez(
            handle,
            vectors=directions.vectors,
            scores=directions.scores,
            labels=np.array(directions.labels, dtype=str),
            method=np.array(directions.method),
            scales=directions.scales,
            origin=directions.origin,
        )

    try:
        atomic_write(path, write)
    except SaveError as exc:  # a read-only or full disk costs a recomputation next time, nothing more
        log.warning("Could not cache directions: %s", exc)


def _orthonormal_rows(rows: np.ndarray) -> np.ndarray:
    """Gram-Schmidt in row order (QR): row i keeps the part of its source that rows 0..i-1 lack."""
    q, r = np.linalg.qr(rows.T.astype(np.float64))
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    return (q * signs).T


def _fix_signs(vectors: np.ndarray) -> np.ndarray:
    # Eigenvectors have no sign of their own; the largest component is made positive so the
    # same model gives the same sliders on every machine.
    largest = np.argmax(np.abs(vectors), axis=1)
    signs = np.sign(vectors[np.arange(len(vectors)), largest])
    return vectors * np.where(signs == 0, 1.0, signs)[:, None]


def sefa_directions(weight: np.ndarray) -> Directions:
    """SeFa (Shen and Zhou, 2021): eigenvectors of W^T W, W = [out, latent_dim], largest first."""
    w = np.asarray(weight, dtype=np.float64)
    eigenvalues, eigenvectors = np.linalg.eigh(w.T @ w)
    order = np.argsort(eigenvalues)[::-1]
    vectors = _fix_signs(eigenvectors[:, order].T)
    labels = [f"direction {i + 1}" for i in range(len(order))]
    return Directions(vectors.astype(np.float32), np.clip(eigenvalues[order], 0.0, None), labels, "sefa")


def ganspace_directions(z: np.ndarray, features: np.ndarray) -> Directions:
    """GANSpace (Harkonen et al., 2020) on a generator layer without its own latent space.

    PCA of the features [n, f]; each component is carried to the latent space by regressing the
    samples' z on their principal coordinates; the results are orthonormalised in rank order.
    """
    z = np.asarray(z, dtype=np.float64)
    feats = np.asarray(features, dtype=np.float64).reshape(len(z), -1)
    feats = feats - feats.mean(axis=0)
    u, s, _ = np.linalg.svd(feats, full_matrices=False)
    k = int(min(z.shape[1], np.count_nonzero(s > s[0] * 1e-6)))
    coords = u[:, :k] * s[:k]
    mapped, *_ = np.linalg.lstsq(coords, z - z.mean(axis=0), rcond=None)  # [k, latent_dim]
    mapped = mapped / np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)
    vectors = _fix_signs(_orthonormal_rows(mapped))
    variance = s[:k] ** 2 / max(len(z) - 1, 1)
    labels = [f"direction {i + 1}" for i in range(k)]
    return Directions(vectors.astype(np.float32), variance, labels, "ganspace")


def axis_directions(scores: np.ndarray, method: str) -> Directions:
    """One unit axis per latent dimension, the highest score first (ties keep dimension order)."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    vectors = np.eye(len(scores), dtype=np.float32)[order]
    return Directions(vectors, scores[order], [f"dim {i}" for i in order], method)


def w_pca_directions(offsets: np.ndarray) -> Directions:
    """GANSpace in w (Harkonen et al., 2020): the principal axes of sampled w offsets, each
    scaled by the spread of w along it, so a slider's +-3 covers +-3 standard deviations."""
    x = np.asarray(offsets, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    k = int(np.count_nonzero(s > s[0] * 1e-6))
    variance = s[:k] ** 2 / max(len(x) - 1, 1)
    vectors = _fix_signs(vt[:k])
    labels = [f"direction {i + 1}" for i in range(k)]
    return Directions(vectors.astype(np.float32), variance, labels, "ganspace", np.sqrt(variance).astype(np.float32))


def scaled_to(directions: Directions, offsets: np.ndarray) -> Directions:
    """The same directions with each slider's unit set to the spread of ``offsets`` along it."""
    spread = (np.asarray(offsets, dtype=np.float64) @ directions.vectors.T.astype(np.float64)).std(axis=0)
    scales = np.maximum(spread, 1e-6).astype(np.float32)
    return Directions(
        np.array(directions.vectors), np.array(directions.scores), list(directions.labels), directions.method, scales
    )


def prior_directions(means: np.ndarray, covariances: np.ndarray, weights: np.ndarray) -> Directions:
    """The principal axes of a VAE's fitted prior (a Gaussian mixture) as a whole, from its
    mean, each scaled by the prior's spread along it: sliders that stay where the codes are."""
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    means = np.asarray(means, dtype=np.float64)
    mean = w @ means
    second = np.einsum(
        "k,kij->ij", w, np.asarray(covariances, dtype=np.float64) + np.einsum("ki,kj->kij", means, means)
    )
    variances, vectors = np.linalg.eigh(second - np.outer(mean, mean))
    order = np.argsort(variances)[::-1]
    variances = np.clip(variances[order], 1e-12, None)
    labels = [f"direction {i + 1}" for i in range(len(order))]
    return Directions(
        _fix_signs(vectors[:, order].T).astype(np.float32),
        variances,
        labels,
        "vae-prior",
        np.sqrt(variances).astype(np.float32),
        mean.astype(np.float32),
    )
