"""Running a training: the driver (:func:`train`), the run folder, its outputs, signals.

=========  ====================================================================
module     what it holds
=========  ====================================================================
driver     :func:`train`, :class:`Run`, resuming, the CPU↔GPU noise re-seed
outputs    :class:`RunOutputs`: config.toml, run.json, metrics.csv, grids,
           curves, checkpoints, the printed lines
folder     run names, path safety, the lock, run.json, environment
signals    :class:`SignalGuard` (SIGINT/SIGTERM → checkpoint and return)
=========  ====================================================================
"""

from .driver import Run, load_data, train

__all__ = ["Run", "load_data", "train"]
