"""A sweep's comparison: ``summary.csv``, ``summary.md``, ``comparison.png`` and ``sweep.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..files import atomic_write_text
from ..objectives import objective
from ..viz import subplots, save_figure

if TYPE_CHECKING:
    from .driver import SweepResult

SHORT_NAMES = {"train.lr": "lr", "train.lr_d": "lrD", "train.lr_g": "lrG", "train.beta1": "b1",
               "train.beta2": "b2", "train.label_smoothing": "ls", "train.seed": "seed"}


def write_comparison(result: SweepResult, grid_keys: list[str]) -> None:
    """``summary.csv``, ``summary.md``, ``comparison.png`` and ``sweep.json`` in the sweep folder."""
    out = result.out_dir
    columns = ["member", *grid_keys, "seed", "status", "epochs", "d_loss", "g_loss", "d_real", "d_fake"]
    rows = []
    for member in result.members:
        last = member.history[-1] if member.history else {}
        rows.append([member.name, *[member.overrides.get(k, "") for k in grid_keys], member.config.train.seed,
                     member.status, len(member.history),
                     *[f"{last[c]:.4f}" if c in last else "" for c in ("d_loss", "g_loss", "d_real", "d_fake")]])
    atomic_write_text(out / "summary.csv", "\n".join(",".join(map(str, r)) for r in [columns, *rows]) + "\n")
    table = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    table += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    atomic_write_text(out / "summary.md", "Last-epoch means per member (D loss at equilibrium: 2 ln 2 ≈ 1.386).\n\n"
                      + "\n".join(table) + "\n")
    _plot_comparison(result, grid_keys, out / "comparison.png")
    atomic_write_text(out / "sweep.json", json.dumps({
        "members": [{"name": m.name, "overrides": m.overrides, "status": m.status} for m in result.members],
        "varying": grid_keys, "steps": result.steps, "train_seconds": round(result.seconds, 2),
        "steps_per_second": round(result.steps / result.seconds, 2) if result.seconds else None,
        "device": str(result.trainer.device), "threads": torch.get_num_threads(),
    }, indent=2) + "\n")


def _plot_comparison(result: SweepResult, grid_keys: list[str], path: Path) -> None:
    settings = sorted({tuple(str(m.overrides.get(k)) for k in grid_keys) for m in result.members})
    colours = {s: f"C{i % 10}" for i, s in enumerate(settings)}
    figure, axes = subplots(1, 3, figsize=(15, 4))
    labelled = set()
    for member in result.members:
        if not member.history:
            continue
        setting = tuple(str(member.overrides.get(k)) for k in grid_keys)
        label = ", ".join(f"{SHORT_NAMES.get(k, k)}={v}" for k, v in zip(grid_keys, setting))
        label = label if setting not in labelled else None
        labelled.add(setting)
        epochs = [r["epoch"] for r in member.history]
        style = {"color": colours[setting], "alpha": 0.8, "linewidth": 1.2}
        axes[0].plot(epochs, [r["d_loss"] for r in member.history], label=label, **style)
        axes[1].plot(epochs, [r["g_loss"] for r in member.history], label=label, **style)
        axes[2].plot(epochs, [r["d_real"] for r in member.history], linestyle="-", **style)
        axes[2].plot(epochs, [r["d_fake"] for r in member.history], linestyle="--", **style)
    axes[0].axhline(2 * math.log(2), color="gray", linestyle=":", label="2 ln 2")
    axes[1].axhline(math.log(2), color="gray", linestyle=":", label="ln 2")
    probabilistic = objective(result.members[0].config.train.loss).probabilistic
    if probabilistic:  # D(x) is a probability; a critic's raw score has no 0.5 line nor [0, 1] range
        axes[2].axhline(0.5, color="gray", linestyle=":")
    outputs = "D(x) solid, D(G(z)) dashed" if probabilistic else "critic score: real solid, fake dashed"
    for ax, title in zip(axes, ("D loss", "G loss", outputs)):
        ax.set_title(title)
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=8)
    if probabilistic:
        axes[2].set_ylim(0, 1)
    figure.suptitle(f"sweep {result.out_dir.name}: {len(result.members)} members, one colour per setting, "
                    f"one line per seed")
    save_figure(figure, path, dpi=100, compact=False)
