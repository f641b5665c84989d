"""One preset over several training seeds, scored with every metric, as a markdown table.

Usage::

    python bench/seed_results.py                                   # seed preset, seeds 0 1 2 (hours on 2 cores)
    python bench/seed_results.py --preset dry-run --seeds 0 1 --n 500 --runs-dir /tmp/sr --dry-run
    python bench/seed_results.py --preset quick --seeds 0 1 2 --out docs/seed_results.md

For each seed k the preset trains into ``RUNS_DIR/<preset>-seed<k>`` through
:func:`gan_atelier.train` with ``train.seed = k`` (a completed run is reused, an
interrupted one resumed). Each generator then draws ``--n`` samples
(``api.sample(generator, n, seed=0)``), scored by :func:`gan_atelier.metrics.evaluate_images`
against the first N test images; scores are kept in ``RUN/evaluation.json`` (reused when N and
the extractor hash match). The table gives mean ± sample sd over seeds of every scalar metric,
then the calibration rows (train vs test, test vs test, a single class, uniform noise) at the
same N, so a reader sees where the preset sits between "perfect" and "nothing".
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

import gan_atelier as api
from gan_atelier.config import get_config
from gan_atelier.metrics import evaluate_images, load_classifier
from gan_atelier.metrics.calibration import calibration_images
from gan_atelier.run.folder import read_run_json

METRICS = (
    # key, column title, format
    ("fid", "classifier FID", "{:.2f}"),
    ("kid", "KID", "{:.4f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("density", "density", "{:.3f}"),
    ("coverage", "coverage", "{:.3f}"),
    ("class_entropy", "class entropy", "{:.3f}"),
    ("kl_to_uniform", "KL to uniform", "{:.3f}"),
    ("classes_covered", "classes", "{:.1f}"),
    ("min_class_share", "min share", "{:.3f}"),
    ("classifier_is", "classifier IS", "{:.2f}"),
    ("memorisation_ratio", "mem. ratio", "{:.2f}"),
    ("near_copy_share", "near copies", "{:.4f}"),
)
CALIBRATION = ("train", "test", "class:0", "uniform")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="extra config overrides for every seed (e.g. train.threads=1)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/seed-results"))
    parser.add_argument("--n", type=int, default=10000, help="samples per evaluation (default 10000)")
    parser.add_argument("--out", type=Path, help="write the markdown table here (default: print only)")
    parser.add_argument("--dry-run", action="store_true", help="train on synthetic data (tests the script)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def train_seed(args: argparse.Namespace, seed: int) -> Path:
    """Train (or reuse, or resume) the run of one seed; returns its folder."""
    run_dir = args.runs_dir / f"{args.preset}-seed{seed}"
    status = read_run_json(run_dir).get("status") if (run_dir / "run.json").exists() else None
    if status == "completed":
        print(f"{run_dir}: completed, reused")
        return run_dir
    if status is not None and (run_dir / "checkpoints").is_dir():
        print(f"{run_dir}: {status}, resuming")
        run = api.train(run_dir=run_dir, resume=True, dry_run=args.dry_run, progress=not args.no_progress)
    else:
        config = get_config(args.preset, [*args.overrides, f"train.seed={seed}"])
        run = api.train(config, run_dir, overwrite=run_dir.exists(), dry_run=args.dry_run,
                        progress=not args.no_progress)
    if run.status != "completed":
        raise SystemExit(f"{run_dir}: training {run.status}; run the script again to resume it")
    return run_dir


def evaluate_run(run_dir: Path, n: int, extractor) -> dict:
    """The run's scores, from ``evaluation.json`` when it was made with the same N and extractor."""
    cache = run_dir / "evaluation.json"
    if cache.exists():
        result = json.loads(cache.read_text())
        if result.get("n_generated") == n and result["extractor"]["sha256"] == extractor.sha256:
            return result
    generator = api.load_generator(run_dir)
    conditional = getattr(generator, "conditional", False)
    images = api.sample(generator, n, seed=0, labels=torch.arange(n) % 10 if conditional else None)
    result = evaluate_images(images, n=n, extractor=extractor)
    cache.write_text(json.dumps(result, indent=2) + "\n")
    return result


def mean_sd(values: list[float], pattern: str) -> str:
    if len(values) == 1:
        return pattern.format(values[0])
    return f"{pattern.format(statistics.mean(values))} ± {pattern.format(statistics.stdev(values))}"


def markdown(preset: str, seeds: list[int], results: list[dict], calibration: dict[str, dict],
             extractor, n: int) -> str:
    header = "| | " + " | ".join(title for _, title, _ in METRICS) + " |"
    lines = [
        f"### `{preset}` preset over {len(seeds)} training seed(s) ({', '.join(map(str, seeds))})",
        "",
        f"{results[0]['metric']} protocol: N = {n} samples (`api.sample(G, N, seed=0)`) vs the first "
        f"{results[0]['reference']['n']} test images; extractor {extractor.name} "
        f"(sha256 `{extractor.sha256[:12]}`). Mean ± sample sd over seeds; calibration rows below "
        f"are real sets scored the same way (see docs/metrics.md).",
        "",
        header,
        "|---|" + "---:|" * len(METRICS),
    ]
    cells = [mean_sd([float(result[key]) for result in results], pattern) for key, _, pattern in METRICS]
    lines.append(f"| **{preset}** | " + " | ".join(cells) + " |")
    for seed, result in zip(seeds, results):
        cells = [pattern.format(float(result[key])) for key, _, pattern in METRICS]
        lines.append(f"| seed {seed} | " + " | ".join(cells) + " |")
    for name, result in calibration.items():
        cells = [pattern.format(float(result[key])) if key in result else "—" for key, _, pattern in METRICS]
        lines.append(f"| *calibration: `{name}`* | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace) -> int:
    extractor = load_classifier()
    run_dirs = [train_seed(args, seed) for seed in args.seeds]
    results = []
    for seed, run_dir in zip(args.seeds, run_dirs):
        results.append(evaluate_run(run_dir, args.n, extractor))
        print(f"seed {seed}: FID {results[-1]['fid']:.3f}, recall {results[-1]['recall']:.3f}")
    calibration = {}
    for name in CALIBRATION:
        calibration[name] = evaluate_images(calibration_images(name, args.n), n=args.n, extractor=extractor)
    text = markdown(args.preset, args.seeds, results, calibration, extractor, args.n)
    print()
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
