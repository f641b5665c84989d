"""Precision/recall and density/coverage: exact anchors, the `<=` / `<` conventions, prdc's code, theory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_atelier.metrics.prdc import (density_coverage, expected_coverage, knn_radii_squared, prdc,
                                      precision_recall, squared_distances)


def _gaussian(n: int, dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------ exact anchors
def test_identical_sets_give_precision_recall_coverage_one_and_density_exactly_one():
    features = _gaussian(500, 16, seed=0)
    precision, recall = precision_recall(features, features.clone(), k=3)
    density, coverage = density_coverage(features, features.clone(), k=5)
    assert (precision, recall, coverage) == (1.0, 1.0, 1.0)
    # Strict `<`: each ball holds its centre and the k - 1 neighbours strictly inside it.
    assert density == 1.0


def test_membership_on_the_radius_counts_for_precision_but_not_for_density():
    """A generated point exactly on a ball's boundary: inside with `<=` (P/R), outside with `<` (D/C)."""
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0], [4.0]])  # k = 1: every radius is exactly 1
    fake = torch.tensor([[5.0]])  # distance 1 to the real point 4
    precision, _ = precision_recall(real, torch.cat([fake, fake + 10]), k=1)
    density, coverage = density_coverage(real, fake, k=1)
    assert precision == 0.5  # 5 is on the boundary (inside), 15 is not
    assert (density, coverage) == (0.0, 0.0)


def test_knn_radius_excludes_the_point_itself():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii_squared(points, 1).tolist() == [1.0, 1.0, 4.0, 16.0]
    assert knn_radii_squared(points, 2).tolist() == [9.0, 4.0, 9.0, 36.0]


def test_squared_distances_match_cdist():
    x, y = _gaussian(50, 7, seed=1), _gaussian(40, 7, seed=2)
    torch.testing.assert_close(squared_distances(x, y), torch.cdist(x.double(), y.double()) ** 2)


def test_disjoint_sets_score_zero():
    real = _gaussian(200, 8, seed=3)
    fake = real + 100.0
    result = prdc(real, fake)
    assert result == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_a_collapsed_generator_has_high_precision_but_low_recall_and_coverage():
    real = _gaussian(1000, 8, seed=4)
    fake = real[:50].repeat(20, 1) + 0.01 * _gaussian(1000, 8, seed=5)  # 50 modes only
    result = prdc(real, fake)
    assert result["precision"] > 0.95
    assert result["recall"] < 0.1 and result["coverage"] < 0.35  # vs ≈ 0.97 for a faithful generator


def test_the_one_pass_prdc_equals_the_separate_functions():
    real, fake = _gaussian(700, 12, seed=6), 1.1 * _gaussian(600, 12, seed=7)
    result = prdc(real, fake)
    assert (result["precision"], result["recall"]) == precision_recall(real, fake, k=3)
    assert (result["density"], result["coverage"]) == density_coverage(real, fake, k=5)


# ------------------------------------------------------------------------------ prdc 0.2's code
def _prdc_reference(real: np.ndarray, fake: np.ndarray, nearest_k: int) -> dict:
    """A line-by-line numpy transcription of clovaai/generative-evaluation-prdc 0.2 ``compute_prdc``
    (sklearn's pairwise_distances replaced by an explicit Euclidean distance)."""
    def distances(a, b):
        return np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0.0))

    def kth(d, k):
        return np.partition(d, k, axis=-1)[..., k]  # index k: the point itself is at index 0

    real_radii = kth(distances(real, real), nearest_k)
    fake_radii = kth(distances(fake, fake), nearest_k)
    real_fake = distances(real, fake)
    precision = (real_fake < real_radii[:, None]).any(axis=0).mean()
    recall = (real_fake < fake_radii[None, :]).any(axis=1).mean()
    density = (1.0 / nearest_k) * (real_fake < real_radii[:, None]).sum(axis=0).mean()
    coverage = (real_fake.min(axis=1) < real_radii).mean()
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_matches_a_transcription_of_the_prdc_package(shift):
    real = _gaussian(300, 10, seed=8).double()
    fake = _gaussian(250, 10, seed=9).double() * 1.2 + shift
    expected = _prdc_reference(real.numpy(), fake.numpy(), nearest_k=5)
    # prdc uses one k for all four and strict `<`; with continuous data `<=` gives the same P/R.
    precision, recall = precision_recall(real, fake, k=5)
    density, coverage = density_coverage(real, fake, k=5)
    assert precision == pytest.approx(expected["precision"], abs=1e-12)
    assert recall == pytest.approx(expected["recall"], abs=1e-12)
    assert density == pytest.approx(expected["density"], abs=1e-12)
    assert coverage == pytest.approx(expected["coverage"], abs=1e-12)


# ------------------------------------------------------------------------------ theory and published
def test_expected_coverage_formula():
    assert expected_coverage(10000, 10000, 5) == pytest.approx(1 - 0.5**5, abs=2e-4)
    assert expected_coverage(2000, 2000, 5) == pytest.approx(0.968867, abs=1e-6)


@pytest.mark.slow
def test_identical_gaussians_match_theory_and_prdc_readme_scaled_down():
    """prdc's README: two N(0, I) sets, 1000-d, 10,000 each, k = 5 → P 0.4772, R 0.4705,
    density 1.0555, coverage 0.9735. Here 2,000 each (25× cheaper). Theory for one distribution
    holds at any N: E[density] = 1 exactly, E[coverage] = 1 − Π (N − i)/(M + N − i) = 0.9689,
    E[precision] = E[recall] by symmetry. P and R themselves fall slowly as N grows (0.55–0.58
    at N = 2,000 over seeds; 0.4772 at 10,000 in the README, reproduced by
    ``bench/calibrate_metrics.py --prdc-readme`` and the next test), so they are checked for symmetry
    and range."""
    real, fake = _gaussian(2000, 1000, seed=10), _gaussian(2000, 1000, seed=11)
    result = prdc(real, fake, k_precision_recall=5, k_density_coverage=5)
    assert result["density"] == pytest.approx(1.0, abs=0.2)  # hubness in 1000-d: sd ≈ 0.07 over seeds
    assert result["coverage"] == pytest.approx(expected_coverage(2000, 2000, 5), abs=0.015)
    assert result["precision"] == pytest.approx(result["recall"], abs=0.05)
    assert 0.47 < result["precision"] < 0.65


@pytest.mark.slow
def test_prdc_readme_example_at_full_size(one_thread):
    """The README case itself (≈ 15 s): 10,000 vs 10,000 draws of N(0, I) in 1000-d, k = 5 for all four.
    Published single draw: P 0.4772, R 0.4705, D 1.0555, C 0.9735. Tolerances ≈ 4 sd of one draw
    (sd from repeated draws at N = 2,000 scaled by √5: P/R ≈ 0.005, D ≈ 0.03, C ≈ 0.002)."""
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(10000, 1000, generator=generator)
    fake = torch.randn(10000, 1000, generator=generator)
    result = prdc(real, fake, k_precision_recall=5, k_density_coverage=5)
    assert result["precision"] == pytest.approx(0.4772, abs=0.02)
    assert result["recall"] == pytest.approx(0.4705, abs=0.02)
    assert result["density"] == pytest.approx(1.0555, abs=0.12)
    assert result["coverage"] == pytest.approx(0.9735, abs=0.008)
