"""What TensorBoard writing costs per epoch of the ``seed`` preset (one thread, process CPU time).

Usage::

    python bench/bench_tensorboard.py                         # 3 pairs of 6-epoch runs, full data
    python bench/bench_tensorboard.py --repeats 2 --epochs 4 --subset 20000

Runs alternate ``log.tensorboard=false`` / ``true`` (the order flips every pair, so a drift of the
machine's load hits both), each a real ``gan_atelier.train`` of the ``seed`` preset (the TP) with
``train.threads=1``. A hook placed after the driver's own records the process CPU time at the end
of every epoch, so each epoch's figure holds its steps, the per-step losses written every
``log.every_steps`` steps, the epoch row, the grid (every 5th epoch) and their event-file writes.
The first epoch of each run is left out (it also holds the start-up: imports, data, models).
Reported: the median CPU seconds per epoch with and without, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from gan_atelier import config as cfg
from gan_atelier.run import train
from gan_atelier.training import LoopHooks


def epoch_cpu_seconds(tensorboard: bool, args: argparse.Namespace, root: Path, index: int) -> list[float]:
    """CPU seconds of epochs 2..E of one run."""
    config = cfg.get_config("seed", {"train.epochs": args.epochs, "train.threads": 1,
                                     "data.subset": args.subset, "train.checkpoint_every": 0,
                                     "log.tensorboard": "true" if tensorboard else "false"})
    marks: list[float] = []
    hooks = LoopHooks(on_epoch=[lambda trainer, row: marks.append(time.process_time())])
    train(config, root / f"run-{index}-{'tb' if tensorboard else 'plain'}", hooks=hooks, progress=False,
          verbose=False, handle_signals=False)
    return [later - earlier for earlier, later in zip(marks, marks[1:])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs (default 3)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per run (default 6: one grid epoch)")
    parser.add_argument("--subset", type=int, default=0, help="first N training images (default 0 = all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    samples: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="bench-tb-") as folder:
        for repeat in range(args.repeats):
            order = (False, True) if repeat % 2 == 0 else (True, False)
            for tensorboard in order:
                seconds = epoch_cpu_seconds(tensorboard, args, Path(folder), repeat)
                samples[tensorboard] += seconds
                print(f"pair {repeat + 1}: tensorboard={str(tensorboard).lower():5s} epochs 2..{args.epochs}: "
                      + " ".join(f"{s:.2f}" for s in seconds) + " CPU s", flush=True)
    plain, logged = statistics.median(samples[False]), statistics.median(samples[True])
    print(f"median CPU s per epoch: without {plain:.3f}, with TensorBoard {logged:.3f} "
          f"(ratio {logged / plain:.4f}, {100 * (logged / plain - 1):+.2f} %), "
          f"{len(samples[False])} + {len(samples[True])} epochs, torch {torch.__version__}, 1 thread")
    return 0


if __name__ == "__main__":
    sys.exit(main())
