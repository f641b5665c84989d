"""K MLP GANs trained at once: stacked weights, batched matmuls, one Adam per member.

Used by ``gan-atelier sweep`` (:mod:`gan_atelier.sweep`). Member ``k`` is exactly the run
:class:`~gan_atelier.train.Trainer` would do alone with ``configs[k]``: the same seeded
initialisation (``torch.manual_seed(seed)`` then ``build_models``), its own data order
(``seed + 1``), its own noise (``seed + 2``) and fixed noise (``seed + 3``), the same step
(D on real + detached fakes, then G on the same fakes against REAL, D frozen) and Adam with its
own learning rate and betas. Only dropout differs in its random numbers (the global RNG is
shared by the members), so a test with dropout disabled finds the same weights
(``tests/test_sweep.py``).

How the K members share one pass:

* every ``nn.Linear(in, out)`` of the TP's MLPs becomes one stacked weight ``(K, out, in)`` and
  bias ``(K, out)``; activations are ``(K, B, features)`` and a layer is one batched matmul,
  ``h = b + x @ Wᵀ`` (``torch.baddbmm``). Kept in ``nn.Linear``'s layout, each member's products
  are bitwise those of ``nn.Linear`` on this CPU (the same BLAS kernel per member; measured),
  which is what makes the one-by-one comparison exact to rounding;
* the loss is the **sum** over members of each member's loss (a mean would scale every
  member's gradients by 1/K, which Adam's ε does not ignore), so member k's gradients are its
  own loss's gradients;
* each member's slice of a stacked weight is also a leaf tensor sharing its storage, and the
  optimizer holds one parameter group per member (its lr and betas). Adam is elementwise, so
  K groups = K independent Adams, each the fused kernel the Trainer uses.

A member whose loss turns non-finite is stopped alone (its parameters frozen at their last
finite values, ``on_nan="skip"`` skips its step instead, up to ``train.max_nan_skips`` in a
row); the others go on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import config as cfg
from .collapse import CollapseDetector, pixel_diversity, real_diversity
from .config import RunConfig
from .data import Split
from .errors import ConfigError
from .losses import get_loss_pair
from .models import build_models
from .speed import use_sampled_dropout
from .train import FIXED_NOISE_SIZE, d_winning_alarm, set_determinism

# Keys that may differ between the members of one batched sweep (they change no shape and no step).
SWEEPABLE_KEYS = ("train.lr", "train.lr_d", "train.lr_g", "train.beta1", "train.beta2",
                  "train.seed", "train.label_smoothing")
SUPPORTED_LOSSES = ("ns", "saturating", "lsgan", "hinge")


class _StackedLinearFunction(torch.autograd.Function):
    """h = b + x @ Wᵀ per member, with ``nn.Linear``'s backward: ∂W = gᵀ @ x, ∂x = g @ W, ∂b = Σ_B g.

    Written out because autograd's ``baddbmm`` backward yields ∂W as a transposed view, which
    the gradient accumulator then copies into W's layout with a slow strided transpose
    (≈ 100 ms per step for 8 members, measured); ``gᵀ @ x`` comes out in W's layout directly.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):  # (K, B, in), (K, out, in), (K, out)
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))  # (K, B, out)

    @staticmethod
    def backward(ctx, grad):  # (K, B, out)
        x, weight = ctx.saved_tensors
        grad_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None  # (K, B, in)
        grad_weight = torch.bmm(grad.transpose(1, 2), x) if ctx.needs_input_grad[1] else None  # (K, out, in)
        grad_bias = grad.sum(dim=1) if ctx.needs_input_grad[2] else None  # (K, out)
        return grad_x, grad_weight, grad_bias


class StackedLinear(nn.Module):
    """K ``nn.Linear(in, out)`` side by side: ``(K, B, in) → (K, B, out)``, h = b + x @ Wᵀ."""

    def __init__(self, linears: list[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([l.weight.detach() for l in linears]))  # (K, out, in)
        self.bias = nn.Parameter(torch.stack([l.bias.detach() for l in linears]))  # (K, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _StackedLinearFunction.apply(x, self.weight, self.bias)  # (K, B, out)


class StackedMLP(nn.Module):
    """K copies of one of the TP's MLPs (``.model`` an ``nn.Sequential`` of Linear and elementwise layers)."""

    ELEMENTWISE = (nn.LeakyReLU, nn.Sigmoid, nn.Dropout, nn.ReLU, nn.Tanh)

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        template = members[0].model
        layers = []
        for position, layer in enumerate(template):
            if isinstance(layer, nn.Linear):
                layers.append(StackedLinear([m.model[position] for m in members]))
            elif isinstance(layer, self.ELEMENTWISE):
                layers.append(type(layer)(**_elementwise_arguments(layer)))
            else:
                raise ConfigError(f"a batched sweep cannot stack a {type(layer).__name__} layer; "
                                  f"it supports the TP's MLP (model.name='mlp') only")
        self.model = nn.Sequential(*layers)
        self.members = len(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.flatten(2))  # (K, B, features)

    def member_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s weights with the keys and layout of the original module (``model.0.weight`` …)."""
        state = {}
        for position, layer in enumerate(self.model):
            if isinstance(layer, StackedLinear):
                state[f"model.{position}.weight"] = layer.weight[k].detach().clone()
                state[f"model.{position}.bias"] = layer.bias[k].detach().clone()
        return state


def _elementwise_arguments(layer: nn.Module) -> dict[str, Any]:
    if isinstance(layer, nn.LeakyReLU):
        return {"negative_slope": layer.negative_slope}
    if isinstance(layer, nn.Dropout):
        return {"p": layer.p}
    return {}


def member_leaves(stacked: nn.Module) -> list[list[torch.Tensor]]:
    """For each member k, leaf tensors that share storage with the k-th slice of every stacked parameter."""
    leaves = [[] for _ in range(stacked.members)]
    for parameter in stacked.parameters():
        base = parameter.detach()
        for k in range(stacked.members):
            leaves[k].append(base[k].requires_grad_(True))
    return leaves


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
    for name, value in (("model.spectral_norm", first.model.spectral_norm), ("train.ema", first.train.ema)):
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
    """Per-member bookkeeping: running sums of the epoch, history rows, alarms, stop step."""

    sums: torch.Tensor  # (4,) float64: d_loss, g_loss, d_real, d_fake
    batches: int = 0
    g_batches: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    nan_skips: int = 0
    stopped_at: int | None = None  # step at which the member stopped (non-finite loss)
    d_win_streak: int = 0
    collapse: CollapseDetector = field(default_factory=CollapseDetector)


class BatchedGANTrainer:
    """Trains ``len(configs)`` MLP GANs in lockstep on one data split (see module docstring)."""

    def __init__(self, configs: list[RunConfig], data: Split, device: torch.device | str = "cpu"):
        check_batchable(configs)
        self.configs = list(configs)
        self.device = torch.device(device)
        first = configs[0].train
        if first.threads:
            torch.set_num_threads(first.threads)
        set_determinism(first.deterministic)
        generators, discriminators = [], []
        for config in configs:
            torch.manual_seed(config.train.seed)  # as the Trainer: the seed right before the models
            generator, discriminator = build_models(config)
            generators.append(generator)
            discriminators.append(discriminator)
        self.generator = StackedMLP(generators).to(self.device)
        self.discriminator = StackedMLP(discriminators).to(self.device)
        if self.device.type == "cpu":
            use_sampled_dropout(self.discriminator)
        self.members = len(configs)
        self.latent_dim = configs[0].model.latent_dim
        self.batch_size = first.batch_size
        self.loss_pair = get_loss_pair(first.loss)
        self.real_targets = [1.0 - c.train.label_smoothing for c in configs]
        self.d_steps = first.d_steps

        self.generator_leaves = member_leaves(self.generator)
        self.discriminator_leaves = member_leaves(self.discriminator)
        fused = self.device.type in ("cpu", "cuda")
        self.optimizer_g = torch.optim.Adam(
            [{"params": leaves, "lr": cfg.lr_g(c), "betas": (c.train.beta1, c.train.beta2)}
             for leaves, c in zip(self.generator_leaves, configs)], fused=fused)
        self.optimizer_d = torch.optim.Adam(
            [{"params": leaves, "lr": cfg.lr_d(c), "betas": (c.train.beta1, c.train.beta2)}
             for leaves, c in zip(self.discriminator_leaves, configs)], fused=fused)

        self.data_generators = [torch.Generator().manual_seed(c.train.seed + 1) for c in configs]
        self.noise_generators = [torch.Generator(device=self.device).manual_seed(c.train.seed + 2)
                                 for c in configs]
        self.fixed_noise = torch.stack([
            torch.randn(FIXED_NOISE_SIZE, self.latent_dim, generator=torch.Generator().manual_seed(c.train.seed + 3))
            for c in configs])  # (K, 64, latent), drawn on the CPU as the Trainer does
        self.images = data.images.reshape(len(data), -1).to(self.device)  # (N, 784) uint8
        self.real_diversity = real_diversity(data.images)
        self.num_batches = math.ceil(len(data) / self.batch_size)
        self.epoch = 0
        self.batch_index = 0
        self.step = 0
        self.permutations: torch.Tensor | None = None  # (K, N)
        self.state = [MemberState(sums=torch.zeros(4, dtype=torch.float64)) for _ in configs]
        self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=first.precision == "bf16")

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

    @staticmethod
    def _share_gradients(stacked: nn.Module, leaves: list[list[torch.Tensor]], allowed: list[bool]) -> None:
        """Give each allowed member's leaves its slice of the stacked gradients (others get None: no step)."""
        parameters = list(stacked.parameters())
        for k, member_leaves_k in enumerate(leaves):
            for leaf, parameter in zip(member_leaves_k, parameters):
                leaf.grad = parameter.grad[k] if allowed[k] and parameter.grad is not None else None

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of every member (the TP's step, batched); returns the (K,) D and G losses."""
        if self.permutations is None:
            self._begin_epoch()
        real = self.batch(self.batch_index)  # (K, B, 784)
        batch = real.shape[1]
        pair = self.loss_pair
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
        d_allowed = self._finite_members(d_losses, "D")
        self.discriminator.zero_grad(set_to_none=True)
        torch.where(torch.isfinite(d_losses), d_losses, 0.0).sum().backward()
        self._share_gradients(self.discriminator, self.discriminator_leaves, d_allowed)
        self.optimizer_d.step()
        with torch.no_grad():
            d_real = torch.sigmoid(real_logits.detach()).mean(dim=(1, 2))  # (K,)
            d_fake = torch.sigmoid(fake_logits.detach()).mean(dim=(1, 2))

        # ---- 2. G step: the same fakes with G's graph, D frozen
        g_losses = torch.zeros_like(d_losses)
        g_allowed = [False] * self.members
        if g_turn:
            self.discriminator.requires_grad_(False)
            try:
                with self.autocast:
                    g_logits = self.discriminator(fake).float()  # (K, B, 1)
                g_losses = torch.stack([pair.g_loss(g_logits[k]) for k in range(self.members)])
                g_allowed = self._finite_members(g_losses, "G")
                self.generator.zero_grad(set_to_none=True)
                torch.where(torch.isfinite(g_losses), g_losses, 0.0).sum().backward()
                self._share_gradients(self.generator, self.generator_leaves, g_allowed)
                self.optimizer_g.step()
            finally:
                self.discriminator.requires_grad_(True)

        values = torch.stack([d_losses.detach(), g_losses.detach(), d_real, d_fake], dim=1).double().cpu()  # (K, 4)
        for k, member in enumerate(self.state):
            if d_allowed[k] and (g_allowed[k] or not g_turn):
                member.nan_skips = 0
                member.sums += values[k]
                member.batches += 1
                member.g_batches += int(g_turn)
        self.batch_index += 1
        self.step += 1
        return d_losses.detach(), g_losses.detach()

    def epoch_done(self) -> bool:
        return self.batch_index >= self.num_batches

    def finish_epoch(self, seconds: float) -> list[dict[str, Any] | None]:
        """Close the epoch: one history row per member (None for a member stopped before it)."""
        self.epoch += 1
        rows = []
        for member in self.state:
            if member.batches == 0:
                rows.append(None)
            else:
                means = (member.sums / member.batches).tolist()
                means[1] = member.sums[1].item() / max(member.g_batches, 1)
                row = {"epoch": self.epoch, "step": self.step, "d_loss": means[0], "g_loss": means[1],
                       "d_real": means[2], "d_fake": means[3], "seconds": seconds}
                member.history.append(row)
                rows.append(row)
            member.sums.zero_()
            member.batches = member.g_batches = 0
        self.batch_index = 0
        self.permutations = None
        self._check_alarms(rows)
        return rows

    def _check_alarms(self, rows: list[dict[str, Any] | None]) -> None:
        """The Trainer's epoch alarms, per member: D winning, and mode collapse (pixel diversity)."""
        grids = self.fixed_grid_images() if self.real_diversity > 0 else None
        for k, (member, row) in enumerate(zip(self.state, rows)):
            if row is None:
                continue
            member.d_win_streak, d_alarm = d_winning_alarm(member.d_win_streak, row, self.configs[k].train)
            collapse_alarm = None
            if grids is not None:
                row["diversity"] = pixel_diversity(grids[k]) / self.real_diversity
                collapse_alarm = member.collapse.check_diversity(self.epoch, row["diversity"])
            member.alarms.extend(alarm for alarm in (d_alarm, collapse_alarm) if alarm)

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
