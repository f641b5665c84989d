"""``gan-atelier export``: a run's generator as safetensors (loads without pickle)."""

from __future__ import annotations

import argparse


def cmd_export(args: argparse.Namespace) -> int:
    from ..inference import export_generator

    path = export_generator(args.run, args.out)
    print(f"Exported the generator to {path} (safetensors: loads without pickle)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a run's generator as safetensors")
    p.add_argument("run", help="a run folder or checkpoint")
    p.add_argument("--out", help="output file (default RUN/generator.safetensors)")
    p.set_defaults(func=cmd_export)

