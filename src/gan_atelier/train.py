"""Compatibility: the old home of the training loop, ``from gan_atelier.train import Trainer, LoopHooks``.

The loop now lives in :mod:`gan_atelier.training` and the run driver in :mod:`gan_atelier.run`.
``gan_atelier.train`` is also, as always, the training *function*: this module is callable and
forwards to :func:`gan_atelier.run.train`, so ``from gan_atelier import train; train(config)``
works whether or not this old path was imported first.
"""

import sys
import types

from .run.driver import train as _train
from .training import LoopHooks, StepResult, Trainer, resolve_device, run_loop, set_determinism, state_hash
from .training.monitors import d_winning_alarm
from .training.seeds import FIXED_NOISE_SIZE

__all__ = ["FIXED_NOISE_SIZE", "LoopHooks", "StepResult", "Trainer", "d_winning_alarm", "resolve_device",
           "run_loop", "set_determinism", "state_hash"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return _train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
