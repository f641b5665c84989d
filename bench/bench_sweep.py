"""Batched sweep vs the same members trained one after another, same process, alternating.

Usage::

    python bench/bench_sweep.py                    # 8 members (4 lr × 2 seeds), fp32, default threads
    python bench/bench_sweep.py --threads 1 --members 8 --steps 20 --repeats 5

Each repetition times ``--steps`` steps of the :class:`~gan_atelier.sweep.BatchedGANTrainer`
holding all members, then ``--steps`` steps of each member's own
:class:`~gan_atelier.training.Trainer` in turn (what ``gan-atelier train`` would do one run after
another, without the run-folder I/O). Throughput is member-steps per second, by wall clock and
by process CPU time; the ratio batched / one-by-one is the median over repetitions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from gan_atelier.sweep import BatchedGANTrainer
from gan_atelier.config import get_config
from gan_atelier.data import load_split
from gan_atelier.sweep import expand_members
from gan_atelier.training import Trainer

LEARNING_RATES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2]


def member_configs(count: int, precision: str):
    seeds = 2 if count % 2 == 0 else 1
    rates = LEARNING_RATES[:count // seeds]
    base = get_config("seed", {"train.precision": precision})
    return [config for _, config in expand_members(base, {"train.lr": rates}, seeds=seeds)]


def block(step_functions, steps: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for step in step_functions:
        for _ in range(steps):
            step()
    return time.perf_counter() - wall, time.process_time() - cpu


def stepper(trainer):
    def step():
        trainer.train_step()
        if trainer.epoch_done():
            trainer.finish_epoch(0.0) if isinstance(trainer, BatchedGANTrainer) else trainer.finish_epoch()
    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="steps per member per timed block")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = PyTorch's default)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    split = load_split("fashion-mnist", "train")
    configs = member_configs(args.members, args.precision)
    batched = BatchedGANTrainer(configs, split)
    singles = [Trainer(config, split) for config in configs]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(configs)} members "
          f"({', '.join(f'lr {c.train.lr:g} seed {c.train.seed}' for c in configs)}), {args.precision}, "
          f"{args.repeats} × {args.steps} steps per member")
    block([stepper(batched)], 3)
    block([stepper(t) for t in singles], 3)
    rows = []
    member_steps = args.steps * len(configs)
    for repeat in range(args.repeats):
        batched_wall, batched_cpu = block([stepper(batched)], args.steps)
        single_wall, single_cpu = block([stepper(t) for t in singles], args.steps)
        rows.append((member_steps / single_wall, member_steps / single_cpu,
                     member_steps / batched_wall, member_steps / batched_cpu))
        print(f"  rep {repeat + 1}: one by one {rows[-1][0]:6.1f} member-steps/s (cpu {rows[-1][1]:6.1f})  |  "
              f"batched {rows[-1][2]:6.1f} (cpu {rows[-1][3]:6.1f})  |  ratio wall {rows[-1][2] / rows[-1][0]:4.2f}, "
              f"cpu {rows[-1][3] / rows[-1][1]:4.2f}", flush=True)
    median = statistics.median
    print(f"median one by one {median(r[0] for r in rows):.1f} member-steps/s (cpu {median(r[1] for r in rows):.1f}), "
          f"batched {median(r[2] for r in rows):.1f} (cpu {median(r[3] for r in rows):.1f})")
    print(f"median ratio batched / one by one: wall {median(r[2] / r[0] for r in rows):.2f}x, "
          f"cpu-time {median(r[3] / r[1] for r in rows):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
