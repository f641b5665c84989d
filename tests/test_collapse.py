"""The mode-collapse detector shared by ordinary training and ``lab mode-collapse``."""

from __future__ import annotations

import csv

import pytest
import torch

import gan_atelier as api
from gan_atelier.collapse import (COLLAPSE_EPOCHS, COLLAPSED_DIVERSITY, CollapseDetector, collapsed_from,
                                  pixel_diversity, real_diversity)
from gan_atelier.config import get_config
from gan_atelier.data import synthetic_split
from gan_atelier.training import Trainer, state_hash


def test_pixel_diversity_closed_forms():
    image = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert pixel_diversity(image.repeat(5, 1, 1, 1)) == pytest.approx(0.0, abs=1e-6)
    pair = torch.cat([image, torch.zeros(1, 1, 28, 28)])
    assert pixel_diversity(pair) == pytest.approx(float(image.norm()), rel=1e-6)  # one pair: its distance
    assert pixel_diversity(image) == 0.0
    # Three points at mutual distances 3, 4, 5 (a right triangle): the mean of the pairs is 4.
    triangle = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert pixel_diversity(triangle) == pytest.approx(4.0)


def test_real_diversity_reads_uint8_as_pixels_in_0_1():
    images = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    assert real_diversity(images) == pytest.approx(pixel_diversity(images.double() / 255))


def test_collapse_onset():
    assert collapsed_from([0.01, 0.5, 0.008, 0.004, 0.002]) == 2
    assert collapsed_from([0.01, 0.5]) is None
    assert collapsed_from([0.001, 0.002]) == 0
    assert collapsed_from([0.05, 0.08], threshold=0.1) == 0


def _alarms(detector: CollapseDetector, diversities: list[float]) -> list[int]:
    return [epoch for epoch, value in enumerate(diversities, 1) if detector.check_diversity(epoch, value)]


def test_diversity_alarm_needs_consecutive_epochs_and_rearms():
    assert COLLAPSE_EPOCHS == 3 and COLLAPSED_DIVERSITY == 0.02
    # Measured sequences (see gan_atelier.collapse): the quick preset and the lab's healthy run
    # leave a blob stage; the lab's collapsing run stays at ~0 from epoch 1 and warns at epoch 3.
    assert _alarms(CollapseDetector(), [0.060, 0.087, 0.113, 0.174, 0.194, 0.244, 0.308, 0.358]) == []
    assert _alarms(CollapseDetector(), [0.122, 0.067, 0.375, 0.415, 0.57, 0.698, 0.697, 0.7]) == []
    assert _alarms(CollapseDetector(), [2.85e-5] * 8) == [3]
    assert _alarms(CollapseDetector(), [0.01, 0.01, 0.5, 0.01, 0.01, 0.01]) == [6]
    # Once per episode; a recovery re-arms it.
    assert _alarms(CollapseDetector(), [0.0] * 4 + [0.6] + [0.0] * 3) == [3, 8]
    assert _alarms(CollapseDetector(), [float("nan")] * 5) == []


def test_class_alarm_rules_and_rearming():
    detector = CollapseDetector()
    assert detector.check_classes(1, 2.2, 10) is None  # the first evaluation sets the best
    assert detector.check_classes(2, 2.1, 9) is None
    alarm = detector.check_classes(3, 2.0, 8)  # two classes lost
    assert alarm and "8 classes covered (best 10)" in alarm and "epoch 1" in alarm
    assert detector.check_classes(4, 1.0, 5) is None  # already said
    assert detector.check_classes(5, 2.2, 10) is None  # recovered
    assert detector.check_classes(6, 1.8, 10)  # entropy down 0.4 nats > 0.3
    detector.note_classes(7, float("nan"), 10)  # rows without an evaluation are ignored
    assert detector.best_entropy == 2.2


def _collapse_alarms(trainer: Trainer) -> list[str]:
    return [alarm for alarm in trainer.alarms if "mode collapse" in alarm]  # not "D is winning" (no steps)


def _collapsed_trainer() -> Trainer:
    """G ignores z: every weight 0, so every sample is sigmoid(0) = 0.5 everywhere."""
    trainer = Trainer(get_config("dry-run", {"train.threads": 1}), synthetic_split(256, seed=0))
    with torch.no_grad():
        for parameter in trainer.generator.parameters():
            parameter.zero_()
    return trainer


def test_the_trainer_warns_when_its_samples_collapse():
    trainer = _collapsed_trainer()
    assert trainer.real_diversity > 0
    for _ in range(COLLAPSE_EPOCHS - 1):
        row = trainer.finish_epoch()
        assert row["diversity"] == pytest.approx(0.0, abs=1e-9)
    assert _collapse_alarms(trainer) == []
    trainer.finish_epoch()
    alarms = _collapse_alarms(trainer)
    assert len(alarms) == 1 and f"mode collapse at epoch {COLLAPSE_EPOCHS}:" in alarms[0]
    trainer.finish_epoch()
    assert len(_collapse_alarms(trainer)) == 1  # said once


def test_the_check_leaves_the_training_state_alone():
    trainer = Trainer(get_config("dry-run", {"train.threads": 1}), synthetic_split(256, seed=0))
    torch.manual_seed(5)
    before, rng = state_hash(trainer), torch.get_rng_state()
    trainer._check_collapse({})
    assert state_hash(trainer) == before and torch.equal(torch.get_rng_state(), rng)
    assert trainer.generator.training


def test_the_detector_state_survives_a_checkpoint():
    trainer = _collapsed_trainer()
    for _ in range(COLLAPSE_EPOCHS - 1):
        trainer.finish_epoch()
    state = trainer.state_dict()
    resumed = _collapsed_trainer()
    resumed.load_state_dict(state)
    assert resumed.collapse.low_streak == COLLAPSE_EPOCHS - 1
    resumed.finish_epoch()
    assert len(_collapse_alarms(resumed)) == 1  # the same epoch as without the interruption
    legacy = {key: value for key, value in state.items() if key != "collapse"}
    older = _collapsed_trainer()
    older.load_state_dict(legacy)  # a checkpoint written before the detector existed
    assert older.collapse == CollapseDetector()


def test_a_run_writes_the_diversity_column_and_the_alarm(tmp_path):
    config = get_config("dry-run", {"train.epochs": COLLAPSE_EPOCHS, "train.threads": 1,
                                    "train.lr": 1e-9})  # G stays as initialised
    run = api.train(config, tmp_path / "run", dry_run=True, progress=False, verbose=False)
    with open(tmp_path / "run" / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [float(r["diversity"]) > 0 for r in rows] == [True] * COLLAPSE_EPOCHS
    assert not any("mode collapse" in a for a in run.alarms)  # an untrained G is not collapsed
