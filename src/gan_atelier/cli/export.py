"""``gan-atelier export``: a run's generator as safetensors (loads without pickle), or as a Hugging Face
model folder with ``--hub DIR`` (:mod:`gan_atelier.hub`)."""

from __future__ import annotations

import argparse


def cmd_export(args: argparse.Namespace) -> int:
    if args.hub:
        from ..errors import ConfigError
        from ..inference import export_hub

        if args.out:
            raise ConfigError("give either --out (one safetensors file) or --hub (a model folder), not both")
        path = export_hub(args.run, args.hub)
        print(f"Exported a Hugging Face model folder to {path} (model.safetensors, config.json, README.md); "
              f"load it with HubGenerator.from_pretrained({str(path)!r})")
        return 0
    from ..inference import export_generator

    path = export_generator(args.run, args.out)
    print(f"Exported the generator to {path} (safetensors: loads without pickle)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a run's generator as safetensors")
    p.add_argument("run", help="a run folder or checkpoint")
    p.add_argument("--out", help="output file (default RUN/generator.safetensors)")
    p.add_argument("--hub", metavar="DIR", help="write a Hugging Face model folder instead (model.safetensors, "
                   "config.json, README.md model card; needs gan-atelier[hub])")
    p.set_defaults(func=cmd_export)

