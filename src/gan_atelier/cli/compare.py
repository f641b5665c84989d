"""``gan-atelier compare RUN… --out DIR``: runs side by side (:mod:`gan_atelier.compare`)."""

from __future__ import annotations

import argparse


def cmd_compare(args: argparse.Namespace) -> int:
    from ..compare import compare

    written = compare(args.runs, args.out)
    print(f"Compared {written['count']} run(s): " + ", ".join(str(written[k]) for k in ("md", "csv", "html")))
    for path in written.get("skipped", []):
        print(f"skipped {path}: not a run folder")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="put run folders side by side (Markdown, CSV, HTML)")
    p.add_argument("runs", nargs="+", help="run folders (a shell glob such as runs/* works)")
    p.add_argument("--out", required=True, help="folder for compare.md, compare.csv and compare.html")
    p.set_defaults(func=cmd_compare)
