"""The training loop and its hooks.

:func:`run_loop` steps a :class:`~gan_atelier.training.Trainer` to ``train.epochs`` and calls
the hooks; the run driver (:func:`gan_atelier.run.train`) adds its own (metrics.csv, grids,
checkpoints, evaluations) and calls the rest. Hook points, in the order they fire:

==============  =========================================  ==========================================
hook            called with                                fired by
==============  =========================================  ==========================================
on_step         ``(trainer)`` after every step             run_loop (``trainer.last_result`` is
                                                           that step's StepResult, None if skipped)
on_result       ``(result, trainer)`` after every applied  run_loop
                step (:class:`~.step.StepResult`)
on_epoch        ``(trainer, row)`` after every epoch       run_loop (row: the metrics.csv row; the
                                                           driver's evaluation is already in it)
on_grid         ``(epoch, images)`` with the fixed-noise   the run driver, when it saves a grid
                samples ``(64, 1, 28, 28)`` in [0, 1]
on_evaluation   ``(epoch, metrics)`` after an in-training  the run driver (``train.eval_every``)
                evaluation (fid, recall, …)
on_finish       ``(trainer, status)`` once at the end      the run driver (completed/interrupted)
==============  =========================================  ==========================================

``should_stop()`` is polled after every step (a signal, a test).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .step import StepResult
from .trainer import Trainer


@dataclass
class LoopHooks:
    """Callbacks for the loop and the run driver (see the module docstring for when each fires)."""

    on_step: list[Callable[[Trainer], None]] = field(default_factory=list)
    on_result: list[Callable[[StepResult, Trainer], None]] = field(default_factory=list)
    on_epoch: list[Callable[[Trainer, dict[str, Any]], None]] = field(default_factory=list)
    on_grid: list[Callable[[int, torch.Tensor], None]] = field(default_factory=list)
    on_evaluation: list[Callable[[int, dict[str, Any]], None]] = field(default_factory=list)
    on_finish: list[Callable[[Trainer, str], None]] = field(default_factory=list)
    should_stop: Callable[[], bool] = lambda: False

    def __add__(self, other: "LoopHooks") -> "LoopHooks":
        """Both sets of hooks, ``self``'s first; stop when either says so."""
        return LoopHooks(**{name: getattr(self, name) + getattr(other, name) for name in HOOK_LISTS},
                         should_stop=lambda: self.should_stop() or other.should_stop())


HOOK_LISTS = ("on_step", "on_result", "on_epoch", "on_grid", "on_evaluation", "on_finish")


def run_loop(trainer: Trainer, hooks: LoopHooks | None = None, progress: bool = True) -> bool:
    """Train until ``train.epochs`` are done (True) or ``hooks.should_stop()`` (False)."""
    from tqdm.auto import tqdm

    hooks = hooks or LoopHooks()
    epochs = trainer.config.train.epochs
    while trainer.epoch < epochs:
        bar = tqdm(total=trainer.num_batches, initial=trainer.batch_index, leave=False,
                   desc=f"epoch {trainer.epoch + 1}/{epochs}", disable=None if progress else True,
                   dynamic_ncols=True)
        started = time.perf_counter()
        try:
            while not trainer.epoch_done():
                result = trainer.train_step()
                bar.update(1)
                if result is not None and trainer.batch_index % 25 == 0 and not bar.disable:
                    bar.set_postfix(d_loss=f"{result.d_loss.item():.3f}", g_loss=f"{result.g_loss.item():.3f}")
                _after_step(trainer, result, hooks)
                if hooks.should_stop():
                    trainer.accumulator.seconds += time.perf_counter() - started
                    trainer.raise_if_nonfinite()
                    return False
        finally:
            bar.close()
        trainer.accumulator.seconds += time.perf_counter() - started
        row = trainer.finish_epoch()
        for callback in hooks.on_epoch:
            callback(trainer, row)
    return True


def _after_step(trainer: Trainer, result: StepResult | None, hooks: LoopHooks) -> None:
    if result is not None:
        for callback in hooks.on_result:
            callback(result, trainer)
    for callback in hooks.on_step:
        callback(trainer)
