"""``gan-atelier data``: find, verify or download the dataset."""

from __future__ import annotations

import argparse

from .. import config as cfg
from ..errors import GanAtelierError


def cmd_data(args: argparse.Namespace) -> int:
    from .. import data

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


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="find, verify or download the dataset")
    p.add_argument("action", choices=("info", "verify", "fetch"))
    p.add_argument("--dataset", default="fashion-mnist", choices=cfg.DATASETS)
    p.add_argument("--data-dir", help="folder to use (fetch: where to download)")
    p.set_defaults(func=cmd_data)
