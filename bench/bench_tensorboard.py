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

``--micro`` measures the TensorBoard work alone, without training: one seed epoch's worth of writes
(469 steps: 9 step-loss pairs at ``log.every_steps = 50``, one epoch row, a grid every 5th epoch)
repeated 200 times, in CPU ms per epoch, and the writer thread's CPU while idle. On a shared
machine the end-to-end ratio carries the load's noise (a few %); the micro figure does not.
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


def micro(epochs: int = 200) -> None:
    """CPU ms of one seed epoch's TensorBoard writes, measured alone."""
    from gan_atelier.tensorboard_log import TensorBoardLog
    from gan_atelier.viz import make_grid

    row = {"epoch": 1, "step": 469, "d_loss": 1.2, "g_loss": 0.8, "d_real": 0.6, "d_fake": 0.4, "seconds": 16.0,
           "diversity": 0.5, "fid": None, "recall": None, "class_entropy": None, "classes_covered": None}
    loss, images = torch.tensor(1.0), torch.rand(64, 1, 28, 28)
    with tempfile.TemporaryDirectory(prefix="bench-tb-micro-") as folder:
        log = TensorBoardLog(folder)
        started = time.process_time()
        for epoch in range(epochs):
            for index in range(469 // 50):
                log.step(epoch * 469 + 50 * (index + 1), {"d_loss": loss.item(), "g_loss": loss.item()})
            log.epoch({**row, "epoch": epoch + 1, "step": (epoch + 1) * 469})
            if epoch % 5 == 4:
                log.grid((epoch + 1) * 469, make_grid(images))
        log.writer.flush()
        per_epoch = (time.process_time() - started) / epochs
        started = time.process_time()
        time.sleep(3.0)
        idle = time.process_time() - started
        log.close()
    print(f"TensorBoard writes of one seed epoch, alone: {1000 * per_epoch:.2f} CPU ms "
          f"(over {epochs} epochs); writer thread idle: {1000 * idle:.2f} CPU ms in 3 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs (default 3)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per run (default 6: one grid epoch)")
    parser.add_argument("--subset", type=int, default=0, help="first N training images (default 0 = all)")
    parser.add_argument("--micro", action="store_true", help="only the TensorBoard writes, without training")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.micro:
        micro()
        return 0
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
