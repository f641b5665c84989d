"""The optimal discriminator and the Jensen–Shannon divergence, computed on a grid.

Goodfellow et al. 2014 (arXiv 1406.2661), Proposition 1 and Theorem 1: for a fixed G,

    D*(x) = p_data(x) / (p_data(x) + p_g(x)),
    max_D V(D, G) = −ln 4 + 2 JS(p_data ‖ p_g).

The TP's D loss is the *sum* of two BCE means, L_D = −E log D(x) − E log(1 − D(G(z))) = −V, so
at D* it equals **2 ln 2 − 2 JS(p_data ‖ p_g)**: 2 ln 2 ≈ 1.386 when p_g = p_data (D* ≡ ½),
0 when the supports are disjoint (JS = ln 2, D wins). JS is in nats, 0 ≤ JS ≤ ln 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Grid:
    """A regular grid of ``resolution``² cell centres over ``extent`` = (xmin, xmax, ymin, ymax)."""

    extent: tuple[float, float, float, float]
    resolution: int = 80

    @property
    def xs(self) -> torch.Tensor:
        xmin, xmax, _, _ = self.extent
        step = (xmax - xmin) / self.resolution
        return torch.linspace(xmin + step / 2, xmax - step / 2, self.resolution, dtype=torch.float64)

    @property
    def ys(self) -> torch.Tensor:
        _, _, ymin, ymax = self.extent
        step = (ymax - ymin) / self.resolution
        return torch.linspace(ymin + step / 2, ymax - step / 2, self.resolution, dtype=torch.float64)

    @property
    def points(self) -> torch.Tensor:
        """(resolution², 2) cell centres, row-major in y (reshape to (R, R) for an image)."""
        grid_y, grid_x = torch.meshgrid(self.ys, self.xs, indexing="ij")
        return torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)

    @property
    def cell_area(self) -> float:
        xmin, xmax, ymin, ymax = self.extent
        return (xmax - xmin) * (ymax - ymin) / self.resolution ** 2


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data / (p_data + p_g); ½ where both densities vanish (D* is undefined there)."""
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp_min(1e-300), torch.full_like(total, 0.5))


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """JS(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2, in nats, for densities on one grid.

    Each density is renormalised to sum 1 over the grid (the mass outside the grid is dropped);
    0 log 0 = 0.
    """
    p, q = p.double(), q.double()
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl_to_m(a: torch.Tensor) -> torch.Tensor:
        return torch.where(a > 0, a * (a.clamp_min(1e-300) / m.clamp_min(1e-300)).log(), torch.zeros_like(a)).sum()

    return float(0.5 * kl_to_m(p) + 0.5 * kl_to_m(q))


def js_monte_carlo(p_density, q_density, p_samples: torch.Tensor, q_samples: torch.Tensor) -> tuple[float, float]:
    """JS = ½ E_p log(2p/(p+q)) + ½ E_q log(2q/(p+q)) by Monte Carlo: (estimate, standard error).

    An integral that needs no grid: the reference the grid estimate is tested against.
    """
    terms = []
    for samples, own in ((p_samples, p_density), (q_samples, q_density)):
        p, q = p_density(samples).double(), q_density(samples).double()
        terms.append((2 * own(samples).double() / (p + q)).log())
    estimate = 0.5 * terms[0].mean() + 0.5 * terms[1].mean()
    error = 0.5 * math.sqrt(float(terms[0].var() / terms[0].numel() + terms[1].var() / terms[1].numel()))
    return float(estimate), error


def ideal_d_loss(js: float) -> float:
    """The TP's (summed) D loss at D*: 2 ln 2 − 2 JS(p_data ‖ p_g)."""
    return 2 * LN2 - 2 * js


def expected_d_loss(d_probability: torch.Tensor, p_data: torch.Tensor, p_g: torch.Tensor) -> float:
    """L_D = −∫ p_data log D − ∫ p_g log(1 − D), integrated on the grid (densities renormalised)."""
    d = d_probability.double().clamp(1e-12, 1 - 1e-12)
    p, q = p_data.double(), p_g.double()
    p, q = p / p.sum(), q / q.sum()
    return float(-(p * d.log()).sum() - (q * (1 - d).log()).sum())


def kernel_density(samples: torch.Tensor, points: torch.Tensor, bandwidth: float, chunk: int = 4096) -> torch.Tensor:
    """Gaussian kernel density estimate (1/N) Σ_i N(x; s_i, h² I) at ``points`` (M, 2)."""
    samples = samples.double()
    values = []
    for start in range(0, points.shape[0], chunk):
        squared = torch.cdist(points[start:start + chunk].double(), samples) ** 2  # (chunk, N)
        values.append(torch.exp(-squared / (2 * bandwidth ** 2)).mean(dim=1))
    return torch.cat(values) / (2 * math.pi * bandwidth ** 2)


def js_from_samples(real_density_smoothed: torch.Tensor | None, real: torch.Tensor, fake: torch.Tensor,
                    grid: Grid, bandwidth: float) -> float:
    """JS between p_data and p_g when p_g is known only through samples (an MLP G), as GAN Lab does.

    Both sides are smoothed by the same Gaussian kernel of width h, so that JS → 0 as p_g → p_data:
    p_g by a kernel density estimate of the fakes, p_data by its exact convolution with the kernel
    when it is a known mixture (``real_density_smoothed``), else by a kernel estimate of ``real``.
    Smoothing lowers JS (it blurs separated modes together); compare values at one bandwidth.
    """
    points = grid.points
    p = real_density_smoothed if real_density_smoothed is not None else kernel_density(real, points, bandwidth)
    return js_divergence(p, kernel_density(fake, points, bandwidth))
