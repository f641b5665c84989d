"""The truncation trick: latent vectors drawn from a truncated normal, trading variety for quality.

Brock, Donahue & Simonyan 2019 (BigGAN, arXiv 1809.11096, §3.1): sample z ~ N(0, I) and
**resample every component whose magnitude exceeds the threshold T** until all satisfy
|z_k| ≤ T. Each component is then distributed as the standard normal truncated to [−T, T]:

    p(z_k) = φ(z_k) / (2Φ(T) − 1) on [−T, T],   Var(z_k) = 1 − 2T·φ(T) / (2Φ(T) − 1)

(φ, Φ: the standard normal density and distribution function). A smaller T keeps G away from
the low-density regions of its latent space: samples are cleaner on average (precision up) and
less varied (recall down); T = ∞ (``None``) is the ordinary N(0, I) prior.
"""

from __future__ import annotations

import math

import torch

MAX_ROUNDS = 10_000  # resampling rounds; P(a component survives a round) = P(|z| > T) < 1


def truncated_normal(count: int, latent_dim: int, threshold: float | None, *,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """``(count, latent_dim)`` draws of N(0, I) with every component resampled while |z_k| > ``threshold``.

    ``threshold=None`` returns the untruncated draws (the same numbers as ``torch.randn`` with
    this generator). Components are resampled from the same generator, so the result is
    reproducible for a seeded ``generator``.
    """
    z = torch.randn(count, latent_dim, generator=generator)
    if threshold is None:
        return z
    if not threshold > 0 or not math.isfinite(threshold):
        raise ValueError(f"truncation threshold must be a finite number > 0, got {threshold}")
    for _ in range(MAX_ROUNDS):
        outside = z.abs() > threshold
        remaining = int(outside.sum())
        if remaining == 0:
            return z
        z[outside] = torch.randn(remaining, generator=generator)
    raise RuntimeError(f"truncation at {threshold} did not converge in {MAX_ROUNDS} rounds")


def truncated_normal_variance(threshold: float) -> float:
    """Var of N(0, 1) truncated to [−T, T]: 1 − 2T·φ(T) / (2Φ(T) − 1)."""
    density = math.exp(-0.5 * threshold ** 2) / math.sqrt(2 * math.pi)
    mass = math.erf(threshold / math.sqrt(2))  # 2Φ(T) − 1
    return 1.0 - 2.0 * threshold * density / mass
