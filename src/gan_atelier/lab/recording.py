"""Per-step recording for the lab: the step's values, its CPU time, G's gradient norm."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from ..files import atomic_write_text

STEP_COLUMNS = ("step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm")


class StepRecorder:
    """A ``LoopHooks.on_step`` callback keeping every step's D loss, G loss, D(x), D(G(z)) and ‖∇G‖.

    The values are the step's :class:`~gan_atelier.training.StepResult` (``trainer.last_result``:
    exactly what the epoch means in ``metrics.csv`` average); a skipped (non-finite) step is not
    recorded. ‖∇G‖ is the L2 norm over all of G's parameters of the gradient left by the step's
    G backward (NaN on D-only steps).
    """

    def __init__(self, grad_norm: bool = True):
        self.grad_norm = grad_norm
        self.rows: list[dict[str, float]] = []

    def __call__(self, trainer) -> None:
        result = trainer.last_result
        if result is None:
            return
        norm = gradient_norm(trainer.generator) if self.grad_norm and result.g_stepped else float("nan")
        self.record(trainer, [float(v) for v in (result.d_loss, result.g_loss, result.d_real, result.d_fake)],
                    result.g_stepped, norm)

    def record(self, trainer, values: list[float], g_stepped: bool, g_grad_norm: float = float("nan")) -> None:
        """One row: ``values`` = D loss, G loss, D(x), D(G(z)) of the step just taken."""
        self.rows.append({
            "step": trainer.step,
            "epoch": trainer.epoch + trainer.batch_index / trainer.num_batches,
            "d_loss": values[0], "g_loss": values[1] if g_stepped else float("nan"),
            "d_real": values[2], "d_fake": values[3], "g_grad_norm": g_grad_norm,
        })

    def column(self, name: str) -> list[float]:
        return [row[name] for row in self.rows]

    def write_csv(self, path: Path) -> Path:
        lines = [",".join(STEP_COLUMNS)]
        lines += [",".join(f"{row[c]:.6g}" for c in STEP_COLUMNS) for row in self.rows]
        atomic_write_text(path, "\n".join(lines) + "\n")
        return path


class StepCpuClock:
    """A ``LoopHooks.on_step`` callback: the process CPU seconds of each training step.

    CPU time (``time.process_time``, all threads of this process), not wall time: on a machine
    shared with other jobs it measures the work, not the queue. The first step of each epoch is
    skipped (its interval also holds the previous epoch's grids, plots and checkpoints).
    """

    def __init__(self):
        self._clock = time.process_time
        self._last: float | None = None
        self.seconds: list[float] = []
        self.steps_per_epoch = 0

    def __call__(self, trainer) -> None:
        now = self._clock()
        if self._last is not None and trainer.batch_index > 1:
            self.seconds.append(now - self._last)
        self._last = now
        self.steps_per_epoch = trainer.num_batches

    @property
    def median_step(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[len(ordered) // 2] if ordered else float("nan")

    @property
    def per_epoch(self) -> float:
        """Median step CPU time × steps per epoch."""
        return self.median_step * self.steps_per_epoch


def gradient_norm(module: torch.nn.Module) -> float:
    """‖∇θ‖₂ over all parameters holding a gradient (0.0 when none does)."""
    squares = [p.grad.detach().float().pow(2).sum() for p in module.parameters() if p.grad is not None]
    return math.sqrt(float(torch.stack(squares).sum())) if squares else 0.0


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over the last ``window`` finite values (the first ones average what exists)."""
    out, total, queue = [], 0.0, []
    for value in values:
        if math.isfinite(value):
            queue.append(value)
            total += value
            if len(queue) > window:
                total -= queue.pop(0)
        out.append(total / len(queue) if queue else float("nan"))
    return out




class BatchedStepRecorder:
    """``run_sweep(on_step=…)`` callback: per-step values of every member of a batched sweep.

    As :class:`StepRecorder`, from the step's
    :class:`~gan_atelier.sweep.trainer.BatchedStepResult` (``trainer.last_result``); a step where a
    member did not update (stopped or skipped on a non-finite loss) is recorded as NaN.
    """

    def __init__(self, members: int):
        self.recorders = [StepRecorder(grad_norm=False) for _ in range(members)]

    def __call__(self, trainer) -> None:
        result = trainer.last_result
        columns = torch.stack([result.d_loss, result.g_loss, result.d_real, result.d_fake], dim=1).double().tolist()
        for k, recorder in enumerate(self.recorders):
            applied = result.applied[k]
            values = columns[k] if applied else [float("nan")] * 4
            recorder.record(trainer, values, applied and result.g_stepped)
