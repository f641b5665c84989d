"""K MLP GANs trained at once: stacked weights, batched matmuls, one Adam per member.

Member ``k`` is exactly the run :class:`~gan_atelier.training.Trainer` would do alone with
``configs[k]``: the same seeded initialisation and streams (:class:`~gan_atelier.training.RunSeeds`:
init, data order, noise, fixed noise), the same step (D on real + detached fakes, then G on the
same fakes against REAL, D frozen), Adam with its own learning rate and betas, the same epoch
means (:func:`~gan_atelier.training.stats.epoch_means`) and alarms. Only dropout differs in its
random numbers (the global RNG is shared by the members), so a test with dropout disabled finds
the same weights (``tests/test_sweep.py``). Kept apart from the Trainer on purpose: its step
really differs (K losses summed, per-member gradients shared out, per-member NaN handling).

* the loss is the **sum** over members of each member's loss (a mean would scale every member's
  gradients by 1/K, which Adam's ε does not ignore), so member k's gradients are its own loss's;
* the optimizer holds one parameter group per member (its lr and betas). Adam is elementwise,
  so K groups = K independent Adams, each the fused kernel the Trainer uses.

A member whose loss turns non-finite is stopped alone (its parameters frozen at their last
finite values; ``on_nan="skip"`` skips its step instead, up to ``train.max_nan_skips`` in a
row); the others go on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .. import config as cfg
from ..collapse import CollapseDetector, real_diversity
from ..config import RunConfig
from ..data import Split
from ..errors import ConfigError
from ..losses import get_loss_pair
from ..models import build_models
from ..objectives import LOSSES, objective
from ..speed import make_adam, use_sampled_dropout
from ..training.device import apply_threads_and_determinism
from ..training.monitors import d_winning_alarm, diversity_alarm, rejection_alarm
from ..training.seeds import RunSeeds
from ..training.stats import EpochAccumulator, epoch_means, epoch_row
from ..training.step import d_outputs
from .stacked import StackedMLP, member_leaves

# Keys that may differ between the members of one batched sweep (they change no shape and no step).
SWEEPABLE_KEYS = ("train.lr", "train.lr_d", "train.lr_g", "train.beta1", "train.beta2",
                  "train.seed", "train.label_smoothing")
SUPPORTED_LOSSES = tuple(name for name in LOSSES  # no D regulariser, G's loss of the fakes alone
                         if objective(name).d_penalty is None and not objective(name).relativistic)


def check_batchable(configs: list[RunConfig]) -> None:
    """Raise ConfigError unless the configs differ only in :data:`SWEEPABLE_KEYS` and use the MLP."""
    if not configs:
        raise ConfigError("a sweep needs at least one member")
    first = configs[0]
    if first.model.name != "mlp":
        raise ConfigError(f"batched sweeps support model.name='mlp' only (the TP's MLP), "
                          f"got {first.model.name!r}; train other models one by one with gan-atelier train")
    if first.train.loss not in SUPPORTED_LOSSES:
        raise ConfigError(f"batched sweeps support train.loss in {', '.join(SUPPORTED_LOSSES)}, "
                          f"got {first.train.loss!r}")
    t = first.train
    unsupported = (("model.spectral_norm", first.model.spectral_norm), ("train.ema", t.ema),
                   ("train.ema_half_life", t.ema_half_life), ("train.r1_gamma", t.r1_gamma),
                   ("train.r2_gamma", t.r2_gamma), ("train.lr_end_ratio", t.lr_end_ratio != 1.0))
    for name, value in unsupported:
        if value:
            raise ConfigError(f"batched sweeps do not support {name} (got {value!r}); set it to its default")
    flat_first = _flatten(first)
    for config in configs[1:]:
        for key, value in _flatten(config).items():
            if key not in SWEEPABLE_KEYS and value != flat_first[key]:
                raise ConfigError(f"{key} differs between sweep members ({flat_first[key]!r} vs {value!r}); "
                                  f"only {', '.join(SWEEPABLE_KEYS)} may vary in one batched sweep")


def _flatten(config: RunConfig) -> dict[str, Any]:
    values = cfg.to_dict(config)
    flat = {"preset": values.pop("preset")}
    for section, entries in values.items():
        flat.update({f"{section}.{key}": value for key, value in entries.items()})
    return flat


@dataclass
class MemberState:
    """Per-member bookkeeping: the epoch's sums, history rows, alarms, stop step."""

    stats: EpochAccumulator = field(default_factory=EpochAccumulator.zeros)  # on the CPU
    history: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    nan_skips: int = 0
    stopped_at: int | None = None  # step at which the member stopped (non-finite loss)
    d_win_streak: int = 0
    collapse: CollapseDetector = field(default_factory=CollapseDetector)


@dataclass
class BatchedStepResult:
    """One batched step: each member's values ``(K,)`` (as :class:`~gan_atelier.training.StepResult`)
    and whether each member's step was applied (a stopped or skipped member's was not)."""

    d_loss: torch.Tensor
    g_loss: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    applied: list[bool]
    g_stepped: bool


class BatchedGANTrainer:
    """Trains ``len(configs)`` MLP GANs in lockstep on one data split (see module docstring)."""

    def __init__(self, configs: list[RunConfig], data: Split, device: torch.device | str = "cpu"):
        check_batchable(configs)
        self.configs = list(configs)
        self.device = torch.device(device)
        first = configs[0].train
        apply_threads_and_determinism(first.threads, first.deterministic)
        self.seeds = [RunSeeds(config.train.seed) for config in configs]
        self._build_models()
        self.members = len(configs)
        self.latent_dim = configs[0].model.latent_dim
        self.batch_size = first.batch_size
        self.loss_pair = get_loss_pair(first.loss)
        self.real_targets = [1.0 - c.train.label_smoothing for c in configs]
        self.d_steps = first.d_steps
        self._build_optimizers()
        self.data_generators = [seeds.data_generator() for seeds in self.seeds]
        self.noise_generators = [seeds.noise_generator(self.device) for seeds in self.seeds]
        self.fixed_noise = torch.stack([seeds.fixed_noise(self.latent_dim) for seeds in self.seeds])  # (K, 64, latent)
        self.images = data.images.reshape(len(data), -1).to(self.device)  # (N, 784) uint8
        self.real_diversity = real_diversity(data.images)
        self.num_batches = math.ceil(len(data) / self.batch_size)
        self.epoch = 0
        self.batch_index = 0
        self.step = 0
        self.permutations: torch.Tensor | None = None  # (K, N)
        self.state = [MemberState() for _ in configs]
        self.last_result: BatchedStepResult | None = None
        self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=first.precision == "bf16")

    def _build_models(self) -> None:
        generators, discriminators = [], []
        for config, seeds in zip(self.configs, self.seeds):
            seeds.seed_init()  # as the Trainer: the seed right before the models
            generator, discriminator = build_models(config)
            generators.append(generator)
            discriminators.append(discriminator)
        self.generator = StackedMLP(generators).to(self.device)
        self.discriminator = StackedMLP(discriminators).to(self.device)
        if self.device.type == "cpu":
            use_sampled_dropout(self.discriminator)

    def _build_optimizers(self) -> None:
        """One fused Adam per network, one parameter group (lr, betas) per member."""
        self.generator_leaves = member_leaves(self.generator)
        self.discriminator_leaves = member_leaves(self.discriminator)
        first, betas = self.configs[0], (self.configs[0].train.beta1, self.configs[0].train.beta2)
        self.optimizer_g = make_adam(
            [{"params": leaves, "lr": cfg.lr_g(c), "betas": (c.train.beta1, c.train.beta2)}
             for leaves, c in zip(self.generator_leaves, self.configs)], cfg.lr_g(first), betas, self.device)
        self.optimizer_d = make_adam(
            [{"params": leaves, "lr": cfg.lr_d(c), "betas": (c.train.beta1, c.train.beta2)}
             for leaves, c in zip(self.discriminator_leaves, self.configs)], cfg.lr_d(first), betas, self.device)

    # ----------------------------------------------------------------------------- data
    def _begin_epoch(self) -> None:
        self.permutations = torch.stack([torch.randperm(self.images.shape[0], generator=g)
                                         for g in self.data_generators]).to(self.device)

    def batch(self, index: int) -> torch.Tensor:
        """Each member's batch ``index`` of its own permutation: (K, B, 784) in [0, 1]."""
        indices = self.permutations[:, index * self.batch_size:(index + 1) * self.batch_size]  # (K, B)
        return self.images[indices].float().div_(255.0)  # ToTensor's scaling

    def noise(self, count: int) -> torch.Tensor:
        return torch.stack([torch.randn(count, self.latent_dim, device=self.device, generator=g)
                            for g in self.noise_generators])  # (K, B, latent)

    # ----------------------------------------------------------------------------- step
    def _finite_members(self, losses: torch.Tensor, which: str) -> list[bool]:
        """Which members may step: alive and with a finite loss. Stops or skips the others."""
        finite = torch.isfinite(losses).tolist()
        allowed = []
        for k, (ok, member) in enumerate(zip(finite, self.state)):
            if member.stopped_at is not None:
                allowed.append(False)
                continue
            if not ok:
                train = self.configs[k].train
                where = f"step {self.step + 1} (epoch {self.epoch + 1}, batch {self.batch_index + 1})"
                if train.on_nan == "skip" and member.nan_skips < train.max_nan_skips:
                    member.nan_skips += 1
                    member.alarms.append(f"non-finite {which} loss at {where}: step skipped")
                else:
                    member.stopped_at = self.step + 1
                    member.alarms.append(f"non-finite {which} loss at {where}: member stopped "
                                         f"before the optimizer step (weights kept from the step before)")
            allowed.append(ok)
        return allowed

    def _descend(self, losses: torch.Tensor, stacked: nn.Module, leaves: list[list[torch.Tensor]],
                 optimizer: torch.optim.Optimizer, which: str) -> list[bool]:
        """Σ_k finite loss_k backward, each allowed member's slice of the gradients to its leaves, one step."""
        allowed = self._finite_members(losses, which)
        stacked.zero_grad(set_to_none=True)
        torch.where(torch.isfinite(losses), losses, 0.0).sum().backward()
        parameters = list(stacked.parameters())
        for k, member_leaves_k in enumerate(leaves):  # others get None: no step
            for leaf, parameter in zip(member_leaves_k, parameters):
                leaf.grad = parameter.grad[k] if allowed[k] and parameter.grad is not None else None
        optimizer.step()
        return allowed

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of every member (the TP's step, batched); returns the (K,) D and G losses."""
        if self.permutations is None:
            self._begin_epoch()
        real = self.batch(self.batch_index)  # (K, B, 784)
        batch, pair = real.shape[1], self.loss_pair
        g_turn = (self.step % self.d_steps) == self.d_steps - 1
        z = self.noise(batch)  # (K, B, latent)

        # ---- 1. D step: one D pass over real and detached fakes, per-member losses summed
        with self.autocast, torch.set_grad_enabled(g_turn):
            fake = self.generator(z)  # (K, B, 784)
        with self.autocast:
            logits = self.discriminator(torch.cat([real, fake.detach()], dim=1)).float()  # (K, 2B, 1)
        real_logits, fake_logits = logits[:, :batch], logits[:, batch:]
        d_losses = torch.stack([pair.d_loss(real_logits[k], fake_logits[k], real_target=self.real_targets[k])
                                for k in range(self.members)])  # (K,)
        d_allowed = self._descend(d_losses, self.discriminator, self.discriminator_leaves, self.optimizer_d, "D")
        d_real, d_fake = d_outputs(real_logits, fake_logits, pair.probabilistic, dims=(1, 2))  # (K,)

        # ---- 2. G step: the same fakes with G's graph, D frozen
        g_losses, g_allowed = torch.zeros_like(d_losses), [False] * self.members
        if g_turn:
            self.discriminator.requires_grad_(False)
            try:
                with self.autocast:
                    g_logits = self.discriminator(fake).float()  # (K, B, 1)
                g_losses = torch.stack([pair.g_loss(g_logits[k]) for k in range(self.members)])
                g_allowed = self._descend(g_losses, self.generator, self.generator_leaves, self.optimizer_g, "G")
            finally:
                self.discriminator.requires_grad_(True)
        applied = [d_ok and (g_ok or not g_turn) for d_ok, g_ok in zip(d_allowed, g_allowed)]
        self.last_result = BatchedStepResult(d_losses.detach(), g_losses.detach(), d_real, d_fake, applied, g_turn)
        self._accumulate(self.last_result)
        self.batch_index += 1
        self.step += 1
        return d_losses.detach(), g_losses.detach()

    def _accumulate(self, result: BatchedStepResult) -> None:
        values = torch.stack([result.d_loss, result.g_loss, result.d_real, result.d_fake], dim=1).double().cpu()  # (K, 4)
        for k, member in enumerate(self.state):
            if result.applied[k]:
                member.nan_skips = 0
                member.stats.add(values[k], result.g_stepped)

    def epoch_done(self) -> bool:
        return self.batch_index >= self.num_batches

    def finish_epoch(self, seconds: float) -> list[dict[str, Any] | None]:
        """Close the epoch: one history row per member (None for a member stopped before it)."""
        self.epoch += 1
        rows = []
        for member in self.state:
            row = None
            if member.stats.batches:
                row = epoch_row(self.epoch, self.step, epoch_means(member.stats), seconds)
                member.history.append(row)
            rows.append(row)
            member.stats = EpochAccumulator.zeros()
        self.batch_index = 0
        self.permutations = None
        self._check_alarms(rows)
        return rows

    def _check_alarms(self, rows: list[dict[str, Any] | None]) -> None:
        """The Trainer's epoch alarms, per member: D winning, mode collapse (pixel diversity), G's samples
        rejected outright (G's loss)."""
        grids = self.fixed_grid_images() if self.real_diversity > 0 else None
        for k, (member, row) in enumerate(zip(self.state, rows)):
            if row is None:
                continue
            member.d_win_streak, d_alarm = d_winning_alarm(member.d_win_streak, row, self.configs[k].train)
            collapse_alarm = None
            if grids is not None:
                row["diversity"], collapse_alarm = diversity_alarm(member.collapse, self.epoch, grids[k],
                                                                   self.real_diversity)
            rejected = rejection_alarm(member.collapse, self.epoch, row, self.configs[k].train)
            member.alarms.extend(alarm for alarm in (d_alarm, collapse_alarm, rejected) if alarm)

    # ----------------------------------------------------------------------------- outputs
    @torch.no_grad()
    def fixed_grid_images(self) -> torch.Tensor:
        """(K, 64, 1, 28, 28) in [0, 1]: every member's generator on its own fixed noise."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            images = self.generator(self.fixed_noise.to(self.device)).float().cpu()
        finally:
            self.generator.train(was_training)
        return images.view(self.members, -1, 1, 28, 28)

    def member_generator(self, k: int) -> nn.Module:
        """Member ``k``'s generator as the ordinary module (``build_models``), in eval mode, on the CPU."""
        generator, _ = build_models(self.configs[k])
        generator.load_state_dict(self.generator.member_state_dict(k))
        generator.run_config = self.configs[k]
        return generator.eval()

    def member_discriminator(self, k: int) -> nn.Module:
        _, discriminator = build_models(self.configs[k])
        discriminator.load_state_dict(self.discriminator.member_state_dict(k))
        return discriminator.eval()
