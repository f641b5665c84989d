"""How long does scoring 10,000 samples take once the real statistics are cached?

Usage::

    python bench/bench_evaluate.py                     # 10,000 samples, 5 repeats, 1 thread
    python bench/bench_evaluate.py --run runs/seed-…   # samples from a trained run instead
    python bench/bench_evaluate.py --threads 2 --repeats 3 --no-memorisation

The samples come from a generator (the ``seed`` preset's MLP, untrained unless ``--run`` is
given: the cost does not depend on the weights) drawn once; what is timed is
``evaluate_images(samples)``: embedding, FID, KID (100 subsets of 1,000), precision/recall,
density/coverage, class metrics and the nearest-training-image search. A first untimed call
fills the cache (the test and train splits' features and the reference statistics). Reports
the median and range of wall-clock and process CPU seconds, and a per-stage breakdown of one
call. The figure goes into docs/metrics.md ("Performance").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import gan_atelier as api
from gan_atelier.config import get_config
from gan_atelier.models import build_models


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="threads of evaluate_images (its default is 1)")
    parser.add_argument("--run", help="a run folder or checkpoint to sample from (default: an untrained seed G)")
    parser.add_argument("--no-memorisation", action="store_true")
    return parser


def stage_breakdown(images: torch.Tensor, memorisation: bool) -> dict[str, float]:
    """Seconds per stage of one evaluation (same calls as evaluate_features, timed one by one)."""
    from gan_atelier.metrics import class_metrics, extract_features, load_classifier, prdc, real_reference
    from gan_atelier.metrics.distances import frechet_distance, gaussian_stats, kernel_distance
    from gan_atelier.metrics.memorisation import nearest_distances
    from gan_atelier.metrics.reference import split_features

    extractor = load_classifier()
    times: dict[str, float] = {}

    def timed(name, function, *arguments, **keywords):
        started = time.perf_counter()
        value = function(*arguments, **keywords)
        times[name] = time.perf_counter() - started
        return value

    generated = timed("embed samples", extract_features, images, extractor)
    reference = timed("load cached reference", real_reference, "test", len(images), extractor=extractor)
    timed("FID", lambda: frechet_distance(gaussian_stats(generated.features), reference.stats))
    timed("KID (100 × 1000)", kernel_distance, reference.features.features, generated.features)
    timed("precision/recall/density/coverage", prdc, reference.features.features, generated.features,
          real_radii=reference.radii)
    timed("class metrics", class_metrics, generated.logits)
    if memorisation:
        train = timed("load cached train features", split_features, "fashion-mnist", "train", extractor)[0]
        timed("nearest training image", nearest_distances, generated.features, train.features)
    return times


def main(args: argparse.Namespace) -> int:
    from gan_atelier.metrics import evaluate_images

    torch.set_num_threads(args.threads)  # sampling and the stage breakdown; evaluate_images gets threads=
    if args.run:
        generator = api.load_generator(args.run)
    else:
        torch.manual_seed(0)
        generator, _ = build_models(get_config("seed"))
        generator.run_config = get_config("seed")
    images = api.sample(generator, args.n, seed=0)
    memorisation = not args.no_memorisation
    started = time.perf_counter()
    evaluate_images(images, n=args.n, memorisation=memorisation, threads=args.threads)  # fills the cache
    print(f"first call (fills the cache if empty): {time.perf_counter() - started:.1f} s")
    walls, cpus = [], []
    for repeat in range(args.repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        evaluate_images(images, n=args.n, memorisation=memorisation, threads=args.threads)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        print(f"repeat {repeat + 1}: {walls[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU", flush=True)
    print(f"\nevaluate_images, N = {args.n}, cached real statistics, {args.threads} thread(s), "
          f"torch {torch.__version__}:")
    print(f"  wall: median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f})")
    print(f"  CPU : median {statistics.median(cpus):.2f} s (min {min(cpus):.2f}, max {max(cpus):.2f})")
    print("\none call by stage:")
    for name, seconds in stage_breakdown(images, memorisation).items():
        print(f"  {name:36s} {seconds:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
