"""Hugging Face model folders: export --hub, from_pretrained offline, sample/evaluate on the folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_atelier import cli, get_config, load_generator, sample, train
from gan_atelier.errors import CheckpointError
from gan_atelier.inference import export_hub

hub = pytest.importorskip("gan_atelier.hub")
pytest.importorskip("huggingface_hub")
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("hub") / "run"
    config = get_config("dry-run", {"train.epochs": 1, "data.subset": 256, "train.ema": 0.9,
                                    "log.tensorboard": "false"})
    train(config, run_dir, dry_run=True, progress=False, verbose=False, handle_signals=False)
    return run_dir


def test_export_writes_the_mixin_layout_and_a_model_card(trained, tmp_path):
    out = export_hub(trained, tmp_path / "model")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "grid.png", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == "gan-atelier-generator" and config["run_config"]["preset"] == "dry-run"
    card = (out / "README.md").read_text()
    for text in ("library_name: gan-atelier", "license: mit", "SHA-256 of the training data: `synthetic`",
                 "![fixed-noise grid](grid.png)", 'HubGenerator.from_pretrained("model")',
                 "| epoch | D loss |", "status `completed`", "EMA 0.9"):
        assert text in card, text
    assert not list(tmp_path.glob(".model.*.tmp"))  # the staging folder was renamed into place


def test_from_pretrained_offline_gives_the_same_samples_bit_for_bit(trained, tmp_path):
    out = export_hub(trained, tmp_path / "model")
    expected = sample(load_generator(trained), 32, seed=7)  # the EMA generator, as load_generator picks
    # A fresh interpreter with the Hub switched off: the loading code of the model card, verbatim.
    script = ("import sys, numpy, os; from gan_atelier import sample; from gan_atelier.hub import HubGenerator\n"
              "assert os.environ['HF_HUB_OFFLINE'] == '1'\n"
              f"generator = HubGenerator.from_pretrained({str(out)!r})\n"
              f"numpy.save({str(tmp_path / 'x.npy')!r}, sample(generator, 32, seed=7).numpy())\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    torch.testing.assert_close(torch.from_numpy(np.load(tmp_path / "x.npy")), expected, rtol=0, atol=0)
    # load_generator (and so `sample` / `evaluate` on the folder) returns the same generator.
    torch.testing.assert_close(sample(load_generator(out), 32, seed=7), expected, rtol=0, atol=0)


def test_cli_export_sample_and_evaluate_source_accept_the_folder(trained, tmp_path, capsys):
    out = tmp_path / "model"
    assert cli.main(["export", str(trained), "--hub", str(out)]) == 0
    assert cli.main(["sample", str(out), "--n", "8", "--out", str(tmp_path / "s.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"),
                                  sample(load_generator(trained), 8, seed=0)[:, 0].numpy())
    from gan_atelier.cli.evaluate import load_source_images  # what `gan-atelier evaluate DIR` reads

    torch.testing.assert_close(load_source_images(str(out), 8), sample(load_generator(trained), 8, seed=0),
                               rtol=0, atol=0)
    assert cli.main(["export", str(trained), "--hub", str(out)]) == 4  # never overwrites a folder
    assert "already exists" in capsys.readouterr().err


def test_conditional_generator_round_trip(tmp_path):
    config = get_config("dry-run", {"model.name": "cgan", "train.epochs": 1, "data.subset": 128,
                                    "log.tensorboard": "false"})
    run = train(config, tmp_path / "cgan", dry_run=True, progress=False, verbose=False, handle_signals=False)
    out = export_hub(run.run_dir, tmp_path / "model")
    loaded = hub.HubGenerator.from_pretrained(out)
    assert loaded.conditional and not loaded.training
    labels = torch.arange(20) % 10
    torch.testing.assert_close(sample(loaded, 20, seed=1, labels=labels),
                               sample(load_generator(run.run_dir), 20, seed=1, labels=labels), rtol=0, atol=0)


def _one_line_error(args, capsys) -> tuple[int, str]:
    code = cli.main(args)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return code, err


def test_corrupted_or_foreign_folders_get_one_line_errors(trained, tmp_path, capsys):
    out = export_hub(trained, tmp_path / "model")
    weights = (out / "model.safetensors").read_bytes()
    (out / "model.safetensors").write_bytes(weights[: len(weights) // 2])  # truncated download
    code, err = _one_line_error(["sample", str(out), "--out", str(tmp_path / "a.npy")], capsys)
    assert code == 5 and "weights do not load" in err

    foreign = tmp_path / "foreign"  # another library's model folder
    foreign.mkdir()
    (foreign / "config.json").write_text(json.dumps({"hidden_size": 512, "vocab_size": 30000}))
    (foreign / "model.safetensors").write_bytes(weights)
    code, err = _one_line_error(["sample", str(foreign), "--out", str(tmp_path / "b.npy")], capsys)
    assert code == 5 and "not a gan-atelier generator" in err

    (foreign / "config.json").write_text("{not json")
    code, err = _one_line_error(["sample", str(foreign), "--out", str(tmp_path / "c.npy")], capsys)
    assert code == 5 and "not readable JSON" in err

    (foreign / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="not a model folder"):
        hub.load_hub_generator(foreign)

    wrong = tmp_path / "wrong"  # our format, but the weights of another architecture
    export_hub(trained, wrong)
    config = json.loads((wrong / "config.json").read_text())
    config["run_config"]["model"]["name"] = "dcgan"
    (wrong / "config.json").write_text(json.dumps(config))
    code, err = _one_line_error(["sample", str(wrong), "--out", str(tmp_path / "d.npy")], capsys)
    assert code == 5 and "weights do not load" in err


def test_self_conditioned_generator_round_trip_keeps_its_cluster_prior(tmp_path):
    config = get_config("dry-run", {"model.name": "dcgan", "model.clusters": 4, "train.epochs": 1,
                                    "data.subset": 128, "log.tensorboard": "false"})
    run = train(config, tmp_path / "selfcond", dry_run=True, progress=False, verbose=False, handle_signals=False)
    loaded = hub.HubGenerator.from_pretrained(export_hub(run.run_dir, tmp_path / "model"))
    original = load_generator(run.run_dir)
    assert not loaded.conditional  # an unconditional model for its users
    prior = loaded.generator.prior
    assert torch.equal(prior, original.prior) and prior.sum().item() == pytest.approx(1.0)
    assert not torch.equal(prior, torch.full_like(prior, 0.25))  # the clusters' shares, not the initial uniform
    torch.testing.assert_close(sample(loaded, 20, seed=1), sample(original, 20, seed=1), rtol=0, atol=0)
