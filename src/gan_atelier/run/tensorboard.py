"""A run's TensorBoard event file, written from the same rows as ``metrics.csv``.

``metrics.csv`` stays the source of truth; this module mirrors it for people who watch training
in TensorBoard (``tensorboard --logdir runs`` shows every run folder as one run). Into one event
file in the run folder itself:

- ``epoch/<column>``: every per-epoch column of ``metrics.csv`` (losses, D outputs, seconds,
  diversity, and the evaluation's FID / recall / classes when ``train.eval_every`` is set), at the
  optimizer step that closed the epoch (the row's ``step``);
- ``step/d_loss``, ``step/g_loss``: one step's losses every ``log.every_steps`` steps;
- ``samples/fixed_noise``: the fixed-noise grid at each grid epoch, exact 28×28 tiles (not upscaled);
- the config and the final metrics as **hparams in the same event file**. ``SummaryWriter.add_hparams``
  would write them into a new sub-folder, i.e. a second run per run (pytorch/pytorch#32651), so the
  three hparams summaries from ``torch.utils.tensorboard.summary.hparams`` go through this writer.

A resumed run opens a new event file in the same folder with ``purge_step`` = the checkpoint's
step + 1: TensorBoard drops what the interrupted process logged after its checkpoint, so no
step appears twice. tensorboard is an optional extra (``pip install gan-atelier[tensorboard]``).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError

EPOCH_PREFIX, STEP_PREFIX, FINAL_PREFIX = "epoch/", "step/", "final/"
GRID_TAG = "samples/fixed_noise"
NOT_SCALARS = ("epoch", "step")  # metrics.csv's position columns, the x axis rather than a curve


def tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def wanted(setting: str) -> bool:
    """Whether a run with ``log.tensorboard = setting`` writes an event file.

    ``"auto"``: when tensorboard is installed. ``"true"`` without it: :class:`ConfigError` (exit 2).
    """
    if setting == "false":
        return False
    if tensorboard_available():
        return True
    if setting == "true":
        raise ConfigError("log.tensorboard=true but tensorboard is not installed: "
                          "pip install 'gan-atelier[tensorboard]' (or --set log.tensorboard=false)")
    return False


def _hparam_value(value: Any) -> Any:
    return value if isinstance(value, (bool, int, float, str)) else str(value)


class TensorBoardLog:
    """The event file of one run folder (one process; the driver calls it on rank 0 only)."""

    def __init__(self, run_dir: str | Path, *, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir = Path(run_dir)
        # log_dir is the run folder itself: no sub-folder, so one run folder is one TensorBoard run.
        self.writer = SummaryWriter(log_dir=str(self.run_dir), purge_step=purge_step)

    def epoch(self, row: dict[str, Any]) -> None:
        """One ``metrics.csv`` row: each numeric column except epoch/step, at the row's step."""
        step = int(row["step"])
        for column, value in row.items():
            if column in NOT_SCALARS or value is None or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(EPOCH_PREFIX + column, float(value), step)

    def step(self, step: int, losses: dict[str, float]) -> None:
        """One step's losses (``{"d_loss": …, "g_loss": …}``), under ``step/``."""
        for name, value in losses.items():
            if value is not None and math.isfinite(value):
                self.writer.add_scalar(STEP_PREFIX + name, float(value), step)

    def grid(self, step: int, grid: torch.Tensor) -> None:
        """A ``(1, H, W)`` grid in [0, 1] from :func:`gan_atelier.viz.make_grid` (exact pixels)."""
        self.writer.add_image(GRID_TAG, grid.detach().cpu().clamp(0.0, 1.0), step, dataformats="CHW")

    def hparams(self, settings: dict[str, Any], final: dict[str, float], step: int) -> None:
        """The config (flat ``section.key``) and the final metrics as one hparams entry, in this file.

        The plugin reads each metric's value from the scalar of the same tag, so ``final/<name>`` is
        also written as a scalar here.
        """
        from torch.utils.tensorboard.summary import hparams

        metrics = {FINAL_PREFIX + name: float(value) for name, value in final.items()
                   if value is not None and math.isfinite(value)}
        experiment, start, end = hparams({key: _hparam_value(v) for key, v in settings.items()}, metrics)
        for summary in (experiment, start, end):
            self.writer.file_writer.add_summary(summary, step)
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


FINAL_COLUMNS = ("d_loss", "g_loss", "d_real", "d_fake", "diversity", "fid", "recall", "class_entropy",
                 "classes_covered")


def open_for_run(run_dir: Path, config_dict: dict[str, Any], step: int, resumed: bool) -> "RunTensorBoard | None":
    """The run's event file when ``log.tensorboard`` asks for one (None otherwise)."""
    if not wanted(config_dict["log"]["tensorboard"]):
        return None
    return RunTensorBoard(run_dir, config_dict, purge_step=step + 1 if resumed else None)


class RunTensorBoard(TensorBoardLog):
    """:class:`TensorBoardLog` fed by the run driver's outputs (:class:`gan_atelier.run.outputs.RunOutputs`)."""

    def __init__(self, run_dir: Path, config_dict: dict[str, Any], *, purge_step: int | None):
        super().__init__(run_dir, purge_step=purge_step)
        self.settings = flat_settings(config_dict)
        self.every_steps = int(config_dict["log"]["every_steps"])

    def on_result(self, result, trainer) -> None:
        """A loop hook: one step's losses every ``log.every_steps`` steps (one host sync then)."""
        if self.every_steps and trainer.step % self.every_steps == 0:
            self.step(trainer.step, {"d_loss": result.d_loss.item(), "g_loss": result.g_loss.item()})

    def finish(self, history: list[dict[str, Any]], step: int) -> None:
        """The config and the final metrics (last epoch row, latest evaluation) as hparams; close."""
        final: dict[str, float] = {}
        for row in history:  # later rows override: the latest value of each column
            final.update({k: row[k] for k in FINAL_COLUMNS if isinstance(row.get(k), (int, float))})
        self.hparams(self.settings, final, step)
        self.close()


def flat_settings(config_dict: dict[str, Any]) -> dict[str, Any]:
    """``{"preset": p, "train": {"lr": x}}`` → ``{"preset": p, "train.lr": x}`` (data_dir left out: a path)."""
    flat = {}
    for key, value in config_dict.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": v for inner, v in value.items() if f"{key}.{inner}" != "data.data_dir"})
        else:
            flat[key] = value
    return flat
