"""The cheap in-training evaluation behind ``train.eval_every``.

Every ``eval_every`` epochs the trainer's sampling generator draws ``train.eval_samples``
images (2,000 by default) from the *same* noise each time, so successive rows of
``metrics.csv`` differ only by training; they are scored against the first as many test
images. Four numbers are kept: classifier FID, recall (k = 3), class entropy (nats) and
classes covered. FID at 2,000 samples is biased upwards compared with the 10,000-sample
protocol: compare it along one run, not with ``gan-atelier evaluate``.

The evaluator appends one alarm line to ``trainer.alarms`` when class coverage collapses:
two or more classes lost, or the class entropy down by more than 0.3 nats, compared with the
best evaluation so far in this run (after a resume, the best is read back from the history).
It warns once per collapse and re-arms when the run recovers.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..errors import ConfigError
from .classes import class_histogram, classes_covered, entropy_nats
from .distances import frechet_distance, gaussian_stats
from .features import extract_features, load_classifier, torch_threads
from .prdc import precision_recall
from .reference import real_reference

EVAL_NOISE_SEED_OFFSET = 4  # seeds seed..seed+3 are the trainer's; the eval noise gets seed + 4
CLASSES_LOST_ALARM = 2
ENTROPY_DROP_ALARM = 0.3  # nats (ln 10 = 2.303 is the even-class maximum)
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
    extractor = load_classifier()
    reference = real_reference("test", count, extractor=extractor, data_dir=config.data.data_dir or None)
    real = reference.features.features
    noise_generator = torch.Generator().manual_seed(config.train.seed + EVAL_NOISE_SEED_OFFSET)
    noise = torch.randn(count, config.model.latent_dim, generator=noise_generator)  # CPU: same on any device
    labels = torch.arange(count) % 10 if trainer.conditional else None
    best: dict[str, Any] = {"entropy": None, "covered": None, "epoch": None, "alarmed": False}
    for row in trainer.history:  # after a resume: the best of the evaluations already done
        _update_best(best, row.get("class_entropy"), row.get("classes_covered"), row.get("epoch"))

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
        alarm = _collapse_alarm(best, row, trainer.epoch)
        if alarm:
            trainer.alarms.append(alarm)
        _update_best(best, row["class_entropy"], row["classes_covered"], trainer.epoch)
        return row

    return evaluate


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and value == value  # not None, not NaN


def _update_best(best: dict, entropy, covered, epoch) -> None:
    if not (_is_number(entropy) and _is_number(covered)):
        return
    if best["entropy"] is None or entropy > best["entropy"]:
        best["entropy"], best["epoch"] = float(entropy), epoch
    best["covered"] = max(best["covered"] or 0, int(covered))


def _collapse_alarm(best: dict, row: dict, epoch: int) -> str | None:
    """One line when coverage collapses versus the best so far; ``None`` otherwise (or if already said)."""
    if best["entropy"] is None:
        return None
    lost = best["covered"] - row["classes_covered"]
    drop = best["entropy"] - row["class_entropy"]
    collapsed = lost >= CLASSES_LOST_ALARM or drop > ENTROPY_DROP_ALARM
    if not collapsed:
        best["alarmed"] = False
        return None
    if best["alarmed"]:
        return None
    best["alarmed"] = True
    return (f"class coverage collapsing at epoch {epoch}: {row['classes_covered']} classes covered "
            f"(best {best['covered']}), class entropy {row['class_entropy']:.2f} nats "
            f"(best {best['entropy']:.2f} at epoch {best['epoch']}); mode collapse?")
