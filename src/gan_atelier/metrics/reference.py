"""Real-data reference statistics, computed once and cached on disk.

A reference is what every generated set is compared with: the features of the first ``n``
images of a real split, their Gaussian fit (for FID) and their k-NN radii (for
precision/recall and density/coverage). The memorisation baseline, each test image's distance
to its nearest *training* image, is cached separately (it needs the 60,000 training images).
Computing them means embedding 10,000 (or 60,000) real images; the cache makes every later
evaluation start from a file.

Cache: ``$XDG_CACHE_HOME/gan-atelier/stats/`` (default ``~/.cache/…``): one feature file per
(extractor SHA-256, dataset, data SHA-256, split), one statistics file per (…, n), written
atomically and read with ``weights_only=True``. A file that fails to load or does not match its key is recomputed.
Set ``GAN_ATELIER_STATS_CACHE`` to use another folder.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..checkpoint import atomic_write_bytes
from ..data import load_split
from ..errors import DataError, WriteError
from .distances import GaussianStats, gaussian_stats
from .features import Extractor, FeatureSet, extract_features, load_classifier
from .prdc import knn_radii_squared
from .memorisation import nearest_distances

CACHE_VERSION = 2  # 2: features computed on one thread (features.FEATURE_THREADS)
K_VALUES = (3, 5)  # precision/recall and density/coverage


def stats_cache_dir() -> Path:
    override = os.environ.get("GAN_ATELIER_STATS_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gan-atelier" / "stats"


@dataclass
class Reference:
    """Statistics of the first ``n`` images of one real split, in one extractor's feature space."""

    dataset: str
    split: str
    n: int
    data_sha256: str
    extractor_sha256: str
    features: FeatureSet
    stats: GaussianStats
    radii: dict[int, torch.Tensor]  # k → squared k-NN radii (n,)

    def describe(self) -> dict:
        return {"dataset": self.dataset, "split": self.split, "n": self.n,
                "data_sha256": self.data_sha256}


def _read(path: Path) -> dict | None:
    try:
        return torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception:  # missing, partial or foreign file: recompute instead
        return None


def _write(path: Path, payload: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, lambda file: torch.save(payload, file))
    except (OSError, WriteError) as error:
        # An unwritable cache only costs time: warn and carry on.
        warnings.warn(f"could not cache real statistics in {path.parent} ({error})", stacklevel=3)


def split_features(dataset: str, split: str, extractor: Extractor, *, data_dir: str | None = None,
                   use_cache: bool = True) -> tuple[FeatureSet, torch.Tensor, str]:
    """Features of a whole real split, its labels and its data SHA-256 (cached)."""
    data = load_split(dataset, split, data_dir)
    path = stats_cache_dir() / f"features-{dataset}-{split}-{extractor.short_hash}-{data.sha256[:12]}.pt"
    key = {"version": CACHE_VERSION, "extractor_sha256": extractor.sha256, "data_sha256": data.sha256,
           "dataset": dataset, "split": split}
    cached = _read(path) if use_cache else None
    if cached is not None and cached.get("key") == key:
        return FeatureSet(cached["features"], cached["logits"]), data.labels, data.sha256
    features = extract_features(data.images, extractor)
    if use_cache:
        _write(path, {"key": key, "features": features.features, "logits": features.logits})
    return features, data.labels, data.sha256


def real_reference(split: str = "test", n: int = 10000, *, dataset: str = "fashion-mnist",
                   extractor: Extractor | None = None, data_dir: str | None = None,
                   use_cache: bool = True) -> Reference:
    """The reference statistics of the first ``n`` images of ``split`` (cached)."""
    if dataset != "fashion-mnist":
        raise DataError(f"metrics are defined for fashion-mnist only (the shipped classifier); got {dataset!r}")
    if n < 2:
        raise DataError(f"the reference needs at least 2 images, got n = {n}")
    extractor = extractor or load_classifier()
    features, _, data_sha256 = split_features(dataset, split, extractor, data_dir=data_dir, use_cache=use_cache)
    n = min(n, len(features))
    path = stats_cache_dir() / f"stats-{dataset}-{split}-n{n}-{extractor.short_hash}-{data_sha256[:12]}.pt"
    key = {"version": CACHE_VERSION, "extractor_sha256": extractor.sha256, "data_sha256": data_sha256,
           "dataset": dataset, "split": split, "n": n}
    cached = _read(path) if use_cache else None
    if cached is not None and cached.get("key") == key:
        stats = GaussianStats(cached["mean"], cached["covariance"], n)
        radii = {k: cached["radii"][str(k)] for k in K_VALUES}
    else:
        subset = features.head(n).features
        stats = gaussian_stats(subset)
        radii = {k: knn_radii_squared(subset, k) for k in K_VALUES}
        if use_cache:
            _write(path, {"key": key, "mean": stats.mean, "covariance": stats.covariance,
                          "radii": {str(k): value for k, value in radii.items()}})
    return Reference(dataset, split, n, data_sha256, extractor.sha256, features.head(n), stats, radii)


def nearest_train_baseline(n: int, *, dataset: str = "fashion-mnist", extractor: Extractor | None = None,
                       data_dir: str | None = None, use_cache: bool = True) -> torch.Tensor:
    """Distance of each of the first ``n`` test images to its nearest training image, ``(n,)`` (cached).

    The memorisation baseline: how close real images the generator never saw sit to the
    training set.
    """
    extractor = extractor or load_classifier()
    test_features, _, test_sha256 = split_features(dataset, "test", extractor, data_dir=data_dir,
                                                   use_cache=use_cache)
    n = min(n, len(test_features))
    path = stats_cache_dir() / f"nntrain-{dataset}-test-n{n}-{extractor.short_hash}-{test_sha256[:12]}.pt"
    key = {"version": CACHE_VERSION, "extractor_sha256": extractor.sha256, "data_sha256": test_sha256,
           "dataset": dataset, "n": n}
    cached = _read(path) if use_cache else None
    if cached is not None and cached.get("key") == key:
        return cached["distances"]
    train_features, _, _ = split_features(dataset, "train", extractor, data_dir=data_dir, use_cache=use_cache)
    distances = nearest_distances(test_features.head(n).features, train_features.features)
    if use_cache:
        _write(path, {"key": key, "distances": distances})
    return distances
