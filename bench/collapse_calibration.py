"""Runs outside the lab for the collapse detector's table: healthy presets, and collapses provoked late.

Usage::

    python bench/collapse_calibration.py                     # every spec at seeds 0 1 (resumable)
    python bench/collapse_calibration.py --specs late-beta1 --seeds 0 1 2

Each spec trains with ``train.eval_every = 1`` (2,000 samples, the default) on the first 12,000
training images (``seed-50``: every 5 epochs, on all 60,000), at one thread, and records per epoch
the pixel diversity, the class histogram of the evaluation (the collapse detector's inputs; None
between evaluations), the epoch's history row (D's and G's losses, D(x), D(G(z))) and the run's
alarms, into
``bench/results/collapse_calibration/<spec>-seed<k>.json``. A "late" spec trains healthily
(the lab's healthy quick setting, Adam lr 1e-3, β1 0.5) and switches both optimizers to a
collapsing setting after ``switch_after`` epochs: a collapse *after* coverage was established,
which is what the class-coverage signal is for. ``bench/lab_robustness.py table`` reads these
records beside the lab's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "collapse_calibration"
WORK = Path("/tmp/collapse_calibration")
SUBSET = 12000

HEALTHY_LR = {"train.lr": 1e-3}  # the lab's healthy quick setting (mode-collapse, vae)
SPECS = {
    # name: (preset, overrides, epochs, switch_after, switched optimizer hyper-parameters, expected:
    # healthy, collapse, or slow — a slow start, see bench/collapse_table.py)
    "quick": ("quick", {}, 10, None, None, "healthy"),
    "lab-healthy": ("seed", HEALTHY_LR, 10, None, None, "healthy"),
    "dcgan": ("dcgan", {}, 6, None, None, "healthy"),
    "cgan": ("cgan", {}, 8, None, None, "healthy"),
    # The lab's failing settings, trained here with the evaluation on (the lab's own runs of them are
    # in bench/results/lab_robustness when the grid reached them).
    "saturating": ("seed", {"train.loss": "saturating"}, 5, None, None, "slow"),
    "saturating-10": ("seed", {"train.loss": "saturating"}, 10, None, None, "slow"),  # past the blob deadline
    "strong-d": ("seed", {"train.lr_g": 2e-5}, 8, None, None, "collapse"),
    "lr5e-3": ("seed", {"train.lr": 5e-3}, 6, None, None, "collapse"),
    "late-beta1": ("seed", HEALTHY_LR, 10, 4, {"betas": (0.9, 0.999)}, "collapse"),
    "late-lr": ("seed", HEALTHY_LR, 10, 4, {"lr": 5e-3}, "collapse"),
    # The TP itself over its 50 epochs on all 60,000 images, evaluated every 5 epochs (10 evaluations:
    # the class signal needs PERSIST_EVALUATIONS in a row, and the blob stage ends within the first 5).
    "seed-50": ("seed", {"data.subset": 0, "train.eval_every": 5}, 50, None, None, "healthy"),
    # Its first 5 epochs, evaluated after each (the blob stage and the deadline on 60,000 images per epoch).
    "seed-5": ("seed", {"data.subset": 0}, 5, None, None, "healthy"),
}
ROW_KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "diversity", "fid", "class_entropy", "classes_covered")


def record_path(spec: str, seed: int) -> Path:
    return RESULTS / f"{spec}-seed{seed}.json"


class _Switch:
    """on_epoch hook: after ``after`` epochs, set ``values`` in every param group of G's and D's Adam."""

    def __init__(self, after: int | None, values: dict | None):
        self.after, self.values = after, values or {}

    def __call__(self, trainer, row=None) -> None:
        if self.after is not None and trainer.epoch == self.after:
            for optimizer in (trainer.optimizer_g, trainer.optimizer_d):
                for group in optimizer.param_groups:
                    group.update(self.values)


def run_one(spec: str, seed: int) -> dict:
    import torch

    import gan_atelier as api
    from gan_atelier.config import get_config
    from gan_atelier.training import LoopHooks
    from gan_atelier.training import evaluation as training

    torch.set_num_threads(1)
    preset, overrides, epochs, after, values, expected = SPECS[spec]
    histograms, original = [], training.class_histogram

    def class_histogram(predictions, *rest, **named):
        counts = original(predictions, *rest, **named)
        histograms.append([int(c) for c in counts.tolist()])
        return counts

    training.class_histogram = class_histogram
    config = get_config(preset, {"data.subset": SUBSET, "train.eval_every": 1, **overrides, "train.epochs": epochs,
                                 "train.seed": seed, "train.threads": 1, "train.checkpoint_every": 0,
                                 "train.sample_every": epochs})
    cpu = time.process_time()
    run = api.train(config, WORK / f"{spec}-seed{seed}", overwrite=True, progress=False, verbose=False,
                    hooks=LoopHooks(on_epoch=[_Switch(after, values)]), handle_signals=False)
    training.class_histogram = original
    every, last = config.train.eval_every, len(run.history)  # evaluated epochs, as run/outputs.py picks them
    evaluated = dict(zip([e for e in range(1, last + 1) if e % every == 0 or e == last], histograms))
    per_epoch = [evaluated.get(epoch) for epoch in range(1, last + 1)]  # None between evaluations
    return {"spec": spec, "seed": seed, "preset": preset, "overrides": overrides, "epochs": epochs,
            "switch_after": after, "switch": {k: list(v) if isinstance(v, tuple) else v for k, v in (values or {}).items()},
            "expected": expected, "cpu_seconds": round(time.process_time() - cpu, 1), "alarms": run.alarms,
            "diversity": [row.get("diversity") for row in run.history],
            "fid": [row.get("fid") for row in run.history], "eval_histograms": per_epoch,
            "images_per_epoch": config.data.subset or 60000,
            "rows": [{key: row.get(key) for key in ("epoch",) + ROW_KEYS} for row in run.history]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--specs", nargs="+", default=list(SPECS), choices=SPECS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    args = parser.parse_args(argv)
    for seed in args.seeds:
        for spec in args.specs:
            path = record_path(spec, seed)
            if path.exists():
                continue
            record = run_one(spec, seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=1) + "\n")
            print(f"{spec} seed {seed}: {record['cpu_seconds']} s CPU, alarms {record['alarms']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
