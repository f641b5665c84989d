"""``gan-atelier check FILE.py [--lang fr|en]``: the checks on a student's script (exit 8 on mistakes)."""

from __future__ import annotations

import argparse

from ..errors import CheckFailed
from .messages import LANGUAGES

# name the script must define → the checks that take it
CHECKED_NAMES = {
    "Generator": ("check_generator",),
    "Discriminator": ("check_discriminator",),
    "train_gan": ("check_d_step", "check_g_step", "check_training"),
}
MISSING = ("{path} ne définit pas `{name}` (TP : {where})", "{path} does not define `{name}` (TP: {where})")
WHERE = {"Generator": "2.2", "Discriminator": "2.3", "train_gan": "III"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="check a student's TP script (Generator, Discriminator, train_gan) and name its mistakes",
        description="Runs gan_atelier.checks on the TP's names defined in FILE, without running its "
                    "top-level code (no download, no training). Exit 0: every check passes; 8: mistakes.")
    parser.add_argument("file", help="the student's script: the TP's cells pasted one after another")
    parser.add_argument("--lang", choices=LANGUAGES, default="fr", help="language of the messages (default fr)")
    parser.set_defaults(func=cmd_check)


def run_checks(path, lang: str = "fr") -> tuple[bool, list[str]]:
    """(every check passed, the report's lines) for the script at ``path``."""
    from . import loop, models
    from .script import load_definitions

    namespace = load_definitions(path)
    lines, ok = [], True
    for name, checks in CHECKED_NAMES.items():
        if name not in namespace:
            ok = False
            lines.append("✗ " + MISSING[LANGUAGES.index(lang)].format(path=path, name=name, where=WHERE[name]))
            continue
        for check in checks:
            function = getattr(models, check, None) or getattr(loop, check)
            result = function(namespace[name], lang=lang, raise_on_failure=False)
            ok = ok and result.ok
            lines += result.lines()
    return ok, lines


def cmd_check(args: argparse.Namespace) -> int:
    try:
        ok, lines = run_checks(args.file, args.lang)
    except CheckFailed as error:
        ok, lines = False, [f"✗ {error}"]
    print("\n".join(lines))
    return 0 if ok else CheckFailed.exit_code
