"""Schedules of the modern recipe: cosine decay (learning rates, R1/R2's γ) and the EMA decay.

Pure functions of the training position, so a resumed run recomputes the same values.

* :func:`cosine` — cosine annealing (Loshchilov & Hutter 2017, SGDR, arXiv 1608.03983, without
  restarts), used by R3GAN (Huang et al. 2024, arXiv 2501.05441) for lr and γ:
  ``v(t) = end + (start − end) · (1 + cos(π · min(t, T) / T)) / 2``, so v(0) = start,
  v(T/2) = (start + end)/2, v(t ≥ T) = end.
* :func:`ema_decay` — the EMA of G's weights expressed as a **half-life in images** with a
  ramp-up (Karras et al. 2020, StyleGAN2-ADA, ``training_loop.py``; R3GAN keeps it):
  ``h = min(half_life_images, ramp · images_seen)`` (no ramp if ``ramp`` = 0) and
  ``β = 0.5 ^ (batch_size / h)``. After h images, i.e. h / batch_size updates, the weight left
  on the old average is β^(h / batch_size) = ½: the definition of a half-life. The ramp keeps the
  half-life short early on, when G changes fast and a long average would lag behind it.
"""

from __future__ import annotations

import math


def cosine(start: float, end: float, step: int, total_steps: int) -> float:
    """``end + (start − end) · (1 + cos(π · min(step, total) / total)) / 2``; ``start`` if total ≤ 0."""
    if total_steps <= 0:
        return start
    progress = min(max(step, 0), total_steps) / total_steps
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


def ema_decay(batch_size: int, half_life_images: float, images_seen: int, ramp: float = 0.0) -> float:
    """β = 0.5 ^ (batch_size / h), h = min(half_life_images, ramp · images_seen) (ramp 0: no ramp).

    ``images_seen`` counts the real images processed before this update (the step's batch
    included). Returns 0 (copy G) while h is 0, i.e. at the very first update under a ramp.
    """
    if batch_size <= 0 or half_life_images <= 0:
        raise ValueError(f"batch_size and half_life_images must be > 0, got {batch_size}, {half_life_images}")
    half_life = min(half_life_images, ramp * images_seen) if ramp > 0 else half_life_images
    if half_life <= 0:
        return 0.0
    return 0.5 ** (batch_size / half_life)
