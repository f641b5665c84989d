"""Every lab experiment at ``--quick`` over seeds and thread counts: which conclusions hold, and how often.

Usage::

    python bench/lab_robustness.py run                 # the grid, resumable (skips records already written)
    python bench/lab_robustness.py run --seeds 0 1 --threads 1 --experiments mode-collapse
    python bench/lab_robustness.py table               # docs/lab-robustness.md, src/gan_atelier/lab/ranges.json,
                                                       # tests/fixtures/collapse_sequences.json

``run`` trains each (experiment, seed, threads) cell in its own process, exactly as
``gan-atelier lab EXPERIMENT --quick --seed S --threads T`` would (``T = 0``: PyTorch's default,
with ``OMP_NUM_THREADS`` unset for that process; ``T = 1``: one thread), and keeps one small JSON
record per cell in ``bench/results/lab_robustness/`` (the experiment's ``results.json`` numbers and
evidence, each run's alarms and per-epoch ``metrics.csv``, CPU and wall time, the thread count PyTorch
really used). A cell whose record exists is skipped, so an interrupted grid resumes where it stopped.

One addition to the experiment, which changes no number it reports: every GAN run that does not
already evaluate itself gets ``train.eval_every = 1`` (2,000 samples), and the class histogram of
every in-training evaluation is recorded. The evaluation touches no training state (tested in
``tests/test_metrics_training.py``), so training is bit-identical; it gives the collapse detector's
input, epoch by epoch, for every run of the grid (:mod:`gan_atelier.collapse`, ``docs/metrics.md``).

``table`` reads the records only (no training) and writes the conclusions table (see
:mod:`lab_robustness_table`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "lab_robustness"
WORK = Path(os.environ.get("LAB_ROBUSTNESS_WORK", "/tmp/lab_robustness"))
EXPERIMENTS = ("mode-collapse", "saturating", "learning-rate", "detach", "d-loss", "vae", "dcgan")
INJECTED_EVAL_SAMPLES = 2000
MAX_LIST = 200  # longer lists in results.json (per-step curves) are not kept in the record


def record_path(experiment: str, seed: int, threads: int) -> Path:
    return RESULTS / experiment / f"seed{seed}-threads{threads or 'default'}.json"


def grid(experiments, seeds, thread_counts, priority_seeds) -> list[tuple[str, int, int]]:
    """Cells in running order: mode-collapse at the priority seeds, then those seeds at every thread count,
    then the other seeds at the first thread count, then at the others."""
    cells = [("mode-collapse", s, t) for s in priority_seeds for t in thread_counts if "mode-collapse" in experiments]
    rest = [s for s in seeds if s not in priority_seeds]
    pairs = [(s, t) for s in seeds if s in priority_seeds for t in thread_counts]
    pairs += [(s, thread_counts[0]) for s in rest] + [(s, t) for t in thread_counts[1:] for s in rest]
    for seed, threads in pairs:
        cells += [(e, seed, threads) for e in experiments]
    seen, ordered = set(), []
    for cell in cells:
        if cell not in seen:
            seen.add(cell)
            ordered.append(cell)
    return ordered


def cmd_run(args) -> int:
    cells = grid(args.experiments, args.seeds, args.threads, args.priority_seeds)
    todo = [c for c in cells if not record_path(*c).exists() and not _running(*c)]
    print(f"{len(cells)} cells, {len(cells) - len(todo)} already recorded, {len(todo)} to run", flush=True)
    for experiment, seed, threads in todo:
        while any(_running(*cell) for cell in cells):  # one cell at a time, also across restarts
            time.sleep(10)
        if record_path(experiment, seed, threads).exists():
            continue
        env = dict(os.environ, PYTHONPATH=args.source or str(ROOT / "src"))
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        else:
            env.pop("OMP_NUM_THREADS", None)  # PyTorch's default thread count, as a student gets it
            # Idle OpenMP threads sleep instead of spinning: the same numbers (same thread count, same
            # split of the work), but on a machine shared with other jobs a spinning thread waits for a
            # busy core at every barrier (measured here: 2 epochs in 40 min spinning, 3 in 4 min passive).
            env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        command = [sys.executable, __file__, "one", experiment, str(seed), str(threads)]
        started = time.time()
        done = subprocess.run(command, env=env)
        print(f"{experiment} seed {seed} threads {threads or 'default'}: exit {done.returncode}, "
              f"{time.time() - started:.0f} s wall", flush=True)
        if done.returncode and args.stop_on_error:
            return done.returncode
    return 0


def _marker(experiment: str, seed: int, threads: int) -> Path:
    return record_path(experiment, seed, threads).with_suffix(".running")


def _running(experiment: str, seed: int, threads: int) -> bool:
    """A cell another ``run`` is training now (its marker names a live process)."""
    try:
        os.kill(int(_marker(experiment, seed, threads).read_text()), 0)
        return True
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False


class _Recorder:
    """Hooks put around the lab: the current run's name, and the class histogram of each evaluation."""

    def __init__(self):
        self.current = None
        self.histograms: dict[str, list[list[int]]] = {}

    def install(self):
        from gan_atelier.lab import context as common
        from gan_atelier.training import evaluation as training

        recorder, original_train, original_histogram = self, common.LabContext.train, training.class_histogram

        def train(context, name, config, data, hooks=None):
            recorder.current = name
            recorder.histograms[name] = []
            if config.train.eval_every == 0 and config.model.name != "vae":
                from gan_atelier.config import apply_overrides

                config = apply_overrides(config, {"train.eval_every": 1,
                                                  "train.eval_samples": INJECTED_EVAL_SAMPLES})
            return original_train(context, name, config, data, hooks)

        def class_histogram(predictions, *rest, **named):
            counts = original_histogram(predictions, *rest, **named)
            if recorder.current is not None:
                recorder.histograms[recorder.current].append([int(c) for c in counts.tolist()])
            return counts

        common.LabContext.train = train
        training.class_histogram = class_histogram


def _source_commit() -> str | None:
    """The commit of the gan_atelier sources that ran (a ``COMMIT`` file beside a snapshot, else git)."""
    import gan_atelier

    source = Path(gan_atelier.__file__).resolve().parents[1]
    if (source / "COMMIT").exists():
        return (source / "COMMIT").read_text().strip()
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True)
    return done.stdout.strip() or None


def _trim(value):
    if isinstance(value, dict):
        return {k: _trim(v) for k, v in value.items()}
    if isinstance(value, list):
        return None if len(value) > MAX_LIST else [_trim(v) for v in value]
    return value


def _run_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    keep = ("epoch", "d_loss", "g_loss", "d_real", "d_fake", "diversity", "fid", "recall",
            "class_entropy", "classes_covered")
    return [{k: (float(r[k]) if r.get(k) not in (None, "") else None) for k in keep if k in r} for r in rows]


def cmd_one(args) -> int:
    global RESULTS
    RESULTS = args.results or RESULTS
    marker = _marker(args.experiment, args.seed, args.threads)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    try:
        return _one(args)
    finally:
        marker.unlink(missing_ok=True)


def _one(args) -> int:
    import torch

    from gan_atelier.lab import run_experiment
    from gan_atelier.lab.context import LabContext

    recorder = _Recorder()
    recorder.install()
    out = WORK / f"{args.experiment}-seed{args.seed}-threads{args.threads or 'default'}"
    shutil.rmtree(out, ignore_errors=True)
    started, cpu_start = time.time(), time.process_time()
    context = LabContext(out_dir=out, scale=args.scale, seed=args.seed, threads=args.threads, verbose=False)
    threads_used = args.threads or torch.get_num_threads()
    result = run_experiment(args.experiment, context)
    cpu, wall = time.process_time() - cpu_start, time.time() - started
    runs = {}
    for run_dir in result.runs:
        run_dir = Path(run_dir)
        run_json = json.loads((run_dir / "run.json").read_text())
        runs[run_dir.name] = {"alarms": run_json.get("alarms", []), "epochs": _run_rows(run_dir),
                              "eval_histograms": recorder.histograms.get(run_dir.name, [])}
    results = json.loads((out / "results.json").read_text())
    record = {"experiment": args.experiment, "seed": args.seed, "threads_requested": args.threads,
              "threads_used": threads_used, "torch": torch.__version__, "cpu_seconds": round(cpu, 1),
              "wall_seconds": round(wall, 1), "load_average": os.getloadavg(),
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "source_commit": _source_commit(),
              "evidence": results["evidence"], "numbers": _trim(results["numbers"]), "runs": runs,
              "children_cpu_seconds": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime, 1)}
    path = record_path(args.experiment, args.seed, args.threads)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, allow_nan=True) + "\n")
    tmp.replace(path)
    print(f"recorded {path} ({cpu:.0f} s CPU, {wall:.0f} s wall, {threads_used} threads)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the grid (resumable)")
    run.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS), choices=EXPERIMENTS)
    run.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    run.add_argument("--threads", nargs="+", type=int, default=[1, 0], help="0 = PyTorch's default")
    run.add_argument("--priority-seeds", nargs="*", type=int, default=[0, 1],
                     help="mode-collapse at these seeds and every thread count runs first")
    run.add_argument("--stop-on-error", action="store_true")
    run.add_argument("--source", help="the gan_atelier sources to run (default: this checkout's src/)")
    run.set_defaults(func=cmd_run)
    one = sub.add_parser("one", help="one cell, in this process (used by run)")
    one.add_argument("experiment", choices=EXPERIMENTS)
    one.add_argument("seed", type=int)
    one.add_argument("threads", type=int)
    one.add_argument("--scale", default="quick", help="tiny: a smoke test of this script (records in --results)")
    one.add_argument("--results", type=Path, help="where the record goes (default bench/results/lab_robustness)")
    one.set_defaults(func=cmd_one)
    table = sub.add_parser("table", help="write the tables from the records")
    table.set_defaults(func=lambda args: __import__("lab_robustness_table").main())
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
