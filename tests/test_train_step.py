"""Training-step invariants: what each step touches, the losses' values, the fixed noise."""

import math

import pytest
import torch
import torch.nn.functional as F

from gan_atelier import config as cfg
from gan_atelier.data import synthetic_split
from gan_atelier.losses import ns_d_loss, ns_g_loss
from gan_atelier.training import Trainer, run_loop


def make_trainer(**overrides):
    config = cfg.get_config("dry-run", {"train.batch_size": 32, **overrides})
    return Trainer(config, synthetic_split(128, seed=0))


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return [not torch.equal(a, b) for a, b in zip(before, module.parameters())]


def test_tp_losses_equal_hand_written_bce():
    torch.manual_seed(0)
    real_logits, fake_logits = torch.randn(8, 1) * 3, torch.randn(8, 1) * 3
    sigmoid = torch.sigmoid
    d_expected = -(torch.log(sigmoid(real_logits)).mean() + torch.log(1 - sigmoid(fake_logits)).mean())
    g_expected = -torch.log(sigmoid(fake_logits)).mean()
    torch.testing.assert_close(ns_d_loss(real_logits, fake_logits), d_expected)
    torch.testing.assert_close(ns_g_loss(fake_logits), g_expected)
    criterion = torch.nn.BCEWithLogitsLoss()  # the TP's own code
    torch.testing.assert_close(
        ns_d_loss(real_logits, fake_logits),
        criterion(real_logits, torch.ones(8, 1)) + criterion(fake_logits, torch.zeros(8, 1)))


def test_equilibrium_values():
    """D(x) = D(G(z)) = 0.5 ⇔ logits 0: D loss = 2 ln 2, G loss = ln 2 (the curves' reference lines)."""
    zeros = torch.zeros(4, 1)
    assert math.isclose(ns_d_loss(zeros, zeros).item(), 2 * math.log(2), rel_tol=1e-6)
    assert math.isclose(ns_g_loss(zeros).item(), math.log(2), rel_tol=1e-6)


def test_d_step_leaves_g_untouched_and_g_step_leaves_d_untouched(monkeypatch):
    trainer = make_trainer()
    g_before, d_before = snapshot(trainer.generator), snapshot(trainer.discriminator)
    # Stop right after D's update by making G's optimizer refuse to step.
    calls = []
    monkeypatch.setattr(trainer.optimizer_g, "step", lambda *a, **k: calls.append("g"))
    trainer.train_step()
    assert calls == ["g"]
    assert not any(changed(g_before, trainer.generator)), "the D step must not change G"
    assert all(changed(d_before, trainer.discriminator)), "the D step updates every D tensor"
    # Now a G step alone: D frozen.
    trainer2 = make_trainer()
    d_before2 = snapshot(trainer2.discriminator)
    g_before2 = snapshot(trainer2.generator)
    monkeypatch.setattr(trainer2.optimizer_d, "step", lambda *a, **k: None)
    trainer2.train_step()
    assert not any(changed(d_before2, trainer2.discriminator)), "the G step must not change D"
    assert all(changed(g_before2, trainer2.generator))


def test_d_step_writes_no_gradient_into_g():
    trainer = make_trainer()
    trainer.optimizer_g.step = lambda *a, **k: None
    trainer.optimizer_g.zero_grad = lambda *a, **k: None
    trainer.discriminator.requires_grad_(True)
    # After the D step alone (simulate by running the step and inspecting G's grads before G's backward):
    # G's grads come only from G's own loss, so they equal a pure G-loss gradient computed by hand.
    real, _ = (trainer._begin_epoch(), trainer.batch(0))[1]
    z = trainer.noise(real.shape[0])
    fake = trainer.generator(z).view_as(real)
    d_loss = ns_d_loss(trainer.discriminator(real), trainer.discriminator(fake.detach()))
    d_loss.backward()
    assert all(p.grad is None for p in trainer.generator.parameters()), ".detach() keeps G out of D's loss"


def test_fixed_noise_is_fixed_and_seeded():
    a, b = make_trainer(), make_trainer()
    torch.testing.assert_close(a.fixed_noise, b.fixed_noise, rtol=0, atol=0)
    assert a.fixed_noise.shape == (64, 100) and a.fixed_noise.device.type == "cpu"
    noise = a.fixed_noise.clone()
    run_loop(a, progress=False)
    torch.testing.assert_close(a.fixed_noise, noise, rtol=0, atol=0)
    c = make_trainer(**{"train.seed": 1})
    assert not torch.equal(a.fixed_noise, c.fixed_noise)


def test_epoch_covers_every_image_once_with_a_short_last_batch():
    trainer = make_trainer(**{"train.batch_size": 50})  # 128 images: 50, 50, 28
    assert trainer.num_batches == 3
    trainer._begin_epoch()
    seen = torch.cat([trainer.permutation[i * 50:(i + 1) * 50] for i in range(3)])
    assert sorted(seen.tolist()) == list(range(128))
    sizes = [trainer.batch(i)[0].shape[0] for i in range(3)]
    assert sizes == [50, 50, 28]


def test_batches_are_in_unit_range_and_shuffled_each_epoch():
    trainer = make_trainer()
    trainer._begin_epoch()
    first = trainer.permutation.clone()
    images, labels = trainer.batch(0)
    assert images.shape == (32, 1, 28, 28) and images.dtype == torch.float32
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    trainer._begin_epoch()
    assert not torch.equal(first, trainer.permutation)


def test_epoch_row_means_match_the_tp_averaging():
    trainer = make_trainer(**{"train.epochs": 1})
    recorded = []
    original = trainer._step

    def spy(real, labels):
        result = original(real, labels)
        recorded.append((result.d_loss.item(), result.g_loss.item(),
                         result.d_real.item(), result.d_fake.item()))
        return result

    trainer._step = spy
    run_loop(trainer, progress=False)
    row = trainer.history[-1]
    n = len(recorded)
    assert n == trainer.num_batches == row["step"]
    for index, key in enumerate(("d_loss", "g_loss", "d_real", "d_fake")):
        assert math.isclose(row[key], sum(r[index] for r in recorded) / n, rel_tol=1e-9)
    assert 0 < row["d_real"] < 1 and 0 < row["d_fake"] < 1


def test_same_seed_same_weights_different_seed_different(one_thread):
    from gan_atelier.training import state_hash

    hashes = []
    for overrides in ({}, {}, {"train.seed": 5}):
        trainer = make_trainer(**overrides)  # build then train, as train() does (dropout uses the global RNG)
        run_loop(trainer, progress=False)
        hashes.append(state_hash(trainer))
    assert hashes[0] == hashes[1]
    assert hashes[0] != hashes[2]
