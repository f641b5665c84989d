"""The training room: the trainer's state, the step, the loop and its hooks, seeds, alarms.

=============  ======================================================================
module         what it holds
=============  ======================================================================
seeds          :class:`RunSeeds`: the one seed scheme (init, data, noise, fixed, eval)
step           :class:`StepResult`, :func:`gan_step`, :func:`vae_step`, ``descend``,
               ``d_regularisers`` (the formulas in the docstrings)
trainer        :class:`Trainer`: models, optimizers, streams, position, EMA, sampling
nonfinite      the NaN/inf guard (per step, or deferred on the device)
stats          epoch sums and :func:`epoch_means`, the one reduction
monitors       the D-winning and collapse alarms
state          ``state_dict`` layout, :func:`state_hash`
loop           :class:`LoopHooks`, :func:`run_loop`
device         :func:`resolve_device`, :func:`set_determinism`
distributed    data parallelism's parts: the launcher, the weighted gradient all-reduce,
               shards, the stop agreement (torch.distributed only)
data_parallel  :func:`attach` wires them into a Trainer; checkpoints' per-rank states
=============  ======================================================================
"""

from .device import resolve_device, set_determinism
from .loop import LoopHooks, run_loop
from .seeds import FIXED_NOISE_SIZE, RunSeeds
from .state import state_hash
from .step import StepResult, gan_step, vae_step
from .trainer import Trainer

__all__ = ["FIXED_NOISE_SIZE", "LoopHooks", "RunSeeds", "StepResult", "Trainer", "gan_step", "vae_step",
           "resolve_device", "run_loop", "set_determinism", "state_hash"]
