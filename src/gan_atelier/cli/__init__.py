"""The ``gan-atelier`` command: parses arguments, builds a config, calls library functions.

One module per subcommand, each with ``register(subparsers)`` and its ``cmd_*`` function; the
only place argparse lives. Imports everything, imported by nothing. Errors are one line on
stderr with a distinct exit code (see :mod:`gan_atelier.errors`).
"""

from __future__ import annotations

import argparse
import sys
import warnings

from .. import __version__
from ..errors import GanAtelierError
from . import check, classifier, compare, data, evaluate, export, inspect_checkpoint, lab, sample, sweep, train

SUBCOMMANDS = (train, sample, data, export, inspect_checkpoint, evaluate, classifier, sweep, lab, check, compare)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gan-atelier",
        description="The TP's MLP-GAN on Fashion-MNIST, and beyond: train, sample, evaluate.")
    parser.add_argument("--version", action="version", version=f"gan-atelier {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
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
