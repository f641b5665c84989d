"""The Dirac-GAN (Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually
Converge?", arXiv 1801.04406): the smallest game that shows why GAN training oscillates.

p_data = δ₀ (one real point at 0), G is a single point θ (p_g = δ_θ), D is linear: logit = ψ·x.
With the TP's losses, D minimises L_D(ψ) = softplus(−ψ·0) + softplus(ψθ) [+ γ/2 ‖∇ₓ logit‖² at the
real point = γψ²/2, the zero-centred "R1" gradient penalty of Mescheder et al.], and G minimises
L_G(θ) = softplus(−ψθ) (``ns``) or −softplus(ψθ) (``saturating``). The gradients are taken by
autograd on the project's loss pairs. The only equilibrium is (θ, ψ) = (0, 0); linearised there
(σ(0) = ½), the gradient field v = (−∂θ L_G, −∂ψ L_D) has the Jacobian

    J = [[0, ½], [−½, −γ]],   eigenvalues λ = (−γ ± √(γ² − 1)) / 2  (= ±i/2 without penalty).

A step of size h maps (θ, ψ) by M = I + hJ for simultaneous updates: eigenvalues 1 + hλ, of modulus
√(1 + h²/4) > 1 when γ = 0, so every step multiplies the distance to the equilibrium by that factor
(it spirals out; doubling takes n = 2 ln 2 / ln(1 + h²/4) ≈ 8 ln 2 / h² steps). Alternating
updates (D, then G with the new ψ) give det M = 1 and |tr M| < 2 for h < 4: eigenvalues on the unit
circle, the iterates circle forever (bounded, never converging). The penalty γ > 0 moves the
eigenvalues of J into Re λ < 0, and simultaneous steps converge for small enough h.
That is the closed-form answer to the TP's Q2.1: the growth per step is √(1 + h²a²) − 1 ≈ h²a²/2,
negligible at h = 2·10⁻⁴ (doubling after ~7·10⁷ steps here) and ruinous at h = 1 (6 steps).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..losses import get_loss_pair

MODES = ("simultaneous", "alternating")


def dirac_gradients(theta: float, psi: float, loss: str = "saturating", penalty: float = 0.0) -> tuple[float, float]:
    """(∂θ L_G, ∂ψ L_D) at (θ, ψ), by autograd on the loss pair ``loss`` (float64)."""
    pair = get_loss_pair(loss)
    theta_t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    psi_t = torch.tensor(psi, dtype=torch.float64, requires_grad=True)
    real_point = torch.zeros(1, 1, dtype=torch.float64, requires_grad=True)
    real_logits = psi_t * real_point  # (1, 1): D's logit at the real point 0
    fake_logits = (psi_t * theta_t.detach()).reshape(1, 1)  # D's step sees the fake as a constant
    d_loss = pair.d_loss(real_logits, fake_logits)
    if penalty:
        (input_gradient,) = torch.autograd.grad(real_logits.sum(), real_point, create_graph=True)
        d_loss = d_loss + 0.5 * penalty * (input_gradient ** 2).sum()
    (d_psi,) = torch.autograd.grad(d_loss, psi_t)
    g_loss = pair.g_loss((psi_t.detach() * theta_t).reshape(1, 1))
    (g_theta,) = torch.autograd.grad(g_loss, theta_t)
    return float(g_theta), float(d_psi)


def trajectory(start: tuple[float, float], lr: float, steps: int, mode: str = "simultaneous",
               loss: str = "saturating", penalty: float = 0.0) -> np.ndarray:
    """The iterates (θ_k, ψ_k), k = 0..steps, of gradient descent for both players: (steps + 1, 2)."""
    theta, psi = start
    points = [(theta, psi)]
    for _ in range(steps):
        g_theta, d_psi = dirac_gradients(theta, psi, loss, penalty)
        psi_next = psi - lr * d_psi
        if mode == "alternating":  # G answers the D that has just moved
            g_theta, _ = dirac_gradients(theta, psi_next, loss, penalty)
        theta, psi = theta - lr * g_theta, psi_next
        points.append((theta, psi))
    return np.array(points)


def jacobian(penalty: float = 0.0) -> np.ndarray:
    """J of the field v = (−∂θ L_G, −∂ψ L_D) at (0, 0), on (θ, ψ): [[0, ½], [−½, −γ]]."""
    return np.array([[0.0, 0.5], [-0.5, -penalty]])


def step_matrix(lr: float, mode: str = "simultaneous", penalty: float = 0.0) -> np.ndarray:
    """The linearised map of one step: I + hJ (simultaneous) or G-after-D (alternating)."""
    if mode == "simultaneous":
        return np.eye(2) + lr * jacobian(penalty)
    d_update = np.array([[1.0, 0.0], [-0.5 * lr, 1.0 - lr * penalty]])  # ψ' = ψ − h(θ/2 + γψ)
    g_update = np.array([[1.0, 0.5 * lr], [0.0, 1.0]])  # θ' = θ + hψ'/2
    return g_update @ d_update


def spectral_radius(matrix: np.ndarray) -> float:
    return float(np.abs(np.linalg.eigvals(matrix)).max())


def steps_to_double(lr: float) -> float:
    """Simultaneous steps, γ = 0, linearised: n with (1 + h²/4)^(n/2) = 2."""
    return 2 * math.log(2) / math.log1p(lr ** 2 / 4)


def vector_field(extent: float = 2.0, count: int = 15, loss: str = "saturating", penalty: float = 0.0):
    """(θ grid, ψ grid, dθ, dψ): the field v = (−∂θ L_G, −∂ψ L_D) on a count × count grid."""
    axis = np.linspace(-extent, extent, count)
    thetas, psis = np.meshgrid(axis, axis)
    field = np.array([[dirac_gradients(t, p, loss, penalty) for t, p in zip(row_t, row_p)]
                      for row_t, row_p in zip(thetas, psis)])  # (count, count, 2)
    return thetas, psis, -field[..., 0], -field[..., 1]
