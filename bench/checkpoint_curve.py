"""Quality along one training run: classifier FID, precision, recall of each kept checkpoint.

Usage::

    python bench/checkpoint_curve.py CHECKPOINTS_DIR --cpu-seconds 1003 --epochs 14 [--samples 10000]

``CHECKPOINTS_DIR`` holds a run's ``step_*.pt`` files (a run keeps only its last two: copy them
aside while it trains, as ``docs/results.md`` says). Each checkpoint's sampling generator (the EMA
when the run has one: ``inference.load_generator``) draws ``api.sample(G, n, seed=0)``, scored by
:func:`gan_atelier.metrics.evaluate_images` against the first n test images. The CPU time at each
checkpoint is the run's training CPU time (``--cpu-seconds``, from the run's ``cpu.json``) times
the fraction of its steps done — every epoch has the same number of steps and the same cost — and
is also given as a fraction of the `seed` preset's 50 epochs (``--seed-cpu-seconds``, 1,064 s
measured on this machine at one thread). This is the time-to-quality curve of *that* run: with a
cosine lr schedule, a checkpoint halfway is not the run one would train for half the time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

import gan_atelier as api
from gan_atelier.metrics import evaluate_images


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path)
    parser.add_argument("--cpu-seconds", type=float, required=True, help="the whole run's training CPU time")
    parser.add_argument("--epochs", type=int, required=True, help="the whole run's epochs")
    parser.add_argument("--seed-cpu-seconds", type=float, default=1064.0)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--every", type=int, default=1, help="score every k-th checkpoint (and the last)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    files = sorted(args.checkpoints.glob("step_*.pt"))
    if not files:
        raise SystemExit(f"{args.checkpoints}: no step_*.pt checkpoint")
    steps_per_epoch = int(files[0].stem.split("_")[1])  # the first checkpoint is epoch 1's
    files = [f for i, f in enumerate(files) if i % args.every == args.every - 1 or f == files[-1]]
    total_steps = steps_per_epoch * args.epochs
    rows = []
    for path in files:
        step = int(path.stem.split("_")[1])
        cpu = args.cpu_seconds * step / total_steps
        result = evaluate_images(api.sample(api.load_generator(path), args.samples, seed=0), n=args.samples,
                                 memorisation=False)
        row = {"step": step, "epoch": step / steps_per_epoch, "cpu_seconds": round(cpu, 1),
               "fraction_of_seed": round(cpu / args.seed_cpu_seconds, 3),
               **{k: round(float(result[k]), 4) for k in ("fid", "precision", "recall", "coverage")}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| epoch | G steps | CPU s | ÷ seed's CPU | FID | precision | recall | coverage |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['epoch']:g} | {r['step']:,} | {r['cpu_seconds']:.0f} | {r['fraction_of_seed']:.2f} | "
              f"{r['fid']:.1f} | {r['precision']:.3f} | {r['recall']:.3f} | {r['coverage']:.3f} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
