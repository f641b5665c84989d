"""Step cost of the `seed` and `modern` presets side by side in one process (one thread, CPU time).

Usage::

    python bench/step_cost_modern.py

Both Trainers train on the real Fashion-MNIST split, in alternating rounds of 50 steps (6 rounds,
the first one dropped as warm-up), so both see the same machine load; prints the median CPU ms per
step of each. docs/results.md ("The budget") turns them into the CPU time of each preset's full run.
"""
import time, statistics, torch
from gan_atelier import config as cfg
from gan_atelier.data import load_split
from gan_atelier.training import Trainer
torch.set_num_threads(1)
data = load_split("fashion-mnist", "train")
trainers = {name: Trainer(cfg.get_config(name, {"train.threads": 1}), data) for name in ("seed", "modern")}
timings = {name: [] for name in trainers}
for rnd in range(6):
    for name, t in trainers.items():
        start = time.process_time()
        for _ in range(50):
            t.train_step()
        timings[name].append((time.process_time() - start) / 50 * 1000)
for name, v in timings.items():
    print(name, "ms/step median", round(statistics.median(v[1:]), 1), [round(x, 1) for x in v])
