"""Pseudo-classes for an unconditional GAN: k-means clusters of the training images' pixels.

Self-conditioning (Liu et al. 2020, "Diverse Image Generation via Self-Conditioned GANs",
arXiv 2006.10728): partition the training set into K clusters without labels, then train a
class-conditional GAN (here the projection D of :mod:`gan_atelier.models.conditional`) on the
cluster ids. G draws a cluster with the clusters' frequencies, so the model is still unconditional:
nothing it learns comes from the dataset's labels. Liu et al. cluster D's features; we cluster the
pixels once, before training, which needs no feature extractor (and, in particular, never the
classifier the metrics use, whose feature space would then be tuned for).

The clustering (Lloyd 1982, k-means++ seeding of Arthur & Vassilvitskii 2007):

1. pixels in [0, 1], centred, projected on their top ``dims`` principal directions
   (eigenvectors of the 784 × 784 covariance, largest eigenvalues first);
2. k-means++ seeds: the first centre uniform, each next one drawn with probability ∝ D(x)²,
   the squared distance to the nearest centre chosen so far;
3. Lloyd's iterations: assign every point to its nearest centre, move each centre to the mean of
   its points, until no assignment changes (or ``iterations``). An emptied cluster is re-seeded at
   the point farthest from its centre.

Deterministic for a given ``seed`` (its own ``torch.Generator``; the global RNG is untouched).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PCA_DIMS = 32
ITERATIONS = 100


@dataclass(frozen=True)
class Clustering:
    assignments: torch.Tensor  # (N,) int64 in 0..K-1
    centres: torch.Tensor  # (K, dims) in the projected space
    prior: torch.Tensor  # (K,) float64, the share of the points in each cluster (sums to 1)
    iterations: int  # Lloyd iterations run
    inertia: float  # Σ ‖x − centre(x)‖², in the projected space


def principal_projection(x: torch.Tensor, dims: int) -> torch.Tensor:
    """``x`` ``(N, D)`` float, centred and projected on its top ``dims`` principal directions → ``(N, dims)``."""
    centred = x - x.mean(dim=0, keepdim=True)
    covariance = centred.T.double() @ centred.double() / max(len(x) - 1, 1)  # (D, D)
    _, vectors = torch.linalg.eigh(covariance)  # eigenvalues ascending
    basis = vectors[:, -dims:].flip(1).to(x.dtype)  # (D, dims), largest first
    return centred @ basis


def kmeans(points: torch.Tensor, k: int, *, seed: int = 0, iterations: int = ITERATIONS) -> Clustering:
    """Lloyd's k-means with k-means++ seeding on ``points`` ``(N, d)`` float → :class:`Clustering`."""
    n = points.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k-means needs 1 <= k <= number of points, got k={k} for {n} points")
    generator = torch.Generator().manual_seed(seed)
    points = points.float()
    centres = points[torch.randint(n, (1,), generator=generator)]  # (1, d)
    nearest = torch.cdist(points, centres).squeeze(1) ** 2  # (N,) D(x)² to the chosen centres
    for _ in range(1, k):
        weights = nearest.double()
        index = torch.multinomial(weights / weights.sum(), 1, generator=generator) if weights.sum() > 0 \
            else torch.randint(n, (1,), generator=generator)
        centres = torch.cat([centres, points[index]])
        nearest = torch.minimum(nearest, torch.cdist(points, points[index]).squeeze(1) ** 2)
    assignments = torch.full((n,), -1, dtype=torch.long)
    done = 0
    for done in range(1, iterations + 1):
        distances = torch.cdist(points, centres)  # (N, K)
        new = distances.argmin(dim=1)
        if torch.equal(new, assignments):
            break
        assignments = new
        counts = torch.bincount(assignments, minlength=k)
        sums = torch.zeros_like(centres).index_add_(0, assignments, points)
        for empty in torch.nonzero(counts == 0).flatten().tolist():  # re-seed at the worst-fitting point
            far = distances.gather(1, assignments[:, None]).squeeze(1).argmax()
            sums[empty], counts[empty] = points[far], 1
            assignments[far] = empty
        centres = sums / counts[:, None].to(sums.dtype)
    residual = points - centres[assignments]
    counts = torch.bincount(assignments, minlength=k).double()
    return Clustering(assignments, centres, counts / n, done, float((residual ** 2).sum()))


def pixel_clusters(images: torch.Tensor, k: int, *, seed: int = 0, dims: int = PCA_DIMS) -> Clustering:
    """k-means pseudo-classes of images (uint8 in 0..255 or float in [0, 1], any shape ``(N, ...)``)."""
    x = images.reshape(images.shape[0], -1)
    x = x.float() / 255.0 if not x.is_floating_point() else x.float()
    return kmeans(principal_projection(x, min(dims, x.shape[1])), k, seed=seed)
