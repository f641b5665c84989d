"""The run driver: :func:`train` prepares and locks the run folder, builds the
:class:`~gan_atelier.training.Trainer` (or resumes it from the newest checkpoint), runs the
loop with the run's outputs as hooks (:mod:`.outputs`) and turns SIGINT/SIGTERM (or a
notebook's KeyboardInterrupt) into "finish the step, checkpoint, return the partial run".
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from .. import config as cfg
from ..checkpoint import find_latest, load_checkpoint, load_error_summary
from ..config import RunConfig
from ..data import Split, load_split, synthetic_split
from ..errors import CheckpointError, ConfigError
from ..training import LoopHooks, Trainer, data_parallel, resolve_device, run_loop
from ..training.distributed import DistributedContext, init_distributed, shutdown
from . import folder
from . import tensorboard
from .outputs import RunOutputs
from .parallel import FollowerOutputs, claim_folder
from .signals import SignalGuard

SYNTHETIC_SHA256 = "synthetic"  # what synthetic_split records as its data fingerprint


@dataclass
class Run:
    """What :func:`train` returns: the folder, the trained models and the history."""

    run_dir: Path
    config: RunConfig
    trainer: Trainer
    status: str  # "completed" or "interrupted"
    signal: int | None = None
    alarms: list[str] = field(default_factory=list)
    is_main: bool = True  # False on the ranks > 0 of a data-parallel job (they print nothing)

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.trainer.history

    @property
    def generator(self) -> nn.Module:
        return self.trainer.sampling_generator

    @property
    def discriminator(self) -> nn.Module | None:
        return self.trainer.discriminator

    def __repr__(self) -> str:
        return (f"Run({str(self.run_dir)!r}, status={self.status!r}, "
                f"epochs={self.trainer.epoch}/{self.config.train.epochs})")


def load_data(config: RunConfig, dry_run: bool) -> Split:
    """The run's training split: the dataset, or small synthetic data for a dry run."""
    if dry_run:
        return synthetic_split(config.data.subset or 512, seed=config.train.seed)
    return load_split(config.data.dataset, "train", config.data.data_dir or None, config.data.subset)


def train(config: RunConfig | None = None, run_dir: str | os.PathLike | None = None, *,
          resume: bool = False, overwrite: bool = False, dry_run: bool = False,
          progress: bool = True, hooks: LoopHooks | None = None, handle_signals: bool = True,
          data: Split | None = None, overrides: list[str] | dict | None = None,
          verbose: bool = True) -> Run:
    """Train a model and write its run folder. Returns a :class:`Run` (also after an interrupt).

    ``resume=True`` continues the newest checkpoint in ``run_dir``; its stored config is used,
    with ``overrides`` limited to :data:`~gan_atelier.config.RESUMABLE_KEYS` (e.g. more epochs).
    ``dry_run=True`` trains on small synthetic data (no dataset needed). ``hooks``: see
    :class:`~gan_atelier.training.LoopHooks`. Under ``torchrun``/``srun`` every rank calls this;
    rank 0 alone writes the run folder and prints (:mod:`gan_atelier.training.data_parallel`).
    """
    state, latest = None, None
    if resume:
        run_dir, latest, state, config = _resume_point(run_dir, overrides)
        dry_run = dry_run or state.get("data_sha256") == SYNTHETIC_SHA256  # a dry run resumes on its data
    else:
        config = cfg.apply_overrides(config or cfg.get_config("seed"), overrides or {})
        run_dir = Path(run_dir) if run_dir else folder.default_run_dir(config.preset)
    tensorboard.wanted(config.log.tensorboard)  # asked for but not installed: ConfigError before any file
    context = init_distributed(config.train.device)
    say = print if verbose and context.is_main else (lambda *a, **k: None)
    try:
        with contextlib.ExitStack() as stack:
            if not context.is_main:  # other ranks print nothing but errors
                stack.enter_context(warnings.catch_warnings())
                warnings.simplefilter("ignore")
            device = context.device if context.enabled else resolve_device(config.train.device)
            data = data or load_data(config, dry_run)
            data_parallel.check_job(config, len(data), device, context)  # before any file is written
            run_dir = claim_folder(context, run_dir, resume, overwrite, say, stack)
            trainer = Trainer(config, data, device, rank=context.rank)
            data_parallel.attach(trainer, context)
            if config.model.sync_batchnorm:
                data_parallel.use_sync_batchnorm(trainer, context)
            if state is not None:
                _restore(trainer, state, latest, data)
                data_parallel.warn_on_main(context, data_parallel.restore_rank_state(trainer, state))
                say(f"Resuming {run_dir} from {latest.name} (epoch {trainer.epoch}, "
                    f"batch {trainer.batch_index}, step {trainer.step})")
            return _drive(trainer, run_dir, state is not None, hooks or LoopHooks(),
                          progress and context.is_main, handle_signals, say, context)
    finally:
        shutdown(context)


def _resume_point(run_dir, overrides) -> tuple[Path, Path, dict, RunConfig]:
    """The run folder, its newest checkpoint, that checkpoint's state and its config with ``overrides``."""
    if run_dir is None:
        raise ConfigError("resume needs the run folder to continue")
    run_dir = Path(run_dir)
    latest = find_latest(run_dir / "checkpoints")
    if latest is None:
        raise CheckpointError(f"{run_dir}: no usable checkpoint to resume from")
    state = load_checkpoint(latest)
    overrides = cfg.parse_assignments(overrides) if isinstance(overrides, list) else (overrides or {})
    refused = sorted(set(overrides) - cfg.RESUMABLE_KEYS)
    if refused:
        raise ConfigError(f"cannot change {', '.join(refused)} when resuming; "
                          f"allowed: {', '.join(sorted(cfg.RESUMABLE_KEYS))}")
    return run_dir, latest, state, cfg.apply_overrides(cfg.from_dict(state["config"]), overrides)


def _restore(trainer: Trainer, state: dict, latest: Path, data: Split) -> None:
    if state.get("data_sha256") not in (None, data.sha256):
        raise CheckpointError(f"{latest}: trained on data {state['data_sha256'][:12]}…, "
                              f"but the data found now is {data.sha256[:12]}…")
    try:
        _adapt_noise_state(state, trainer)
        trainer.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as error:
        raise CheckpointError(f"{latest}: does not fit the model its config describes "
                              f"({type(error).__name__}: {load_error_summary(error)})") from None


def _adapt_noise_state(state: dict, trainer: Trainer) -> None:
    """A run moved between CPU and GPU (Colab → laptop): re-seed the noise stream, with a warning.

    The noise generator lives on the training device, and a CUDA (Philox, 16 bytes) state cannot
    be loaded into a CPU (Mersenne Twister, 5056 bytes) generator or back. Everything else in the
    checkpoint is device-independent. The continued run is then valid but not bit-identical to
    an uninterrupted one (it never is across devices).
    """
    saved = state["rng"]["noise"]
    current = trainer.noise_generator.get_state()
    if saved.shape == current.shape:
        return
    step = state["position"]["step"]
    made_on = (state.get("versions") or {}).get("device", "another device")
    fresh = trainer.seeds.noise_generator(trainer.device, rank=trainer.rank, step=step)
    state["rng"] = {**state["rng"], "noise": fresh.get_state()}
    warnings.warn(f"checkpoint made on {made_on}, resumed on {trainer.device}: the noise generator is "
                  f"re-seeded (seed + 2 + step {step}), so this run continues validly but not bit-identically",
                  stacklevel=4)


def _drive(trainer: Trainer, run_dir: Path, resumed: bool, hooks: LoopHooks, progress: bool,
           handle_signals: bool, say, context: DistributedContext) -> Run:
    """Run the loop with the run's outputs as hooks; checkpoint on a signal; close the run folder."""
    job = data_parallel.describe(context)  # a collective: every rank, before rank 0 writes run.json
    if context.is_main:
        outputs = RunOutputs(trainer, run_dir, resumed, hooks, say, distributed=job)
    else:
        outputs = FollowerOutputs(trainer, run_dir)
    guard = SignalGuard(handle_signals)
    stop = data_parallel.AgreedStop(guard, trainer, context, local_stop=hooks.should_stop)
    all_hooks = outputs.hooks() + hooks
    all_hooks.should_stop = stop  # polled once per step on every rank: they stop after the same step
    status, received = "completed", None
    started, cpu_started = time.perf_counter(), time.process_time()
    with guard:
        try:
            finished = run_loop(trainer, all_hooks, progress=progress)
        except KeyboardInterrupt:  # a notebook's "interrupt kernel" outside the main-thread handler
            finished, guard.received = False, signal.SIGINT
        except Exception as error:
            outputs.failed(error)
            raise
        if not finished:
            received, status = stop.signal or guard.received, "interrupted"
            path = outputs.save()
            say(f"Stopped at epoch {trainer.epoch}, batch {trainer.batch_index}: checkpoint {path}. "
                f"Continue with: gan-atelier train --resume {run_dir}")
    outputs.finish(status, received, time.perf_counter() - started, time.process_time() - cpu_started)
    for callback in hooks.on_finish:
        callback(trainer, status)
    return Run(run_dir, trainer.config, trainer, status, received, list(trainer.alarms), context.is_main)
