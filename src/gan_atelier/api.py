"""The Python API a notebook uses: ``train(config) -> Run``, ``load_generator``, ``sample``.

:func:`train` is the driver around :class:`~gan_atelier.train.Trainer`: it prepares and locks
the run folder, writes ``config.toml`` and ``run.json``, appends ``metrics.csv`` every epoch,
saves fixed-noise grids, ``progress.gif`` and ``curves.png``, writes atomic checkpoints, and
turns SIGINT/SIGTERM (or a notebook's KeyboardInterrupt) into "finish the step, checkpoint,
return the partial run".
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import config as cfg
from . import runs
from .checkpoint import (POINTER, checkpoint_name, find_latest, load_checkpoint, load_error_summary,
                         save_checkpoint)
from .config import RunConfig
from .data import Split, load_split, synthetic_split

SYNTHETIC_SHA256 = "synthetic"  # what synthetic_split records as its data fingerprint
from .errors import CheckpointError, ConfigError, GanAtelierError
from .models import build_models, generate_images
from .train import LoopHooks, Trainer, resolve_device, run_loop
from .viz import plot_curves, save_gif, save_grid


@dataclass
class Run:
    """What :func:`train` returns: the folder, the trained models and the history."""

    run_dir: Path
    config: RunConfig
    trainer: Trainer
    status: str  # "completed" or "interrupted"
    signal: int | None = None
    alarms: list[str] = field(default_factory=list)

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.trainer.history

    @property
    def generator(self) -> nn.Module:
        return self.trainer.ema_generator or self.trainer.generator

    @property
    def discriminator(self) -> nn.Module | None:
        return self.trainer.discriminator

    def __repr__(self) -> str:
        return (f"Run({str(self.run_dir)!r}, status={self.status!r}, "
                f"epochs={self.trainer.epoch}/{self.config.train.epochs})")


def _load_data(config: RunConfig, dry_run: bool) -> Split:
    if dry_run:
        return synthetic_split(config.data.subset or 512, seed=config.train.seed)
    return load_split(config.data.dataset, "train", config.data.data_dir or None, config.data.subset)


class _SignalGuard:
    """Turn SIGINT/SIGTERM into a flag checked between steps; restore the old handlers on exit."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.received: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "_SignalGuard":
        if self.enabled:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        # Only the first signal counts; a second Ctrl-C during the final save is ignored.
        if self.received is None:
            self.received = signum
            print(f"\n{signal.Signals(signum).name} received: finishing the current step, "
                  f"then saving a checkpoint…", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            # None: the previous handler was not installed from Python; the default is the best match.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def train(config: RunConfig | None = None, run_dir: str | os.PathLike | None = None, *,
          resume: bool = False, overwrite: bool = False, dry_run: bool = False,
          progress: bool = True, hooks: LoopHooks | None = None, handle_signals: bool = True,
          data: Split | None = None, overrides: list[str] | dict | None = None,
          verbose: bool = True) -> Run:
    """Train a model and write its run folder. Returns a :class:`Run` (also after an interrupt).

    ``resume=True`` continues the newest checkpoint in ``run_dir``; its stored config is used,
    with ``overrides`` limited to :data:`~gan_atelier.config.RESUMABLE_KEYS` (e.g. more epochs).
    ``dry_run=True`` trains on small synthetic data (no dataset needed).
    """
    say = print if verbose else (lambda *a, **k: None)
    if resume:
        if run_dir is None:
            raise ConfigError("resume needs the run folder to continue")
        run_dir = Path(run_dir)
        latest = find_latest(run_dir / "checkpoints")
        if latest is None:
            raise CheckpointError(f"{run_dir}: no usable checkpoint to resume from")
        state = load_checkpoint(latest)
        config = cfg.from_dict(state["config"])
        # A dry run's checkpoint records its synthetic data: resume it on the same data.
        dry_run = dry_run or state.get("data_sha256") == SYNTHETIC_SHA256
        overrides = cfg.parse_assignments(overrides) if isinstance(overrides, list) else (overrides or {})
        refused = sorted(set(overrides) - cfg.RESUMABLE_KEYS)
        if refused:
            raise ConfigError(f"cannot change {', '.join(refused)} when resuming; "
                              f"allowed: {', '.join(sorted(cfg.RESUMABLE_KEYS))}")
        config = cfg.apply_overrides(config, overrides)
    else:
        config = cfg.apply_overrides(config or cfg.get_config("seed"), overrides or {})
        state = None
        run_dir = Path(run_dir) if run_dir else runs.default_run_dir(config.preset)
    run_dir = runs.prepare_run_dir(run_dir, resume=resume, overwrite=overwrite)

    with runs.RunLock(run_dir):
        if overwrite and not resume:
            runs.clear_artefacts(run_dir)
        if resume:
            _remove_stale_temp_files(run_dir / "checkpoints", say)
        device = resolve_device(config.train.device)
        data = data or _load_data(config, dry_run)
        trainer = Trainer(config, data, device)
        if state is not None:
            if state.get("data_sha256") not in (None, data.sha256):
                raise CheckpointError(f"{latest}: trained on data {state['data_sha256'][:12]}…, "
                                      f"but the data found now is {data.sha256[:12]}…")
            try:
                _adapt_noise_state(state, trainer)
                trainer.load_state_dict(state)
            except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as error:
                raise CheckpointError(f"{latest}: does not fit the model its config describes "
                                      f"({type(error).__name__}: {load_error_summary(error)})") from None
            say(f"Resuming {run_dir} from {latest.name} (epoch {trainer.epoch}, "
                f"batch {trainer.batch_index}, step {trainer.step})")
        return _drive(trainer, run_dir, state, hooks, progress, handle_signals, say)


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
    fresh = torch.Generator(device=trainer.device).manual_seed(trainer.config.train.seed + 2 + step)
    state["rng"] = {**state["rng"], "noise": fresh.get_state()}
    warnings.warn(f"checkpoint made on {made_on}, resumed on {trainer.device}: the noise generator is "
                  f"re-seeded (seed + 2 + step {step}), so this run continues validly but not bit-identically",
                  stacklevel=3)


def _remove_stale_temp_files(checkpoints: Path, say) -> None:
    """Delete the ``.*.tmp`` files an interrupted save left (our own pattern only; we hold the lock)."""
    for temp in sorted(checkpoints.glob(".step_*.pt.*.tmp")) + sorted(checkpoints.glob(f".{POINTER}.*.tmp")):
        if temp.is_file() and not temp.is_symlink():
            temp.unlink()
            say(f"Removed {temp.name}, a partial file left by an interrupted save")


def _drive(trainer: Trainer, run_dir: Path, state: dict | None, hooks: LoopHooks | None,
           progress: bool, handle_signals: bool, say) -> Run:
    config = trainer.config
    t = config.train
    samples = run_dir / "samples"
    checkpoints = run_dir / "checkpoints"
    run_info = runs.read_run_json(run_dir) if state is not None else {}
    run_info.update({
        "preset": config.preset, "status": "running", "seeds": {
            "init": t.seed, "data_order": t.seed + 1, "noise": t.seed + 2, "fixed_noise": t.seed + 3},
        "data": {"dataset": config.data.dataset, "sha256": trainer.data_sha256,
                 "images": int(trainer.images.shape[0])},
        "environment": runs.environment(trainer.device),
        "parameters": {"generator": sum(p.numel() for p in trainer.generator.parameters()),
                       "discriminator": sum(p.numel() for p in trainer.discriminator.parameters())
                       if trainer.discriminator is not None else 0},
    })
    run_info.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    run_info.setdefault("resumed", [])
    if state is not None:
        run_info["resumed"].append(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    from .checkpoint import atomic_write_text

    atomic_write_text(run_dir / "config.toml", cfg.dumps_toml(config))
    runs.write_run_json(run_dir, run_info)
    runs.write_metrics(run_dir / "metrics.csv", trainer.history)
    evaluator = _make_evaluator(trainer, say)

    def save() -> Path:
        payload = trainer.state_dict()
        payload["versions"] = run_info["environment"]
        return save_checkpoint(payload, checkpoints, checkpoint_name(trainer.step))

    def on_step(tr: Trainer) -> None:
        if t.checkpoint_every_steps and tr.step % t.checkpoint_every_steps == 0 and not tr.epoch_done():
            save()

    def on_epoch(tr: Trainer, row: dict[str, Any]) -> None:
        if evaluator is not None and t.eval_every and (tr.epoch % t.eval_every == 0 or tr.epoch == t.epochs):
            row.update(evaluator(tr))
        runs.append_metrics(run_dir / "metrics.csv", row)
        extra = ""
        if "fid" in row:
            extra = f" | FID {row['fid']:.2f} | recall {row['recall']:.3f} | classes {row['classes_covered']}"
        if tr.is_vae:
            say(f"Epoch {tr.epoch:2d} | KL: {row['d_loss']:.4f} | Recon: {row['g_loss']:.4f} | "
                f"{row['seconds']:.1f}s{extra}")
        else:
            say(f"Epoch {tr.epoch:2d} | D Loss: {row['d_loss']:.4f} | G Loss: {row['g_loss']:.4f} | "
                f"D(x): {row['d_real']:.3f} | D(G(z)): {row['d_fake']:.3f} | {row['seconds']:.1f}s{extra}")
        for alarm in tr.alarms[len(run_info.get("alarms", [])):]:
            warnings.warn(alarm, stacklevel=2)
            say(f"WARNING: {alarm}")
        run_info["alarms"] = list(tr.alarms)
        if tr.epoch % t.sample_every == 0 or tr.epoch == t.epochs:
            save_grid(tr.fixed_grid_images(), samples / f"epoch_{tr.epoch:03d}.png", scale=config.log.image_scale)
            plot_curves(run_dir / "metrics.csv", run_dir / "curves.png", title=config.preset)
        if (t.checkpoint_every and tr.epoch % t.checkpoint_every == 0) or tr.epoch == t.epochs:
            save()

    hooks = hooks or LoopHooks()
    guard = _SignalGuard(handle_signals)
    all_hooks = LoopHooks(on_step=[on_step, *hooks.on_step], on_epoch=[on_epoch, *hooks.on_epoch],
                          should_stop=lambda: guard.received is not None or hooks.should_stop())
    status, received = "completed", None
    started, cpu_started = time.perf_counter(), time.process_time()
    with guard:
        try:
            finished = run_loop(trainer, all_hooks, progress=progress)
        except KeyboardInterrupt:  # a notebook's "interrupt kernel" outside the main-thread handler
            finished, guard.received = False, signal.SIGINT
        except Exception as error:
            run_info.update(status="failed", error=str(error) or type(error).__name__,
                            alarms=list(trainer.alarms), steps_done=trainer.step)
            try:
                runs.write_run_json(run_dir, run_info)
            except GanAtelierError:
                pass  # e.g. the disk is full: the original error is the one to report
            raise
        if not finished:
            received = guard.received
            status = "interrupted"
            path = save()
            say(f"Stopped at epoch {trainer.epoch}, batch {trainer.batch_index}: checkpoint {path}. "
                f"Continue with: gan-atelier train --resume {run_dir}")
    _finish_outputs(trainer, run_dir)
    run_info.update(status=status, alarms=list(trainer.alarms),
                    ended=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    train_seconds=round(run_info.get("train_seconds", 0.0) + time.perf_counter() - started, 2),
                    cpu_seconds=round(run_info.get("cpu_seconds", 0.0) + time.process_time() - cpu_started, 2),
                    epochs_done=trainer.epoch, steps_done=trainer.step)
    if received is not None:
        run_info["signal"] = signal.Signals(received).name
    runs.write_run_json(run_dir, run_info)
    return Run(run_dir, trainer.config, trainer, status, received, list(trainer.alarms))


def _finish_outputs(trainer: Trainer, run_dir: Path) -> None:
    samples = run_dir / "samples"
    if trainer.epoch > 0:
        save_grid(trainer.fixed_grid_images(), samples / "final.png", scale=trainer.config.log.image_scale)
    frames = sorted(samples.glob("epoch_*.png"))
    save_gif(frames, run_dir / "progress.gif")
    if trainer.history:
        plot_curves(run_dir / "metrics.csv", run_dir / "curves.png", title=trainer.config.preset)


def _make_evaluator(trainer: Trainer, say):
    """The in-training evaluator (metrics module), or None when eval is off or unavailable."""
    if not trainer.config.train.eval_every:
        return None
    try:
        from .metrics import training_evaluator
    except ImportError as error:
        say(f"WARNING: train.eval_every is set but metrics are unavailable ({error})")
        return None
    return training_evaluator(trainer)


# ------------------------------------------------------------------------------ loading
def load_generator(path: str | os.PathLike, *, device: str = "cpu", ema: bool = True) -> nn.Module:
    """A trained generator in eval mode from a run folder, a ``.pt`` checkpoint, a ``.safetensors`` export
    or a Hugging Face model folder (``export --hub``).

    The returned module carries ``.run_config`` (its :class:`RunConfig`).
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from .export import load_safetensors_generator

        return load_safetensors_generator(path, device=device)
    if path.is_dir() and (path / "config.json").is_file() and not (path / "checkpoints").is_dir():
        from .hub import load_hub_generator

        return load_hub_generator(path, device=device)
    if path.is_dir():
        checkpoint = find_latest(path / "checkpoints") if (path / "checkpoints").is_dir() else find_latest(path)
        if checkpoint is None:
            raise CheckpointError(f"{path}: no checkpoint found (is it a run folder?)")
        path = checkpoint
    state = load_checkpoint(path)
    try:
        config = cfg.from_dict(state["config"])
        generator, _ = build_models(config)
        weights = state["ema_generator"] if ema and state.get("ema_generator") is not None else state["generator"]
        generator.load_state_dict(weights)
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its generator does not fit its config "
                              f"({type(error).__name__}: {load_error_summary(error)})") from None
    generator.run_config = config
    return generator.to(device).eval()


@torch.no_grad()
def sample(generator: nn.Module, n: int = 64, *, seed: int | None = 0, labels: torch.Tensor | int | None = None,
           batch_size: int = 1000) -> torch.Tensor:
    """``n`` images ``(n, 1, 28, 28)`` in [0, 1]. ``labels``: a class for all, or one per image (cGAN)."""
    device = next(generator.parameters()).device
    latent_dim = getattr(generator, "latent_dim", None) or generator.run_config.model.latent_dim
    rng = torch.Generator().manual_seed(seed) if seed is not None else None
    conditional = getattr(generator, "conditional", False)
    if conditional:
        if labels is None:
            labels = torch.arange(n) % 10
        elif isinstance(labels, int):
            labels = torch.full((n,), labels, dtype=torch.long)
    elif labels is not None:
        raise ConfigError("labels were given but this generator is not conditional")
    generator.eval()
    outputs = []
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        z = torch.randn(count, latent_dim, generator=rng).to(device)
        batch_labels = labels[start:start + count].to(device) if conditional else None
        outputs.append(generate_images(generator, z, batch_labels).float().cpu())
    return torch.cat(outputs) if outputs else torch.empty(0, 1, 28, 28)
