"""FID and KID against closed forms and against torchmetrics' implementations on the same features."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_atelier.metrics.distances import (GaussianStats, fid_from_features, frechet_distance,
                                           gaussian_stats, kernel_distance, mmd_squared_unbiased,
                                           polynomial_kernel)


def _f64(value) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float64)


def _random_spd(dim: int, generator: torch.Generator) -> torch.Tensor:
    factor = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return factor @ factor.T / dim + 0.1 * torch.eye(dim, dtype=torch.float64)


def _features(n: int, dim: int, seed: int, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(dim, dim, generator=generator, dtype=torch.float64) / math.sqrt(dim)
    return shift + scale * torch.randn(n, dim, generator=generator, dtype=torch.float64) @ mixing


# ------------------------------------------------------------------------------ FID closed forms
def test_fid_with_equal_covariances_is_the_squared_distance_of_the_means():
    generator = torch.Generator().manual_seed(0)
    sigma = _random_spd(32, generator)
    mean_1 = torch.randn(32, generator=generator, dtype=torch.float64)
    mean_2 = torch.randn(32, generator=generator, dtype=torch.float64)
    value = frechet_distance(GaussianStats(mean_1, sigma, 100), GaussianStats(mean_2, sigma, 100))
    assert_close(_f64(value), (mean_1 - mean_2).square().sum(), rtol=1e-9, atol=1e-9)


def test_fid_of_shifted_feature_sets_is_the_squared_shift():
    """X and X + c have identical sample covariances, so FID = ‖c‖² exactly (pytorch-fid's own check)."""
    features = _features(400, 24, seed=1)
    shift = torch.linspace(-1, 1, 24, dtype=torch.float64)
    assert_close(_f64(fid_from_features(features, features + shift)), shift.square().sum(),
                 rtol=1e-8, atol=1e-8)


def test_fid_of_diagonal_gaussians_has_the_closed_form():
    """Diagonal Σ: FID = ‖μ₁ − μ₂‖² + Σᵢ (σ₁ᵢ − σ₂ᵢ)² (σ the standard deviations)."""
    generator = torch.Generator().manual_seed(2)
    std_1 = torch.rand(16, generator=generator, dtype=torch.float64) + 0.5
    std_2 = torch.rand(16, generator=generator, dtype=torch.float64) + 0.5
    mean_1, mean_2 = torch.zeros(16, dtype=torch.float64), torch.full((16,), 0.3, dtype=torch.float64)
    value = frechet_distance(GaussianStats(mean_1, torch.diag(std_1**2), 2),
                             GaussianStats(mean_2, torch.diag(std_2**2), 2))
    expected = (mean_1 - mean_2).square().sum() + (std_1 - std_2).square().sum()
    assert_close(_f64(value), expected, rtol=1e-10, atol=1e-10)


def test_fid_of_identical_sets_is_zero_and_it_is_symmetric_and_non_negative():
    features_1 = _features(600, 32, seed=3)
    features_2 = _features(500, 32, seed=4, scale=1.2, shift=0.1)
    trace = float(gaussian_stats(features_1).covariance.trace())
    assert abs(fid_from_features(features_1, features_1)) < 1e-6 * trace
    forward, backward = fid_from_features(features_1, features_2), fid_from_features(features_2, features_1)
    assert forward > 0.0
    assert_close(_f64(forward), _f64(backward), rtol=1e-9, atol=0.0)


def test_fid_grows_with_the_shift_between_sets():
    base = _features(500, 16, seed=5)
    values = [fid_from_features(base, base * 1.0 + shift) for shift in (0.0, 0.1, 0.3, 1.0)]
    assert values == sorted(values) and values[0] < 1e-9


def test_fid_matches_the_scipy_sqrtm_formula_of_pytorch_fid():
    """Tr((Σ₁Σ₂)^½) by scipy.linalg.sqrtm (pytorch-fid 0.3) equals our symmetric eigh form."""
    linalg = pytest.importorskip("scipy.linalg")
    generator = torch.Generator().manual_seed(6)
    sigma_1, sigma_2 = _random_spd(64, generator), _random_spd(64, generator)
    mean_1 = torch.randn(64, generator=generator, dtype=torch.float64)
    mean_2 = torch.randn(64, generator=generator, dtype=torch.float64)
    root = linalg.sqrtm(sigma_1.numpy() @ sigma_2.numpy()).real
    expected = float((mean_1 - mean_2).square().sum() + sigma_1.trace() + sigma_2.trace()
                     - 2 * root.trace())
    value = frechet_distance(GaussianStats(mean_1, sigma_1, 2), GaussianStats(mean_2, sigma_2, 2))
    assert_close(_f64(value), _f64(expected), rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------------------ torchmetrics oracle
class _IdentityExtractor(nn.Module):
    """Lets torchmetrics take features directly: its 'images' are our feature rows."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


@pytest.mark.parametrize("seed", [0, 1])
def test_fid_equals_torchmetrics_on_the_same_features(seed):
    fid_module = pytest.importorskip("torchmetrics.image.fid")
    real = _features(2000, 128, seed=10 + seed)
    fake = _features(1500, 128, seed=20 + seed, scale=1.1, shift=0.05)
    metric = fid_module.FrechetInceptionDistance(feature=_IdentityExtractor(128), normalize=False)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    expected = metric.compute()
    assert expected.dtype == torch.float64
    assert_close(_f64(fid_from_features(fake, real)), expected, rtol=1e-6, atol=0.0)


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_kid_equals_torchmetrics_with_one_subset_of_everything():
    """With subset_size = N torchmetrics' random permutation does not matter: same estimator, same value."""
    kid_module = pytest.importorskip("torchmetrics.image.kid")
    real = _features(600, 64, seed=30)
    fake = _features(600, 64, seed=31, scale=1.2)
    metric = kid_module.KernelInceptionDistance(feature=_IdentityExtractor(64), subsets=1, subset_size=600)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    expected_mean, _ = metric.compute()
    mean, std = kernel_distance(real, fake, subsets=1, subset_size=600)
    assert_close(_f64(mean), expected_mean, rtol=1e-6, atol=0.0)
    assert std == 0.0


def test_kid_subset_estimator_equals_torchmetrics_poly_mmd_on_the_same_subsets():
    kid_module = pytest.importorskip("torchmetrics.image.kid")
    real = _features(300, 32, seed=32)
    fake = _features(300, 32, seed=33, shift=0.2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        rows_real = torch.randperm(300, generator=generator)[:100]
        rows_fake = torch.randperm(300, generator=generator)[:100]
        expected = kid_module.poly_mmd(real[rows_real], fake[rows_fake], degree=3, gamma=None, coef=1.0)
        assert_close(_f64(mmd_squared_unbiased(real[rows_real], fake[rows_fake])), expected,
                     rtol=1e-6, atol=0.0)


# ------------------------------------------------------------------------------ KID definition
def test_mmd_matches_the_definition_written_as_loops():
    generator = torch.Generator().manual_seed(40)
    x = torch.randn(6, 3, generator=generator, dtype=torch.float64)
    y = torch.randn(6, 3, generator=generator, dtype=torch.float64) + 0.5

    def k(a, b):
        return (float(a @ b) / 3 + 1.0) ** 3

    m = 6
    within = sum(k(x[i], x[j]) + k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    across = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    expected = within / (m * (m - 1)) - 2 * across / m**2
    assert_close(_f64(mmd_squared_unbiased(x, y)), _f64(expected), rtol=1e-12, atol=1e-12)
    assert_close(polynomial_kernel(x, y)[2, 4], _f64(k(x[2], y[4])))


def test_kid_of_a_set_with_itself_is_the_negative_closed_form():
    """MMD²ᵤ(X, X) = (2/m)(mean off-diagonal k − mean diagonal k) < 0: identical samples are *not*
    two draws of one distribution, so the unbiased estimator dips below 0 (KID can be negative)."""
    features = _features(200, 8, seed=41)
    kernel = polynomial_kernel(features, features)
    m = 200
    mean_diagonal = kernel.diagonal().mean()
    mean_off_diagonal = (kernel.sum() - kernel.diagonal().sum()) / (m * (m - 1))
    expected = 2 / m * (mean_off_diagonal - mean_diagonal)
    assert_close(_f64(kernel_distance(features, features, subsets=1, subset_size=m)[0]), expected,
                 rtol=1e-10, atol=1e-12)
    assert float(expected) < 0


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    base = _features(2000, 16, seed=52)  # two halves of one sample: one distribution
    mean_same, std_same = kernel_distance(base[:1000], base[1000:], subsets=20, subset_size=500)
    mean_diff, _ = kernel_distance(base[:1000], base[1000:] * 1.5 + 0.5, subsets=20, subset_size=500)
    assert abs(mean_same) < 3 * std_same + 1e-3
    assert mean_diff > 10 * max(std_same, 1e-4)


def test_kid_is_reproducible_for_a_seed():
    real, fake = _features(400, 8, seed=60), _features(400, 8, seed=61)
    assert kernel_distance(real, fake, subsets=10, subset_size=100, seed=3) == \
        kernel_distance(real, fake, subsets=10, subset_size=100, seed=3)
