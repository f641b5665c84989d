"""Epoch statistics: running sums of each step's values on the device, reduced once per epoch.

The epoch row holds the means over the epoch's applied steps, as the TP averages its printed
losses: D loss, D(x) and D(G(z)) over every step, G loss over the steps where G stepped
(``train.d_steps > 1``). :func:`epoch_means` is the one place the sums become means; a
data-parallel run passes an ``all_reduce`` that sums the accumulators of every rank there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

STEP_VALUES = ("d_loss", "g_loss", "d_real", "d_fake")  # the order of EpochAccumulator.sums


@dataclass
class EpochAccumulator:
    """Running sums over the current epoch, kept on the device (no per-step host sync)."""

    sums: torch.Tensor  # (4,) float64: d_loss, g_loss, d_real, d_fake
    batches: int = 0
    g_batches: int = 0
    seconds: float = 0.0

    @classmethod
    def zeros(cls, device: torch.device | str = "cpu") -> "EpochAccumulator":
        return cls(sums=torch.zeros(len(STEP_VALUES), device=device, dtype=torch.float64))

    def add(self, values: torch.Tensor, g_stepped: bool) -> None:
        """Add one applied step's ``values`` (4,) (see :func:`step_values`)."""
        self.sums += values
        self.batches += 1
        self.g_batches += int(g_stepped)


def step_values(result) -> torch.Tensor:
    """A :class:`~gan_atelier.training.step.StepResult`'s four values as a (4,) float64 tensor."""
    return torch.stack([result.d_loss, result.g_loss, result.d_real, result.d_fake]).double()


AllReduce = Callable[[EpochAccumulator], EpochAccumulator]


def epoch_means(accumulator: EpochAccumulator, all_reduce: AllReduce | None = None) -> dict[str, float]:
    """The epoch's means (G loss over G steps only). Data-parallel: ``all_reduce`` sums every rank's
    accumulator (sums, batches, g_batches) first; it is called here and nowhere else."""
    if all_reduce is not None:
        accumulator = all_reduce(accumulator)
    means = (accumulator.sums / max(accumulator.batches, 1)).tolist()
    means[1] = accumulator.sums[1].item() / max(accumulator.g_batches, 1)
    return dict(zip(STEP_VALUES, means))


def epoch_row(epoch: int, step: int, means: dict[str, float], seconds: float) -> dict[str, Any]:
    """A ``metrics.csv`` row (:data:`gan_atelier.files.METRIC_COLUMNS`), before alarms and evaluations add to it."""
    return {"epoch": epoch, "step": step, **means, "seconds": seconds}
