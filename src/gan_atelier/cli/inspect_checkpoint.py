"""``gan-atelier inspect-checkpoint``: a checkpoint's position, config and versions."""

from __future__ import annotations

import argparse


def cmd_inspect(args: argparse.Namespace) -> int:
    import json

    from ..checkpoint import load_checkpoint

    state = load_checkpoint(args.checkpoint)
    summary = {"schema_version": state["schema_version"], "position": state["position"],
               "config": state["config"], "versions": state.get("versions", {}),
               "epochs_in_history": len(state["history"]), "alarms": state["alarms"]}
    print(json.dumps(summary, indent=2))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect-checkpoint", help="print a checkpoint's position, config and versions")
    p.add_argument("checkpoint")
    p.set_defaults(func=cmd_inspect)
