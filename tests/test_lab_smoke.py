"""Every lab experiment runs end to end on tiny synthetic data and leaves its folder complete."""

from __future__ import annotations

import json

import pytest

from gan_atelier import cli
from gan_atelier.lab import EXPERIMENTS, run_experiment
from gan_atelier.lab.context import LabContext


def run_tiny(name, tmp_path):
    return run_experiment(name, LabContext(out_dir=tmp_path / name, scale="tiny", verbose=False, threads=1))


def check_folder(result):
    assert (result.out_dir / "summary.md").read_text().startswith(f"# {result.question}")
    payload = json.loads((result.out_dir / "results.json").read_text())
    assert payload["experiment"] == result.name and payload["scale"] == "tiny"
    assert len(result.evidence) >= 2 and all(s.strip() for s in result.evidence)
    for figure in result.figures:
        assert figure.is_file() and figure.stat().st_size > 1000, figure
    for run_dir in result.runs:
        assert (run_dir / "metrics.csv").is_file() and (run_dir / "run.json").is_file()
    return payload["numbers"]


@pytest.mark.slow
def test_saturating_tiny(tmp_path, one_thread):
    numbers = check_folder(run_tiny("saturating", tmp_path))
    assert numbers["probe_max_identity_error"] < 1e-5
    assert numbers["theory_ratio_at_0.1"] == pytest.approx(1 / 9)
    assert (tmp_path / "saturating" / "steps_saturating.csv").is_file()


@pytest.mark.slow
def test_detach_tiny(tmp_path, one_thread):
    numbers = check_folder(run_tiny("detach", tmp_path))
    assert numbers["g_grads_none_with_detach"] and numbers["d_grads_present_with_detach"]
    assert numbers["g_grads_set_without_detach"]
    assert "backward through the graph a second time" in numbers["second_backward_error"]
    assert numbers["cosine"] < 0


@pytest.mark.slow
def test_d_loss_tiny(tmp_path, one_thread):
    numbers = check_folder(run_tiny("d-loss", tmp_path))
    assert numbers["equilibrium"] == pytest.approx(1.3862944)


@pytest.mark.slow
def test_learning_rate_tiny(tmp_path, one_thread):
    numbers = check_folder(run_tiny("learning-rate", tmp_path))
    assert set(numbers) == {"lr2e-4", "lr1e-3", "lr5e-3", "d1e-3_g2e-4", "d2e-4_g1e-3", "trained_as"}
    assert numbers["trained_as"].startswith("one batched sweep")
    assert all(numbers[k]["diagnosis"] in ("stable", "oscillating", "D wins", "D loses", "diverged")
               for k in numbers if k != "trained_as")


@pytest.mark.slow
def test_learning_rate_one_by_one_without_the_sweep(tmp_path, one_thread, monkeypatch):
    from gan_atelier.lab import learning_rate

    monkeypatch.setattr(learning_rate, "batched_sweep_available", lambda: False)
    numbers = check_folder(run_tiny("learning-rate", tmp_path))
    assert numbers["trained_as"] == "one run after another"


@pytest.mark.slow
def test_mode_collapse_tiny(tmp_path, one_thread):
    numbers = check_folder(run_tiny("mode-collapse", tmp_path))
    assert len(numbers["healthy"]["per_epoch"]) == 2


@pytest.mark.slow
def test_vae_tiny(tmp_path, one_thread):
    numbers = check_folder(run_tiny("vae", tmp_path))
    assert numbers["vae_test_bound"]["nats_per_image"] > 0
    assert set(numbers["sharpness"]) == {"real test images", "GAN", "VAE", "VAE reconstructions"}


@pytest.mark.slow
def test_dcgan_tiny(tmp_path, one_thread):
    numbers = check_folder(run_tiny("dcgan", tmp_path))
    assert numbers["dcgan"]["generator_parameters"] < numbers["mlp"]["generator_parameters"]


def test_every_experiment_has_a_smoke_test():
    tested = {name.removeprefix("test_").removesuffix("_tiny").replace("_", "-")
              for name in globals() if name.startswith("test_") and name.endswith("_tiny")}
    assert tested == set(EXPERIMENTS)


def test_cli_lists_experiments_and_rejects_unknown(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["lab", "nope"])
    assert exit_info.value.code == 2
    assert "saturating" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_runs_an_experiment(tmp_path, capsys, one_thread):
    assert cli.main(["lab", "detach", "--tiny", "--out", str(tmp_path / "d"), "--quiet", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "# Q3.1: `detach` (tiny scale)" in out and "Reproduce: `gan-atelier lab detach --tiny`" in out
    assert (tmp_path / "d" / "detach.png").is_file()
