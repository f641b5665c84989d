"""``gan-atelier lab toy2d --scenario NAME [--steps N] [--seed S] [--out DIR] [--quick]``.

The ``lab`` parser owns ``--seed``, ``--out`` and ``--quick``; this module adds the toy2d-only
options and runs the scenarios. Errors raise :mod:`gan_atelier.errors` types (the CLI turns
them into one line and an exit code: 2 for a bad scenario, 3 for a bad points file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The toy2d-only options, added to the ``lab`` parser."""
    group = parser.add_argument_group("toy2d (the 2-D lab: gan-atelier lab toy2d --scenario NAME)")
    group.add_argument("--scenario", help="toy2d scenario: saturating, learning-rate, detach, d-loss, "
                                          "mode-collapse, optimal-d, dirac, play, or all")
    group.add_argument("--steps", type=int, help="toy2d: training steps per run (default: the scenario's)")
    group.add_argument("--dataset", help="toy2d play: ring, grid, moons, spiral, line, or a .npy/.csv file of (N, 2) points")
    group.add_argument("--no-frames", action="store_true", help="toy2d: skip the PNG frames and the GIF")


def run_command(args: argparse.Namespace) -> int:
    """Run ``--scenario`` (or all of them) and print each summary and folder."""
    from ..toy2d import SCENARIOS, run_scenario
    from ..toy2d.data import get_dataset

    if not args.scenario:
        raise ConfigError(f"lab toy2d needs --scenario NAME; valid scenarios: {', '.join(SCENARIOS)}, all")
    if args.scenario != "all" and args.scenario not in SCENARIOS:
        raise ConfigError(f"unknown toy2d scenario {args.scenario!r}; valid scenarios: {', '.join(SCENARIOS)}, all")
    if args.dataset:
        get_dataset(args.dataset)  # a bad file fails here, before any training
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    root = args.out if args.out is not None else Path("runs") / "lab" / "toy2d"
    for name in names:
        out = root / name if (len(names) > 1 or args.out is None) else root
        result = run_scenario(name, out_dir=out, steps=args.steps, seed=args.seed, quick=args.quick,
                              frames=not args.no_frames, dataset=args.dataset)
        if not getattr(args, "quiet", False):
            print(result.summary_path.read_text(encoding="utf-8"))
        print(f"Folder: {result.out_dir}")
    return 0
