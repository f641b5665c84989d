"""The lab's analysis functions against closed forms and synthetic curves (fast, no training runs)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from gan_atelier import config as cfg
from gan_atelier.data import synthetic_split
from gan_atelier.lab import d_loss, dcgan, detach, learning_rate, saturating, vae
from gan_atelier.lab.context import LabContext
from gan_atelier.lab.recording import StepCpuClock, StepRecorder, moving_average
from gan_atelier.lab.report import LabResult, markdown_table
from gan_atelier.losses import ns_d_loss, ns_g_loss, saturating_g_loss
from gan_atelier.models import build_models
from gan_atelier.training import LoopHooks, Trainer, run_loop, state_hash


def tiny_models(seed: int = 0):
    torch.manual_seed(seed)
    return build_models(cfg.get_config("seed"))


# ----------------------------------------------------------------------------- Q1.1 saturating
def test_logit_gradient_is_the_autograd_slope_of_each_g_loss():
    logits = torch.linspace(-6, 6, 41, dtype=torch.float64).view(-1, 1).requires_grad_(True)
    d_fake = torch.sigmoid(logits.detach()).flatten()
    for loss, function in (("saturating", saturating_g_loss), ("ns", ns_g_loss)):
        (grad,) = torch.autograd.grad(function(logits), logits)
        per_sample = grad.abs().flatten() * logits.shape[0]  # the losses are batch means
        assert_close(per_sample, saturating.logit_gradient(d_fake, loss))


def test_q11_numbers_closed_form():
    assert_close(float(saturating.logit_gradient(0.1, "saturating")), 0.1)
    assert_close(float(saturating.logit_gradient(0.1, "ns")), 0.9)
    assert saturating.theoretical_ratio(0.1) == pytest.approx(1 / 9)
    assert saturating.theoretical_ratio(0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="valid"):
        saturating.logit_gradient(0.1, "hinge")


def test_probe_matches_closed_form_and_touches_nothing():
    generator, discriminator = tiny_models()
    z = torch.randn(32, 100, generator=torch.Generator().manual_seed(1))
    rng_before = torch.get_rng_state()
    result = saturating.probe(generator, discriminator, z)
    assert torch.equal(torch.get_rng_state(), rng_before)  # D in eval mode: no dropout draws
    assert all(p.grad is None for p in generator.parameters())
    assert all(p.grad is None for p in discriminator.parameters())
    assert discriminator.training  # restored
    assert_close(result["saturating_logit_grad"], result["d_fake"])
    assert_close(result["ns_logit_grad"], 1 - result["d_fake"])
    # one sample: ∇θ L = slope × ∂ℓ/∂θ, so the norm ratio is exactly D / (1 − D)
    single = saturating.probe(generator, discriminator, z[:1])
    d = float(single["d_fake"][0])
    assert single["saturating_param_norm"] / single["ns_param_norm"] == pytest.approx(d / (1 - d), rel=1e-4)


def test_prober_does_not_change_training(one_thread):
    data = synthetic_split(256, seed=0)
    config = cfg.get_config("dry-run", {"train.epochs": 1, "train.batch_size": 64})
    hashes = []
    for hooks in (LoopHooks(), LoopHooks(on_step=[saturating.Prober(every=1, latent_dim=100, seed=5)])):
        trainer = Trainer(config, data)
        run_loop(trainer, hooks, progress=False)
        hashes.append(state_hash(trainer))
    assert hashes[0] == hashes[1]


def test_step_recorder_rows_average_to_the_epoch_history(one_thread):
    data = synthetic_split(256, seed=0)
    config = cfg.get_config("dry-run", {"train.epochs": 2, "train.batch_size": 64})
    trainer = Trainer(config, data)
    recorder, clock = StepRecorder(), StepCpuClock()
    run_loop(trainer, LoopHooks(on_step=[recorder, clock]), progress=False)
    assert len(recorder.rows) == 8
    assert len(clock.seconds) == 6 and min(clock.seconds) > 0  # first step of each epoch skipped
    assert clock.per_epoch == pytest.approx(4 * clock.median_step)
    for epoch, row in enumerate(trainer.history):
        rows = recorder.rows[epoch * 4:(epoch + 1) * 4]
        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            assert sum(r[key] for r in rows) / 4 == pytest.approx(row[key], rel=1e-9)
    assert all(r["g_grad_norm"] > 0 for r in recorder.rows)


# ----------------------------------------------------------------------------- Q3.1 detach
def test_detach_facts():
    generator, discriminator = tiny_models()
    real = synthetic_split(16, seed=0).as_float()
    z = torch.randn(16, 100, generator=torch.Generator().manual_seed(0))
    detach.d_step_backward(generator, discriminator, real, z, detach=True)
    assert all(v is None for v in detach.gradient_report(generator).values())
    assert all(v is not None for v in detach.gradient_report(discriminator).values())
    detach._clear(generator, discriminator)
    detach.d_step_backward(generator, discriminator, real, z, detach=False)
    assert all(v is not None and v > 0 for v in detach.gradient_report(generator).values())
    detach._clear(generator, discriminator)
    message = detach.second_backward_error(generator, discriminator, real, z)
    assert message is not None and detach.SECOND_BACKWARD in message
    detach._clear(generator, discriminator)
    # with .detach() the same sequence (D step, then G step on the same fakes) works
    fake = detach.d_step_backward(generator, discriminator, real, z, detach=True)
    ns_g_loss(discriminator(fake)).backward()
    assert all(p.grad is not None for p in generator.parameters())


def test_detach_direction_opposes_g():
    generator, discriminator = tiny_models()
    z = torch.randn(64, 100, generator=torch.Generator().manual_seed(0))
    facts = detach.direction_facts(generator, discriminator, z, step=1e-3)
    assert facts["cosine"] < -0.9  # per sample the slopes are σ(ℓ) and −(1 − σ(ℓ)): opposite signs
    assert facts["d_fake_after_d_gradient"] < facts["d_fake_before"] < facts["d_fake_after_g_gradient"]


# ----------------------------------------------------------------------------- final Q1 d-loss
def test_d_loss_reference_values():
    zeros = torch.zeros(8, 1)
    assert d_loss.EQUILIBRIUM == pytest.approx(2 * math.log(2))
    assert_close(float(ns_d_loss(zeros, zeros)), d_loss.EQUILIBRIUM)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    real, fake = torch.full((8, 1), logit(0.9)), torch.full((8, 1), logit(0.1))
    assert_close(float(ns_d_loss(real, fake)), d_loss.WIN_THRESHOLD)
    assert d_loss.WIN_THRESHOLD == pytest.approx(-2 * math.log(0.9))


def test_find_episodes():
    values = [1.0] * 5 + [0.1] * 12 + [1.0] * 3 + [0.1] * 4 + [1.0] + [0.05] * 10
    assert d_loss.find_episodes(values, 0.2, 10) == [(5, 16), (25, 34)]  # the 4-step dip is too short
    assert d_loss.find_episodes([1.0] * 20, 0.2, 10) == []
    assert d_loss.find_episodes([0.0] * 10, 0.2, 10) == [(0, 9)]
    epochs = [i / 10 for i in range(1, 36)]  # 10 steps per epoch
    assert d_loss.episode_epochs([(5, 16), (25, 34)], epochs) == [2, 3]  # middles: steps 11 and 30


def test_verdict():
    assert d_loss.verdict(0.1).startswith("D wins")
    assert d_loss.verdict(1.0).startswith("D stays ahead")
    assert d_loss.verdict(1.35).startswith("the game is near")


# ----------------------------------------------------------------------------- Q2.1 learning rate
def _noise(n: int, scale: float, seed: int = 0) -> list[float]:
    return (torch.randn(n, generator=torch.Generator().manual_seed(seed)) * scale).tolist()


def test_swings_counts_crossings_with_hysteresis():
    square = ([1.0] * 10 + [-1.0] * 10) * 3
    assert learning_rate.swings(square, 0.5) == 5
    assert learning_rate.swings([0.01 * v for v in square], 0.5) == 0  # inside the band
    assert learning_rate.swings([], 0.1) == 0


def test_diagnose_synthetic_curves():
    n, window = 400, 10
    stable = learning_rate.diagnose([1.2 + v for v in _noise(n, 0.05)], [1.0 + v for v in _noise(n, 0.05, 1)],
                                    [0.35 + v for v in _noise(n, 0.02, 2)], window)
    assert stable["diagnosis"] == "stable"
    wave = [0.5 + 0.35 * math.sin(2 * math.pi * i / 50) for i in range(n)]
    oscillating = learning_rate.diagnose([1.2] * n, [1.0] * n, wave, window)
    assert oscillating["diagnosis"] == "oscillating" and oscillating["crossings"] >= 4
    d_wins = learning_rate.diagnose([0.05] * n, [5.0] * n, [0.01] * n, window)
    assert d_wins["diagnosis"] == "D wins"
    diverged = learning_rate.diagnose([0.01] * n, [30.0] * n, [0.0] * n, window)
    assert diverged["diagnosis"] == "diverged"
    with_nan = learning_rate.diagnose([1.2] * (n - 1) + [float("nan")], [1.0] * n, [0.4] * n, window)
    assert with_nan["diagnosis"] == "diverged"
    d_loses = learning_rate.diagnose([3.0] * n, [0.3] * n, [0.8] * n, window)
    assert d_loses["diagnosis"] == "D loses"


def test_batched_recorder_rows_average_to_each_member_history(tmp_path, one_thread):
    from gan_atelier.sweep import run_sweep

    data = synthetic_split(256, seed=0)
    base = cfg.get_config("dry-run", {"train.epochs": 2, "train.batch_size": 64})
    recorder = learning_rate.BatchedStepRecorder(2)
    result = run_sweep(base, members=[{"train.lr": 2e-4}, {"train.lr": 1e-3}], seeds=[0],
                       out_dir=tmp_path / "sweep", data=data, progress=False, verbose=False, on_step=recorder)
    for k, member in enumerate(result.members):
        rows = recorder.recorders[k].rows
        assert len(rows) == 8
        for epoch, row in enumerate(member.history):
            chunk = rows[epoch * 4:(epoch + 1) * 4]
            for key in ("d_loss", "g_loss", "d_real", "d_fake"):
                assert sum(r[key] for r in chunk) / 4 == pytest.approx(row[key], rel=1e-9)


def test_percentile():
    assert learning_rate.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert learning_rate.percentile([0.0, 10.0], 0.95) == pytest.approx(9.5)


# ----------------------------------------------------------------------------- final Q2 mode collapse
def test_histogram_entropy():  # the lab's class entropy is the metrics package's
    from gan_atelier.metrics.classes import entropy_nats

    assert entropy_nats(torch.tensor([5, 0, 0])) == pytest.approx(0.0)
    assert entropy_nats(torch.ones(10)) == pytest.approx(math.log(10))
    assert math.copysign(1.0, entropy_nats(torch.tensor([0, 7]))) == 1.0  # 0.0, never -0.0


# ----------------------------------------------------------------------------- final Q3 vae
def test_laplacian_variance_closed_forms():
    constant = torch.full((2, 1, 28, 28), 0.7)
    ramp = torch.arange(28.0).div(27).view(1, 1, 1, 28).expand(1, 1, 28, 28)  # linear: ∇² = 0
    yy, xx = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    checkerboard = ((yy + xx) % 2).float().view(1, 1, 28, 28)  # ∇² = ±4 on a 26×26 valid region
    assert_close(vae.laplacian_variance(constant), torch.zeros(2))
    assert_close(vae.laplacian_variance(ramp), torch.zeros(1), atol=1e-10, rtol=0)
    assert_close(vae.laplacian_variance(checkerboard), torch.tensor([16.0]))
    blurred = torch.nn.functional.avg_pool2d(checkerboard, 3, stride=1, padding=1)
    assert vae.laplacian_variance(blurred) < vae.laplacian_variance(checkerboard)


def test_negative_elbo_of_an_uninformed_vae_is_784_ln2():
    torch.manual_seed(0)
    model = build_models(cfg.get_config("vae"))[0]
    with torch.no_grad():  # encoder → mean 0, log σ² 0 (KL = 0); decoder → logits 0 (p = ½ per pixel)
        model.encoder[-1].weight.zero_(); model.encoder[-1].bias.zero_()
        model.decoder.model[-2].weight.zero_(); model.decoder.model[-2].bias.zero_()
    images = synthetic_split(20, seed=0).as_float()
    bound = vae.negative_elbo(model, images)
    assert bound["kl_nats"] == pytest.approx(0.0, abs=1e-9)
    assert bound["nats_per_image"] == pytest.approx(784 * math.log(2), rel=1e-6)
    assert bound["bits_per_pixel"] == pytest.approx(1.0, rel=1e-6)
    assert_close(vae.reconstruct(model, images), torch.full_like(images, 0.5))


# ----------------------------------------------------------------------------- final Q4 dcgan
def test_forward_flops_and_layer_parameters():
    layer = torch.nn.Sequential(torch.nn.Linear(784, 10), torch.nn.ReLU(), torch.nn.Linear(10, 1))
    assert dcgan.forward_flops(layer, torch.zeros(1, 784)) == 2 * 784 * 10 + 2 * 10 * 1
    assert dcgan.layer_parameters(layer) == [("0", "Linear", 7850), ("2", "Linear", 11)]


# ----------------------------------------------------------------------------- common
def test_moving_average_and_table():
    assert moving_average([1.0, 2.0, 3.0, 4.0], 2) == [1.0, 1.5, 2.5, 3.5]
    assert moving_average([1.0, float("nan"), 3.0], 5) == [1.0, 1.0, 2.0]
    table = markdown_table(["a", "b"], [["x", 0.123456], ["y", float("nan")]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x | 0.123 |", "| y | n/a |"]


def test_lab_result_files(tmp_path):
    figure = tmp_path / "f.png"
    figure.write_bytes(b"")
    result = LabResult("d-loss", "final Q1", tmp_path, "quick", ["One.", "Two."],
                       {"x": float("nan"), "t": torch.tensor(1.5)}, [figure], [tmp_path / "runs" / "a"]).write()
    summary = (tmp_path / "summary.md").read_text()
    assert "One. Two." in summary and "gan-atelier lab d-loss --quick" in summary
    assert "`runs/a`" in summary and "[f.png](f.png)" in summary
    import json

    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["numbers"] == {"x": None, "t": 1.5}
    assert result.command == "gan-atelier lab d-loss --quick"


def test_context_checks_scale():
    with pytest.raises(cfg.ConfigError, match="valid scales"):
        LabContext(scale="huge")
    assert LabContext(scale="tiny").data(32).images.shape == (32, 28, 28)
