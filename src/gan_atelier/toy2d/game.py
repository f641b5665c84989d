"""The adversarial game on 2-D points: the TP's training step, with every knob GAN Lab has.

One iteration = ``k_d`` discriminator steps, then ``k_g`` generator steps (the TP: 1 and 1).
D's step, for the objective pair ``loss`` of :mod:`gan_atelier.losses` (the TP's ``ns`` by default):

    fake = G(z);  L_D = d_loss(D(x), D(fake.detach()))  [+ λ·GP]   → D's optimizer step

G's step, on fresh noise: L_G = g_loss(D(G(z))) → G's optimizer step. With ``detach=False`` D's
backward runs on into G and leaves ∇θ_G L_D in G's ``.grad`` (recorded as ``g_grad_from_d``);
with ``clear_generator_grads=False`` those gradients are not cleared before G's backward (the
pattern "zero both optimizers at the top of the loop"), so G steps on ∇L_G + ∇L_D.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from ..losses import LOSS_PAIRS, get_loss_pair, gradient_penalty
from .data import ToyDataset

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class GameConfig:
    """The game's settings; the defaults are the TP's (ns loss, Adam 2e-4, β = (0.5, 0.999), k = 1)."""

    loss: str = "ns"
    optimizer: str = "adam"
    lr_d: float = 2e-4
    lr_g: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    k_d: int = 1
    k_g: int = 1
    batch_size: int = 256
    detach: bool = True
    clear_generator_grads: bool = True
    gp_weight: float = 0.0
    train_generator: bool = True
    lr_decay_steps: int = 0  # > 0: both rates fall linearly to 5 % of their value at this step
    seed: int = 0

    def __post_init__(self):
        if self.loss not in LOSS_PAIRS:
            raise ConfigError(f"unknown loss {self.loss!r}; valid losses: {', '.join(LOSS_PAIRS)}")
        if LOSS_PAIRS[self.loss].g_uses_real_logits:  # its G step scores fakes alone
            raise ConfigError(f"the 2-D game does not support the relativistic loss {self.loss!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.k_d < 1 or self.k_g < 0 or self.batch_size < 2:
            raise ConfigError("k_d must be ≥ 1, k_g ≥ 0 and batch_size ≥ 2")


def make_optimizer(name: str, parameters, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, betas=betas)
    return torch.optim.SGD(parameters, lr=lr)


def gradient_vector(module: nn.Module) -> torch.Tensor:
    """All of a module's ``.grad`` as one flat vector (zeros where ``.grad`` is None)."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in module.parameters()])


class Game:
    """G, D, their optimizers and a seeded noise stream; :meth:`iteration` plays one round."""

    def __init__(self, config: GameConfig, dataset: ToyDataset, generator: nn.Module, discriminator: nn.Module):
        self.pair = get_loss_pair(config.loss)
        self.config, self.dataset = config, dataset
        self.generator, self.discriminator = generator, discriminator
        self.d_optimizer = make_optimizer(config.optimizer, discriminator.parameters(), config.lr_d, config.betas)
        self.g_optimizer = make_optimizer(config.optimizer, generator.parameters(), config.lr_g, config.betas)
        self.noise = torch.Generator().manual_seed(config.seed + 1)
        self.step = 0
        self.history: list[dict[str, float]] = []

    def sample_noise(self, count: int) -> torch.Tensor:
        return torch.randn(count, self.generator.noise_dim, generator=self.noise)

    def discriminator_step(self) -> dict[str, float]:
        """One D update; returns its loss, mean D(x), mean D(G(z)) and ‖∇θ_G added by D's backward‖."""
        config = self.config
        real = self.dataset.sample(config.batch_size, self.noise)  # (B, 2)
        fake = self.generator(self.sample_noise(config.batch_size))  # (B, 2), attached to G's graph
        scored = fake.detach() if config.detach else fake
        real_logits, fake_logits = self.discriminator(real), self.discriminator(scored)
        d_loss = self.pair.d_loss(real_logits, fake_logits)
        if config.gp_weight:
            alpha = torch.rand(config.batch_size, 1, generator=self.noise)
            d_loss = d_loss + config.gp_weight * gradient_penalty(self.discriminator, real, fake.detach(), alpha)
        before = gradient_vector(self.generator)
        self.d_optimizer.zero_grad()
        d_loss.backward()
        self.d_optimizer.step()
        added = gradient_vector(self.generator) - before
        return {"d_loss": float(d_loss.detach()), "d_real": float(torch.sigmoid(real_logits.detach()).mean()),
                "d_fake": float(torch.sigmoid(fake_logits.detach()).mean()), "g_grad_from_d": float(added.norm())}

    def generator_step(self) -> dict[str, float]:
        """One G update on fresh noise: L_G = g_loss(D(G(z)))."""
        if self.config.clear_generator_grads:
            self.g_optimizer.zero_grad()
        g_loss = self.pair.g_loss(self.discriminator(self.generator(self.sample_noise(self.config.batch_size))))
        g_loss.backward()
        self.g_optimizer.step()
        return {"g_loss": float(g_loss.detach())}

    def iteration(self) -> dict[str, float]:
        """k_d D steps then k_g G steps; the record holds the last of each (and the step number)."""
        if not self.config.clear_generator_grads:
            self.g_optimizer.zero_grad()  # cleared once, at the top of the iteration only
        record: dict[str, float] = {}
        if self.config.lr_decay_steps:
            factor = max(0.05, 1.0 - self.step / self.config.lr_decay_steps)
            for optimizer, lr in ((self.d_optimizer, self.config.lr_d), (self.g_optimizer, self.config.lr_g)):
                for group in optimizer.param_groups:
                    group["lr"] = lr * factor
        for _ in range(self.config.k_d):
            record.update(self.discriminator_step())
        record["g_loss"] = math.nan
        if self.config.train_generator:
            for _ in range(self.config.k_g):
                record.update(self.generator_step())
        self.step += 1
        record["step"] = self.step
        self.history.append(record)
        return record

    def fork(self, config: GameConfig) -> "Game":
        """A copy of this game (models, D's optimizer state, history) that goes on under ``config``."""
        import copy

        twin = Game(config, self.dataset, copy.deepcopy(self.generator), copy.deepcopy(self.discriminator))
        if config.optimizer == self.config.optimizer:  # an optimizer's state only fits its own kind
            twin.d_optimizer.load_state_dict(self.d_optimizer.state_dict())
        twin.step, twin.history = self.step, [dict(r) for r in self.history]
        twin.noise.set_state(self.noise.get_state())
        return twin

    def play(self, steps: int, every: int = 0, on_snapshot=None) -> bool:
        """Run ``steps`` iterations, calling ``on_snapshot(game)`` at 0 and every ``every`` steps.

        Returns False (and stops) when a loss stops being finite: the game diverged.
        """
        if on_snapshot and every:
            on_snapshot(self)
        for _ in range(steps):
            record = self.iteration()
            losses = [record["d_loss"]] + ([record["g_loss"]] if self.config.train_generator else [])
            if not all(math.isfinite(value) for value in losses):
                if on_snapshot:
                    on_snapshot(self)
                return False
            if on_snapshot and every and self.step % every == 0:
                on_snapshot(self)
        return True
