"""The Trainer's rearranged step (one D pass over real+fake, D frozen for G's backward, fused
Adam, rand-based dropout) equals the TP notebook's step written out plainly, to 1e-5.

Dropout is disabled on both sides (p = 0: its random numbers are not meant to match), the
models start from the same seed, and both see the same images and the same noise.
"""

import pytest
import torch
import torch.nn as nn

from gan_atelier import config as cfg
from gan_atelier.data import synthetic_split
from gan_atelier.models import Discriminator, Generator
from gan_atelier.speed import SampledDropout, make_adam, use_sampled_dropout
from gan_atelier.training import Trainer

LATENT_DIM, IMAGE_SIZE = 100, 28 * 28
STEPS = 5  # 100 images in batches of 32: 4 batches per epoch (the last one of 4), so a new epoch too


def disable_dropout(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Dropout):
            layer.p = 0.0


def tp_step(G, D, G_optimizer, D_optimizer, criterion, real_images, noise):
    """The TP's inner loop body, verbatim except that ``noise`` is passed in (shared_seed/tp_mlp_gan.md §III)."""
    real_images = real_images.view(-1, IMAGE_SIZE)
    current_batch_size = real_images.size(0)
    real_labels = torch.ones(current_batch_size, 1)
    fake_labels = torch.zeros(current_batch_size, 1)

    D_optimizer.zero_grad()
    D_real_pred = D(real_images)
    D_real_loss = criterion(D_real_pred, real_labels)
    fake_images = G(noise)
    D_fake_pred = D(fake_images.detach())
    D_fake_loss = criterion(D_fake_pred, fake_labels)
    D_loss = D_real_loss + D_fake_loss
    D_loss.backward()
    D_optimizer.step()

    G_optimizer.zero_grad()
    G_pred = D(fake_images)
    G_loss = criterion(G_pred, real_labels)
    G_loss.backward()
    G_optimizer.step()
    return D_loss.item(), G_loss.item()


def fresh_fakes_step(G, D, G_optimizer, D_optimizer, criterion, real_images, noise):
    """Negative control, *not* the TP: G's step scores freshly drawn fakes instead of re-using them."""
    real_images = real_images.view(-1, IMAGE_SIZE)
    ones, zeros = torch.ones(real_images.size(0), 1), torch.zeros(real_images.size(0), 1)
    D_optimizer.zero_grad()
    D_loss = criterion(D(real_images), ones) + criterion(D(G(noise).detach()), zeros)
    D_loss.backward()
    D_optimizer.step()
    G_optimizer.zero_grad()
    G_loss = criterion(D(G(torch.randn(noise.shape, generator=torch.Generator().manual_seed(99)))), ones)
    G_loss.backward()
    G_optimizer.step()
    return D_loss.item(), G_loss.item()


def run_tp(config, split, steps, step_function=tp_step):
    """The plain TP loop on the Trainer's data order and noise stream; returns losses and models."""
    seed = config.train.seed
    torch.manual_seed(seed)
    G, D = Generator(LATENT_DIM), Discriminator()
    disable_dropout(D)
    G_optimizer = torch.optim.Adam(G.parameters(), lr=config.train.lr, betas=(0.5, 0.999))
    D_optimizer = torch.optim.Adam(D.parameters(), lr=config.train.lr, betas=(0.5, 0.999))
    criterion = nn.BCEWithLogitsLoss()
    data_generator = torch.Generator().manual_seed(seed + 1)
    noise_generator = torch.Generator().manual_seed(seed + 2)
    images = split.images.reshape(len(split), -1)
    size = config.train.batch_size
    losses, permutation, batch_index = [], None, 0
    for _ in range(steps):
        if permutation is None or batch_index * size >= len(split):
            permutation, batch_index = torch.randperm(len(split), generator=data_generator), 0
        real = images[permutation[batch_index * size:(batch_index + 1) * size]].float() / 255
        noise = torch.randn(real.shape[0], LATENT_DIM, generator=noise_generator)
        losses.append(step_function(G, D, G_optimizer, D_optimizer, criterion, real, noise))
        batch_index += 1
    return losses, G, D


def run_trainer(config, split, steps):
    trainer = Trainer(config, split)
    disable_dropout(trainer.discriminator)
    losses = []
    for _ in range(steps):
        result = trainer.train_step()
        losses.append((result.d_loss.item(), result.g_loss.item()))
        if trainer.epoch_done():
            trainer.finish_epoch()
    return losses, trainer


@pytest.fixture
def setup(one_thread):
    config = cfg.get_config("dry-run", {"train.batch_size": 32, "train.lr": 1e-3})
    return config, synthetic_split(100, seed=3)


def test_trainer_step_equals_the_plain_tp_step(setup):
    config, split = setup
    tp_losses, G, D = run_tp(config, split, STEPS)
    our_losses, trainer = run_trainer(config, split, STEPS)
    assert trainer.step == STEPS and trainer.epoch == 1  # crossed an epoch boundary (short last batch)
    torch.testing.assert_close(torch.tensor(our_losses), torch.tensor(tp_losses), atol=1e-5, rtol=0)
    for ours, theirs in ((trainer.generator, G), (trainer.discriminator, D)):
        for (name, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=f"{name} differs after {STEPS} steps")
    assert any(not torch.equal(a, b) for a, b in zip(G.parameters(), Generator(LATENT_DIM).parameters()))


def test_negative_control_a_different_step_is_detected(setup):
    """Fresh fakes for G's step (not the TP's algorithm) must fail the same comparison."""
    config, split = setup
    _, G, _ = run_tp(config, split, STEPS, step_function=fresh_fakes_step)
    _, trainer = run_trainer(config, split, STEPS)
    differences = [float((a - b).detach().abs().max()) for a, b in zip(trainer.generator.parameters(), G.parameters())]
    assert max(differences) > 1e-4


def test_trainer_uses_fused_adam_and_sampled_dropout_on_cpu(setup):
    config, split = setup
    trainer = Trainer(config, split)
    assert trainer.optimizer_g.defaults["fused"] and trainer.optimizer_d.defaults["fused"]
    dropouts = [m for m in trainer.discriminator.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 3 and all(type(m) is SampledDropout and m.p == 0.3 for m in dropouts)
    # The swap changes no state_dict key: a TP checkpoint loads as before.
    assert list(trainer.discriminator.state_dict()) == list(Discriminator().state_dict())


def test_fused_adam_equals_the_default_adam(one_thread):
    """make_adam's fused update = torch.optim.Adam's default per-tensor update (same math)."""
    torch.manual_seed(0)
    a, b = nn.Linear(20, 30), nn.Linear(20, 30)
    b.load_state_dict(a.state_dict())
    fused = make_adam(a.parameters(), 1e-2, (0.5, 0.999), torch.device("cpu"))
    plain = torch.optim.Adam(b.parameters(), lr=1e-2, betas=(0.5, 0.999))
    for step in range(10):
        x = torch.randn(8, 20, generator=torch.Generator().manual_seed(step))
        for model, optimizer in ((a, fused), (b, plain)):
            optimizer.zero_grad()
            model(x).pow(2).mean().backward()
            optimizer.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-6)


def test_sampled_dropout_is_inverted_dropout_with_rate_p(one_thread):
    layer = nn.Sequential(nn.Dropout(0.3))
    assert use_sampled_dropout(layer) == 1 and isinstance(layer[0], nn.Dropout)
    torch.manual_seed(0)
    x = torch.ones(400, 1000, requires_grad=True)
    y = layer(x)
    kept = y != 0
    share = kept.float().mean().item()
    assert abs(share - 0.7) < 5 * (0.7 * 0.3 / x.numel()) ** 0.5  # within 5 standard errors
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.7))  # inverted scaling
    y.sum().backward()
    torch.testing.assert_close(x.grad, y.detach())  # dy/dx = m / (1 − p)
    layer.eval()
    assert layer(x) is x
    layer.train()
    layer[0].p = 0.0
    assert layer(x) is x


def test_sampled_dropout_masks_follow_the_global_seed(one_thread):
    layer = SampledDropout(0.5)
    torch.manual_seed(7)
    first = layer(torch.ones(64, 64))
    torch.manual_seed(7)
    torch.testing.assert_close(layer(torch.ones(64, 64)), first, rtol=0, atol=0)


def test_bf16_step_runs_and_keeps_fp32_master_weights(setup):
    config, split = setup
    trainer = Trainer(cfg.apply_overrides(config, {"train.precision": "bf16"}), split)
    result = trainer.train_step()
    assert torch.isfinite(result.d_loss) and torch.isfinite(result.g_loss)
    for module in (trainer.generator, trainer.discriminator):
        assert all(p.dtype == torch.float32 for p in module.parameters())
    for optimizer in (trainer.optimizer_g, trainer.optimizer_d):
        for state in optimizer.state.values():
            assert state["exp_avg"].dtype == torch.float32 and state["exp_avg_sq"].dtype == torch.float32


# ---------------------------------------------------------------- the GPU path's sync-free NaN guard, on CPU
def test_deferred_nan_checks_change_nothing_when_losses_are_finite(setup):
    from gan_atelier.training import state_hash

    config, split = setup
    hashes = []
    for deferred in (False, True):
        trainer = Trainer(config, split, defer_nan_checks=deferred)
        assert trainer.defer_nan_checks is deferred
        for _ in range(STEPS):
            trainer.train_step()
            if trainer.epoch_done():
                trainer.finish_epoch()
        hashes.append(state_hash(trainer))
    assert hashes[0] == hashes[1]


def test_deferred_nan_check_stops_before_the_optimizer_step(setup):
    from gan_atelier.errors import NonFiniteLossError

    config, split = setup  # 100 images in batches of 32: the epoch ends at step 4, where the host checks
    trainer = Trainer(config, split, defer_nan_checks=True)
    trainer.train_step()
    with torch.no_grad():
        trainer.discriminator.model[0].weight[0, 0] = float("nan")  # step 2's D loss is NaN
    before = {name: t.clone() for name, t in
              list(trainer.generator.state_dict().items()) + list(trainer.discriminator.state_dict().items())}
    trainer.train_step()  # no host sync, no error yet: the device flag is set
    trainer.train_step()
    with pytest.raises(NonFiniteLossError, match=r"non-finite D loss at step 2 \(epoch 1, batch 2\); stopped before"):
        trainer.train_step()
    after = dict(list(trainer.generator.state_dict().items()) + list(trainer.discriminator.state_dict().items()))
    for name, value in before.items():
        torch.testing.assert_close(after[name], value, rtol=0, atol=0, equal_nan=True, msg=name)
    for optimizer in (trainer.optimizer_g, trainer.optimizer_d):
        assert all(float(state["step"]) == 1 for state in optimizer.state.values())  # skipped steps not counted


def test_deferred_checks_default_off_on_cpu_and_with_skip(setup):
    config, split = setup
    assert not Trainer(config, split).defer_nan_checks  # CPU: the plain per-step check
    skip = cfg.apply_overrides(config, {"train.on_nan": "skip"})
    assert not Trainer(skip, split, defer_nan_checks=True).defer_nan_checks  # skipping needs per-step decisions


def test_deferred_checks_fall_back_when_a_loaded_optimizer_is_not_fused(setup):
    """A checkpoint from before fused Adam restores fused=None: the guard reverts to per-step checks."""
    config, split = setup
    trainer = Trainer(config, split, defer_nan_checks=True)
    for optimizer in (trainer.optimizer_g, trainer.optimizer_d):
        for group in optimizer.param_groups:
            group["fused"] = None
    trainer.train_step()
    assert not trainer.defer_nan_checks and trainer.optimizer_d.found_inf is None
