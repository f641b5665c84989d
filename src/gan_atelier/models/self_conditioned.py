"""An unconditional generator that conditions itself on a pseudo-class drawn from its own noise.

Self-conditioned GAN (Liu et al. 2020, arXiv 2006.10728): the training images are partitioned
into K clusters (:mod:`gan_atelier.clusters`, no labels used), and a conditional G / projection D
pair (:mod:`.conditional`) is trained on the cluster ids. The generator below keeps the
unconditional interface, ``G(z)``: the cluster ``c`` is a function of ``z`` alone,

    u = frac(M · Φ(z₀)),   c = min{ j : F(j) > u },   F(j) = Σ_{i ≤ j} π_i

with Φ the standard normal CDF, ``z₀`` z's first component, ``M = 1000`` and ``π`` the clusters'
shares of the training set (the ``prior`` buffer, saved with the weights). For z ~ N(0, I), Φ(z₀)
is uniform on (0, 1), so ``frac(M·Φ(z₀))`` is too (M an integer), and ``P(c = j) = π_j`` exactly:
G draws clusters as often as the data holds them. The ``frac(M·…)`` keeps that nearly true when z
is truncated (:mod:`gan_atelier.truncation`): Φ(z₀) then spreads over an interval of width
2Φ(T) − 1 holding hundreds of periods of the sawtooth, and the cluster mix does not narrow with
T (the samples within each cluster do). Sampling, truncation, export and metrics all see a plain
``G(z)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .conditional import ConditionalGenerator
from .dcgan import CHANNELS

SAWTOOTH = 1000  # M above


class SelfConditionedGenerator(nn.Module):
    """G(z) = G_c(z, c(z)): z ``(B, latent_dim)`` → images ``(B, 1, 28, 28)`` in [0, 1]."""

    conditional = False  # the interface: no labels in, as for any unconditional G

    def __init__(self, latent_dim: int = 100, num_clusters: int = 10, channels: int = CHANNELS):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_clusters = num_clusters
        self.inner = ConditionalGenerator(latent_dim, num_classes=num_clusters, channels=channels)
        # π: uniform until the trainer sets the clusters' shares (set_prior); saved in state_dict
        self.register_buffer("prior", torch.full((num_clusters,), 1.0 / num_clusters, dtype=torch.float64))

    def set_prior(self, prior: torch.Tensor) -> None:
        """The clusters' shares of the training set ``(K,)``, normalised here."""
        prior = prior.detach().to(torch.float64).flatten()
        if prior.numel() != self.num_clusters or not bool((prior >= 0).all()) or not prior.sum() > 0:
            raise ValueError(f"a prior needs {self.num_clusters} non-negative shares, got {prior.tolist()}")
        self.prior.copy_(prior / prior.sum())

    def clusters_of(self, z: torch.Tensor) -> torch.Tensor:
        """The cluster ``c(z)`` of each latent vector ``(B, latent_dim)`` → ``(B,)`` int64 (formula above)."""
        phi = 0.5 * (1.0 + torch.erf(z[:, 0].double() / math.sqrt(2.0)))  # Φ(z₀), float64
        u = torch.frac(SAWTOOTH * phi)
        cumulative = torch.cumsum(self.prior, dim=0)
        clusters = torch.searchsorted(cumulative, u.contiguous(), right=True)
        return clusters.clamp_(max=self.num_clusters - 1)

    def forward(self, z: torch.Tensor, clusters: torch.Tensor | None = None) -> torch.Tensor:
        """``clusters`` (optional, ``(B,)``): draw from these clusters instead of ``c(z)``."""
        return self.inner(z, self.clusters_of(z) if clusters is None else clusters)
