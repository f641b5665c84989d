"""What a run writes while it trains: ``config.toml``, ``run.json``, ``metrics.csv``, grids,
curves, checkpoints, and the lines it prints. :class:`RunOutputs` is the driver's own set of
:class:`~gan_atelier.training.LoopHooks`; it also fires the user's ``on_grid`` and
``on_evaluation`` hooks.
"""

from __future__ import annotations

import signal
import time
import warnings
from pathlib import Path
from typing import Any

from .. import config as cfg
from ..checkpoint import checkpoint_name, save_checkpoint
from ..errors import GanAtelierError
from ..files import append_metrics, atomic_write_text, write_metrics
from ..objectives import objective
from ..training import LoopHooks, Trainer
from ..training.data_parallel import rank_states
from ..viz import make_grid, plot_curves, save_gif, save_grid
from . import folder
from .tensorboard import open_for_run


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class RunOutputs:
    """The run folder's files, kept in step with the trainer (see the module docstring)."""

    def __init__(self, trainer: Trainer, run_dir: Path, resumed: bool, user_hooks: LoopHooks, say,
                 distributed: dict[str, Any] | None = None):
        """``distributed``: the data-parallel job's record for ``run.json`` (world size, backend, devices)."""
        self.trainer, self.run_dir, self.user_hooks, self.say = trainer, run_dir, user_hooks, say
        self.config = trainer.config
        self.run_info = self._run_info(resumed)
        if distributed is not None:
            self.run_info["distributed"] = distributed
        atomic_write_text(run_dir / "config.toml", cfg.dumps_toml(self.config))
        folder.write_run_json(run_dir, self.run_info)
        write_metrics(run_dir / "metrics.csv", trainer.history)
        self.evaluator = None
        if self.config.train.eval_every:
            from ..training.evaluation import training_evaluator

            self.evaluator = training_evaluator(trainer)
        # The TensorBoard event file (log.tensorboard), written from the same rows as metrics.csv. Rank 0
        # only: the driver builds RunOutputs where ``context.is_main`` (FollowerOutputs on the other ranks).
        self.tensorboard = open_for_run(run_dir, cfg.to_dict(self.config), trainer.step, resumed)

    def _run_info(self, resumed: bool) -> dict[str, Any]:
        trainer, config = self.trainer, self.config
        info = folder.read_run_json(self.run_dir) if resumed else {}
        info.update({
            "preset": config.preset, "status": "running", "seeds": trainer.seeds.as_dict(),
            "data": {"dataset": config.data.dataset, "sha256": trainer.data_sha256,
                     "images": int(trainer.images.shape[0])},
            "environment": folder.environment(trainer.device),
            "parameters": {"generator": sum(p.numel() for p in trainer.generator.parameters()),
                           "discriminator": sum(p.numel() for p in trainer.discriminator.parameters())
                           if trainer.discriminator is not None else 0},
        })
        info.setdefault("started", now())
        info.setdefault("resumed", [])
        if resumed:
            info["resumed"].append(now())
        return info

    def hooks(self) -> LoopHooks:
        on_result = [self.tensorboard.on_result] if self.tensorboard is not None else []
        return LoopHooks(on_step=[self.on_step], on_result=on_result, on_epoch=[self.on_epoch])

    def save(self) -> Path:
        """A checkpoint of the trainer now (atomic; ``latest.json`` points at it).

        Data-parallel: every rank's random states and epoch sums are gathered into it (a
        collective: :class:`~gan_atelier.run.parallel.FollowerOutputs` joins it on the other ranks).
        """
        payload = self.trainer.state_dict()
        ranks = rank_states(self.trainer)
        if ranks is not None:
            payload["distributed"] = ranks
        payload["versions"] = self.run_info["environment"]
        return save_checkpoint(payload, self.run_dir / "checkpoints", checkpoint_name(self.trainer.step))

    # ----------------------------------------------------------------------------- hooks
    def on_step(self, trainer: Trainer) -> None:
        if step_checkpoint_due(trainer):
            self.save()

    def on_epoch(self, trainer: Trainer, row: dict[str, Any]) -> None:
        t = self.config.train
        if self.evaluator is not None and t.eval_every and (trainer.epoch % t.eval_every == 0 or trainer.epoch == t.epochs):
            metrics = self.evaluator(trainer)
            row.update(metrics)
            for callback in self.user_hooks.on_evaluation:
                callback(trainer.epoch, metrics)
        append_metrics(self.run_dir / "metrics.csv", row)
        if self.tensorboard is not None:
            self.tensorboard.epoch(row)
        self.say(epoch_line(trainer, row))
        self._warn_new_alarms()
        if trainer.epoch % t.sample_every == 0 or trainer.epoch == t.epochs:
            self._save_grid(trainer.epoch)
            self._plot_curves()
        if epoch_checkpoint_due(trainer):
            self.save()

    def _warn_new_alarms(self) -> None:
        alarms = self.trainer.alarms
        for alarm in alarms[len(self.run_info.get("alarms", [])):]:
            warnings.warn(alarm, stacklevel=2)
            self.say(f"WARNING: {alarm}")
        self.run_info["alarms"] = list(alarms)

    def _save_grid(self, epoch: int) -> None:
        images = self.trainer.fixed_grid_images()
        save_grid(images, self.run_dir / "samples" / f"epoch_{epoch:03d}.png", scale=self.config.log.image_scale)
        if self.tensorboard is not None:
            self.tensorboard.grid(self.trainer.step, make_grid(images))  # exact 28×28 tiles
        for callback in self.user_hooks.on_grid:
            callback(epoch, images)

    def _probabilistic(self) -> bool:
        return self.trainer.is_vae or objective(self.config.train.loss).probabilistic

    def _plot_curves(self) -> None:
        plot_curves(self.run_dir / "metrics.csv", self.run_dir / "curves.png", title=self.config.preset,
                    probabilistic=self._probabilistic())

    # ----------------------------------------------------------------------------- the end
    def failed(self, error: BaseException) -> None:
        """Record a failed run in ``run.json`` (best effort: the original error is the one to report)."""
        if self.tensorboard is not None:
            self.tensorboard.close()
        self.run_info.update(status="failed", error=str(error) or type(error).__name__,
                             alarms=list(self.trainer.alarms), steps_done=self.trainer.step)
        try:
            folder.write_run_json(self.run_dir, self.run_info)
        except GanAtelierError:
            pass  # e.g. the disk is full

    def finish(self, status: str, received: int | None, seconds: float, cpu_seconds: float = 0.0) -> None:
        """The final grid, ``progress.gif``, ``curves.png``, the event file's hparams and the closing ``run.json``."""
        trainer = self.trainer
        if self.tensorboard is not None:
            self.tensorboard.finish(trainer.history, trainer.step)
        write_final_pictures(self.run_dir, trainer.fixed_grid_images() if trainer.epoch > 0 else None,
                             bool(trainer.history), self.config.preset, self._probabilistic(),
                             scale=self.config.log.image_scale)
        self.run_info.update(status=status, alarms=list(trainer.alarms), ended=now(),
                             train_seconds=round(self.run_info.get("train_seconds", 0.0) + seconds, 2),
                             cpu_seconds=round(self.run_info.get("cpu_seconds", 0.0) + cpu_seconds, 2),
                             epochs_done=trainer.epoch, steps_done=trainer.step)
        if received is not None:
            self.run_info["signal"] = signal.Signals(received).name
        folder.write_run_json(self.run_dir, self.run_info)


def write_final_pictures(run_dir: Path, final_images, has_history: bool, title: str, probabilistic: bool,
                         scale: int = 1) -> None:
    """A finished run folder's pictures: ``samples/final.png`` (when ``final_images`` is given, enlarged
    ``scale`` times), ``progress.gif`` from the epoch grids (each frame captioned with its epoch),
    and ``curves.png`` from ``metrics.csv`` (when it has rows)."""
    if final_images is not None:
        save_grid(final_images, run_dir / "samples" / "final.png", scale=scale)
    save_gif(sorted((run_dir / "samples").glob("epoch_*.png")), run_dir / "progress.gif")
    if has_history:
        plot_curves(run_dir / "metrics.csv", run_dir / "curves.png", title=title, probabilistic=probabilistic)


def step_checkpoint_due(trainer: Trainer) -> bool:
    """``train.checkpoint_every_steps`` (not at an epoch's end: the epoch's checkpoint follows)."""
    every = trainer.config.train.checkpoint_every_steps
    return bool(every) and trainer.step % every == 0 and not trainer.epoch_done()


def epoch_checkpoint_due(trainer: Trainer) -> bool:
    """``train.checkpoint_every`` epochs, and always after the last one."""
    t = trainer.config.train
    return bool(t.checkpoint_every and trainer.epoch % t.checkpoint_every == 0) or trainer.epoch == t.epochs


def epoch_line(trainer: Trainer, row: dict[str, Any]) -> str:
    """The line printed after each epoch."""
    extra = ""
    if "fid" in row:
        extra = f" | FID {row['fid']:.2f} | recall {row['recall']:.3f} | classes {row['classes_covered']}"
    if trainer.is_vae:
        return (f"Epoch {trainer.epoch:2d} | KL: {row['d_loss']:.4f} | Recon: {row['g_loss']:.4f} | "
                f"{row['seconds']:.1f}s{extra}")
    return (f"Epoch {trainer.epoch:2d} | D Loss: {row['d_loss']:.4f} | G Loss: {row['g_loss']:.4f} | "
            f"D(x): {row['d_real']:.3f} | D(G(z)): {row['d_fake']:.3f} | {row['seconds']:.1f}s{extra}")
