"""Two-dimensional data sets for the toy lab: where the whole game can be drawn.

* ``ring`` — 8 isotropic Gaussians of standard deviation σ = 0.1 on the circle of radius 2
  (the unrolled-GAN / GAN Lab benchmark, Metz et al. 2017, arXiv 1611.02163).
* ``grid`` — 25 Gaussians, σ = 0.1, centred on {−2, −1, 0, 1, 2}².
* ``moons`` — two interleaved half circles with Gaussian noise 0.1 (no closed-form density).
* ``spiral`` — an Archimedean spiral arm with Gaussian noise 0.1 (no closed-form density).
* ``line`` — 6 Gaussians, σ = 0.1, strung along the segment from (−2, −1) to (2, 1).
* a ``.npy`` or ``.csv`` file of the user's points, shape (N, 2) (no closed-form density).

For the Gaussian mixtures the density is known,
p_data(x) = (1/K) Σ_k N(x; μ_k, σ² I) = (1/K) Σ_k exp(−‖x − μ_k‖² / 2σ²) / (2πσ²),
which is what the optimal discriminator D* = p_data / (p_data + p_g) needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DataError

BUILTIN = ("ring", "grid", "moons", "spiral", "line")
MIXTURE_SIGMA = 0.1
NOISE = 0.1


def mixture_density(points: torch.Tensor, centres: torch.Tensor, sigma: float) -> torch.Tensor:
    """p(x) = (1/K) Σ_k N(x; μ_k, σ² I) for points (N, 2), centres (K, 2); computed in log space."""
    squared = torch.cdist(points.double(), centres.double()) ** 2  # (N, K)
    log_terms = -squared / (2 * sigma ** 2) - math.log(2 * math.pi * sigma ** 2)
    return (torch.logsumexp(log_terms, dim=1) - math.log(centres.shape[0])).exp()


@dataclass(frozen=True)
class ToyDataset:
    """A 2-D distribution: a sampler, its density when known, and its modes when it has some."""

    name: str
    points: torch.Tensor | None = None  # a fixed point cloud (user file, moons, spiral), (N, 2)
    centres: torch.Tensor | None = None  # mixture centres (K, 2), None when not a mixture
    sigma: float = MIXTURE_SIGMA

    def sample(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` points, (count, 2), float32, drawn with ``generator``."""
        if self.centres is not None:
            index = torch.randint(0, self.centres.shape[0], (count,), generator=generator)
            noise = torch.randn(count, 2, generator=generator) * self.sigma
            return (self.centres[index] + noise).float()
        index = torch.randint(0, self.points.shape[0], (count,), generator=generator)
        return self.points[index].float()

    def density(self, points: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor | None:
        """p_data at ``points`` (N, 2); with ``smoothing`` h, p_data convolved with N(0, h² I). None if unknown."""
        if self.centres is None:
            return None
        return mixture_density(points, self.centres, math.sqrt(self.sigma ** 2 + smoothing ** 2))

    def extent(self, margin: float | None = None) -> tuple[float, float, float, float]:
        """A square (xmin, xmax, ymin, ymax) holding the data with ``margin`` (default 0.5 + 3σ) around it."""
        cloud = self.centres if self.centres is not None else self.points
        margin = margin if margin is not None else 0.5 + 3 * (self.sigma if self.centres is not None else NOISE)
        low, high = cloud.min(dim=0).values, cloud.max(dim=0).values
        centre, half = (low + high) / 2, float((high - low).max()) / 2 + margin
        return (float(centre[0]) - half, float(centre[0]) + half, float(centre[1]) - half, float(centre[1]) + half)


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return torch.stack([radius * angles.cos(), radius * angles.sin()], dim=1)


def _moons(count: int = 2000, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    half = count // 2
    outer = np.linspace(0, np.pi, half)
    inner = np.linspace(0, np.pi, count - half)
    points = np.concatenate([np.stack([np.cos(outer), np.sin(outer)], 1),
                             np.stack([1 - np.cos(inner), 0.5 - np.sin(inner)], 1)])
    points = (points - [0.5, 0.25]) * 1.6 + rng.normal(scale=NOISE, size=points.shape)
    return torch.from_numpy(points)


def _spiral(count: int = 2000, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    turns = np.sqrt(rng.uniform(0.05, 1.0, count)) * 3 * np.pi  # uniform along the arm's area
    radius = turns / (3 * np.pi) * 2.2
    points = np.stack([radius * np.cos(turns), radius * np.sin(turns)], 1)
    return torch.from_numpy(points + rng.normal(scale=NOISE, size=points.shape))


def load_points(path: str | Path) -> torch.Tensor:
    """The user's points from ``.npy`` or ``.csv`` (two numeric columns, an optional header line)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"points file {str(path)!r} does not exist")
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif path.suffix == ".csv":
            with open(path, encoding="utf-8") as file:
                first = file.readline()
            skip = 1 if any(c.isalpha() and c not in "eE" for c in first) else 0
            array = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
        else:
            raise DataError(f"points file {str(path)!r}: expected a .npy or .csv file, got {path.suffix or 'no suffix'!r}")
    except (ValueError, OSError, UnicodeDecodeError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"points file {str(path)!r} is unreadable: {first_line}") from None
    if array.ndim != 2 or array.shape[1] != 2 or not np.issubdtype(array.dtype, np.number):
        raise DataError(f"points file {str(path)!r}: expected numbers of shape (N, 2), got {array.dtype} {array.shape}")
    if array.shape[0] < 2:
        raise DataError(f"points file {str(path)!r}: needs at least 2 points, got {array.shape[0]}")
    if not np.isfinite(array).all():
        raise DataError(f"points file {str(path)!r} holds NaN or infinite values")
    return torch.from_numpy(array.astype(np.float64))


def get_dataset(name: str | Path, seed: int = 0) -> ToyDataset:
    """A built-in data set by name (:data:`BUILTIN`) or the user's ``.npy`` / ``.csv`` file."""
    text = str(name)
    if text == "ring":
        return ToyDataset("ring", centres=ring_centres())
    if text == "grid":
        axis = torch.arange(-2.0, 2.5, 1.0, dtype=torch.float64)
        return ToyDataset("grid", centres=torch.cartesian_prod(axis, axis))
    if text == "line":
        steps = torch.linspace(-1, 1, 6, dtype=torch.float64)[:, None]
        return ToyDataset("line", centres=steps * torch.tensor([2.0, 1.0], dtype=torch.float64))
    if text == "moons":
        return ToyDataset("moons", points=_moons(seed=seed))
    if text == "spiral":
        return ToyDataset("spiral", points=_spiral(seed=seed))
    if text.endswith((".npy", ".csv")) or Path(text).suffix:
        points = load_points(text)
        return ToyDataset(Path(text).name, points=points)
    raise ConfigError(f"unknown 2-D data set {text!r}; valid: {', '.join(BUILTIN)}, or a .npy/.csv file of (N, 2) points")


def modes_covered(fake: torch.Tensor, centres: torch.Tensor, sigma: float, share: float = 0.25) -> int:
    """Modes covered: a centre μ_k counts when at least ``share`` × N/K of the N fake points lie
    within 3σ of it (‖x − μ_k‖ ≤ 3σ). N/K is its fair share, so with share = 1/4 a mode holding
    fewer than a quarter of the points it should gets no credit. Real data covers every mode
    (each holds ≈ N/K points, 98.9 % of them within 3σ in 2-D)."""
    near = torch.cdist(fake.double(), centres.double()) <= 3 * sigma  # (N, K)
    needed = share * fake.shape[0] / centres.shape[0]
    return int((near.sum(dim=0) >= needed).sum())
