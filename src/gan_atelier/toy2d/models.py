"""Small generators and discriminators for 2-D data. They return points or logits, nothing else.

* :class:`MLPGenerator` — z ∈ R^noise_dim ~ N(0, I) → x ∈ R², LeakyReLU(0.2) hidden layers (the
  TP's activation), no output squashing (2-D data is not in [0, 1]).
* :class:`MLPDiscriminator` — x ∈ R² → one logit, LeakyReLU(0.2) (and the TP's Dropout when asked).
* :class:`LinearGenerator` — x = A z + b with z ~ N(0, I₂): p_g = N(b, A Aᵀ) is known in closed
  form, so the optimal discriminator D* = p_data / (p_data + p_g) can be drawn exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index, (inputs, outputs) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(inputs, outputs))
        if index < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.2))
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """G: (B, noise_dim) → (B, 2) through ``hidden`` LeakyReLU layers."""

    def __init__(self, noise_dim: int = 2, hidden: tuple[int, ...] = (64, 64, 64)):
        super().__init__()
        self.noise_dim = noise_dim
        self.model = _mlp([noise_dim, *hidden, 2])

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.model(noise)  # (B, 2)


class MLPDiscriminator(nn.Module):
    """D: (B, 2) → (B, 1) logits; D(x) = σ(logit)."""

    def __init__(self, hidden: tuple[int, ...] = (64, 64, 64), dropout: float = 0.0):
        super().__init__()
        self.model = _mlp([2, *hidden, 1], dropout=dropout)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.model(points)  # (B, 1)


class LinearGenerator(nn.Module):
    """G(z) = A z + b, z ~ N(0, I₂), so p_g = N(b, Σ) with Σ = A Aᵀ (a Gaussian of known density)."""

    def __init__(self, matrix: torch.Tensor | None = None, offset: torch.Tensor | None = None):
        super().__init__()
        self.noise_dim = 2
        self.matrix = nn.Parameter(torch.eye(2) if matrix is None else matrix.clone().float())
        self.offset = nn.Parameter(torch.zeros(2) if offset is None else offset.clone().float())

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return noise @ self.matrix.T + self.offset  # (B, 2)

    def covariance(self) -> torch.Tensor:
        return self.matrix.double() @ self.matrix.double().T

    def density(self, points: torch.Tensor) -> torch.Tensor:
        """p_g(x) = exp(−½ (x − b)ᵀ Σ⁻¹ (x − b)) / (2π √det Σ)."""
        covariance = self.covariance().detach()
        centred = points.double() - self.offset.detach().double()
        mahalanobis = (centred @ torch.linalg.inv(covariance) * centred).sum(dim=1)
        return torch.exp(-0.5 * mahalanobis) / (2 * math.pi * torch.linalg.det(covariance).sqrt())
