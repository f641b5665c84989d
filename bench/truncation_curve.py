"""Precision / recall (and classifier FID) of one generator against the truncation threshold T.

Usage::

    python bench/truncation_curve.py RUN_OR_PT --thresholds 0.5 1 1.5 2 --samples 10000 [--out curve.json]

``RUN_OR_PT``: a run folder / checkpoint / ``.safetensors`` (``inference.load_generator``, EMA
weights when present) or a ``.pt`` written by ``bench/recipe_search.py --save`` (its ``ema`` weights, on
the `modern` preset's networks). For each T, ``inference.sample(G, n, seed=0, truncation=T)``
(every latent component with |z_k| > T redrawn; T = inf: the plain N(0, I) prior) is scored by
``metrics.evaluate_images`` against the first n test images (FMNIST-CNN v1 features, k = 3).
Prints one JSON line per T and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

from gan_atelier.config import get_config
from gan_atelier.inference import load_generator, sample
from gan_atelier.metrics.evaluate import evaluate_images
from gan_atelier.metrics.features import load_classifier, predict_classes
from gan_atelier.models import build_models


def load(path: str) -> torch.nn.Module:
    if path.endswith(".pt") and "ema" in torch.load(path, map_location="cpu", weights_only=True):
        state = torch.load(path, map_location="cpu", weights_only=True)
        generator, _ = build_models(get_config("modern-plain"))  # recipe_search's networks
        generator.load_state_dict(state["ema"])
        return generator.eval()
    return load_generator(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0, math.inf])
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    generator = load(args.source)
    rows = []
    for threshold in args.thresholds:
        truncation = None if math.isinf(threshold) else threshold
        images = sample(generator, args.samples, seed=0, truncation=truncation)
        result = evaluate_images(images, n=args.samples, memorisation=False, kid_subsets=10)
        row = {"truncation": threshold, **{k: round(float(result[k]), 4)
                                           for k in ("fid", "precision", "recall", "coverage")}}
        if generator.conditional:  # the class asked for (api.sample's balanced labels) against the one seen
            predicted = predict_classes(images, load_classifier())
            row["label_agreement"] = round(float((predicted == torch.arange(args.samples) % 10).float().mean()), 4)
        rows.append(row)
        print(json.dumps(row), flush=True)
    agreement = "label_agreement" in rows[0]
    print("\n| T | classifier FID | precision | recall | coverage |" + (" label agreement |" if agreement else "")
          + "\n|---:|---:|---:|---:|---:|" + ("---:|" if agreement else ""))
    for row in rows:
        name = "∞ (N(0, I))" if math.isinf(row["truncation"]) else f"{row['truncation']:g}"
        print(f"| {name} | {row['fid']:.1f} | {row['precision']:.3f} | {row['recall']:.3f} | {row['coverage']:.3f} |"
              + (f" {row['label_agreement']:.3f} |" if agreement else ""))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
