"""Class-based metrics: histogram, entropy, KL to uniform, coverage, classifier IS (closed forms, torchmetrics)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_atelier.metrics.classes import (class_histogram, class_metrics, classes_covered,
                                         classifier_inception_score, entropy_nats, kl_to_uniform,
                                         per_class_histograms)


def test_histogram_counts_every_class_including_empty_ones():
    counts = class_histogram(torch.tensor([0, 0, 3, 9, 3, 3]))
    assert counts.tolist() == [2, 0, 0, 3, 0, 0, 0, 0, 0, 1]


def test_entropy_and_kl_of_even_and_single_class_histograms():
    even = torch.full((10,), 100)
    single = torch.tensor([0, 0, 0, 500, 0, 0, 0, 0, 0, 0])
    assert entropy_nats(even) == pytest.approx(math.log(10), abs=1e-12)
    assert kl_to_uniform(even) == pytest.approx(0.0, abs=1e-12)
    assert entropy_nats(single) == 0.0
    assert kl_to_uniform(single) == pytest.approx(math.log(10), abs=1e-12)


def test_entropy_of_a_two_class_split():
    counts = torch.tensor([300, 100, 0, 0, 0, 0, 0, 0, 0, 0])
    expected = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert entropy_nats(counts) == pytest.approx(expected, abs=1e-12)


def test_classes_covered_uses_the_one_percent_threshold():
    counts = torch.tensor([500, 300, 181, 10, 9, 0, 0, 0, 0, 0])  # shares .5 .3 .181 .01 .009
    assert classes_covered(counts) == 4


def test_per_class_histograms_rows_are_requested_classes():
    requested = torch.tensor([0, 0, 1, 1, 1, 2])
    predicted = torch.tensor([0, 5, 1, 1, 0, 2])
    table = per_class_histograms(requested, predicted)
    assert table.shape == (10, 10)
    assert table[0].tolist()[:6] == [1, 0, 0, 0, 0, 1]
    assert table[1, 1] == 2 and table[1, 0] == 1 and table[2, 2] == 1
    assert int(table.sum()) == 6


def test_inception_score_bounds_confident_even_is_ten_and_constant_is_one():
    confident = torch.full((1000, 10), -30.0)
    confident[torch.arange(1000), torch.arange(1000) % 10] = 30.0  # one-hot, evenly spread
    mean, std = classifier_inception_score(confident, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    same = torch.randn(1, 10).repeat(1000, 1)  # every sample has the same prediction
    assert classifier_inception_score(same)[0] == pytest.approx(1.0, abs=1e-9)


def test_inception_score_matches_the_definition_by_hand():
    logits = torch.randn(40, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    probs = logits.softmax(dim=1)
    marginal = probs.mean(dim=0)
    kl = (probs * (probs.log() - marginal.log())).sum(dim=1)
    mean, _ = classifier_inception_score(logits, splits=1)
    assert mean == pytest.approx(float(kl.mean().exp()), rel=1e-12)


class _IdentityLogits(nn.Module):
    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return logits


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_inception_score_equals_torchmetrics_with_one_split():
    """torchmetrics shuffles before splitting; with one split the order does not matter."""
    inception = pytest.importorskip("torchmetrics.image.inception")
    logits = 3 * torch.randn(500, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    metric = inception.InceptionScore(feature=_IdentityLogits(), splits=1)
    metric.update(logits)
    expected_mean, _ = metric.compute()
    assert_close(torch.tensor(classifier_inception_score(logits, splits=1)[0], dtype=torch.float64),
                 expected_mean.double(), rtol=1e-6, atol=0.0)


def test_class_metrics_bundle():
    logits = torch.full((200, 10), -5.0)
    logits[:100, 2] = 5.0
    logits[100:, 7] = 5.0
    result = class_metrics(logits)
    assert result["class_histogram"][2] == 100 and result["class_histogram"][7] == 100
    assert result["classes_covered"] == 2
    assert result["class_entropy"] == pytest.approx(math.log(2))
    assert result["min_class_share"] == 0.0 and result["max_class_share"] == 0.5
