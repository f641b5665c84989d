"""``gan-atelier lab <experiment> [--quick | --tiny] [--out DIR]``: one TP question, answered by a run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..lab import EXPERIMENTS
from . import lab_toy2d


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lab", help="run one of the TP's questions as an experiment (figures + summary.md)",
        description="Each experiment trains what it needs and writes figures, summary.md (the "
                    "measured evidence) and results.json into its folder.")
    parser.add_argument("experiment", choices=(*EXPERIMENTS, "toy2d", "all"),
                        help="saturating (Q1.1), learning-rate (Q2.1), detach (Q3.1), d-loss, "
                             "mode-collapse, vae, dcgan (final Q1–Q4), or all of them in turn")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--quick", action="store_true", help="a subset and few epochs: ≤ 5 min each on 2 CPU cores")
    scale.add_argument("--tiny", action="store_true",
                       help="synthetic data, seconds (a smoke test: the numbers mean nothing)")
    parser.add_argument("--out", type=Path, help="output folder (default runs/lab/<experiment>)")
    parser.add_argument("--data-dir", help="folder holding the Fashion-MNIST IDX files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = PyTorch's default)")
    parser.add_argument("--no-metrics", action="store_true", help="skip the classifier-based metrics")
    parser.add_argument("--quiet", action="store_true", help="print only the summaries")
    lab_toy2d.add_arguments(parser)
    parser.set_defaults(func=cmd_lab)


def cmd_lab(args: argparse.Namespace) -> int:
    from ..lab import run_experiment
    from ..lab.context import LabContext

    if args.experiment == "toy2d":
        return lab_toy2d.run_command(args)
    names = list(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
    scale = "quick" if args.quick else "tiny" if args.tiny else "full"
    for name in names:
        if args.out is None:
            out = Path("runs") / "lab" / name
        else:
            out = args.out / name if len(names) > 1 else args.out
        context = LabContext(out_dir=out, scale=scale, data_dir=args.data_dir, seed=args.seed,
                             device=args.device, threads=args.threads, verbose=not args.quiet,
                             evaluate=not args.no_metrics)
        result = run_experiment(name, context)
        print(result.summary_markdown())
        print(f"Folder: {result.out_dir}")
    return 0
