"""Memorisation: are generated samples closer to training images than fresh real images are?

For each generated sample g, d(g) = min over the 60,000 training images t of ‖f(g) − f(t)‖
in the classifier's feature space; the same for each *test* image gives the baseline of data
the generator never saw. A generator that copies its training set has d(g) ≈ 0 for many
samples; one that generalises looks like the test images (ratio ≈ 1 or above).

Reported: the median d over samples and over test images, their ratio, and the share of
samples closer to a training image than the closest 1 % of test images are ("near copies";
≈ 0.01 for a generator as novel as real test data). Feature space rather than pixels: ten
times cheaper (128 vs 784 dimensions) and insensitive to one-pixel shifts; the limit is that
two different garments the classifier embeds alike also count as close.
(Compare the "nearest neighbours in the training set" figures of GAN papers, e.g. Brock,
Donahue, Simonyan, "Large Scale GAN Training…", ICLR 2019, appendix.)
"""

from __future__ import annotations

import torch

BLOCK_ROWS = 2048
NEAR_COPY_QUANTILE = 0.01


def nearest_distances(queries: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """Euclidean distance of each query ``(N, d)`` to its nearest row of ``pool`` ``(P, d)``, ``(N,)`` float64.

    Computed in float32 blocks (squared distances by the expanded form, clipped at 0), which is
    ample for a minimum of distances between 128-d embeddings.
    """
    queries, pool = queries.float(), pool.float()
    pool_norms = (pool * pool).sum(1)  # (P,)
    result = torch.empty(queries.shape[0], dtype=torch.float64)
    for start in range(0, queries.shape[0], BLOCK_ROWS):
        block = queries[start:start + BLOCK_ROWS]  # (B, d)
        squared = torch.addmm(pool_norms, block, pool.T, alpha=-2.0) + (block * block).sum(1, keepdim=True)
        result[start:start + BLOCK_ROWS] = squared.min(dim=1).values.clamp(min=0).double().sqrt()
    return result


def memorisation_scores(sample_distances: torch.Tensor, test_distances: torch.Tensor) -> dict[str, float]:
    """Compare nearest-training-image distances of samples ``(M,)`` and of test images ``(N,)``."""
    sample_median = float(sample_distances.median())
    test_median = float(test_distances.median())
    threshold = float(torch.quantile(test_distances.double(), NEAR_COPY_QUANTILE))
    return {
        "nn_train_median": sample_median,
        "nn_train_median_test": test_median,
        "memorisation_ratio": sample_median / test_median if test_median > 0 else float("nan"),
        "near_copy_share": float((sample_distances < threshold).double().mean()),
    }
