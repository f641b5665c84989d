"""The non-finite loss guard: stop (or skip the step) before an optimizer applies a NaN or inf.

Two forms, the same outcome:

* **per step** (CPU, ``train.on_nan = "skip"``): one host read of ``isfinite(loss)`` per loss;
  stop with :class:`~gan_atelier.errors.NonFiniteLossError` naming the step, or with
  ``on_nan = "skip"`` skip the step (up to ``train.max_nan_skips`` in a row);
* **deferred** (CUDA with ``on_nan = "stop"``): no host sync per step. A non-finite loss sets a
  sticky device flag that the fused Adam kernels read as ``found_inf`` (their update is skipped
  on the device, step counters included) and records where it happened; the trainer calls
  :meth:`NonFiniteGuard.raise_if_flagged` every :data:`NAN_CHECK_EVERY` steps, at the end of an
  epoch, before a checkpoint and before the loop returns. The weights are those from before the
  bad step: "stopped before the optimizer step" holds.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..config import TrainConfig
from ..errors import NonFiniteLossError

NAN_CHECK_EVERY = 50  # steps between host reads of the device-side non-finite flag (deferred checks)
_WHICH = {"D": 1, "G": 2}  # 3: VAE


def all_fused(optimizers: list[torch.optim.Optimizer]) -> bool:
    return all(group.get("fused") for o in optimizers for group in o.param_groups)


class NonFiniteGuard:
    """Watches every loss before its backward; see the module docstring."""

    def __init__(self, optimizers: list[torch.optim.Optimizer], device: torch.device, train: TrainConfig,
                 deferred: bool, report_skip: Callable[[str], None]):
        self.optimizers = optimizers
        self.train = train
        self.report_skip = report_skip  # receives "non-finite D loss at …: step skipped"
        self.skips = 0  # consecutive skipped steps (on_nan = "skip")
        # Data-parallel: reduces a "this loss is non-finite" flag over the ranks (MAX), so that all
        # stop, or skip the same step (set by training.data_parallel.attach; None for one process).
        self.any_rank: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.deferred = deferred and train.on_nan == "stop" and all_fused(optimizers)
        if self.deferred:
            self.flag = torch.zeros((), device=device)  # sticky: 1 once any loss was non-finite
            self.at = torch.zeros(3, dtype=torch.long, device=device)  # step, epoch, batch (1-based)
            self.which = torch.zeros((), dtype=torch.long, device=device)  # 1 D, 2 G, 3 VAE
            for optimizer in optimizers:
                optimizer.found_inf = self.flag

    def check(self, loss: torch.Tensor, which: str, where: tuple[int, int, int]) -> bool:
        """True if the step may apply ``loss`` (``where``: 1-based step, epoch, batch)."""
        if self.deferred and not all_fused(self.optimizers):  # e.g. an older checkpoint's non-fused Adam
            self.raise_if_flagged(where[0])
            self.deferred = False
            for optimizer in self.optimizers:
                optimizer.found_inf = None
        if not self.deferred:
            return self._check_now(loss, which, where)
        bad = ~torch.isfinite(loss.detach())
        if self.any_rank is not None:
            bad = self.any_rank(bad)  # a device-side all-reduce: still no host sync
        first = bad & (self.flag == 0)  # () bool, on the device
        self.at.copy_(torch.where(first, torch.tensor(where).to(self.at.device, non_blocking=True), self.at))
        self.which.copy_(torch.where(first, _WHICH.get(which, 3), self.which))
        self.flag.copy_(torch.maximum(self.flag, first.float()))
        return True

    def _check_now(self, loss: torch.Tensor, which: str, where: tuple[int, int, int]) -> bool:
        bad = ~torch.isfinite(loss.detach())
        if self.any_rank is not None:
            bad = self.any_rank(bad)
        if not bool(bad):
            return True
        place = f"step {where[0]} (epoch {where[1]}, batch {where[2]})"
        if self.train.on_nan == "skip" and self.skips < self.train.max_nan_skips:
            self.skips += 1
            self.report_skip(f"non-finite {which} loss at {place}: step skipped")
            return False
        value = loss.item()
        shown = value if not math.isfinite(value) else "on another rank"
        raise NonFiniteLossError(f"non-finite {which} loss ({shown}) at {place}; stopped before the optimizer step")

    def raise_if_flagged(self, next_step: int) -> None:
        """Deferred form: raise if a non-finite loss was flagged (one host sync). ``next_step``: 1-based."""
        if not self.deferred or not bool(self.flag):
            return
        step, epoch, batch = self.at.tolist()
        which = {1: "D", 2: "G"}.get(int(self.which), "VAE")
        raise NonFiniteLossError(
            f"non-finite {which} loss at step {step} (epoch {epoch}, batch {batch}); stopped before the "
            f"optimizer step (detected on the device; the {next_step - step} steps since were not applied)"
        )

    def ema_weight(self, weight: float) -> float | torch.Tensor:
        """The EMA's update weight: with deferred checks, 0 once a loss was non-finite (no host sync)."""
        return (1.0 - self.flag) * weight if self.deferred else weight
