"""Improved precision / recall (k = 3) and density / coverage (k = 5) on feature sets.

Both estimate a data manifold by k-nearest-neighbour balls: each point's ball has the radius
of its distance to its k-th nearest neighbour *in its own set* (itself excluded).

* Precision / recall — Kynkäänniemi, Karras, Laine, Lehtinen, Aila, "Improved Precision and
  Recall Metric for Assessing Generative Models", NeurIPS 2019 (arXiv 1904.06991). Precision =
  share of generated samples inside the real manifold; recall = share of real samples inside
  the generated manifold. Official code (kynkaat/improved-precision-and-recall-metric): k = 3,
  membership ``d <= radius`` (**inclusive**).
* Density / coverage — Naeem, Oh, Uh, Choi, Yoo, "Reliable Fidelity and Diversity Metrics for
  Generative Models", ICML 2020 (arXiv 2002.09797), code clovaai/generative-evaluation-prdc:
  k = 5, membership ``d < radius`` (**strict**)::

      density  = 1/(k M) Σⱼ Σᵢ 1[‖Yⱼ − Xᵢ‖ < r_k(Xᵢ)]
      coverage = 1/N Σᵢ 1[∃ j: ‖Yⱼ − Xᵢ‖ < r_k(Xᵢ)]

  With the strict ``<`` two identical sets give density exactly 1 (each ball holds its own
  centre and the k − 1 neighbours strictly inside it).

X is the real set (N points), Y the generated one (M points). Distances are Euclidean,
computed as squared distances in float64 by row blocks (a 10,000 × 10,000 matrix never sits in
memory at once); squared values are compared with squared radii, which orders exactly as the
distances do.
"""

from __future__ import annotations

import torch

BLOCK_ROWS = 1024  # rows of a distance block: 1024 × 10,000 float64 = 80 MB


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """‖xᵢ − yⱼ‖² = ‖xᵢ‖² + ‖yⱼ‖² − 2 xᵢᵀyⱼ for all pairs: ``(m, d)``, ``(n, d)`` → ``(m, n)`` float64, ≥ 0."""
    x, y = x.to(torch.float64), y.to(torch.float64)
    result = torch.addmm((x * x).sum(1, keepdim=True), x, y.T, alpha=-2.0) + (y * y).sum(1)
    return result.clamp_(min=0.0)


def _blocks(count: int):
    for start in range(0, count, BLOCK_ROWS):
        yield slice(start, min(start + BLOCK_ROWS, count))


def knn_radii_squared(features: torch.Tensor, k: int) -> torch.Tensor:
    """Squared distance of each point to its k-th nearest neighbour in the same set, ``(N,)``.

    The point itself is at distance 0 and is the first of the sorted row, so this is the
    (k + 1)-th smallest value of each row (as ``np.partition(d, k)[:, k]`` in both reference
    codes).
    """
    if features.shape[0] <= k:
        raise ValueError(f"need more than k = {k} points to build k-NN balls, got {features.shape[0]}")
    radii = torch.empty(features.shape[0], dtype=torch.float64)
    for rows in _blocks(features.shape[0]):
        block = squared_distances(features[rows], features)  # (B, N)
        # (k + 1)-th smallest of each row; topk of a few is ~7× faster than kthvalue here.
        radii[rows] = block.topk(k + 1, dim=1, largest=False).values[:, k]
    return radii


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3, *,
                     real_radii: torch.Tensor | None = None,
                     fake_radii: torch.Tensor | None = None) -> tuple[float, float]:
    """Improved (precision, recall) with inclusive membership ``<=``.

    ``real``: ``(N, d)``, ``fake``: ``(M, d)``. ``real_radii`` / ``fake_radii`` (squared k-NN
    radii from :func:`knn_radii_squared` with the same k) may be passed to skip recomputing them.
    """
    real_radii = knn_radii_squared(real, k) if real_radii is None else real_radii
    fake_radii = knn_radii_squared(fake, k) if fake_radii is None else fake_radii
    fake_inside = torch.zeros(fake.shape[0], dtype=torch.bool)
    real_inside = torch.empty(real.shape[0], dtype=torch.bool)
    for rows in _blocks(real.shape[0]):
        block = squared_distances(real[rows], fake)  # (B, M): real i (rows) to fake j
        fake_inside |= (block <= real_radii[rows, None]).any(dim=0)
        real_inside[rows] = (block <= fake_radii[None, :]).any(dim=1)
    return float(fake_inside.double().mean()), float(real_inside.double().mean())


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5, *,
                     real_radii: torch.Tensor | None = None) -> tuple[float, float]:
    """(density, coverage) with strict membership ``<``; ``real_radii`` as in :func:`precision_recall`."""
    real_radii = knn_radii_squared(real, k) if real_radii is None else real_radii
    inside_count = 0
    covered = torch.empty(real.shape[0], dtype=torch.bool)
    for rows in _blocks(real.shape[0]):
        block = squared_distances(real[rows], fake)  # (B, M)
        inside = block < real_radii[rows, None]  # (B, M): fake j inside the ball of real i
        inside_count += int(inside.sum())
        covered[rows] = inside.any(dim=1)
    density = inside_count / (k * fake.shape[0])
    return density, float(covered.double().mean())


def expected_coverage(real_count: int, fake_count: int, k: int = 5) -> float:
    """E[coverage] when both sets come from the same distribution (Naeem et al. 2020, §4).

        E = 1 − Πᵢ₌₁..ₖ (N − i) / (M + N − i)

    (a real point is uncovered when its k nearest neighbours among the other N − 1 real and M
    generated points are all real). ≈ 1 − 2⁻ᵏ for M = N. E[density] is exactly 1 in that case.
    """
    product = 1.0
    for i in range(1, k + 1):
        product *= (real_count - i) / (fake_count + real_count - i)
    return 1.0 - product


def prdc(real: torch.Tensor, fake: torch.Tensor, *, k_precision_recall: int = 3, k_density_coverage: int = 5,
         real_radii: dict[int, torch.Tensor] | None = None) -> dict[str, float]:
    """Precision, recall (k = 3, ``<=``), density and coverage (k = 5, ``<``) in one pass.

    Same definitions as :func:`precision_recall` and :func:`density_coverage`, but each
    real-to-generated distance block is computed once. ``real_radii`` maps k to cached squared
    real radii (the real set is usually the same test set every time).
    """
    real_radii = dict(real_radii or {})
    for k in (k_precision_recall, k_density_coverage):
        if k not in real_radii:
            real_radii[k] = knn_radii_squared(real, k)
    radii_pr, radii_dc = real_radii[k_precision_recall], real_radii[k_density_coverage]
    fake_radii = knn_radii_squared(fake, k_precision_recall)
    fake_inside = torch.zeros(fake.shape[0], dtype=torch.bool)
    real_inside = torch.empty(real.shape[0], dtype=torch.bool)
    covered = torch.empty(real.shape[0], dtype=torch.bool)
    inside_count = 0
    for rows in _blocks(real.shape[0]):
        block = squared_distances(real[rows], fake)  # (B, M)
        fake_inside |= (block <= radii_pr[rows, None]).any(dim=0)
        real_inside[rows] = (block <= fake_radii[None, :]).any(dim=1)
        inside = block < radii_dc[rows, None]
        inside_count += int(inside.sum())
        covered[rows] = inside.any(dim=1)
    return {"precision": float(fake_inside.double().mean()), "recall": float(real_inside.double().mean()),
            "density": inside_count / (k_density_coverage * fake.shape[0]),
            "coverage": float(covered.double().mean())}
