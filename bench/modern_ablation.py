"""The `modern` recipe with each ingredient removed in turn, and with self-conditioning added: FID, precision, recall.

Usage::

    python bench/modern_ablation.py                       # every row, 3 epochs each, seed 0 (resumable)
    python bench/modern_ablation.py --base modern         # the same removals with self-conditioning in place
    python bench/modern_ablation.py --epochs 14 --rows full no-sn
    python bench/modern_ablation.py --table-only          # rewrite the table from the finished rows

Every row trains ``gan-atelier train --preset BASE --set train.epochs=E --set train.seed=S
--set train.threads=1`` plus the row's overrides, through the project's own ``train`` (the code
path a user runs), into ``RUNS/<row>``, and records the training process's CPU time. Two bases:
``modern-plain`` (the `modern` recipe without its self-conditioning; its last rows add clusters) and
``modern`` (the preset itself; its last rows remove the clusters or change their number). A row whose
``scores.json`` exists is reused. Scores: :func:`gan_atelier.metrics.evaluate_images` on
``--samples`` images of ``api.sample(G, n, seed=0)`` against as many test images, for the sampling
generator (the EMA when the recipe has one) and, in the ``full`` row, also for the raw G (the
"− EMA" row costs no training). Removing an ingredient changes the cost of an epoch (spectral
norm's power iteration, batch 128's fewer steps): the table gives each row's CPU seconds beside its
scores, so a row that trained for less CPU time says so.

The table goes to ``bench/results/modern_ablation.md`` (docs/results.md quotes it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import gan_atelier as api
from gan_atelier import config as cfg

ROOT = Path(__file__).resolve().parents[1]
# Per base: where its rows train, and where its table goes.
RUNS = {"modern-plain": ROOT / "runs" / "ablation", "modern": ROOT / "runs" / "ablation-modern"}
OUT = {"modern-plain": ROOT / "bench" / "results" / "modern_ablation.md",
       "modern": ROOT / "bench" / "results" / "modern_ablation_clusters.md"}

SN_TO_BN = {"model.spectral_norm": False, "model.d_norm": "batch"}
# The recipe's ingredients, removed one at a time from either base:
# row name → (the change from the base, overrides on top of the base)
INGREDIENTS = {
    "full": ("none (the base)", {}),
    "no-sn": ("− spectral norm (D without any normalisation)", {"model.spectral_norm": False}),
    "bn-d": ("spectral norm → the DCGAN's BatchNorm D", SN_TO_BN),
    "ns-loss": ("hinge → the TP's non-saturating BCE", {"train.loss": "ns"}),
    "beta1": ("Adam β1 0 → 0.5", {"train.beta1": 0.5}),
    "no-ttur": ("lr_D 4e-4 → 2e-4 (= lr_G)", {"train.lr_d": 0.0}),
    "batch128": ("batch 32 → 128 (the TP's)", {"train.batch_size": 128}),
    "no-cosine": ("− the cosine lr decay (constant lr)", {"train.lr_end_ratio": 1.0}),
}
ROWS = {
    # The `modern` recipe without its self-conditioning; the last rows add it.
    "modern-plain": INGREDIENTS | {
    "clusters10": ("+ self-conditioning, 10 pixel clusters (the `modern` preset)", {"model.clusters": 10}),
    "clusters30": ("+ self-conditioning, 30 pixel clusters", {"model.clusters": 30}),
    "clusters10-bn-d": ("+ self-conditioning, 10 clusters; spectral norm → BatchNorm D",
                        {"model.clusters": 10, **SN_TO_BN}),
    "clusters20-bn-d": ("+ self-conditioning, 20 clusters; spectral norm → BatchNorm D",
                        {"model.clusters": 20, **SN_TO_BN}),
    "clusters30-bn-d": ("+ self-conditioning, 30 clusters; spectral norm → BatchNorm D",
                        {"model.clusters": 30, **SN_TO_BN}),
    },
    # The preset itself (10 clusters); the last rows take the clusters away or change their number.
    "modern": INGREDIENTS | {
        "no-clusters": ("− self-conditioning (= `modern-plain`)", {"model.clusters": 0}),
        "clusters20": ("10 → 20 clusters", {"model.clusters": 20}),
    },
}
SCORE_KEYS = ("fid", "precision", "recall", "coverage", "class_entropy")


def train_row(name: str, args: argparse.Namespace) -> Path:
    run_dir = args.runs / name
    overrides = {**ROWS[args.base][name][1], "train.epochs": args.epochs, "train.seed": args.seed, "train.threads": 1}
    config = cfg.get_config(args.base, [*(f"{k}={v}" for k, v in overrides.items()), *args.overrides])
    started = time.process_time()
    api.train(config, run_dir, overwrite=True, progress=False)
    (run_dir / "cpu.json").write_text(json.dumps({"train_cpu_seconds": time.process_time() - started}) + "\n")
    return run_dir


def score(generator: torch.nn.Module, samples: int) -> dict:
    from gan_atelier.metrics import evaluate_images

    result = evaluate_images(api.sample(generator, samples, seed=0), n=samples, memorisation=False)
    return {key: float(result[key]) for key in SCORE_KEYS}


def score_row(name: str, run_dir: Path, samples: int) -> dict:
    scores = {"sampling": score(api.load_generator(run_dir), samples)}
    if name == "full":
        scores["raw"] = score(api.load_generator(run_dir, ema=False), samples)
    scores["train_cpu_seconds"] = json.loads((run_dir / "cpu.json").read_text())["train_cpu_seconds"]
    scores["steps"] = json.loads((run_dir / "run.json").read_text()).get("steps_done")
    (run_dir / "scores.json").write_text(json.dumps(scores, indent=1) + "\n")
    return scores


def table(args: argparse.Namespace) -> str:
    lines = [f"Generated by `python bench/modern_ablation.py --base {args.base}` ({args.epochs} epochs from the "
             f"`{args.base}` preset, seed {args.seed}, one thread; {args.samples:,} samples vs as many test images, classifier features).",
             "", "| change from the base | G steps | train CPU s | FID | precision | recall | coverage | class entropy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]

    def line(label, steps, cpu, s):
        return (f"| {label} | {steps:,} | {cpu:.0f} | {s['fid']:.1f} | {s['precision']:.3f} | {s['recall']:.3f} | "
                f"{s['coverage']:.3f} | {s['class_entropy']:.2f} |")

    for name, (removed, _) in ROWS[args.base].items():
        path = args.runs / name / "scores.json"
        if not path.exists():
            continue
        row = json.loads(path.read_text())
        lines.append(line(removed, row["steps"] or 0, row["train_cpu_seconds"], row["sampling"]))
        if name == "full" and "raw" in row:
            lines.append(line("− the EMA (samples from the raw G of the base run)", row["steps"] or 0,
                              row["train_cpu_seconds"], row["raw"]))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", choices=list(ROWS), default="modern-plain")
    parser.add_argument("--rows", nargs="+", help="row names (default: every row of the base)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="for every row (e.g. data.subset=640 for a smoke test)")
    parser.add_argument("--runs", type=Path, help="default: runs/ablation (modern-plain), runs/ablation-modern")
    parser.add_argument("--out", type=Path, help="default: bench/results/modern_ablation[_clusters].md")
    args = parser.parse_args(argv)
    rows = args.rows or list(ROWS[args.base])
    unknown = sorted(set(rows) - set(ROWS[args.base]))
    if unknown:
        parser.error(f"no row {', '.join(unknown)} for base {args.base}; rows: {', '.join(ROWS[args.base])}")
    args.runs = args.runs or RUNS[args.base]
    args.out = args.out or OUT[args.base]
    torch.set_num_threads(1)
    for name in [] if args.table_only else rows:
        if (args.runs / name / "scores.json").exists():
            print(f"[{name}] reusing {args.runs / name}")
            continue
        print(f"[{name}] training (change: {ROWS[args.base][name][0]})", flush=True)
        print(f"[{name}] {score_row(name, train_row(name, args), args.samples)}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table(args))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
