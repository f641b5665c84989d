"""Honest offline metrics in the feature space of a Fashion-MNIST classifier the project ships.

The numbers are *classifier* metrics ("FID-FMNIST-CNN v1"), not Inception FID; see
``docs/metrics.md`` for the protocol and a calibration table. The API a notebook uses::

    from gan_atelier.metrics import evaluate_images, format_report
    result = evaluate_images(images)          # (N, 1, 28, 28) in [0, 1] vs the test split
    print(format_report(result))

    extractor = load_classifier()             # hash-checked, weights_only
    feats = extract_features(images)          # .features (N, 128), .logits (N, 10)
    counts = class_histogram(predict_classes(images))

Modules: ``classifier`` (the CNN and its training), ``features`` (loading, embedding),
``distances`` (FID, KID), ``prdc`` (precision/recall, density/coverage), ``classes``
(histogram, entropy, classifier IS), ``memorisation``, ``reference`` (cached real statistics),
``evaluate`` (everything together), ``calibration`` (damaged real sets), ``inception``
(optional, local weights only). The ``train.eval_every`` evaluator built on them is
:mod:`gan_atelier.training.evaluation`; the ``evaluate`` and ``classifier`` commands are in
:mod:`gan_atelier.cli`.
"""

from .classes import (class_histogram, class_metrics, classes_covered, classifier_inception_score,
                      entropy_nats, kl_to_uniform, per_class_histograms)
from .distances import fid_from_features, frechet_distance, gaussian_stats, kernel_distance
from .evaluate import evaluate_features, evaluate_images, format_report
from .features import (FID_NAME, Extractor, FeatureSet, extract_features, load_classifier,
                       predict_classes)
from .prdc import density_coverage, precision_recall, prdc
from .reference import real_reference

__all__ = [
    "FID_NAME", "Extractor", "FeatureSet", "class_histogram", "class_metrics", "classes_covered",
    "classifier_inception_score", "density_coverage", "entropy_nats", "evaluate_features",
    "evaluate_images", "extract_features", "fid_from_features", "format_report", "frechet_distance",
    "gaussian_stats", "kernel_distance", "kl_to_uniform", "load_classifier", "per_class_histograms",
    "prdc", "precision_recall", "predict_classes", "real_reference",
]
