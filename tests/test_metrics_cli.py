"""`gan-atelier evaluate` and `gan-atelier classifier`: outputs, JSON, sources, one-line errors."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

import gan_atelier as api
from gan_atelier import cli
from gan_atelier.config import get_config
from gan_atelier.errors import CheckpointError, ConfigError
from gan_atelier.metrics.inception import inception_fid

N = "200"


@pytest.fixture(autouse=True)
def _shared_stats_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GAN_ATELIER_STATS_CACHE", str(tmp_path_factory.getbasetemp() / "cli-stats"))


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("gan-atelier: error: ") and "\n" not in err
    return err


def test_evaluate_a_calibration_set_prints_the_table_and_writes_json(tmp_path, capsys, real_data_dir):
    out = tmp_path / "scores.json"
    code = cli.main(["evaluate", "--real", "test", "--n", N, "--no-memorisation", "--json", str(out),
                     "--threads", "1"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "FID-FMNIST-CNN v1 evaluation" in printed and "N = 200 generated vs 200 real" in printed
    assert "classifier FID" in printed and "recall (k=3)" in printed
    result = json.loads(out.read_text())
    assert result["fid"] < 1e-6 and result["coverage"] == 1.0 and result["source"] == "calibration set test"
    assert len(result["extractor"]["sha256"]) == 64 and result["n_generated"] == 200


def test_evaluate_a_samples_file(tmp_path, capsys, real_data_dir):
    from gan_atelier.data import load_split

    from gan_atelier.metrics import evaluate_images

    train = load_split("fashion-mnist", "train")
    path = tmp_path / "samples.npy"
    np.save(path, train.images[:200].numpy())  # uint8 (N, 28, 28), as any external tool might write
    assert cli.main(["evaluate", str(path), "--n", N, "--no-memorisation", "--json", str(tmp_path / "s.json")]) == 0
    result = json.loads((tmp_path / "s.json").read_text())
    direct = evaluate_images(train.as_float()[:200], n=200, memorisation=False)
    assert result["fid"] == direct["fid"] > 0 and result["recall"] == direct["recall"]


def test_evaluate_a_run_folder(tmp_path, capsys, real_data_dir):
    config = get_config("dry-run", {"train.epochs": 1, "train.threads": 1})
    run = api.train(config, tmp_path / "run", dry_run=True, progress=False, verbose=False)
    assert cli.main(["evaluate", str(run.run_dir), "--n", N, "--no-memorisation"]) == 0
    assert "FID-FMNIST-CNN v1" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, code, fragment", [
    (["evaluate", "missing-run"], 2, "no such run folder"),
    (["evaluate"], 2, "either a run"),
    (["evaluate", "x.npy", "--real", "train"], 2, "either a run"),
    (["evaluate", "--real", "pink"], 2, "unknown calibration set"),
    (["evaluate", "--real", "test", "--n", "5"], 2, "at least 10"),
    (["evaluate", "missing.npy"], 3, "file not found"),
])
def test_evaluate_errors_are_one_line_with_their_exit_code(arguments, code, fragment, capsys):
    assert cli.main(arguments) == code
    assert fragment in _one_line_error(capsys)


def test_a_bad_samples_file_is_a_data_error(tmp_path, capsys):
    wrong_shape = tmp_path / "wrong.npy"
    np.save(wrong_shape, np.zeros((4, 32, 32), dtype=np.float32))
    out_of_range = tmp_path / "range.npy"
    np.save(out_of_range, np.full((4, 28, 28), 3.0, dtype=np.float32))
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for path, fragment in ((wrong_shape, "must be (N, 1, 28, 28)"), (out_of_range, "must lie in [0, 1]"),
                           (pickled, "not a readable .npy")):
        assert cli.main(["evaluate", str(path)]) == 3
        assert fragment in _one_line_error(capsys)


def test_inception_fid_never_downloads(tmp_path, capsys):
    images = torch.rand(4, 1, 28, 28)
    with pytest.raises(ConfigError, match="never downloads"):
        inception_fid(images, images, None)
    with pytest.raises(ConfigError, match="not found"):
        inception_fid(images, images, tmp_path / "missing.pth")
    assert cli.main(["evaluate", "--real", "uniform", "--n", "10", "--no-memorisation",
                     "--inception-weights", str(tmp_path / "missing.pth")]) == 2
    assert "nothing is downloaded" in _one_line_error(capsys)


def test_inception_fid_with_a_bad_local_file_is_refused(tmp_path):
    weights = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    weights.write_bytes(b"not weights")
    try:
        import torch_fidelity  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="torch-fidelity"):
            inception_fid(torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28), weights)
    else:
        with pytest.raises(CheckpointError):
            inception_fid(torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28), weights)


@pytest.mark.slow
def test_classifier_train_writes_weights_and_a_record_then_test_reads_them(tmp_path, capsys, real_data_dir):
    out = tmp_path / "classifier"
    assert cli.main(["classifier", "train", "--out", str(out), "--epochs", "1", "--subset", "512",
                     "--name", "tiny"]) == 0
    record = json.loads((out / "tiny.json").read_text())
    payload = (out / "tiny.pt").read_bytes()
    assert record["sha256"] == hashlib.sha256(payload).hexdigest() and record["bytes"] == len(payload)
    assert record["seed"] == 0 and record["command"].startswith("gan-atelier classifier train")
    assert record["torch_version"] == torch.__version__ and 0.1 < record["test_accuracy"] <= 1.0
    capsys.readouterr()
    assert cli.main(["classifier", "test", "--weights", str(out / "tiny.pt")]) == 0
    printed = capsys.readouterr().out
    assert f"test accuracy: {record['test_accuracy']:.4f}" in printed
