"""The ``gan-atelier`` command: parses arguments, builds a config, calls library functions.

Imports everything, imported by nothing. Errors are one line on stderr with a distinct exit
code (see :mod:`gan_atelier.errors`). Subcommands beyond the core register themselves from
the modules listed in :data:`EXTRA_COMMANDS` (each exposes ``register(subparsers)``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import warnings
from pathlib import Path

from . import __version__
from . import config as cfg
from .errors import ConfigError, GanAtelierError

EXTRA_COMMANDS = (
    "gan_atelier.metrics.cli",
    "gan_atelier.sweep",
    "gan_atelier.lab.cli",
    "gan_atelier.checks.cli",
)


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
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
    return cfg.apply_overrides(config, _shortcut_overrides(args))


def _shortcut_overrides(args: argparse.Namespace) -> dict[str, str]:
    overrides = cfg.parse_assignments(args.overrides)
    if args.seed is not None:
        overrides["train.seed"] = str(args.seed)
    if args.device:
        overrides["train.device"] = args.device
    if args.data_dir:
        overrides["data.data_dir"] = args.data_dir
    return overrides


def _debug_hooks():
    """GAN_ATELIER_DEBUG_SIGNAL_AT=STEP:SIGNAME sends that signal to this process after STEP (tests)."""
    from .train import LoopHooks

    spec = os.environ.get("GAN_ATELIER_DEBUG_SIGNAL_AT")
    if not spec:
        return None
    step_text, _, name = spec.partition(":")
    signum = getattr(signal, f"SIG{name or 'TERM'}")
    target = int(step_text)

    def maybe_signal(trainer) -> None:
        if trainer.step == target:
            os.kill(os.getpid(), signum)

    return LoopHooks(on_step=[maybe_signal])


def cmd_train(args: argparse.Namespace) -> int:
    from .api import train
    from .runs import default_run_dir

    if args.resume:
        if args.preset or args.config:
            raise ConfigError("--resume continues a run with its own config; drop --preset/--config")
        run = train(run_dir=args.resume, resume=True, overrides=_shortcut_overrides(args),
                    progress=not args.no_progress, hooks=_debug_hooks(), dry_run=args.dry_run)
    else:
        config = build_config(args)
        if args.run_dir and args.name:
            raise ConfigError("give either --run-dir or --name, not both")
        run_dir = Path(args.run_dir) if args.run_dir else default_run_dir(config.preset, args.runs_root, args.name)
        run = train(config, run_dir, overwrite=args.overwrite, dry_run=args.dry_run,
                    progress=not args.no_progress, hooks=_debug_hooks())
    print(f"Run folder: {run.run_dir}")
    if run.status == "interrupted":
        return 128 + int(run.signal or signal.SIGINT)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from .api import load_generator, sample
    from .checkpoint import atomic_write_bytes
    from .viz import save_grid

    generator = load_generator(args.run, device=args.device or "cpu")
    if args.class_index is not None and not getattr(generator, "conditional", False):
        raise ConfigError("--class needs a conditional generator (preset cgan)")
    if args.class_index is not None and not 0 <= args.class_index <= 9:
        raise ConfigError(f"bad value {args.class_index} for --class: must be in 0..9")
    if args.grid_by_class:
        if not getattr(generator, "conditional", False):
            raise ConfigError("--grid-by-class needs a conditional generator (preset cgan)")
        import torch

        labels = torch.arange(10).repeat_interleave(10)
        images = sample(generator, 100, seed=args.seed, labels=labels)
        save_grid(images, args.out, nrow=10)
        print(f"Wrote a 10×10 grid (one row per class) to {args.out}")
        return 0
    images = sample(generator, args.n, seed=args.seed, labels=args.class_index)
    out = Path(args.out)
    if out.suffix == ".npy":
        array = images[:, 0].numpy().astype(np.float32)
        atomic_write_bytes(out, lambda file: np.save(file, array))
        print(f"Wrote {args.n} samples {array.shape} float32 in [0, 1] to {out}")
    elif out.suffix == ".png":
        save_grid(images, out, nrow=args.nrow)
        print(f"Wrote a grid of {args.n} samples to {out}")
    else:
        raise ConfigError(f"--out must end in .png (a grid) or .npy (raw samples), got {out.name!r}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from . import data

    if args.action == "info":
        print("\n".join(data.info(args.dataset, args.data_dir)))
        try:
            print(f"using: {data.find_data_dir(args.dataset, args.data_dir)}")
        except GanAtelierError as error:
            print(f"using: none ({error})")
    elif args.action == "verify":
        print("\n".join(data.verify(args.dataset, args.data_dir)))
    elif args.action == "fetch":
        target = data.fetch(args.dataset, args.data_dir)
        print(f"{args.dataset} ready in {target}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_generator

    path = export_generator(args.run, args.out)
    print(f"Exported the generator to {path} (safetensors: loads without pickle)")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    import json

    from .checkpoint import load_checkpoint

    state = load_checkpoint(args.checkpoint)
    summary = {"schema_version": state["schema_version"], "position": state["position"],
               "config": state["config"], "versions": state.get("versions", {}),
               "epochs_in_history": len(state["history"]), "alarms": state["alarms"]}
    print(json.dumps(summary, indent=2))
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gan-atelier",
        description="The TP's MLP-GAN on Fashion-MNIST, and beyond: train, sample, evaluate.")
    parser.add_argument("--version", action="version", version=f"gan-atelier {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a preset (default: seed, the TP exactly)")
    _add_config_arguments(p)
    p.add_argument("--run-dir", help="the run folder (default runs/<preset>-<timestamp>)")
    p.add_argument("--name", help="run name inside --runs-root (letters, digits, . _ -)")
    p.add_argument("--runs-root", default="runs", help="parent of named runs (default runs)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its newest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an existing run folder")
    p.add_argument("--dry-run", action="store_true", help="train on small synthetic data (no dataset needed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw samples from a trained generator")
    p.add_argument("run", help="a run folder, a .pt checkpoint or a .safetensors export")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", required=True, help="grid.png or samples.npy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nrow", type=int, default=8, help="images per grid row")
    p.add_argument("--class", dest="class_index", type=int, help="class to draw (conditional models)")
    p.add_argument("--grid-by-class", action="store_true", help="a 10×10 grid, one row per class (cgan)")
    p.add_argument("--device", choices=("cpu", "cuda"))
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("data", help="find, verify or download the dataset")
    p.add_argument("action", choices=("info", "verify", "fetch"))
    p.add_argument("--dataset", default="fashion-mnist", choices=cfg.DATASETS)
    p.add_argument("--data-dir", help="folder to use (fetch: where to download)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("export", help="export a run's generator as safetensors")
    p.add_argument("run", help="a run folder or checkpoint")
    p.add_argument("--out", help="output file (default RUN/generator.safetensors)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("inspect-checkpoint", help="print a checkpoint's position, config and versions")
    p.add_argument("checkpoint")
    p.set_defaults(func=cmd_inspect)

    for module_name in EXTRA_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and module_name.startswith(error.name):
                continue  # that part of the package is not installed in this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    warnings.simplefilter("default")
    try:
        return args.func(args)
    except GanAtelierError as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"gan-atelier: error: {message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("gan-atelier: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
