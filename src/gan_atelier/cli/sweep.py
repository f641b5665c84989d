"""``gan-atelier sweep``: a grid of settings × seeds trained at once (see :mod:`gan_atelier.sweep`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import config as cfg
from ..config import RunConfig
from ..errors import ConfigError


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
    from ..training.distributed import detect_launcher

    if detect_launcher() is not None:  # every rank would train the whole sweep into one folder
        raise ConfigError("gan-atelier sweep runs in one process: start it without torchrun/srun")
    preset = args.preset or ("dry-run" if args.dry_run else "seed")
    fixed, grid_text = parse_sweep_assignments(args.overrides)
    base = cfg.get_config(preset, fixed)
    if args.device:
        base = cfg.apply_overrides(base, {"train.device": args.device})
    grid = {key: [_typed_value(base, key, text) for text in values] for key, values in grid_text.items()}
    out = Path(args.out) if args.out else None
    from ..sweep import run_sweep

    result = run_sweep(base, grid, parse_seeds(args.seeds), out, dry_run=args.dry_run,
                       overwrite=args.overwrite, progress=not args.no_progress)
    stopped = [m.name for m in result.members if m.status == "stopped"]
    if stopped:
        print(f"Stopped on a non-finite loss: {', '.join(stopped)} (see their run.json)")
    return 0


def register(subparsers) -> None:
    from ..sweep.trainer import SWEEPABLE_KEYS

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
