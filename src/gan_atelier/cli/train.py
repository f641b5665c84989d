"""``gan-atelier train``: train a preset (or a config file), or resume a run folder."""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from ..errors import ConfigError
from .common import add_config_arguments, build_config, shortcut_overrides


def _debug_hooks():
    """GAN_ATELIER_DEBUG_SIGNAL_AT=STEP:SIGNAME[:RANK] sends that signal to this process after STEP
    (tests); with RANK, only the data-parallel rank RANK does."""
    spec = os.environ.get("GAN_ATELIER_DEBUG_SIGNAL_AT")
    if not spec:
        return None
    step_text, _, rest = spec.partition(":")
    name, _, rank_text = rest.partition(":")
    signum = getattr(signal, f"SIG{name or 'TERM'}")
    target = int(step_text)

    def maybe_signal(trainer) -> None:
        if trainer.step == target and (not rank_text or trainer.rank == int(rank_text)):
            os.kill(os.getpid(), signum)

    from ..training import LoopHooks

    return LoopHooks(on_step=[maybe_signal])


def cmd_train(args: argparse.Namespace) -> int:
    from ..run import train
    from ..run.folder import default_run_dir

    if args.resume:
        if args.preset or args.config:
            raise ConfigError("--resume continues a run with its own config; drop --preset/--config")
        run = train(run_dir=args.resume, resume=True, overrides=shortcut_overrides(args),
                    progress=not args.no_progress, hooks=_debug_hooks(), dry_run=args.dry_run)
    else:
        config = build_config(args)
        if args.run_dir and args.name:
            raise ConfigError("give either --run-dir or --name, not both")
        run_dir = Path(args.run_dir) if args.run_dir else default_run_dir(config.preset, args.runs_root, args.name)
        run = train(config, run_dir, overwrite=args.overwrite, dry_run=args.dry_run,
                    progress=not args.no_progress, hooks=_debug_hooks())
    if run.is_main:  # data-parallel: rank 0 alone prints
        print(f"Run folder: {run.run_dir}")
    if run.status == "interrupted":
        return 128 + int(run.signal or signal.SIGINT)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a preset (default: seed, the TP exactly)")
    add_config_arguments(p)
    p.add_argument("--run-dir", help="the run folder (default runs/<preset>-<timestamp>)")
    p.add_argument("--name", help="run name inside --runs-root (letters, digits, . _ -)")
    p.add_argument("--runs-root", default="runs", help="parent of named runs (default runs)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its newest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an existing run folder")
    p.add_argument("--dry-run", action="store_true", help="train on small synthetic data (no dataset needed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)
