"""The shipped feature classifier: hash, size, safe loading, accuracy on the real test set; its training."""

from __future__ import annotations

import hashlib
import io
import shutil

import pytest
import torch

from gan_atelier.errors import CheckpointError
from gan_atelier.metrics import features as features_module
from gan_atelier.metrics.classifier import (FEATURE_DIM, ClassifierTrainingConfig, FashionClassifier,
                                            accuracy, train_classifier)
from gan_atelier.metrics.features import extract_features, load_classifier, shipped_record, shipped_weights_path

MIN_ACCURACY = 0.93


def test_shipped_weights_match_their_record():
    path = shipped_weights_path()
    record = shipped_record()
    payload = path.read_bytes()
    assert hashlib.sha256(payload).hexdigest() == record["sha256"]
    assert len(payload) == record["bytes"] < 5 * 1024 * 1024 / 2  # well under 5 MiB
    assert record["test_accuracy"] >= MIN_ACCURACY
    for key in ("seed", "command", "torch_version", "training", "history", "train_seconds", "data_sha256"):
        assert key in record
    assert record["command"].startswith("gan-atelier classifier train")


def test_shipped_weights_are_a_tensor_only_file():
    state = torch.load(shipped_weights_path(), map_location="cpu", weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in state.values())
    model = FashionClassifier()
    model.load_state_dict(state)  # exactly this architecture, no missing or extra keys


def test_features_are_the_penultimate_layer_and_logits_come_from_them():
    extractor = load_classifier()
    images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    embedded = extract_features(images, extractor)
    assert embedded.features.shape == (8, FEATURE_DIM) and embedded.logits.shape == (8, 10)
    assert float(embedded.features.min()) >= 0.0  # post-ReLU
    torch.testing.assert_close(extractor.model.head(embedded.features), embedded.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(extractor.model(images), embedded.logits, rtol=1e-5, atol=1e-5)


def test_damaged_shipped_weights_are_refused(tmp_path, monkeypatch):
    damaged = tmp_path / "fmnist_cnn_v1.pt"
    shutil.copy(shipped_weights_path(), damaged)
    payload = bytearray(damaged.read_bytes())
    payload[-100] ^= 0xFF
    damaged.write_bytes(bytes(payload))
    shutil.copy(shipped_weights_path().with_suffix(".json"), tmp_path / "fmnist_cnn_v1.json")
    monkeypatch.setattr(features_module, "shipped_weights_path", lambda: damaged)
    monkeypatch.setattr(features_module, "_LOADED", {})
    with pytest.raises(CheckpointError, match="does not match the recorded"):
        load_classifier()


class _Sentinel:
    ran = False

    def __reduce__(self):
        return (_Sentinel._run, ())

    @staticmethod
    def _run():
        _Sentinel.ran = True
        return {}


def test_a_pickle_with_code_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.pt"
    buffer = io.BytesIO()
    torch.save({"body.0.0.weight": _Sentinel()}, buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="not a usable classifier"):
        load_classifier(path)
    assert not _Sentinel.ran


def test_a_custom_classifier_is_named_by_its_own_hash(tmp_path):
    path = tmp_path / "mine.pt"
    torch.manual_seed(0)
    torch.save(FashionClassifier().state_dict(), path)
    extractor = load_classifier(path)
    assert extractor.name.startswith("custom classifier ") and extractor.sha256[:12] in extractor.name
    assert extractor.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.realdata
def test_shipped_classifier_accuracy_on_the_real_test_set(real_data_dir):
    from gan_atelier.data import load_split

    test = load_split("fashion-mnist", "test", real_data_dir)
    value = accuracy(load_classifier().model, test.images, test.labels)
    assert value >= MIN_ACCURACY
    assert value == pytest.approx(shipped_record()["test_accuracy"], abs=5e-4)


def test_training_is_seeded_and_repeatable(one_thread):
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (192, 28, 28), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (192,), generator=generator)
    config = ClassifierTrainingConfig(epochs=1, batch_size=64)
    quiet = lambda line: None  # noqa: E731
    first, report = train_classifier(images, labels, config, log=quiet)
    second, _ = train_classifier(images, labels, config, log=quiet)
    other, _ = train_classifier(images, labels, ClassifierTrainingConfig(epochs=1, batch_size=64, seed=1), log=quiet)
    for (name, a), b, c in zip(first.state_dict().items(), second.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, c) for a, c in zip(first.state_dict().values(), other.state_dict().values()))
    assert report["training"]["seed"] == 0 and len(report["history"]) == 1
