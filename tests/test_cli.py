"""The CLI's documented errors and exit codes, a dry run, sampling, and a real-data epoch."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gan_atelier import cli


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "gan_atelier", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def test_bad_key_bad_value_exit_2_one_line(capsys):
    assert cli.main(["train", "--dry-run", "--set", "train.lrr=1", "--run-dir", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gan-atelier: error: unknown config key 'train.lrr'") and "\n" not in err
    assert cli.main(["train", "--dry-run", "--set", "train.device=tpu", "--run-dir", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert "valid choices: auto, cpu, cuda" in err and "\n" not in err
    assert cli.main(["train", "--preset", "nope", "--run-dir", "unused"]) == 2


def test_bad_preset_choice_through_argparse_is_exit_2():
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--device", "tpu"])
    assert info.value.code == 2


def test_missing_data_exit_3(tmp_path, capsys, monkeypatch):
    from gan_atelier import data

    monkeypatch.setattr(data, "DEBIAN_DIRS", {"fashion-mnist": (str(tmp_path / "none"),), "mnist": ()})
    assert cli.main(["train", "--run-dir", str(tmp_path / "run")]) == 3
    err = capsys.readouterr().err.strip()
    assert "gan-atelier data fetch" in err and "apt-get install dataset-fashion-mnist" in err
    assert "\n" not in err
    assert cli.main(["data", "verify", "--data-dir", str(tmp_path / "none")]) == 3


def test_corrupt_data_exit_3(tmp_path, idx_dir, capsys):
    (idx_dir / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    assert cli.main(["train", "--data-dir", str(idx_dir), "--run-dir", str(tmp_path / "run")]) == 3
    assert "train-labels-idx1-ubyte.gz: corrupt gzip data" in capsys.readouterr().err


def test_existing_run_folder_is_not_overwritten(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "precious.txt").write_text("keep me")
    assert cli.main(["train", "--dry-run", "--run-dir", str(run_dir), "--no-progress"]) == 4
    assert "--resume" in capsys.readouterr().err
    assert (run_dir / "precious.txt").read_text() == "keep me"


def test_run_name_cannot_escape(tmp_path, capsys):
    for name in ("../evil", "/abs", "a/b", ".hidden", ""):
        code = cli.main(["train", "--dry-run", "--name", name, "--runs-root", str(tmp_path), "--no-progress"])
        assert code in (2, 4), name
    assert not (tmp_path.parent / "evil").exists()


def test_dry_run_writes_the_whole_run_folder_and_samples(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("train", "--dry-run", "--run-dir", str(run_dir), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "Epoch  2 | D Loss:" in result.stdout
    for name in ("config.toml", "run.json", "metrics.csv", "progress.gif", "curves.png",
                 "samples/epoch_001.png", "samples/epoch_002.png", "samples/final.png",
                 "checkpoints/latest.json"):
        assert (run_dir / name).is_file(), name
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "completed" and info["seeds"]["init"] == 0
    assert info["environment"]["torch"] and info["data"]["sha256"] == "synthetic"
    grid = Image.open(run_dir / "samples" / "final.png")
    assert grid.size == (4 * (8 * 30 + 2), 4 * (8 * 30 + 2)) and grid.mode == "L"  # log.image_scale = 4
    gif = Image.open(run_dir / "progress.gif")
    assert gif.n_frames == 2 and gif.info["loop"] == 0
    # sample: a PNG grid and raw samples
    out = tmp_path / "s.npy"
    assert cli.main(["sample", str(run_dir), "--n", "10", "--out", str(out)]) == 0
    array = np.load(out)
    assert array.shape == (10, 28, 28) and array.dtype == np.float32
    assert 0.0 <= array.min() and array.max() <= 1.0
    assert cli.main(["sample", str(run_dir), "--n", "16", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size == (4 * (8 * 30 + 2), 4 * (2 * 30 + 2))
    assert cli.main(["sample", str(run_dir), "--n", "16", "--scale", "1", "--out", str(tmp_path / "g1.png")]) == 0
    assert Image.open(tmp_path / "g1.png").size == (8 * 30 + 2, 2 * 30 + 2)
    again = tmp_path / "again.npy"
    cli.main(["sample", str(run_dir), "--n", "10", "--out", str(again)])
    np.testing.assert_array_equal(np.load(again), array)  # same --seed, same samples
    assert cli.main(["sample", str(run_dir), "--n", "4", "--out", str(tmp_path / "x.jpg")]) == 2


def test_real_data_one_epoch_on_a_subset(tmp_path, real_data_dir):
    """One epoch of the seed preset on 2,000 real images: every output of the run folder."""
    run_dir = tmp_path / "real"
    result = run_cli("train", "--preset", "seed", "--set", "data.subset=2000", "--set", "train.epochs=1",
                     "--data-dir", str(real_data_dir), "--run-dir", str(run_dir), "--no-progress")
    assert result.returncode == 0, result.stderr
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,step,d_loss,g_loss,d_real,d_fake,seconds") and len(rows) == 2
    assert rows[1].startswith("1,16,")  # ceil(2000 / 128) = 16 batches
    info = json.loads((run_dir / "run.json").read_text())
    assert info["data"]["sha256"].startswith("c59f468a2f67") and info["data"]["images"] == 2000
    assert info["parameters"] == {"generator": 1486352, "discriminator": 1460225}
    assert (run_dir / "samples" / "epoch_001.png").is_file() and (run_dir / "curves.png").is_file()
    config_text = (run_dir / "config.toml").read_text()
    assert 'preset = "seed"' in config_text and "subset = 2000" in config_text
