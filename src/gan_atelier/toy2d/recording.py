"""What every 2-D scenario shares: its context, the recording of a run (frames, per-step numbers)
and the files it leaves (summary.md, results.json, GIF); the scenarios live in :mod:`.questions`
and :mod:`.theory`, the entry point in :mod:`.scenarios`."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .data import ToyDataset
from .game import Game, GameConfig
from .models import MLPDiscriminator, MLPGenerator
from .observe import Observer
from .optimal import Grid
from .render import draw_frame, save_gif, save_mp4

SCENARIOS = {
    "saturating": "Q1.1: saturating vs non-saturating G loss once D wins",
    "learning-rate": "Q2.1: stable, oscillating and diverging learning rates",
    "detach": "Q3.1: with and without .detach() in D's step",
    "d-loss": "final Q1: the ideal D loss 2 ln 2, and D winning (loss → 0)",
    "mode-collapse": "final Q2: mode collapse on the ring of 8, beside a healthy run",
    "optimal-d": "the optimal discriminator D* = p_data/(p_data + p_g) and 2 ln 2 − 2 JS",
    "dirac": "Q2.1: the Dirac-GAN, simultaneous vs alternating steps, gradient penalty",
    "play": "the TP's game on any 2-D data set (--dataset)",
}
FRAMES_FULL, FRAMES_QUICK = 24, 4


@dataclass
class Toy2DResult:
    """What a scenario leaves: ``summary`` (its numbers), ``summary_path``, ``frames`` (PNG paths),
    ``gif`` (None without frames), ``figure_path`` (the last frame; the comparison figure when frames
    are off), ``comparison_path`` (the runs' last planes side by side, None for single-run scenarios)
    and ``mp4`` (None unless ffmpeg is on the PATH)."""

    name: str
    out_dir: Path
    summary: dict[str, Any]
    summary_path: Path
    frames: list[Path] = field(default_factory=list)
    gif: Path | None = None
    figure_path: Path | None = None
    mp4: Path | None = None
    comparison_path: Path | None = None


@dataclass
class Context:
    out_dir: Path
    steps: int | None
    seed: int
    quick: bool
    frames: bool
    dataset: str | None = None

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full

    def n_steps(self, full: int, quick: int) -> int:
        return self.steps if self.steps is not None else self.pick(full, quick)


@dataclass
class Recording:
    game: Game
    observer: Observer
    frames: list[Path]
    finished: bool  # False when a loss became non-finite
    cpu_seconds: float

    @property
    def last(self):
        return self.observer.snapshots[-1]


def build_game(config: GameConfig, dataset: ToyDataset, generator=None, hidden=(64, 64, 64)) -> Game:
    """Seeded MLP G and D (or the given G) and their game."""
    torch.manual_seed(config.seed)
    generator = generator if generator is not None else MLPGenerator(hidden=hidden)
    return Game(config, dataset, generator, MLPDiscriminator(hidden=hidden))


def record(context: Context, game: Game, steps: int, label: str, title: str, frames: bool = True,
           resolution: int = 60) -> Recording:
    """Play ``steps`` iterations, observing ~24 times (4 when quick) and drawing a frame each time."""
    grid = Grid(game.dataset.extent(), resolution=resolution)
    observer = Observer(game, grid, seed=context.seed)
    count = context.pick(FRAMES_FULL, FRAMES_QUICK)
    every = max(1, steps // count)
    total = game.step + steps
    draw = frames and context.frames
    paths: list[Path] = []
    modes_max = None if game.dataset.centres is None else game.dataset.centres.shape[0]

    def on_snapshot(live: Game) -> None:
        snapshot = observer.observe(live)
        if draw:
            path = context.out_dir / f"frames_{label}" / f"frame_{len(paths):04d}.png"
            paths.append(draw_frame(path, snapshot, live.history, observer.snapshots, extent=grid.extent,
                                    total_steps=total, title=title, modes_max=modes_max))

    start = time.process_time()
    finished = game.play(steps, every=every, on_snapshot=on_snapshot)
    if observer.snapshots[-1].step != game.step:
        on_snapshot(game)
    return Recording(game, observer, paths, finished, time.process_time() - start)


def run_numbers(recording: Recording) -> dict[str, Any]:
    """The numbers every run reports: last-tenth means of the losses and D's outputs, JS, modes."""
    history = recording.game.history
    tail = history[-max(1, len(history) // 10):]

    def mean(key: str) -> float:
        values = [r[key] for r in tail if not math.isnan(r[key])]
        return round(sum(values) / len(values), 4) if values else math.nan

    last = recording.last
    return {"steps": recording.game.step, "finished": recording.finished,
            "d_loss": mean("d_loss"), "g_loss": mean("g_loss"), "d_real": mean("d_real"), "d_fake": mean("d_fake"),
            "js": round(last.js, 4), "modes_covered": last.modes,
            "modes_over_time": [s.modes for s in recording.observer.snapshots],
            "mean_arrow_norm": round(last.arrow_norm, 5), "cpu_seconds": round(recording.cpu_seconds, 2)}


def write_outputs(context: Context, name: str, numbers: dict[str, Any], lines: list[str],
                  frames: list[Path], figure: Path | None) -> Toy2DResult:
    """summary.md (the numbers quoted), results.json, the GIF (and MP4 when ffmpeg exists)."""
    out = context.out_dir
    gif = save_gif(frames, out / f"{name}.gif") if frames else None
    mp4 = save_mp4(frames, out / f"{name}.mp4") if frames else None
    comparison = figure if figure is not None and figure not in frames else None
    figure = frames[-1] if frames else comparison
    command = f"gan-atelier lab toy2d --scenario {name} --seed {context.seed}" + (" --quick" if context.quick else "")
    if context.steps is not None:
        command += f" --steps {context.steps}"
    if context.dataset and name == "play":
        command += f" --dataset {context.dataset}"
    if context.quick:
        lines = ["*Quick run: a few steps to check the pipeline; the numbers below do not answer the question.*", *lines]
    body = "".join(line + ("\n" if line.startswith("|") and line.endswith("|") else "\n\n") for line in lines)
    text = [f"# toy2d — {name}: {SCENARIOS[name]}", "", f"`{command}`", "", body.rstrip("\n"), "",
            f"CPU time: {numbers['cpu_seconds']:.1f} s (one thread). Frames: {len(frames)}"
            + (f", GIF `{gif.name}`" if gif else "") + (f", MP4 `{mp4.name}`" if mp4 else "")
            + (f", comparison `{comparison.name}`" if comparison else "") + ".", ""]
    summary_path = out / "summary.md"
    summary_path.write_text("\n".join(text), encoding="utf-8")
    payload = {"scenario": name, "seed": context.seed, "quick": context.quick, "numbers": numbers}
    (out / "results.json").write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    return Toy2DResult(name, out, numbers, summary_path, frames, gif, figure, mp4, comparison)
