"""Within-cluster collapse of a self-conditioned G (``model.clusters``): pixel diversity per cluster.

Usage::

    python bench/cluster_diversity.py RUN [RUN ...] [--per-cluster 200] [--samples 6000]

For each run folder: the training images' clusters are recomputed exactly as the trainer made them
(:func:`gan_atelier.clusters.pixel_clusters` with the run's ``train.seed``), G draws ``--samples``
images from N(0, I) (seed 0; its sampling generator, the EMA when present) and files each under the
cluster c(z) it drew, and for every cluster j the ratio

    r_j = pixel_diversity(first n fakes of cluster j) / pixel_diversity(first n real images of cluster j)

is printed (pixel diversity: :func:`gan_atelier.collapse.pixel_diversity`, the mean Euclidean
distance between two images; n = ``--per-cluster``). A G that repeats a few images within a
cluster has r_j near 0 there even when its overall pixel diversity and class coverage look
healthy — the failure of the 30-cluster runs in docs/results.md, which the training-time detector
did not see. One JSON line per run: min, 10 % quantile and median of r, and the share of clusters
with r < 0.5.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from gan_atelier import config as cfg
from gan_atelier.clusters import pixel_clusters
from gan_atelier.collapse import pixel_diversity
from gan_atelier.data import load_split
from gan_atelier.inference import load_generator


def cluster_ratios(run: Path, images: torch.Tensor, per_cluster: int, samples: int) -> list[float]:
    generator = load_generator(run)
    seed = cfg.load_toml(run / "config.toml").train.seed  # the trainer's k-means seed
    k = generator.prior.numel()
    real_clusters = pixel_clusters(images, k, seed=seed).assignments
    z = torch.randn(samples, generator.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fake_clusters, fakes = generator.clusters_of(z), generator(z).flatten(1).double()
    real = images.flatten(1).double() / 255
    return [pixel_diversity(fakes[fake_clusters == j][:per_cluster])
            / pixel_diversity(real[real_clusters == j][:per_cluster]) for j in range(k)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--per-cluster", type=int, default=200)
    parser.add_argument("--samples", type=int, default=6000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    images = load_split("fashion-mnist", "train").images
    for run in args.runs:
        r = torch.tensor(cluster_ratios(run, images, args.per_cluster, args.samples))
        print(json.dumps({"run": str(run), "clusters": r.numel(), "min": round(r.min().item(), 3),
                          "q10": round(r.quantile(0.1).item(), 3), "median": round(r.median().item(), 3),
                          "share_below_0.5": round((r < 0.5).float().mean().item(), 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
