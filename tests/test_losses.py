"""Loss pairs, gradient penalty and VAE terms, each against its paper's definition.

Hand formulas are written in float64 with ``log σ`` spelled out; optima are checked against the
closed forms (Goodfellow 2014 Prop. 1 and Thm. 1, Mao et al. 2017 eq. 3, the hinge's sign rule).
"""

import math

import pytest
import torch
from torch import nn

from gan_atelier import losses
from gan_atelier.losses import (
    FAKE, LOSS_PAIRS, REAL, bernoulli_reconstruction, gaussian_kl, get_loss_pair, gradient_penalty,
)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny tensors: a second OpenMP thread only adds waiting on a shared 2-core machine."""


@pytest.fixture
def logits():
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(64, 1, generator=generator, dtype=torch.float64) * 3
    fake = torch.randn(64, 1, generator=generator, dtype=torch.float64) * 3
    return real, fake


def log_sigmoid(x):
    return torch.log(1.0 / (1.0 + torch.exp(-x)))


def log_one_minus_sigmoid(x):
    return torch.log(1.0 - 1.0 / (1.0 + torch.exp(-x)))


# ---------------------------------------------------------------------------------- formulas
def test_labels_are_named_once():
    assert (REAL, FAKE) == (1.0, 0.0)


def test_ns_pair_equals_hand_formula(logits):
    real, fake = logits
    expected_d = -log_sigmoid(real).mean() - log_one_minus_sigmoid(fake).mean()
    expected_g = -log_sigmoid(fake).mean()
    pair = get_loss_pair("ns")
    torch.testing.assert_close(pair.d_loss(real, fake), expected_d)
    torch.testing.assert_close(pair.g_loss(fake), expected_g)


def test_ns_pair_equals_the_tp_code(logits):
    """The TP: criterion = nn.BCEWithLogitsLoss(); D_loss = crit(real, 1) + crit(fake, 0); G_loss = crit(fake, 1)."""
    real, fake = logits
    criterion = nn.BCEWithLogitsLoss()
    real_labels, fake_labels = torch.ones_like(real), torch.zeros_like(fake)
    tp_d_loss = criterion(real, real_labels) + criterion(fake, fake_labels)
    tp_g_loss = criterion(fake, real_labels)
    torch.testing.assert_close(losses.ns_d_loss(real, fake), tp_d_loss, rtol=0, atol=0)
    torch.testing.assert_close(losses.ns_g_loss(fake), tp_g_loss, rtol=0, atol=0)


def test_ns_values_at_d_one_half():
    """D ≡ ½ (zero logits): summed D loss 2 ln 2, NS G loss ln 2, saturating G loss −ln 2."""
    zeros = torch.zeros(8, 1, dtype=torch.float64)
    torch.testing.assert_close(losses.ns_d_loss(zeros, zeros), torch.tensor(2 * math.log(2), dtype=torch.float64))
    torch.testing.assert_close(losses.ns_g_loss(zeros), torch.tensor(math.log(2), dtype=torch.float64))
    torch.testing.assert_close(losses.saturating_g_loss(zeros), torch.tensor(-math.log(2), dtype=torch.float64))


def test_one_sided_label_smoothing_changes_only_the_real_target(logits):
    real, fake = logits
    s = 0.1
    expected = (-((1 - s) * log_sigmoid(real) + s * log_one_minus_sigmoid(real)).mean()
                - log_one_minus_sigmoid(fake).mean())
    torch.testing.assert_close(losses.ns_d_loss(real, fake, real_target=1 - s), expected)
    expected_ls = 0.5 * ((real - (1 - s)) ** 2).mean() + 0.5 * (fake ** 2).mean()
    torch.testing.assert_close(losses.lsgan_d_loss(real, fake, real_target=1 - s), expected_ls)


def test_saturating_pair_is_the_minimax_g_loss(logits):
    """G minimises E log(1 − D(G(z))); D's loss is the same as ns."""
    real, fake = logits
    pair = get_loss_pair("saturating")
    torch.testing.assert_close(pair.g_loss(fake), log_one_minus_sigmoid(fake).mean())
    torch.testing.assert_close(pair.d_loss(real, fake), losses.ns_d_loss(real, fake))


def test_saturating_gradient_vanishes_where_ns_does_not():
    """∂/∂ℓ log(1 − σ(ℓ)) = −σ(ℓ) → 0 as D(G(z)) → 0, while ∂/∂ℓ[−log σ(ℓ)] = −(1 − σ(ℓ)) → −1."""
    logit = torch.tensor([[-6.0]], dtype=torch.float64, requires_grad=True)
    (saturating,) = torch.autograd.grad(losses.saturating_g_loss(logit), logit)
    (non_saturating,) = torch.autograd.grad(losses.ns_g_loss(logit), logit)
    d = torch.sigmoid(logit.detach())
    torch.testing.assert_close(saturating, -d)
    torch.testing.assert_close(non_saturating, -(1 - d))


def test_lsgan_pair_equals_hand_formula(logits):
    """Mao et al. 2017 with a = 0, b = c = 1, on raw outputs."""
    real, fake = logits
    pair = get_loss_pair("lsgan")
    torch.testing.assert_close(pair.d_loss(real, fake), 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean())
    torch.testing.assert_close(pair.g_loss(fake), 0.5 * ((fake - 1) ** 2).mean())


def test_hinge_pair_equals_hand_formula(logits):
    real, fake = logits
    pair = get_loss_pair("hinge")
    expected_d = torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
    torch.testing.assert_close(pair.d_loss(real, fake), expected_d)
    torch.testing.assert_close(pair.g_loss(fake), -fake.mean())


def test_wasserstein_pair_equals_hand_formula(logits):
    real, fake = logits
    pair = get_loss_pair("wgan-gp")
    assert pair.uses_gradient_penalty and not pair.probabilistic
    torch.testing.assert_close(pair.d_loss(real, fake), fake.mean() - real.mean())
    torch.testing.assert_close(pair.g_loss(fake), -fake.mean())


def test_only_wgan_gp_uses_the_penalty():
    assert [name for name, pair in LOSS_PAIRS.items() if pair.uses_gradient_penalty] == ["wgan-gp"]


def test_unknown_loss_lists_the_valid_ones():
    with pytest.raises(ValueError) as error:
        get_loss_pair("wgan")
    for name in ("ns", "saturating", "lsgan", "hinge", "wgan-gp"):
        assert name in str(error.value)


# ---------------------------------------------------------------------------------- optima
# A discriminator that is a free table of logits over 4 points. Real samples hit the points
# with probabilities p_data, fake ones with p_g; a batch holding point i  (10·p_i) times makes
# the batch mean an exact expectation.
P_DATA = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
P_G = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
REAL_POINTS = torch.repeat_interleave(torch.arange(4), (P_DATA * 10).round().long())
FAKE_POINTS = torch.repeat_interleave(torch.arange(4), (P_G * 10).round().long())


def discriminator_loss(name: str, table: torch.Tensor) -> torch.Tensor:
    return get_loss_pair(name).d_loss(table[REAL_POINTS, None], table[FAKE_POINTS, None])


def minimise_table(name: str, steps: int = 2000) -> torch.Tensor:
    torch.manual_seed(0)
    table = torch.randn(4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([table], lr=0.05)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1.0 + step / 100))
    for _ in range(steps):
        optimizer.zero_grad()
        discriminator_loss(name, table).backward()
        optimizer.step()
        scheduler.step()
    return table.detach()


def test_ns_optimal_discriminator_and_value():
    """Goodfellow 2014: D*(x) = p_data/(p_data + p_g), and min L_D = log 4 − 2·JSD(p_data ‖ p_g)."""
    table = minimise_table("ns")
    torch.testing.assert_close(torch.sigmoid(table), P_DATA / (P_DATA + P_G), atol=1e-3, rtol=0)
    mixture = (P_DATA + P_G) / 2
    jsd = 0.5 * (P_DATA * (P_DATA / mixture).log()).sum() + 0.5 * (P_G * (P_G / mixture).log()).sum()
    optimum = torch.log(P_DATA / P_G)  # logit of D*
    torch.testing.assert_close(discriminator_loss("ns", optimum), math.log(4) - 2 * jsd)


def test_lsgan_optimal_discriminator_and_value():
    """Mao et al. eq. 3 with a = 0, b = 1: D*(x) = p_data/(p_data + p_g); value ½ Σ p_d p_g/(p_d + p_g)."""
    table = minimise_table("lsgan")
    optimum = P_DATA / (P_DATA + P_G)
    torch.testing.assert_close(table, optimum, atol=1e-3, rtol=0)
    torch.testing.assert_close(discriminator_loss("lsgan", optimum), 0.5 * (P_DATA * P_G / (P_DATA + P_G)).sum())


def test_lsgan_generator_optimum_is_the_real_target():
    fake = torch.randn(16, 1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([fake], lr=1.0)
    for _ in range(50):
        optimizer.zero_grad()
        (losses.lsgan_g_loss(fake) * fake.shape[0]).backward()  # per-sample gradient fake − 1
        optimizer.step()
    torch.testing.assert_close(fake.detach(), torch.ones_like(fake), atol=1e-9, rtol=0)
    assert losses.lsgan_g_loss(fake.detach()).item() < 1e-12


def test_hinge_optimal_discriminator_and_value():
    """min_t p_d·relu(1 − t) + p_g·relu(1 + t) is at t = sign(p_d − p_g): L_D* = 2 Σ min(p_d, p_g)."""
    table = minimise_table("hinge")
    optimum = torch.sign(P_DATA - P_G)
    torch.testing.assert_close(table, optimum, atol=2e-2, rtol=0)
    expected = 2 * torch.minimum(P_DATA, P_G).sum()
    torch.testing.assert_close(discriminator_loss("hinge", optimum), expected)
    # Convex and piecewise linear: no small step in any direction from the optimum lowers it.
    generator = torch.Generator().manual_seed(1)
    for _ in range(100):
        direction = torch.randn(4, generator=generator, dtype=torch.float64)
        assert discriminator_loss("hinge", optimum + 1e-3 * direction) >= expected - 1e-12


# ---------------------------------------------------------------------------------- gradient penalty
class LinearCritic(nn.Module):
    """f(x) = ⟨w, x⟩ + b over all non-batch dimensions: ∇ₓf = w for every x."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.tensor(0.3, dtype=weight.dtype))

    def forward(self, x):
        return (x * self.weight).flatten(1).sum(dim=1, keepdim=True) + self.bias  # (B, 1)


def images(seed: int, count: int = 8):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, 1, 28, 28, generator=generator, dtype=torch.float64)


def per_sample_alpha(count: int = 8):
    return torch.rand(count, 1, 1, 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64)


def test_penalty_is_zero_for_a_unit_norm_linear_critic():
    weight = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    critic = LinearCritic(weight / weight.norm())  # ‖w‖₂ over all (C, H, W) = 1
    penalty = gradient_penalty(critic, images(0), images(1), per_sample_alpha())
    torch.testing.assert_close(penalty, torch.tensor(0.0, dtype=torch.float64), atol=1e-24, rtol=0)


def test_penalty_is_the_squared_norm_gap_for_a_scaled_linear_critic():
    """‖w‖ = 3 ⇒ GP = (3 − 1)² = 4 exactly; a per-pixel norm (the dim=1 bug) would give another value."""
    weight = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    critic = LinearCritic(3 * weight / weight.norm())
    penalty = gradient_penalty(critic, images(0), images(1), per_sample_alpha())
    torch.testing.assert_close(penalty, torch.tensor(4.0, dtype=torch.float64))


def test_penalty_draws_one_alpha_per_sample():
    real, fake = images(0), images(1)
    with pytest.raises(ValueError, match="one weight per sample"):
        gradient_penalty(LinearCritic(torch.ones(1, 28, 28, dtype=torch.float64)), real, fake,
                         torch.rand(8, 1, 28, 28, dtype=torch.float64))  # per pixel: refused
    seen = []

    def recording_critic(x):
        seen.append(x.detach())
        return x.flatten(1).sum(dim=1, keepdim=True)

    alpha = per_sample_alpha()
    gradient_penalty(recording_critic, real, fake, alpha)
    torch.testing.assert_close(seen[0], alpha * real + (1 - alpha) * fake)
    flat_alpha = alpha.view(8, 1)  # (B, 1) for flat inputs
    gradient_penalty(recording_critic, real.flatten(1), fake.flatten(1), flat_alpha)
    torch.testing.assert_close(seen[1], flat_alpha * real.flatten(1) + (1 - flat_alpha) * fake.flatten(1))


def test_penalty_matches_a_per_sample_loop_on_the_raw_output():
    """A nonlinear critic: GP = mean_i (‖∇ f(x̂_i)‖ − 1)², gradient of f's logit, not of σ(f)."""
    torch.manual_seed(4)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    real, fake, alpha = images(0), images(1), per_sample_alpha()
    expected = []
    for i in range(8):
        point = (alpha[i] * real[i] + (1 - alpha[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
        (gradient,) = torch.autograd.grad(critic(point).sum(), point)
        expected.append((gradient.norm() - 1) ** 2)
    torch.testing.assert_close(gradient_penalty(critic, real, fake, alpha), torch.stack(expected).mean())
    sigmoid_critic = nn.Sequential(critic, nn.Sigmoid())
    assert not torch.allclose(gradient_penalty(sigmoid_critic, real, fake, alpha), torch.stack(expected).mean())


def test_penalty_passes_critic_keywords_and_is_differentiable_in_the_critic():
    weight = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    critic = LinearCritic(2 * weight / weight.norm())
    labels_seen = []

    def conditional_critic(x, labels):
        labels_seen.append(labels)
        return critic(x)

    labels = torch.arange(8)
    penalty = gradient_penalty(conditional_critic, images(0), images(1), per_sample_alpha(), labels=labels)
    assert labels_seen[0] is labels
    penalty.backward()
    # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1) w/‖w‖ — the penalty reaches the critic's weights (create_graph=True).
    w = critic.weight.detach()
    torch.testing.assert_close(critic.weight.grad, 2 * (w.norm() - 1) * w / w.norm())


def test_penalty_is_finite_when_the_gradient_is_zero():
    """real == fake and a constant critic: ‖∇‖ = 0, GP = 1, and no NaN from the norm's backward."""
    critic = LinearCritic(torch.zeros(1, 28, 28, dtype=torch.float64))
    x = images(0)
    penalty = gradient_penalty(critic, x, x.clone(), per_sample_alpha())
    penalty.backward()
    torch.testing.assert_close(penalty, torch.tensor(1.0, dtype=torch.float64))
    assert torch.isfinite(critic.weight.grad).all()


# ---------------------------------------------------------------------------------- VAE terms
def test_kl_of_the_prior_to_itself_is_zero():
    zeros = torch.zeros(5, 100, dtype=torch.float64)
    assert gaussian_kl(zeros, zeros).item() == 0.0


def test_kl_matches_torch_distributions():
    generator = torch.Generator().manual_seed(7)
    mean = torch.randn(6, 10, generator=generator, dtype=torch.float64)
    log_var = torch.randn(6, 10, generator=generator, dtype=torch.float64)
    posterior = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    prior = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(dim=1).mean()
    torch.testing.assert_close(gaussian_kl(mean, log_var), expected)


def test_kl_by_hand_for_one_dimension():
    """KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1) − log σ; μ = 1, σ² = e: ½(1 + e − 1) − ½ = (e − 1)/2."""
    kl = gaussian_kl(torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64))
    torch.testing.assert_close(kl, torch.tensor((math.e - 1) / 2, dtype=torch.float64))


def test_bernoulli_reconstruction_matches_hand_computation():
    """−log p(x|z) = −Σ_pixels [x log p + (1 − x) log(1 − p)], p = σ(logit); summed over pixels, mean over batch."""
    generator = torch.Generator().manual_seed(8)
    logits = torch.randn(4, 784, generator=generator, dtype=torch.float64) * 2
    target = torch.rand(4, 1, 28, 28, generator=generator, dtype=torch.float64)
    p = torch.sigmoid(logits)
    x = target.flatten(1)
    expected = -(x * p.log() + (1 - x) * (1 - p).log()).sum(dim=1).mean()
    torch.testing.assert_close(bernoulli_reconstruction(logits.view(4, 1, 28, 28), target), expected)
    binary = (target > 0.5).double()
    log_likelihood = torch.distributions.Bernoulli(logits=logits).log_prob(binary.flatten(1)).sum(dim=1).mean()
    torch.testing.assert_close(bernoulli_reconstruction(logits, binary), -log_likelihood)


def test_elbo_terms_on_a_tiny_hand_example():
    """Two pixels, one latent dimension, numbers small enough to check on paper."""
    logits = torch.tensor([[0.0, math.log(3.0)]], dtype=torch.float64)  # p = ½ and ¾
    target = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    # −[log ½ + log ¼] = log 2 + log 4 = 3 log 2
    torch.testing.assert_close(bernoulli_reconstruction(logits, target),
                               torch.tensor(3 * math.log(2), dtype=torch.float64))
    mean, log_var = torch.tensor([[2.0]], dtype=torch.float64), torch.tensor([[0.0]], dtype=torch.float64)
    torch.testing.assert_close(gaussian_kl(mean, log_var), torch.tensor(2.0, dtype=torch.float64))  # ½μ²
