"""What several subcommands share: the config arguments and how they become a config."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import config as cfg
from ..errors import ConfigError


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default=None, help=f"named config ({', '.join(cfg.PRESETS)}); default seed")
    parser.add_argument("--config", type=Path, help="a TOML config file (see config.toml in any run folder)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. --set train.lr=1e-3 (repeatable)")
    parser.add_argument("--seed", type=int, help="shortcut for --set train.seed=N")
    parser.add_argument("--device", choices=cfg.DEVICES, help="shortcut for --set train.device=…")
    parser.add_argument("--data-dir", help="folder holding the four IDX files (.gz or raw)")


def build_config(args: argparse.Namespace) -> cfg.RunConfig:
    """The config from --preset/--config, then --set, --seed, --device, --data-dir (checked)."""
    if args.config and args.preset:
        raise ConfigError("give either --preset or --config, not both (a config file names its preset)")
    default = "dry-run" if getattr(args, "dry_run", False) else "seed"
    config = cfg.load_toml(args.config) if args.config else cfg.get_config(args.preset or default)
    return cfg.apply_overrides(config, shortcut_overrides(args))


def shortcut_overrides(args: argparse.Namespace) -> dict[str, str]:
    overrides = cfg.parse_assignments(args.overrides)
    if args.seed is not None:
        overrides["train.seed"] = str(args.seed)
    if args.device:
        overrides["train.device"] = args.device
    if args.data_dir:
        overrides["data.data_dir"] = args.data_dir
    return overrides
