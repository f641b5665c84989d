"""``gan-atelier check FILE.py [--lang fr|en]``: the checks on a student's script (exit 8 on mistakes)."""

from __future__ import annotations

import argparse

from ..checks.messages import LANGUAGES
from ..errors import CheckFailed


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="check a student's TP script (Generator, Discriminator, train_gan) and name its mistakes",
        description="Runs gan_atelier.checks on the TP's names defined in FILE, without running its "
                    "top-level code (no download, no training). Exit 0: every check passes; 8: mistakes.")
    parser.add_argument("file", help="the student's script: the TP's cells pasted one after another")
    parser.add_argument("--lang", choices=LANGUAGES, default="fr", help="language of the messages (default fr)")
    parser.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from ..checks.script import run_checks

    try:
        ok, lines = run_checks(args.file, args.lang)
    except CheckFailed as error:
        ok, lines = False, [f"✗ {error}"]
    print("\n".join(lines))
    return 0 if ok else CheckFailed.exit_code
