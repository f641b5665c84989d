"""What a frame shows, computed from the live game (pure tensors; :mod:`.render` draws them).

* D(x) = σ(logit) on a grid (the decision map), and D* = p_data / (p_data + p_g) when p_g is known;
* G's warped noise grid: the images G(z) of the lines z₁ = const and z₂ = const of [−2, 2]²
  (the other noise coordinates at 0), GAN Lab's "manifold" view;
* G's gradient on each fake x = G(z): the arrow −∇ₓ ℓ_G(x), per sample, with ℓ_G the G loss of
  one sample (−log D(x) for ``ns``, log(1 − D(x)) for ``saturating``): where G's step pushes it;
* the JS divergence (see :func:`.optimal.js_from_samples`) and the modes covered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .data import modes_covered
from .game import Game
from .optimal import Grid, js_divergence, js_from_samples, optimal_discriminator

EVAL_POINTS = 1000
ARROWS = 80
KDE_BANDWIDTH = 0.15


@dataclass
class Snapshot:
    step: int
    real: torch.Tensor  # (N, 2)
    fake: torch.Tensor  # (N, 2)
    d_map: torch.Tensor  # (R, R) D(x) on the grid
    d_star: torch.Tensor | None  # (R, R) the optimal D when p_g is known
    arrow_points: torch.Tensor  # (M, 2)
    arrows: torch.Tensor  # (M, 2) −∇ₓ ℓ_G per sample
    warped: list[torch.Tensor]  # lines of G(z), each (L, 2)
    js: float
    modes: int | None
    arrow_norm: float  # mean ‖∇ₓ ℓ_G‖ over the fakes


class Observer:
    """Fixed noise, fixed real points and a grid for one game; ``observe(game)`` makes a :class:`Snapshot`."""

    def __init__(self, game: Game, grid: Grid, seed: int = 0, count: int = EVAL_POINTS):
        stream = torch.Generator().manual_seed(10_000 + seed)
        self.grid, self.game = grid, game
        self.noise = torch.randn(count, game.generator.noise_dim, generator=stream)
        self.real = game.dataset.sample(count, stream)
        self.smoothed_density = game.dataset.density(grid.points, smoothing=KDE_BANDWIDTH)
        self.snapshots: list[Snapshot] = []

    def warped_lines(self, lines: int = 9, points: int = 41) -> list[torch.Tensor]:
        generator = self.game.generator
        values, along = torch.linspace(-2, 2, lines), torch.linspace(-2, 2, points)
        if generator.noise_dim == 1:  # 1-D noise: G's manifold is one curve
            return [generator(along[:, None])]
        result = []
        for axis in (0, 1):
            for value in values:
                noise = torch.zeros(points, generator.noise_dim)
                noise[:, axis], noise[:, 1 - axis] = value, along
                result.append(generator(noise))
        return result

    def generator_arrows(self, fake: torch.Tensor) -> torch.Tensor:
        """−∇ₓ ℓ_G(x) per sample: the G loss is a mean, so its gradient is scaled back by N."""
        points = fake[:ARROWS].clone().requires_grad_(True)
        loss = self.game.pair.g_loss(self.game.discriminator(points))
        (gradient,) = torch.autograd.grad(loss, points)
        return -gradient * points.shape[0]

    def observe(self, game: Game | None = None) -> Snapshot:
        game = game or self.game
        discriminator, generator = game.discriminator, game.generator
        was_training = discriminator.training
        discriminator.eval()
        points = self.grid.points.float()
        with torch.no_grad():
            fake = generator(self.noise)
            d_map = torch.sigmoid(discriminator(points)).reshape(self.grid.resolution, -1)
            warped = self.warped_lines()
        arrows = self.generator_arrows(fake)
        discriminator.train(was_training)
        d_star, js = None, math.nan
        p_data = game.dataset.density(self.grid.points)
        if p_data is not None and hasattr(generator, "density"):
            p_g = generator.density(self.grid.points)
            d_star = optimal_discriminator(p_data, p_g).reshape(self.grid.resolution, -1)
            js = js_divergence(p_data, p_g)
        elif torch.isfinite(fake).all():
            js = js_from_samples(self.smoothed_density, self.real, fake, self.grid, KDE_BANDWIDTH)
        centres = game.dataset.centres
        modes = None if centres is None else modes_covered(fake, centres, game.dataset.sigma)
        snapshot = Snapshot(game.step, self.real, fake, d_map, d_star, fake[:ARROWS], arrows, warped, js, modes,
                            float(arrows.norm(dim=1).mean()))
        self.snapshots.append(snapshot)
        return snapshot
