"""Score a set of images against real data: every metric, one dict, one readable table.

Protocol (``docs/metrics.md``): N generated images (10,000 by default) against the first N
images of the Fashion-MNIST **test** split, all in the 128-d feature space of the shipped
classifier "FMNIST-CNN v1". Results are only comparable at the same N, the same reference
split and the same extractor hash, which is why every result carries all three.
"""

from __future__ import annotations

import time

import torch

from .classes import class_metrics
from .distances import frechet_distance, gaussian_stats, kernel_distance
from .features import FID_NAME, Extractor, FeatureSet, extract_features, load_classifier, torch_threads
from .memorisation import memorisation_scores, nearest_distances
from .prdc import prdc
from .reference import Reference, real_reference, split_features, nearest_train_baseline

DEFAULT_SAMPLES = 10000
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
# One thread by default: the result is then the same whatever the caller's setting (reductions
# in matrix products change with the thread count), and on a shared 2-core machine one thread
# was 3-4× faster than two (bench/bench_evaluate.py, docs/metrics.md "Performance").
METRIC_THREADS = 1


def evaluate_features(generated: FeatureSet, reference: Reference, extractor: Extractor, *,
                      memorisation: bool = True, kid_subsets: int = KID_SUBSETS,
                      kid_subset_size: int = KID_SUBSET_SIZE, data_dir: str | None = None,
                      use_cache: bool = True) -> dict:
    """All metrics of embedded generated images against a real :class:`Reference`."""
    real = reference.features.features
    fake = generated.features
    result: dict = {
        "metric": FID_NAME,
        "extractor": extractor.describe(),
        "n_generated": len(generated),
        "reference": reference.describe(),
        "fid": frechet_distance(gaussian_stats(fake), reference.stats),
    }
    kid_mean, kid_std = kernel_distance(real, fake, subsets=kid_subsets, subset_size=kid_subset_size)
    result.update(kid=kid_mean, kid_std=kid_std, kid_subsets=kid_subsets,
                  kid_subset_size=min(kid_subset_size, len(generated), reference.n))
    result.update(prdc(real, fake, real_radii=reference.radii))
    result.update(class_metrics(generated.logits))
    if memorisation:
        train_features, _, _ = split_features(reference.dataset, "train", extractor, data_dir=data_dir,
                                              use_cache=use_cache)
        baseline = nearest_train_baseline(reference.n, extractor=extractor, data_dir=data_dir, use_cache=use_cache)
        result.update(memorisation_scores(nearest_distances(fake, train_features.features), baseline))
    return result


def evaluate_images(images: torch.Tensor, *, real: str = "test", n: int = DEFAULT_SAMPLES,
                    extractor: Extractor | None = None, memorisation: bool = True,
                    kid_subsets: int = KID_SUBSETS, kid_subset_size: int = KID_SUBSET_SIZE,
                    data_dir: str | None = None, use_cache: bool = True,
                    threads: int = METRIC_THREADS) -> dict:
    """Evaluate up to ``n`` images ``(N, 1, 28, 28)`` in [0, 1] against the real ``real`` split.

    The first ``min(n, N)`` images are used, against the first as many images of the split
    (capped by its size). Returns a flat dict: ``fid``, ``kid``, ``kid_std``, ``precision``,
    ``recall``, ``density``, ``coverage``, ``class_histogram``, ``class_entropy`` (nats),
    ``kl_to_uniform``, ``classes_covered``, ``min_class_share``, ``max_class_share``,
    ``classifier_is``, ``classifier_is_std``, the memorisation scores, and the protocol
    (``metric``, ``extractor``, ``n_generated``, ``reference``, ``seconds``). Runs on
    ``threads`` torch threads (restored afterwards).
    """
    started = time.perf_counter()
    extractor = extractor or load_classifier()
    images = images[:n]
    with torch_threads(threads):
        generated = extract_features(images, extractor)
        reference = real_reference(real, len(generated), extractor=extractor, data_dir=data_dir,
                                   use_cache=use_cache)
        result = evaluate_features(generated, reference, extractor, memorisation=memorisation,
                                   kid_subsets=kid_subsets, kid_subset_size=kid_subset_size,
                                   data_dir=data_dir, use_cache=use_cache)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


# ------------------------------------------------------------------------------ report
ROWS = (
    # key, label, format, what a better score looks like
    ("fid", "classifier FID", "{:.3f}", "lower; 0 = same Gaussian as the real features"),
    ("kid", "classifier KID", "{:.5f}", "lower; ≈ 0 for the same distribution"),
    ("precision", "precision (k=3)", "{:.3f}", "higher: samples look real"),
    ("recall", "recall (k=3)", "{:.3f}", "higher: the real variety is produced"),
    ("density", "density (k=5)", "{:.3f}", "≈ 1 for real data; > 1 crowds dense regions"),
    ("coverage", "coverage (k=5)", "{:.3f}", "higher; ≈ 0.97 for real data"),
    ("class_entropy", "class entropy (nats)", "{:.3f}", "max ln 10 = 2.303 (even classes)"),
    ("kl_to_uniform", "KL(classes ‖ uniform)", "{:.4f}", "lower; 0 = even classes"),
    ("classes_covered", "classes covered (≥ 1 %)", "{:d}", "10 of 10"),
    ("min_class_share", "rarest class share", "{:.3f}", "0.100 when even"),
    ("max_class_share", "commonest class share", "{:.3f}", "0.100 when even"),
    ("classifier_is", "classifier IS", "{:.3f}", "max 10; diagnostic only"),
    ("memorisation_ratio", "memorisation ratio", "{:.3f}", "< 1: closer to train images than test images are"),
    ("near_copy_share", "near-copy share", "{:.4f}", "≈ 0.01 for novel samples"),
)


def format_report(result: dict, class_names: tuple[str, ...] | None = None) -> str:
    """A plain-text table of :func:`evaluate_images`' result, with the protocol on top."""
    extractor, reference = result["extractor"], result["reference"]
    lines = [
        f"{result['metric']} evaluation — extractor {extractor['name']} "
        f"(sha256 {extractor['sha256'][:12]}…, {extractor['feature_dim']}-d features)",
        f"N = {result['n_generated']} generated vs {reference['n']} real "
        f"({reference['dataset']} {reference['split']} split, first {reference['n']} images)",
        "",
        f"{'metric':26s} {'value':>19s}   better",
    ]
    for key, label, pattern, hint in ROWS:
        if key not in result:
            continue
        value = pattern.format(result[key])
        if key == "kid":
            value = f"{result['kid']:.5f} ± {result['kid_std']:.5f}"
        if key == "classifier_is":
            value = f"{result['classifier_is']:.3f} ± {result['classifier_is_std']:.3f}"
        lines.append(f"{label:26s} {value:>19s}   {hint}")
    histogram = result.get("class_histogram")
    if histogram:
        total = sum(histogram)
        names = class_names or tuple(str(i) for i in range(len(histogram)))
        lines += ["", "predicted classes: " + ", ".join(
            f"{name} {count / total:.1%}" for name, count in zip(names, histogram))]
    if "seconds" in result:
        lines.append(f"({result['seconds']:.1f} s)")
    return "\n".join(lines)
