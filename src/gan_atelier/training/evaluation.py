"""The cheap in-training evaluation behind ``train.eval_every``.

Every ``eval_every`` epochs the trainer's sampling generator draws ``train.eval_samples``
images (2,000 by default) from the *same* noise each time, so successive rows of
``metrics.csv`` differ only by training; they are scored against the first as many test
images. Four numbers are kept: classifier FID, recall (k = 3), class entropy (nats) and
classes covered. FID at 2,000 samples is biased upwards compared with the 10,000-sample
protocol: compare it along one run, not with ``gan-atelier evaluate``.

Its noise is the run's eval stream (:meth:`RunSeeds.eval_noise`, ``seed + 4``). Each evaluation
also feeds the run's collapse detector (:class:`gan_atelier.collapse.CollapseDetector`,
the one ``lab mode-collapse`` uses, which also watches pixel diversity every epoch): one alarm line
(:meth:`Trainer.add_alarm`) when class coverage collapses: classes surely present at the run's best
evaluation now surely absent, or the effective number of classes surely halved, judged with
confidence bounds on the histogram of the ``eval_samples`` images and held over consecutive
evaluations, or when coverage was never established (G stuck at the blob stage) once the run has
seen ``BLOB_DEADLINE_IMAGES`` training images (the rules and their formulas: :mod:`gan_atelier.collapse`).
It warns once per collapse and re-arms when the run recovers.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..data import CLASS_NAMES
from ..errors import ConfigError
from ..metrics.classes import class_histogram, classes_covered, entropy_nats
from ..metrics.distances import frechet_distance, gaussian_stats
from ..metrics.features import extract_features, load_classifier, torch_threads
from ..metrics.prdc import precision_recall
from ..metrics.reference import real_reference

BATCH = 1000


def training_evaluator(trainer) -> Callable[[Any], dict]:
    """A callable ``evaluate(trainer) -> {"fid", "recall", "class_entropy", "classes_covered"}``.

    Everything expensive happens here, once: the classifier is loaded, the real statistics
    are read from the cache (or computed and cached), the evaluation noise is drawn.
    """
    config = trainer.config
    if config.data.dataset != "fashion-mnist":
        raise ConfigError(f"train.eval_every needs the Fashion-MNIST classifier; no classifier is shipped "
                          f"for {config.data.dataset!r} (set train.eval_every=0)")
    count = config.train.eval_samples
    if count < 10:
        raise ConfigError(f"bad value {count} for train.eval_samples: the metrics need at least 10 samples")
    with torch.random.fork_rng(devices=[]):  # building the classifier (first load) draws from the global RNG,
        extractor = load_classifier()        # which D's dropout uses: without the fork, eval would change training
        reference = real_reference("test", count, extractor=extractor, data_dir=config.data.data_dir or None)
    real = reference.features.features
    noise = trainer.seeds.eval_noise(count, config.model.latent_dim)  # CPU: the same on any device
    labels = torch.arange(count) % 10 if trainer.conditional else None

    def evaluate(trainer) -> dict:
        images = torch.cat([
            trainer.sample_images(noise[start:start + BATCH],
                                  labels[start:start + BATCH] if labels is not None else None)
            for start in range(0, count, BATCH)])  # (count, 1, 28, 28)
        with torch_threads(1):  # the same numbers whatever train.threads is
            generated = extract_features(images, extractor)
            counts = class_histogram(generated.logits.argmax(dim=1))
            row = {
                "fid": frechet_distance(gaussian_stats(generated.features), reference.stats),
                "recall": precision_recall(real, generated.features, 3, real_radii=reference.radii[3])[1],
                "class_entropy": entropy_nats(counts),
                "classes_covered": classes_covered(counts),
            }
        alarm = trainer.collapse.check_classes(trainer.epoch, counts.tolist(), CLASS_NAMES["fashion-mnist"],
                                               images_seen=trainer.epoch * trainer.images.shape[0])
        if alarm:
            trainer.add_alarm(alarm)
        return row

    return evaluate
