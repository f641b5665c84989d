"""``gan-atelier sweep``: train a grid of settings × seeds at once as one batched model.

    gan-atelier sweep --preset seed --set train.lr=2e-4,1e-3,5e-3 --seeds 3

trains the 9 members (3 learning rates × seeds 0, 1, 2) in lockstep with
:class:`~gan_atelier.batched.BatchedGANTrainer` and writes::

    <out>/sweep.json            the grid, seeds, members, timings
    <out>/summary.csv, .md      one row per member: settings, seed, last-epoch losses, status
    <out>/comparison.png        D and G losses and D's outputs per epoch, one colour per setting
    <out>/<member>/             an ordinary run folder per member: config.toml, run.json,
                                metrics.csv, samples/epoch_*.png + final.png, progress.gif,
                                curves.png, generator.safetensors (``gan-atelier sample`` reads it)

Python API (the lab calls it)::

    result = run_sweep(get_config("seed"), {"train.lr": [2e-4, 1e-3]}, seeds=3, out_dir="runs/lr")
    result.members[0].config, .run_dir, .history, .status;  result.generator(0)

Only the TP's MLP can be batched, and only the keys in
:data:`~gan_atelier.batched.SWEEPABLE_KEYS` may vary (a clear ConfigError says so otherwise).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import config as cfg
from . import runs
from .batched import SWEEPABLE_KEYS, BatchedGANTrainer
from .checkpoint import atomic_write_bytes, atomic_write_text
from .config import RunConfig
from .data import Split, load_split, synthetic_split
from .errors import ConfigError
from .train import resolve_device
from .viz import plot_curves, save_gif, save_grid

SHORT_NAMES = {"train.lr": "lr", "train.lr_d": "lrD", "train.lr_g": "lrG", "train.beta1": "b1",
               "train.beta2": "b2", "train.label_smoothing": "ls", "train.seed": "seed"}


@dataclass
class SweepMember:
    name: str
    config: RunConfig
    overrides: dict[str, Any]  # the member's own settings (grid values and seed)
    run_dir: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    status: str = "completed"  # or "stopped" (non-finite loss) / "interrupted"
    alarms: list[str] = field(default_factory=list)


@dataclass
class SweepResult:
    out_dir: Path
    members: list[SweepMember]
    trainer: BatchedGANTrainer
    seconds: float
    steps: int

    def generator(self, k: int) -> torch.nn.Module:
        """Member ``k``'s trained generator (an ordinary ``Generator``, eval mode, CPU)."""
        return self.trainer.member_generator(k)


# ------------------------------------------------------------------------------ members
def expand_members(base: RunConfig, grid: dict[str, list] | None = None, seeds: int | list[int] = 1,
                   members: list[dict[str, Any]] | None = None) -> list[tuple[dict[str, Any], RunConfig]]:
    """The member list: every combination of ``grid`` values (or each of ``members``) × each seed.

    ``seeds`` is a count (seeds ``base.train.seed + 0 … n − 1``) or an explicit list.
    """
    if grid and members:
        raise ConfigError("give either a grid or an explicit member list, not both")
    seed_list = list(range(base.train.seed, base.train.seed + seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list:
        raise ConfigError("a sweep needs at least one seed")
    if members is None:
        grid = grid or {}
        for key, values in grid.items():
            if key == "train.seed":
                raise ConfigError("seeds are given with seeds= (--seeds), not as a grid axis")
            if key not in SWEEPABLE_KEYS:
                raise ConfigError(f"{key} cannot vary in a batched sweep; sweepable keys: {', '.join(SWEEPABLE_KEYS)}")
            if not values:
                raise ConfigError(f"the sweep lists no values for {key}")
        keys = list(grid)
        members = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    expanded = []
    for settings in members:
        for seed in seed_list:
            overrides = {**settings, "train.seed": seed}
            expanded.append((overrides, cfg.apply_overrides(base, overrides)))
    return expanded


def member_name(overrides: dict[str, Any]) -> str:
    """``lr0.001-seed2``: a valid run-folder name from the member's settings."""
    parts = []
    for key, value in overrides.items():
        short = SHORT_NAMES.get(key, key.split(".")[-1])
        text = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{short}{text}")
    return runs.check_run_name("-".join(parts).replace("+", ""))


# ------------------------------------------------------------------------------ the run
def run_sweep(base_config: RunConfig, grid: dict[str, list] | None = None, seeds: int | list[int] = 1,
              out_dir: str | os.PathLike | None = None, *, members: list[dict[str, Any]] | None = None,
              data: Split | None = None, dry_run: bool = False, overwrite: bool = False,
              progress: bool = True, verbose: bool = True, device: str | None = None,
              on_step=None) -> SweepResult:
    """Train every member at once and write one run folder per member plus the comparison.

    ``grid`` maps sweepable keys to value lists (all combinations are trained); ``members`` is
    an explicit list of override dicts instead (e.g. ``[{"train.lr_d": 1e-3, "train.lr_g": 2e-4}]``).
    Each combination is trained with each seed. ``data`` defaults to the config's dataset
    (``dry_run``: small synthetic data). ``on_step(trainer)``, if given, is called after every
    batched step (the lab records per-step values with it).
    """
    say = print if verbose else (lambda *a, **k: None)
    expanded = expand_members(base_config, grid, seeds, members)
    configs = [config for _, config in expanded]
    out_dir = Path(out_dir) if out_dir else runs.default_run_dir(f"sweep-{base_config.preset}")
    out_dir = runs.prepare_run_dir(out_dir, overwrite=overwrite)
    names = [member_name(overrides) for overrides, _ in expanded]
    if len(set(names)) != len(names):
        raise ConfigError(f"two sweep members would share a folder name ({', '.join(names)}); the grid repeats a value")
    if data is None:
        data = (synthetic_split(base_config.data.subset or 512, seed=base_config.train.seed) if dry_run else
                load_split(base_config.data.dataset, "train", base_config.data.data_dir or None, base_config.data.subset))
    trainer = BatchedGANTrainer(configs, data, resolve_device(device or base_config.train.device))
    sweep_members = []
    for name, (overrides, config) in zip(names, expanded):
        run_dir = runs.prepare_run_dir(out_dir / name, overwrite=overwrite)
        atomic_write_text(run_dir / "config.toml", cfg.dumps_toml(config))
        runs.write_metrics(run_dir / "metrics.csv", [])
        sweep_members.append(SweepMember(name, config, overrides, run_dir))
    say(f"Sweep: {len(configs)} members ({', '.join(names)}) trained at once on {trainer.device}")

    started = time.perf_counter()
    status = _train(trainer, sweep_members, progress, say, on_step)
    seconds = time.perf_counter() - started
    for k, member in enumerate(sweep_members):
        state = trainer.state[k]
        member.history, member.alarms = state.history, state.alarms
        member.status = "stopped" if state.stopped_at is not None else status
        _finish_member(trainer, k, member, seconds)
    result = SweepResult(out_dir, sweep_members, trainer, seconds, trainer.step)
    write_comparison(result, grid_keys=_varying_keys(expanded))
    say(f"Sweep folder: {out_dir} ({trainer.step} steps of {len(configs)} members in {seconds:.1f} s)")
    return result


def _train(trainer: BatchedGANTrainer, members: list[SweepMember], progress: bool, say, on_step=None) -> str:
    from tqdm.auto import tqdm

    epochs = trainer.configs[0].train.epochs
    sample_every = trainer.configs[0].train.sample_every
    try:
        while trainer.epoch < epochs:
            started = time.perf_counter()
            said = [len(state.alarms) for state in trainer.state]  # this epoch's alarms are printed at its end
            for _ in tqdm(range(trainer.num_batches), leave=False, desc=f"sweep epoch {trainer.epoch + 1}/{epochs}",
                          disable=None if progress else True, dynamic_ncols=True):
                trainer.train_step()
                if on_step is not None:
                    on_step(trainer)
            rows = trainer.finish_epoch(time.perf_counter() - started)
            for member, row in zip(members, rows):
                if row is not None:
                    runs.append_metrics(member.run_dir / "metrics.csv", row)
            for member, state, count in zip(members, trainer.state, said):
                for alarm in state.alarms[count:]:
                    say(f"WARNING [{member.name}]: {alarm}")
            finals = [row for row in rows if row is not None]
            if finals:
                say(f"Epoch {trainer.epoch:2d} | D loss {min(r['d_loss'] for r in finals):.3f}–"
                    f"{max(r['d_loss'] for r in finals):.3f} | G loss {min(r['g_loss'] for r in finals):.3f}–"
                    f"{max(r['g_loss'] for r in finals):.3f} | {rows[0]['seconds'] if rows[0] else 0:.1f}s")
            if trainer.epoch % sample_every == 0 or trainer.epoch == epochs:
                grids = trainer.fixed_grid_images()
                for k, member in enumerate(members):
                    save_grid(grids[k], member.run_dir / "samples" / f"epoch_{trainer.epoch:03d}.png",
                              scale=member.config.log.image_scale)
    except KeyboardInterrupt:
        say(f"Interrupted at epoch {trainer.epoch}, batch {trainer.batch_index}: writing what exists")
        return "interrupted"
    return "completed"


def _finish_member(trainer: BatchedGANTrainer, k: int, member: SweepMember, seconds: float) -> None:
    from safetensors.torch import save

    run_dir = member.run_dir
    if trainer.epoch > 0:
        save_grid(trainer.fixed_grid_images()[k], run_dir / "samples" / "final.png",
                  scale=member.config.log.image_scale)
    save_gif(sorted((run_dir / "samples").glob("epoch_*.png")), run_dir / "progress.gif")
    if member.history:
        plot_curves(run_dir / "metrics.csv", run_dir / "curves.png", title=f"{member.config.preset} {member.name}")
    generator = trainer.member_generator(k)
    tensors = {name: tensor.contiguous() for name, tensor in generator.state_dict().items()}
    blob = save(tensors, metadata={"format": "gan-atelier-generator",
                                   "config": json.dumps(cfg.to_dict(member.config))})
    atomic_write_bytes(run_dir / "generator.safetensors", lambda file: file.write(blob))
    runs.write_run_json(run_dir, {
        "preset": member.config.preset, "status": member.status, "sweep": str(run_dir.parent),
        "member": k, "overrides": member.overrides, "alarms": member.alarms,
        "seeds": {"init": member.config.train.seed, "data_order": member.config.train.seed + 1,
                  "noise": member.config.train.seed + 2, "fixed_noise": member.config.train.seed + 3},
        "stopped_at_step": trainer.state[k].stopped_at, "epochs_done": trainer.epoch,
        "steps_done": trainer.step, "train_seconds_shared": round(seconds, 2),
        "environment": runs.environment(trainer.device),
    })


def _varying_keys(expanded: list[tuple[dict[str, Any], RunConfig]]) -> list[str]:
    keys = [key for key in expanded[0][0] if key != "train.seed"]
    return [key for key in keys if len({str(o.get(key)) for o, _ in expanded}) > 1] or keys


# ------------------------------------------------------------------------------ comparison
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
    from matplotlib.figure import Figure  # not pyplot: no global backend switch in notebooks

    settings = sorted({tuple(str(m.overrides.get(k)) for k in grid_keys) for m in result.members})
    colours = {s: f"C{i % 10}" for i, s in enumerate(settings)}
    figure = Figure(figsize=(15, 4))
    axes = figure.subplots(1, 3)
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
    axes[2].axhline(0.5, color="gray", linestyle=":")
    for ax, title in zip(axes, ("D loss", "G loss", "D(x) solid, D(G(z)) dashed")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=8)
    axes[2].set_ylim(0, 1)
    figure.suptitle(f"sweep {result.out_dir.name}: {len(result.members)} members, one colour per setting, "
                    f"one line per seed")
    figure.tight_layout()
    atomic_write_bytes(path, lambda file: figure.savefig(file, format="png", dpi=100))


# ------------------------------------------------------------------------------ CLI
def parse_sweep_assignments(assignments: list[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``--set`` values: ``key=v`` is a fixed override, ``key=v1,v2,…`` a grid axis."""
    fixed, grid = {}, {}
    for key, value in cfg.parse_assignments(assignments).items():
        values = [v.strip() for v in value.split(",")]
        if len(values) > 1:
            grid[key] = values
        else:
            fixed[key] = value
    return fixed, grid


def parse_seeds(text: str) -> int | list[int]:
    """``3`` → three seeds from the config's seed on; ``0,5,7`` → exactly those."""
    try:
        if "," in text:
            return [int(v) for v in text.split(",")]
        count = int(text)
    except ValueError:
        raise ConfigError(f"bad value {text!r} for --seeds: a count (3) or a list (0,1,2)") from None
    if count < 1:
        raise ConfigError(f"bad value {text!r} for --seeds: must be >= 1")
    return count


def _typed_value(base: RunConfig, key: str, text: str) -> Any:
    """A grid value parsed and checked against the key's type and range (by applying it once)."""
    section, name = key.split(".", 1) if "." in key else (key, "")
    return getattr(getattr(cfg.apply_overrides(base, {key: text}), section), name)


def cmd_sweep(args: argparse.Namespace) -> int:
    preset = args.preset or ("dry-run" if args.dry_run else "seed")
    fixed, grid_text = parse_sweep_assignments(args.overrides)
    base = cfg.get_config(preset, fixed)
    if args.device:
        base = cfg.apply_overrides(base, {"train.device": args.device})
    grid = {key: [_typed_value(base, key, text) for text in values] for key, values in grid_text.items()}
    out = Path(args.out) if args.out else None
    result = run_sweep(base, grid, parse_seeds(args.seeds), out, dry_run=args.dry_run,
                       overwrite=args.overwrite, progress=not args.no_progress)
    stopped = [m.name for m in result.members if m.status == "stopped"]
    if stopped:
        print(f"Stopped on a non-finite loss: {', '.join(stopped)} (see their run.json)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="train a grid of settings × seeds at once (batched MLP GANs)")
    p.add_argument("--preset", default=None, help=f"base config ({', '.join(cfg.PRESETS)}); default seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=V1,V2,…",
                   help=f"a fixed override (one value) or a grid axis (several); axes allowed: "
                        f"{', '.join(k for k in SWEEPABLE_KEYS if k != 'train.seed')}")
    p.add_argument("--seeds", default="1", help="number of seeds per setting (3) or a list (0,1,2); default 1")
    p.add_argument("--out", help="the sweep folder (default runs/sweep-<preset>-<timestamp>)")
    p.add_argument("--device", choices=cfg.DEVICES)
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an existing sweep folder")
    p.add_argument("--dry-run", action="store_true", help="small synthetic data (no dataset needed)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_sweep)
