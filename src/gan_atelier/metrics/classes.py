"""Class-based metrics from the classifier's softmax: histogram, entropy, coverage, classifier IS.

They answer "which kinds of clothes does the generator make, and how evenly?", the first
thing mode collapse destroys. Fashion-MNIST's test set is balanced (1,000 images per class),
so the ideal histogram is uniform.
"""

from __future__ import annotations

import math

import torch

NUM_CLASSES = 10
# A class counts as "covered" when it receives at least this share of the samples: a tenth of
# its fair share (1 % of the samples for 10 classes). Classifier errors alone scatter a few
# predictions over every class, so "at least one sample" would always say 10.
COVERED_MIN_SHARE = 0.1 / NUM_CLASSES


def class_histogram(predictions: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Counts of each predicted class, ``(N,)`` int labels → ``(num_classes,)`` int64."""
    return torch.bincount(predictions.long().flatten(), minlength=num_classes)


def per_class_histograms(requested: torch.Tensor, predictions: torch.Tensor,
                         num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Confusion counts ``(num_classes, num_classes)``: row = class asked for, column = class seen.

    For a conditional generator ``requested`` holds the labels it was given; the diagonal share
    is its conditional accuracy, and a row concentrated off the diagonal is a class it confuses.
    """
    index = requested.long() * num_classes + predictions.long()
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def entropy_nats(counts: torch.Tensor) -> float:
    """H(p) = −Σ_c p_c ln p_c of the normalised histogram (0 ln 0 = 0); at most ln 10 ≈ 2.303."""
    shares = counts.double() / counts.sum()
    shares = shares[shares > 0]
    return float(-(shares * shares.log()).sum()) + 0.0  # + 0.0: one class gives 0.0, not -0.0


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(p ‖ u) = Σ_c p_c ln(p_c · C) = ln C − H(p), in nats; 0 for a perfectly even histogram.

    The other direction, KL(u ‖ p), is infinite as soon as one class is missing, so it is not
    reported; ``classes_covered`` and ``min_class_share`` say the same thing in finite numbers.
    """
    return math.log(counts.numel()) - entropy_nats(counts)


def classes_covered(counts: torch.Tensor, min_share: float = COVERED_MIN_SHARE) -> int:
    """Number of classes receiving at least ``min_share`` of the predictions."""
    shares = counts.double() / counts.sum()
    return int((shares >= min_share).sum())


def classifier_inception_score(logits: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Inception Score computed with the project's classifier instead of Inception v3.

        IS = exp(E_x KL(p(y|x) ‖ p(y))),   p(y) = mean of p(y|x) over the split

    Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016 (arXiv 1606.03498).
    The N samples are cut in ``splits`` consecutive chunks (no shuffle: samples from a seeded
    generator are already in random order); returns the mean and the population std over
    chunks. Ranges from 1 (one class, or uncertain predictions) to 10 (confident and evenly
    spread). It ignores the real data entirely: a diagnostic, not a quality score (Barratt &
    Sharma, "A Note on the Inception Score", 2018).
    """
    log_probs = torch.log_softmax(logits.to(torch.float64), dim=1)  # (N, C)
    scores = []
    for chunk in torch.tensor_split(log_probs, splits):
        if chunk.shape[0] == 0:
            continue
        log_marginal = torch.logsumexp(chunk, dim=0) - math.log(chunk.shape[0])  # ln p(y), (C,)
        kl = (chunk.exp() * (chunk - log_marginal)).sum(dim=1)  # KL(p(y|x) ‖ p(y)), (n,)
        scores.append(kl.mean().exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std(unbiased=False))


def class_metrics(logits: torch.Tensor, num_classes: int = NUM_CLASSES) -> dict:
    """Every class-based metric of one sample set from its logits ``(N, num_classes)``."""
    counts = class_histogram(logits.argmax(dim=1), num_classes)
    shares = counts.double() / counts.sum()
    inception_mean, inception_std = classifier_inception_score(logits)
    return {
        "class_histogram": counts.tolist(),
        "class_entropy": entropy_nats(counts),
        "kl_to_uniform": kl_to_uniform(counts),
        "classes_covered": classes_covered(counts),
        "min_class_share": float(shares.min()),
        "max_class_share": float(shares.max()),
        "classifier_is": inception_mean,
        "classifier_is_std": inception_std,
    }
