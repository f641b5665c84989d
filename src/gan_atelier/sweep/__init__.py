"""Sweeps: K settings × seeds of the TP's MLP GAN trained at once as one stacked model.

=========  ====================================================================
module     what it holds
=========  ====================================================================
driver     :func:`run_sweep`, :func:`expand_members`, one run folder per member
trainer    :class:`BatchedGANTrainer` (the K-member step), ``SWEEPABLE_KEYS``
stacked    :class:`StackedMLP`: K ``nn.Linear`` stacks as batched matmuls
report     the comparison: summary.csv/.md, comparison.png, sweep.json
=========  ====================================================================

The ``gan-atelier sweep`` command is :mod:`gan_atelier.cli.sweep`.
"""

from .driver import SweepMember, SweepResult, expand_members, member_name, run_sweep
from .trainer import SUPPORTED_LOSSES, SWEEPABLE_KEYS, BatchedGANTrainer, BatchedStepResult, check_batchable

__all__ = ["SUPPORTED_LOSSES", "SWEEPABLE_KEYS", "BatchedGANTrainer", "BatchedStepResult", "SweepMember",
           "SweepResult", "check_batchable", "expand_members", "member_name", "run_sweep"]
