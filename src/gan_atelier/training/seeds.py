"""One seed scheme for every run: which random stream comes from which seed.

All streams derive from ``train.seed`` (``s``):

============  ==========  ==================================================================
stream        seed        what it draws
============  ==========  ==================================================================
init          ``s``       ``torch.manual_seed(s)`` right before the models are built
data          ``s + 1``   a CPU generator: each epoch's permutation
noise         ``s + 2``   a generator on the training device: z, cGAN labels, GP weights,
                          the VAE's ε (rank ``r`` of a data-parallel run: ``s + 2 + r·1000003``)
fixed noise   ``s + 3``   64 vectors drawn once **on the CPU** (same grids on CPU and GPU)
eval          ``s + 4``   the in-training evaluation's noise, on the CPU (``train.eval_every``)
dropout       (global)    the global torch RNG after init; rank ``r > 0`` of a data-parallel run
                          re-seeds it ``s + 5 + r·1000003`` (rank 0 keeps the single-process stream)
============  ==========  ==================================================================

Dropout uses the global torch RNG, whose state the checkpoint saves too (every rank's, under
data parallelism). Used by the
:class:`~gan_atelier.training.Trainer`, the stacked sweep trainer, the run driver (``run.json``)
and the in-training evaluator; the data order and the fixed noise never depend on the rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

FIXED_NOISE_SIZE = 64
# Between the noise seeds of consecutive ranks: a prime far above the +0…+4 offsets, so the ranks'
# streams and this run's other streams never share a seed (below 10⁶ ranks). Kept small because
# the CPU generator (Mersenne Twister) uses only the low 32 bits of its seed.
RANK_STRIDE = 1_000_003


@dataclass(frozen=True)
class RunSeeds:
    """The random streams of a run whose ``train.seed`` is ``seed``."""

    seed: int

    INIT = 0
    DATA = 1
    NOISE = 2
    FIXED_NOISE = 3
    EVAL = 4
    DROPOUT = 5

    def seed_init(self) -> None:
        """Seed the global RNG for model construction (call right before ``build_models``)."""
        torch.manual_seed(self.seed + self.INIT)

    def noise_seed(self, rank: int = 0, step: int = 0) -> int:
        """The noise stream's seed; ``step`` > 0 re-seeds it mid-run (a CPU↔GPU resume)."""
        return self.seed + self.NOISE + step + rank * RANK_STRIDE

    def seed_dropout(self, rank: int, step: int = 0) -> None:
        """Data-parallel rank ``rank`` > 0: its own dropout masks (the global RNG); rank 0 is left alone."""
        if rank > 0:
            torch.manual_seed(self.seed + self.DROPOUT + step + rank * RANK_STRIDE)

    def data_generator(self) -> torch.Generator:
        """Each epoch's permutation (CPU; the same on every rank)."""
        return torch.Generator().manual_seed(self.seed + self.DATA)

    def noise_generator(self, device: torch.device | str = "cpu", rank: int = 0, step: int = 0) -> torch.Generator:
        """Training noise on ``device``: rank 0 is the single-process stream."""
        return torch.Generator(device=device).manual_seed(self.noise_seed(rank, step))

    def fixed_noise(self, latent_dim: int, count: int = FIXED_NOISE_SIZE) -> torch.Tensor:
        """The grids' inputs ``(count, latent_dim)``, drawn on the CPU."""
        return torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(self.seed + self.FIXED_NOISE))

    def eval_noise(self, count: int, latent_dim: int) -> torch.Tensor:
        """The in-training evaluation's inputs ``(count, latent_dim)``, drawn on the CPU."""
        return torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(self.seed + self.EVAL))

    def as_dict(self) -> dict[str, int]:
        """The seeds ``run.json`` records (noise: rank 0)."""
        return {"init": self.seed + self.INIT, "data_order": self.seed + self.DATA,
                "noise": self.seed + self.NOISE, "fixed_noise": self.seed + self.FIXED_NOISE}
