"""Data-parallel throughput on GPUs: the ``seed`` preset at 1, 2, … N GPUs, and its 50 epochs on one.

Usage (on a machine with N ≥ 1 CUDA GPUs and Fashion-MNIST installed)::

    python bench/bench_ddp.py                      # throughput at 1..N GPUs, 2 epochs each
    python bench/bench_ddp.py --gpus 1 2 4 8 --epochs 3 --batch-size 128 512
    python bench/bench_ddp.py --seed-preset        # also: the full 50-epoch seed preset on one GPU

Every measurement is one ``torchrun --standalone --nproc_per_node=k -m gan_atelier train`` (or a
plain ``python -m gan_atelier train`` for k = 1), i.e. exactly what a user runs; throughput is
read back from the run folder: global samples (``steps_done × train.batch_size``) per second of
``train_seconds`` in ``run.json``, which excludes start-up and data loading. The first epoch
includes CUDA warm-up, so use ≥ 2 epochs. Prints a Markdown table for ``docs/benchmarks.md``
(speed-up and parallel efficiency against one GPU at the same global batch).

Nothing here runs without a GPU (it exits with a message): it was written on a CPU-only machine
and has not been run yet.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_training(gpus: int, epochs: int, batch_size: int, run_dir: Path, extra: list[str]) -> dict:
    """One training run on ``gpus`` GPUs; returns its run.json plus the wall time of the command."""
    command = [sys.executable, "-m", "gan_atelier", "train", "--preset", "seed", "--device", "cuda",
               "--run-dir", str(run_dir), "--overwrite", "--no-progress",
               "--set", f"train.epochs={epochs}", "--set", f"train.batch_size={batch_size}",
               "--set", "train.sample_every=1000", *extra]
    if gpus > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={gpus}", *command[1:]]
    started = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wall = time.perf_counter() - started
    info = json.loads((run_dir / "run.json").read_text())
    info["command_wall_seconds"] = wall
    return info


def throughput_table(gpu_counts: list[int], batch_sizes: list[int], epochs: int, root: Path) -> list[str]:
    lines = ["| global batch | GPUs | samples/s | speed-up | efficiency | train s | command wall s |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for batch_size in batch_sizes:
        single = None
        for gpus in gpu_counts:
            info = run_training(gpus, epochs, batch_size, root / f"b{batch_size}-g{gpus}", [])
            rate = info["steps_done"] * batch_size / info["train_seconds"]
            single = single or (rate if gpus == 1 else None)
            speedup = rate / single if single else float("nan")
            lines.append(f"| {batch_size} | {gpus} | {rate:,.0f} | {speedup:.2f}× | {speedup / gpus:.0%} | "
                         f"{info['train_seconds']:.1f} | {info['command_wall_seconds']:.1f} |")
            print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    available = torch.cuda.device_count()
    parser.add_argument("--gpus", type=int, nargs="+", default=list(range(1, available + 1)))
    parser.add_argument("--batch-size", type=int, nargs="+", default=[128, 1024],
                        help="global batch sizes (128 is the TP's)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed-preset", action="store_true", help="also time the 50-epoch seed preset on one GPU")
    parser.add_argument("--keep", type=Path, help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if available == 0:
        print("bench_ddp.py needs CUDA GPUs; none found (nothing measured)", file=sys.stderr)
        return 2
    if max(args.gpus) > available:
        print(f"asked for {max(args.gpus)} GPUs, this machine has {available}", file=sys.stderr)
        return 2
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-ddp-"))
    print(f"{torch.cuda.get_device_name(0)} × {available}, torch {torch.__version__}; run folders in {root}")
    lines = throughput_table(sorted(args.gpus), args.batch_size, args.epochs, root)
    if args.seed_preset:
        info = run_training(1, 50, 128, root / "seed-50-epochs", ["--set", "train.sample_every=5"])
        lines += ["", f"seed preset, 50 epochs, one GPU: {info['train_seconds']:.1f} s training "
                      f"({info['command_wall_seconds']:.1f} s for the whole command)"]
    print("\n".join(lines))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
