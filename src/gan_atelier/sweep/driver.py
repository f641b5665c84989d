"""``gan-atelier sweep``: train a grid of settings × seeds at once as one batched model.

    gan-atelier sweep --preset seed --set train.lr=2e-4,1e-3,5e-3 --seeds 3

trains the 9 members (3 learning rates × seeds 0, 1, 2) in lockstep with
:class:`~gan_atelier.sweep.trainer.BatchedGANTrainer` and writes::

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
:data:`~gan_atelier.sweep.trainer.SWEEPABLE_KEYS` may vary (a clear ConfigError says so otherwise).
``on_step(trainer)`` is called after every batched step; ``trainer.last_result`` is that step's
:class:`~gan_atelier.sweep.trainer.BatchedStepResult`.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import config as cfg
from ..config import RunConfig
from ..data import Split
from ..errors import ConfigError
from ..files import append_metrics, atomic_write_text, write_metrics
from ..inference import write_generator
from ..run import folder
from ..run.driver import load_data
from ..run.outputs import write_final_pictures
from ..training import resolve_device
from ..viz import save_grid
from .report import SHORT_NAMES, write_comparison
from .trainer import SWEEPABLE_KEYS, BatchedGANTrainer


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
    return folder.check_run_name("-".join(parts).replace("+", ""))


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
    out_dir = Path(out_dir) if out_dir else folder.default_run_dir(f"sweep-{base_config.preset}")
    out_dir = folder.prepare_run_dir(out_dir, overwrite=overwrite)
    names = [member_name(overrides) for overrides, _ in expanded]
    if len(set(names)) != len(names):
        raise ConfigError(f"two sweep members would share a folder name ({', '.join(names)}); the grid repeats a value")
    if data is None:
        data = load_data(base_config, dry_run)
    trainer = BatchedGANTrainer(configs, data, resolve_device(device or base_config.train.device))
    sweep_members = []
    for name, (overrides, config) in zip(names, expanded):
        run_dir = folder.prepare_run_dir(out_dir / name, overwrite=overwrite)
        atomic_write_text(run_dir / "config.toml", cfg.dumps_toml(config))
        write_metrics(run_dir / "metrics.csv", [])
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
                    append_metrics(member.run_dir / "metrics.csv", row)
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
    run_dir = member.run_dir
    write_final_pictures(run_dir, trainer.fixed_grid_images()[k] if trainer.epoch > 0 else None,
                         bool(member.history), f"{member.config.preset} {member.name}",
                         trainer.loss_pair.probabilistic, scale=member.config.log.image_scale)
    write_generator(trainer.member_generator(k), member.config, run_dir / "generator.safetensors")
    folder.write_run_json(run_dir, {
        "preset": member.config.preset, "status": member.status, "sweep": str(run_dir.parent),
        "member": k, "overrides": member.overrides, "alarms": member.alarms,
        "seeds": trainer.seeds[k].as_dict(),
        "stopped_at_step": trainer.state[k].stopped_at, "epochs_done": trainer.epoch,
        "steps_done": trainer.step, "train_seconds_shared": round(seconds, 2),
        "environment": folder.environment(trainer.device),
    })


def _varying_keys(expanded: list[tuple[dict[str, Any], RunConfig]]) -> list[str]:
    keys = [key for key in expanded[0][0] if key != "train.seed"]
    return [key for key in keys if len({str(o.get(key)) for o, _ in expanded}) > 1] or keys
