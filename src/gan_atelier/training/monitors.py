"""The epoch alarms: D winning (BCE losses), mode collapse (pixel diversity of the fixed noise) and
G's samples rejected outright (the non-saturating loss).

Each watch is a pure function of its state and the epoch's numbers, shared by the
:class:`~gan_atelier.training.Trainer` and the stacked sweep trainer (one watch per member).
The collapse rule itself lives in :mod:`gan_atelier.collapse`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..collapse import CollapseDetector, pixel_diversity
from ..config import TrainConfig
from ..objectives import objective


def d_winning_alarm(streak: int, row: dict[str, Any], t: TrainConfig) -> tuple[int, str | None]:
    """The D-winning watch of one GAN after an epoch: ``(new streak, alarm line or None)``.

    Only for losses whose D loss has a floor of 0 that means "D separates perfectly" (the BCE
    objectives ``ns`` and ``saturating``, :attr:`Objective.d_loss_floor`); LS, hinge and
    Wasserstein losses have other scales.
    """
    if not objective(t.loss).d_loss_floor:
        return streak, None
    streak = streak + 1 if row["d_loss"] < t.d_win_threshold else 0
    if streak != t.d_win_epochs:
        return streak, None
    epoch = row["epoch"]
    return streak, (f"D is winning: D loss < {t.d_win_threshold} for {t.d_win_epochs} epochs "
                    f"(epochs {epoch - t.d_win_epochs + 1}-{epoch}); G gets little signal")


def diversity_alarm(detector: CollapseDetector, epoch: int, fixed_images: torch.Tensor,
                    real_diversity: float) -> tuple[float, str | None]:
    """``(diversity, alarm or None)``: the fixed-noise samples' pixel diversity ÷ the real data's."""
    diversity = pixel_diversity(fixed_images) / real_diversity
    return diversity, detector.check_diversity(epoch, diversity)


def rejection_alarm(detector: CollapseDetector, epoch: int, row: dict[str, Any], t: TrainConfig) -> str | None:
    """The collapse detector's G-loss signal after ``epoch``: only where G's loss is −E ln D(G(z))."""
    if not objective(t.loss).generator_loss_rejection:
        return None
    return detector.check_rejection(epoch, row.get("g_loss", math.nan))
