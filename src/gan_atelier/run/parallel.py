"""The run driver's data-parallel parts: who claims the run folder, and what ranks > 0 do.

Rank 0 alone prepares, locks and writes the run folder (:class:`~.outputs.RunOutputs`). A
refusal there (the folder exists, is locked) is shared, so every rank fails with the same
one-line error instead of waiting at a collective. Ranks > 0 run :class:`FollowerOutputs`:
no files, no output, but they join every checkpoint's gathering of random states at the same
steps as rank 0. See :mod:`gan_atelier.training.data_parallel` for the training side.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from ..training import LoopHooks, Trainer
from ..training.data_parallel import broadcast_object, on_main_then_share, rank_states
from ..training.distributed import DistributedContext
from . import folder
from .outputs import epoch_checkpoint_due, step_checkpoint_due


def claim_folder(context: DistributedContext, run_dir: Path, resume: bool, overwrite: bool, say,
                 stack: contextlib.ExitStack) -> Path:
    """Prepare and lock ``run_dir`` (rank 0; the lock is held until ``stack`` closes); its path on every rank.

    The path is rank 0's: a default ``runs/<preset>-<timestamp>`` name may differ by a second
    between processes.
    """
    run_dir = broadcast_object(Path(run_dir), context)

    def claim() -> Path:
        prepared = folder.prepare_run_dir(run_dir, resume=resume, overwrite=overwrite)
        stack.enter_context(folder.RunLock(prepared))
        if overwrite and not resume:
            folder.clear_artefacts(prepared)
        if resume:
            folder.remove_stale_temp_files(prepared / "checkpoints", say)
        return prepared

    return on_main_then_share(context, claim)


class FollowerOutputs:
    """A rank > 0: writes and prints nothing, but joins each checkpoint's gathering with rank 0."""

    def __init__(self, trainer: Trainer, run_dir: Path):
        self.trainer, self.run_dir = trainer, run_dir

    def hooks(self) -> LoopHooks:
        return LoopHooks(on_step=[self.on_step], on_epoch=[self.on_epoch])

    def save(self) -> Path:
        rank_states(self.trainer)  # rank 0 writes the file
        return self.run_dir / "checkpoints"

    def on_step(self, trainer: Trainer) -> None:
        if step_checkpoint_due(trainer):
            self.save()

    def on_epoch(self, trainer: Trainer, row) -> None:
        if epoch_checkpoint_due(trainer):
            self.save()

    def failed(self, error: BaseException) -> None:
        """Rank 0 records the failure in run.json."""

    def finish(self, status: str, received: int | None, seconds: float, cpu_seconds: float = 0.0) -> None:
        """Rank 0 writes the final grid, the GIF, the curves and run.json."""
