"""Where a training step's time goes: ablations timed by CPU time, then a torch.profiler table.

Usage::

    python bench/bench_profile.py                   # fp32 Trainer, one thread
    python bench/bench_profile.py --precision bf16
    python bench/bench_profile.py --tp              # the TP loop's profiler table instead

Ablations (interleaved, median of ``--repeats`` blocks of ``--steps`` steps, process CPU time):
``full`` the Trainer's step; ``no-adam`` without the optimizer steps; ``no-dropout`` with D
in eval mode; ``neither``; ``gemm-only`` the step's matrix products alone (as in
``bench_tp_loop.step_gemms``). Differences between rows price each part *in context* (caches
included), which an isolated micro-benchmark underestimates.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tp_loop import TPLoop, step_gemms  # noqa: E402

from gan_atelier.config import get_config  # noqa: E402
from gan_atelier.data import load_split  # noqa: E402
from gan_atelier.training import Trainer  # noqa: E402


class GemmOnly:
    def __init__(self, dtype: torch.dtype):
        self.operands = [(torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)) for m, k, n in step_gemms()]

    def train_step(self) -> None:
        for a, b in self.operands:
            torch.mm(a, b)


def make_trainer(split, precision: str, adam: bool = True, dropout: bool = True) -> Trainer:
    trainer = Trainer(get_config("seed", {"train.precision": precision}), split)
    if not adam:
        trainer.optimizer_d.step = trainer.optimizer_g.step = lambda *args, **kwargs: None
    if not dropout:
        trainer.discriminator.eval()  # no BatchNorm in the TP's D: eval only switches dropout off
    return trainer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tp", action="store_true", help="profile the TP loop instead of the Trainer")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    split = load_split("fashion-mnist", "train")
    if args.tp:
        loop = TPLoop(split.images, split.labels, pil=True)
        loop.run(20)
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            loop.run(args.steps)
        print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
        return 0
    variants = {
        "full": make_trainer(split, args.precision),
        "no-adam": make_trainer(split, args.precision, adam=False),
        "no-dropout": make_trainer(split, args.precision, dropout=False),
        "neither": make_trainer(split, args.precision, adam=False, dropout=False),
        "gemm-only": GemmOnly(torch.float32 if args.precision == "fp32" else torch.bfloat16),
    }
    for variant in variants.values():
        for _ in range(10):
            variant.train_step()
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, variant in variants.items():
            started = time.process_time()
            for _ in range(args.steps):
                variant.train_step()
            times[name].append((time.process_time() - started) / args.steps * 1e3)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{args.precision}, {args.threads} thread(s), CPU ms per step (median of {args.repeats} × {args.steps}):")
    for name, value in median.items():
        print(f"  {name:11s} {value:6.2f}")
    print(f"  → Adam ≈ {median['full'] - median['no-adam']:.1f} ms, dropout ≈ {median['full'] - median['no-dropout']:.1f} ms, "
          f"forward/backward beyond the bare GEMMs ≈ {median['neither'] - median['gemm-only']:.1f} ms")
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(args.steps):
            variants["full"].train_step()
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
