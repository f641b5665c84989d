"""The modern recipe's ingredients against their definitions: RpGAN, R1/R2, cosine, EMA half-life."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from gan_atelier.losses import LOSS_PAIRS, get_loss_pair, rpgan_d_loss, rpgan_g_loss
from gan_atelier.regularizers import gradient_squared_norm, gradient_squared_norms, zero_centred_penalty
from gan_atelier.schedules import cosine, ema_decay


# ------------------------------------------------------------------------------------ RpGAN
def test_rpgan_matches_its_formula_by_hand():
    real = torch.tensor([[2.0], [-1.0], [0.5]])
    fake = torch.tensor([[1.0], [0.0], [3.0]])
    # L_D = mean log(1 + exp(−(r − f))), L_G = mean log(1 + exp(−(f − r)))
    expected_d = sum(math.log1p(math.exp(-(r - f))) for r, f in [(2, 1), (-1, 0), (0.5, 3)]) / 3
    expected_g = sum(math.log1p(math.exp(-(f - r))) for r, f in [(2, 1), (-1, 0), (0.5, 3)]) / 3
    assert_close(rpgan_d_loss(real, fake), torch.tensor(expected_d))
    assert_close(rpgan_g_loss(fake, real), torch.tensor(expected_g))


def test_rpgan_pairs_by_index_not_by_batch_means():
    real = torch.tensor([[4.0], [0.0]])
    fake = torch.tensor([[0.0], [4.0]])
    # paired differences are +4 and −4; a loss on batch means (which are equal) would give ln 2
    expected = (F.softplus(torch.tensor(-4.0)) + F.softplus(torch.tensor(4.0))) / 2
    assert_close(rpgan_d_loss(real, fake), expected)
    assert abs(rpgan_d_loss(real, fake).item() - math.log(2)) > 0.5


def test_rpgan_at_equal_logits_is_ln2_and_shapes_must_match():
    logits = torch.randn(8, 1)
    assert_close(rpgan_d_loss(logits, logits), torch.tensor(math.log(2)))
    with pytest.raises(ValueError, match="pairs"):
        rpgan_d_loss(torch.zeros(4, 1), torch.zeros(3, 1))


def test_generator_loss_has_one_signature_for_every_pair():
    fake, real = torch.randn(6, 1), torch.randn(6, 1)
    for name, pair in LOSS_PAIRS.items():
        value = pair.generator_loss(fake, real)
        expected = pair.g_loss(fake, real) if pair.g_uses_real_logits else pair.g_loss(fake)
        assert_close(value, expected, msg=name)
    with pytest.raises(ValueError, match="real logits"):
        get_loss_pair("rpgan").generator_loss(fake)


# ------------------------------------------------------------------------------------ R1 / R2
def test_r1_of_a_linear_discriminator_is_the_squared_weight_norm():
    torch.manual_seed(0)
    linear = nn.Linear(784, 1)
    images = torch.rand(16, 784, requires_grad=True)
    logits = linear(images)
    assert_close(gradient_squared_norm(logits, images), linear.weight.pow(2).sum())
    gamma = 0.3
    assert_close(zero_centred_penalty(logits, images, gamma), gamma / 2 * linear.weight.pow(2).sum())


def test_r1_of_a_quadratic_discriminator_matches_its_closed_form():
    # D(x) = ½‖x‖² has ∇D = x, so E‖∇D‖² = E‖x‖²
    images = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = 0.5 * images.flatten(1).pow(2).sum(dim=1, keepdim=True)
    assert_close(gradient_squared_norm(logits, images), images.detach().flatten(1).pow(2).sum(1).mean())


def test_r1_trains_the_discriminator_through_a_double_backward():
    linear = nn.Linear(10, 1)
    images = torch.rand(4, 10, requires_grad=True)
    zero_centred_penalty(linear(images), images, gamma=2.0).backward()
    # d/dw of (γ/2)‖w‖² = γ w
    assert_close(linear.weight.grad, 2.0 * linear.weight.detach())


def test_one_backward_gives_r1_and_r2_as_separate_calls_do():
    torch.manual_seed(1)
    discriminator = nn.Sequential(nn.Linear(12, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    real = torch.randn(6, 12, requires_grad=True)
    fake = torch.randn(6, 12, requires_grad=True)
    logits = discriminator(torch.cat([real, fake]))
    r1, r2 = gradient_squared_norms(logits, [real, fake])
    real_alone = real.detach().clone().requires_grad_(True)
    fake_alone = fake.detach().clone().requires_grad_(True)
    assert_close(r1, gradient_squared_norm(discriminator(real_alone), real_alone))
    assert_close(r2, gradient_squared_norm(discriminator(fake_alone), fake_alone))


def test_penalty_refuses_inputs_without_grad_and_gamma_zero_is_free():
    images = torch.rand(3, 4)
    with pytest.raises(ValueError, match="require grad"):
        gradient_squared_norm(images.sum(1), images)
    assert zero_centred_penalty(torch.zeros(3, 1), images, 0.0).item() == 0.0
    with pytest.raises(ValueError, match="gamma"):
        zero_centred_penalty(torch.zeros(3, 1), images, -1.0)


# ------------------------------------------------------------------------------------ schedules
def test_cosine_values_at_known_steps():
    assert cosine(1.0, 0.1, 0, 100) == pytest.approx(1.0)
    assert cosine(1.0, 0.1, 50, 100) == pytest.approx(0.55)
    assert cosine(1.0, 0.1, 25, 100) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 4)) / 2)
    assert cosine(1.0, 0.1, 100, 100) == pytest.approx(0.1)
    assert cosine(1.0, 0.1, 250, 100) == pytest.approx(0.1)  # stays at the end value
    assert cosine(2e-4, 5e-5, 7, 0) == 2e-4  # no schedule length: constant


def test_ema_decay_is_a_half_life_in_images():
    batch, half_life = 128, 10_000
    decay = ema_decay(batch, half_life, images_seen=10**7)
    assert decay == pytest.approx(0.5 ** (batch / half_life))
    # after half_life / batch updates, the old average keeps half its weight
    assert decay ** (half_life / batch) == pytest.approx(0.5)


def test_ema_decay_ramp_shortens_the_half_life_early():
    batch, half_life, ramp = 64, 10_000, 0.05
    # images_seen = 64_000: ramp · seen = 3_200 < 10_000, so the half-life is 3_200 images
    assert ema_decay(batch, half_life, 64_000, ramp) == pytest.approx(0.5 ** (64 / 3_200))
    assert ema_decay(batch, half_life, 10**6, ramp) == pytest.approx(0.5 ** (64 / 10_000))
    assert ema_decay(batch, half_life, 0, ramp) == 0.0  # first update: copy G
    with pytest.raises(ValueError):
        ema_decay(batch, 0, 100)


# ------------------------------------------------------------------------------------ truncation
def test_truncated_normal_stays_inside_and_has_the_truncated_variance():
    from gan_atelier.truncation import truncated_normal, truncated_normal_variance

    z = truncated_normal(4000, 50, 1.0, generator=torch.Generator().manual_seed(0))
    assert z.shape == (4000, 50) and z.abs().max().item() <= 1.0
    # Var of N(0,1) truncated to [−1, 1] = 1 − 2φ(1)/(2Φ(1) − 1) ≈ 0.2911 (200,000 draws: sd ≈ 0.0006)
    assert truncated_normal_variance(1.0) == pytest.approx(0.29112, abs=1e-4)
    assert z.var().item() == pytest.approx(truncated_normal_variance(1.0), abs=0.004)
    assert z.mean().item() == pytest.approx(0.0, abs=0.005)


def test_truncation_none_is_the_plain_prior_and_seeded_draws_repeat():
    from gan_atelier.truncation import truncated_normal

    plain = truncated_normal(8, 5, None, generator=torch.Generator().manual_seed(3))
    assert_close(plain, torch.randn(8, 5, generator=torch.Generator().manual_seed(3)))
    first = truncated_normal(8, 5, 0.5, generator=torch.Generator().manual_seed(3))
    assert_close(first, truncated_normal(8, 5, 0.5, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError, match="threshold"):
        truncated_normal(2, 2, 0.0)
