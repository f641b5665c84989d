"""Time to quality: how fast a preset reaches the seed preset's 50-epoch classifier FID.

Usage::

    python bench/bench_time_to_quality.py --threads 1                      # all three phases
    python bench/bench_time_to_quality.py --target-fid 12.3 --threads 1     # skip phase 1
    python bench/bench_time_to_quality.py --candidate train.precision=bf16 --candidate train.lr=5e-4
    python bench/bench_time_to_quality.py --preset modern --max-epochs 16 --target-fid 191.35 --threads 1
    # (--max-epochs sets train.epochs, hence the length of the modern preset's cosine schedules: keep its 16)

Phases (times are process CPU seconds at the given thread count, the steady figure on a
shared machine, and wall seconds; evaluation time is never counted as training time):

1. **Target.** The ``seed`` preset (the TP, exactly) trains 50 epochs with the Trainer; its
   classifier FID on ``--samples`` generated images (``gan_atelier.metrics``' in-training
   evaluator: fixed evaluation noise, first N test images) is the target. Kept in
   ``--state`` so a rerun skips it.
2. **The TP's wall time.** The faithful TP loop of ``bench_tp_loop.py`` (PIL/ToTensor per
   sample, DataLoader, the TP's step) runs ``--tp-steps`` steps; its 50-epoch time is
   estimated as 50 × 469 steps at that measured rate.
3. **Candidate.** A preset with better settings (``--candidate KEY=VALUE``, repeatable;
   the seed preset itself is never changed) trains epoch by epoch, evaluated after each,
   until its FID ≤ the target or its training time exceeds ``--budget`` × the TP's time.

The result line gives the candidate's time to the target as a fraction of the TP's time
(the issue's target: ≤ 1/5).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tp_loop import TPLoop  # noqa: E402

from gan_atelier.config import get_config  # noqa: E402
from gan_atelier.data import load_split  # noqa: E402
from gan_atelier.training.evaluation import training_evaluator  # noqa: E402
from gan_atelier.training import Trainer  # noqa: E402

TP_EPOCHS = 50
DEFAULT_CANDIDATE = ["train.precision=bf16", "train.lr=5e-4"]


def train_and_evaluate(config, split, evaluate_after, stop_fid=None, budget_cpu=None, say=print):
    """Train epoch by epoch; evaluate after the epochs in ``evaluate_after``. Returns the log."""
    trainer = Trainer(config, split)
    evaluate = training_evaluator(trainer)
    log, cpu, wall = [], 0.0, 0.0
    while trainer.epoch < config.train.epochs:
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        while not trainer.epoch_done():
            trainer.train_step()
        cpu += time.process_time() - started_cpu
        wall += time.perf_counter() - started_wall
        row = trainer.finish_epoch()
        entry = {"epoch": trainer.epoch, "train_cpu_s": round(cpu, 1), "train_wall_s": round(wall, 1),
                 "d_loss": round(row["d_loss"], 4), "g_loss": round(row["g_loss"], 4)}
        if trainer.epoch in evaluate_after:
            entry["fid"] = round(evaluate(trainer)["fid"], 3)
        log.append(entry)
        say(f"  {json.dumps(entry)}")
        if stop_fid is not None and entry.get("fid", float("inf")) <= stop_fid:
            break
        if budget_cpu is not None and cpu > budget_cpu:
            break
    return log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--samples", type=int, default=10000, help="generated images per FID (and test images)")
    parser.add_argument("--target-fid", type=float, help="skip phase 1 and use this FID as the target")
    parser.add_argument("--state", default="bench_time_to_quality.json", help="results file (phase 1 is cached here)")
    parser.add_argument("--tp-steps", type=int, default=150, help="TP-loop steps timed in phase 2")
    parser.add_argument("--preset", default="seed", help="the candidate's preset (e.g. modern; default seed)")
    parser.add_argument("--candidate", action="append", default=None, metavar="KEY=VALUE",
                        help=f"candidate overrides on --preset (default on seed: {' '.join(DEFAULT_CANDIDATE)}; "
                             f"none on another preset)")
    parser.add_argument("--max-epochs", type=int, default=50, help="candidate epochs at most")
    parser.add_argument("--budget", type=float, default=0.3, help="stop the candidate past this fraction of the TP's time")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    state_path = Path(args.state)
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    split = load_split("fashion-mnist", "train")
    steps_per_epoch = -(-len(split) // 128)
    common = {"train.eval_samples": args.samples, "train.threads": args.threads}

    # ---- 1. the target: the seed preset's 50-epoch FID
    if args.target_fid is not None:
        state["target"] = {"fid": args.target_fid, "source": "--target-fid"}
    elif "target" not in state or state["target"].get("samples") != args.samples:
        print(f"Phase 1: seed preset, {TP_EPOCHS} epochs, FID on {args.samples} samples")
        log = train_and_evaluate(get_config("seed", common), split, evaluate_after={TP_EPOCHS})
        state["target"] = {"fid": log[-1]["fid"], "samples": args.samples, "log": log,
                           "source": "seed preset, 50 epochs, this machine"}
        state_path.write_text(json.dumps(state, indent=2) + "\n")
    target = state["target"]["fid"]
    print(f"Target FID {target:.3f} ({state['target']['source']})")

    # ---- 2. the TP loop's 50-epoch time, from its measured rate
    tp = TPLoop(split.images, split.labels, pil=True)
    tp.run(10)
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    tp.run(args.tp_steps)
    tp_cpu_rate = args.tp_steps / (time.process_time() - started_cpu)
    tp_wall_rate = args.tp_steps / (time.perf_counter() - started_wall)
    tp_cpu = TP_EPOCHS * steps_per_epoch / tp_cpu_rate
    state["tp"] = {"steps_per_cpu_s": round(tp_cpu_rate, 2), "steps_per_wall_s": round(tp_wall_rate, 2),
                   "fifty_epochs_cpu_s": round(tp_cpu, 1)}
    print(f"Phase 2: TP loop {tp_cpu_rate:.1f} steps per CPU second → 50 epochs ≈ {tp_cpu:.0f} CPU s "
          f"(wall rate {tp_wall_rate:.1f} steps/s on this shared machine)")

    # ---- 3. the candidate
    overrides = args.candidate or (DEFAULT_CANDIDATE if args.preset == "seed" else [])
    config = get_config(args.preset, [*overrides, f"train.epochs={args.max_epochs}",
                                 f"train.eval_samples={args.samples}", f"train.threads={args.threads}"])
    print(f"Phase 3: candidate {args.preset} + {' '.join(overrides) or 'nothing'}, evaluated every epoch, "
          f"budget {args.budget:.0%} of the TP's time")
    log = train_and_evaluate(config, split, evaluate_after=set(range(1, args.max_epochs + 1)),
                             stop_fid=target, budget_cpu=args.budget * tp_cpu)
    reached = [entry for entry in log if entry.get("fid", float("inf")) <= target]
    state["candidate"] = {"preset": args.preset, "overrides": overrides, "log": log}
    if reached:
        fraction = reached[0]["train_cpu_s"] / tp_cpu
        state["candidate"]["result"] = {"epoch": reached[0]["epoch"], "train_cpu_s": reached[0]["train_cpu_s"],
                                        "fraction_of_tp": round(fraction, 3)}
        print(f"Reached FID {reached[0]['fid']:.3f} ≤ {target:.3f} after {reached[0]['epoch']} epochs, "
              f"{reached[0]['train_cpu_s']:.0f} CPU s = {fraction:.2f} of the TP's 50-epoch time "
              f"({'meets' if fraction <= 0.2 else 'misses'} the ≤ 1/5 target)")
    else:
        best = min((e for e in log if "fid" in e), key=lambda e: e["fid"])
        state["candidate"]["result"] = None
        print(f"Not reached within the budget: best FID {best['fid']:.3f} at epoch {best['epoch']} "
              f"({best['train_cpu_s']:.0f} CPU s = {best['train_cpu_s'] / tp_cpu:.2f} of the TP's time)")
    state_path.write_text(json.dumps(state, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
