"""Distances between two feature sets: Fréchet distance (FID) and kernel distance (KID).

Both work on any features ``(N, d)``; in gan-atelier they are the 128-d embedding of the
shipped Fashion-MNIST classifier, so the FID here is a *classifier FID* ("FID-FMNIST-CNN v1"),
not Inception FID: never compare it with published Inception numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GaussianStats:
    """Mean ``(d,)`` and unbiased covariance ``(d, d)`` of a feature set, in float64."""

    mean: torch.Tensor
    covariance: torch.Tensor
    count: int


def gaussian_stats(features: torch.Tensor) -> GaussianStats:
    """μ = (1/N) Σ fᵢ and Σ = (1/(N−1)) Σ (fᵢ − μ)(fᵢ − μ)ᵀ, computed in float64.

    ``features``: ``(N, d)`` with N ≥ 2 (N > d, or Σ is singular and FID is unreliable).
    """
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"need features of shape (N >= 2, d), got {tuple(features.shape)}")
    features = features.to(torch.float64)
    mean = features.mean(dim=0)  # (d,)
    centred = features - mean  # (N, d)
    covariance = centred.T @ centred / (features.shape[0] - 1)  # (d, d)
    return GaussianStats(mean, covariance, features.shape[0])


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric PSD matrix via ``eigh`` (negative round-off clipped)."""
    eigenvalues, eigenvectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T


def frechet_distance(stats_1: GaussianStats, stats_2: GaussianStats) -> float:
    """Squared 2-Wasserstein distance between the Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂).

        FID = ‖μ₁ − μ₂‖² + Tr(Σ₁) + Tr(Σ₂) − 2 Tr((Σ₁^½ Σ₂ Σ₁^½)^½)

    Heusel et al., "GANs Trained by a Two Time-Scale Update Rule…", NeurIPS 2017
    (arXiv 1706.08500). The usual form writes Tr((Σ₁Σ₂)^½); Σ₁Σ₂ is similar to the symmetric
    PSD matrix Σ₁^½ Σ₂ Σ₁^½, so both traces are equal, and the symmetric one can use ``eigh``
    (real, stable, no complex round-off as with ``sqrtm`` or ``eigvals``). Float64 throughout.
    The result is clipped at 0 (it can dip to −1e−12 by round-off for identical sets).
    """
    mean_1, mean_2 = stats_1.mean.to(torch.float64), stats_2.mean.to(torch.float64)
    sigma_1, sigma_2 = stats_1.covariance.to(torch.float64), stats_2.covariance.to(torch.float64)
    root_1 = _psd_sqrt(sigma_1)  # Σ₁^½
    middle = root_1 @ sigma_2 @ root_1  # Σ₁^½ Σ₂ Σ₁^½, symmetric PSD
    eigenvalues = torch.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = eigenvalues.clamp(min=0).sqrt().sum()  # Tr((Σ₁^½ Σ₂ Σ₁^½)^½)
    distance = (mean_1 - mean_2).square().sum() + sigma_1.trace() + sigma_2.trace() - 2 * trace_sqrt
    return max(float(distance), 0.0)


def fid_from_features(features_1: torch.Tensor, features_2: torch.Tensor) -> float:
    """:func:`frechet_distance` between the Gaussians fitted to two feature sets ``(N, d)``, ``(M, d)``."""
    return frechet_distance(gaussian_stats(features_1), gaussian_stats(features_2))


# ------------------------------------------------------------------------------ KID
def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3, coef: float = 1.0) -> torch.Tensor:
    """k(x, y) = (xᵀy / d + coef)^degree for all pairs: ``(m, d)``, ``(n, d)`` → ``(m, n)``."""
    return (x @ y.T / x.shape[1] + coef) ** degree


def mmd_squared_unbiased(x: torch.Tensor, y: torch.Tensor, degree: int = 3) -> float:
    """Unbiased MMD² with the cubic polynomial kernel between two sets of equal size m.

        MMD²ᵤ = [Σ_{i≠j} k(xᵢ, xⱼ) + Σ_{i≠j} k(yᵢ, yⱼ)] / (m(m−1)) − 2 Σ_{i,j} k(xᵢ, yⱼ) / m²

    Bińkowski, Sutherland, Arbel, Gretton, "Demystifying MMD GANs", ICLR 2018 (arXiv
    1801.01401); the same estimator as torch-fidelity and torchmetrics. It can be slightly
    negative when the two distributions are equal.
    """
    m = x.shape[0]
    if y.shape[0] != m:
        raise ValueError(f"unbiased KID uses equal subset sizes, got {m} and {y.shape[0]}")
    x, y = x.to(torch.float64), y.to(torch.float64)
    k_xx = polynomial_kernel(x, x, degree)  # (m, m)
    k_yy = polynomial_kernel(y, y, degree)  # (m, m)
    k_xy = polynomial_kernel(x, y, degree)  # (m, m)
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / m**2)


def kernel_distance(features_1: torch.Tensor, features_2: torch.Tensor, *, subsets: int = 100,
                    subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation of :func:`mmd_squared_unbiased` over random subsets.

    Each of ``subsets`` rounds draws ``subset_size`` rows of each set without replacement
    (a seeded CPU generator: the same call gives the same value). Defaults follow
    torch-fidelity and torchmetrics (100 subsets of 1000). The std is the population std
    over subsets (``unbiased=False``, as torchmetrics), a spread, not a standard error.
    """
    subset_size = min(subset_size, features_1.shape[0], features_2.shape[0])
    if subset_size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        index_1 = torch.randperm(features_1.shape[0], generator=generator)[:subset_size]
        index_2 = torch.randperm(features_2.shape[0], generator=generator)[:subset_size]
        values.append(mmd_squared_unbiased(features_1[index_1], features_2[index_2]))
    scores = torch.tensor(values, dtype=torch.float64)
    return float(scores.mean()), float(scores.std(unbiased=False))
