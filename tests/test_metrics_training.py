"""The train.eval_every evaluator: fixed noise, the four columns, no effect on training, the collapse alarm."""

from __future__ import annotations

import csv
import math

import pytest
import torch

import gan_atelier as api
from gan_atelier.config import get_config
from gan_atelier.data import synthetic_split
from gan_atelier.training.evaluation import training_evaluator
from gan_atelier.training import Trainer, state_hash

SAMPLES = 200


@pytest.fixture(autouse=True)
def _shared_stats_cache(tmp_path_factory, monkeypatch, real_data_dir):
    monkeypatch.setenv("GAN_ATELIER_STATS_CACHE", str(tmp_path_factory.getbasetemp() / "training-stats"))


def _trainer(**overrides) -> Trainer:
    values = {"train.eval_every": 1, "train.eval_samples": SAMPLES, "train.threads": 1, **overrides}
    config = get_config("dry-run", values)
    return Trainer(config, synthetic_split(256, seed=0))


def test_the_evaluator_returns_the_four_columns_from_fixed_noise():
    trainer = _trainer()
    evaluate = training_evaluator(trainer)
    first, second = evaluate(trainer), evaluate(trainer)
    assert set(first) == {"fid", "recall", "class_entropy", "classes_covered"}
    assert first == second  # same noise, same generator: same numbers
    assert first["fid"] > 0 and 0 <= first["recall"] <= 1
    assert 0 <= first["class_entropy"] <= math.log(10) + 1e-12
    assert isinstance(first["classes_covered"], int) and 0 <= first["classes_covered"] <= 10


def test_evaluating_does_not_touch_the_training_state():
    trainer = _trainer()
    evaluate = training_evaluator(trainer)
    torch.manual_seed(123)
    before, global_rng = state_hash(trainer), torch.get_rng_state()
    evaluate(trainer)
    assert state_hash(trainer) == before
    assert torch.equal(torch.get_rng_state(), global_rng)
    assert trainer.generator.training  # left in training mode


def test_building_the_evaluator_leaves_the_global_rng_alone(monkeypatch):
    """The first load of the classifier builds a network (random init); D's dropout reads the same RNG."""
    from gan_atelier.metrics import features

    monkeypatch.setattr(features, "_LOADED", {})  # as in a fresh process: the classifier is built here
    trainer = _trainer()
    torch.manual_seed(7)
    before = torch.get_rng_state()
    training_evaluator(trainer)
    assert torch.equal(torch.get_rng_state(), before)


def test_a_collapsed_generator_raises_one_alarm_after_established_coverage():
    """The detector has seen ten even classes; G then collapses to one image: alarm at the second evaluation."""
    from gan_atelier.collapse import PERSIST_EVALUATIONS

    trainer = _trainer()
    for epoch in (1, 2):  # coverage established: as a resumed state would hold
        assert trainer.collapse.check_classes(epoch, [SAMPLES // 10] * 10) is None
    evaluate = training_evaluator(trainer)
    with torch.no_grad():  # collapse: G ignores z and draws one image
        for parameter in trainer.generator.parameters():
            parameter.zero_()
    for _ in range(PERSIST_EVALUATIONS - 1):
        row = evaluate(trainer)
        assert trainer.alarms == []  # not yet: one collapsing evaluation may be noise
    row = evaluate(trainer)
    assert row["classes_covered"] == 1 and row["class_entropy"] == 0.0
    assert len(trainer.alarms) == 1
    assert "class coverage collapsing" in trainer.alarms[0] and "(epoch 1: 10)" in trainer.alarms[0]
    evaluate(trainer)
    assert len(trainer.alarms) == 1  # said once, not at every evaluation


def test_the_evaluator_gives_the_detector_the_images_seen_for_the_blob_deadline():
    """A G that never leaves one class: silent before the deadline, one alarm at the evaluation past it."""
    from gan_atelier.collapse import BLOB_DEADLINE_IMAGES

    trainer = _trainer()
    evaluate = training_evaluator(trainer)
    with torch.no_grad():
        for parameter in trainer.generator.parameters():
            parameter.zero_()
    images = trainer.images.shape[0]
    trainer.epoch = 1
    evaluate(trainer)
    assert trainer.alarms == []
    trainer.epoch = math.ceil(BLOB_DEADLINE_IMAGES / images)
    evaluate(trainer)
    assert len(trainer.alarms) == 1 and trainer.alarms[0].startswith(
        f"class coverage never established by epoch {trainer.epoch} ({trainer.epoch * images:,} training images")
    evaluate(trainer)
    assert len(trainer.alarms) == 1  # once


def test_train_with_eval_every_writes_the_columns(tmp_path):
    config = get_config("dry-run", {"train.eval_every": 1, "train.eval_samples": SAMPLES, "train.threads": 1})
    run = api.train(config, tmp_path / "run", dry_run=True, progress=False, verbose=False)
    with open(tmp_path / "run" / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == config.train.epochs
    for row in rows:
        assert float(row["fid"]) > 0 and 0 <= float(row["recall"]) <= 1
        assert 0 <= float(row["class_entropy"]) and 0 <= int(float(row["classes_covered"])) <= 10
    assert (run.run_dir / "curves.png").is_file()
