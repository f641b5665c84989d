"""The training loop: the TP's alternating D and G steps, with everything needed to resume exactly.

:class:`Trainer` owns the models, the optimizers, every random generator and the position in
the data; ``state_dict()`` / ``load_state_dict()`` capture all of it, so an interrupted run
continues bit for bit (same thread count, same device). :func:`train` wraps it with the run
folder, the lock, signal handling, checkpoints and the outputs a student opens.

Seeds, all derived from ``train.seed``:
* model init: ``torch.manual_seed(seed)`` right before the models are built;
* data order: a CPU ``torch.Generator`` seeded ``seed + 1`` draws each epoch's permutation;
* noise: a generator on the training device seeded ``seed + 2`` draws z (and GP weights);
* fixed noise: 64 vectors drawn once **on the CPU** from a generator seeded ``seed + 3``, so the
  grid inputs are the same on CPU and GPU runs;
* dropout uses the global torch RNG, whose state is saved too.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from . import config as cfg
from .collapse import CollapseDetector, pixel_diversity, real_diversity
from .config import RunConfig
from .data import Split
from .errors import ConfigError, NonFiniteLossError
from .losses import LossPair, gaussian_kl, bernoulli_reconstruction, get_loss_pair, gradient_penalty
from .models import build_models
from .speed import make_adam, use_sampled_dropout

FIXED_NOISE_SIZE = 64
NAN_CHECK_EVERY = 50  # steps between host reads of the device-side non-finite flag (deferred checks)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device='cuda' but no CUDA device is available; use auto or cpu")
    return torch.device(name)


def set_determinism(enabled: bool) -> None:
    """Deterministic kernels (slower); the CUBLAS variable must be set before CUDA starts."""
    if enabled:
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


@dataclass
class StepResult:
    d_loss: torch.Tensor
    g_loss: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    g_stepped: bool = True  # False on D-only steps (train.d_steps > 1)


@dataclass
class EpochAccumulator:
    """Running sums over the current epoch, kept on the device (no per-step host sync)."""

    sums: torch.Tensor  # (4,) d_loss, g_loss, d_real, d_fake
    batches: int = 0
    g_batches: int = 0
    seconds: float = 0.0


class Trainer:
    """The models, optimizers, generators and position of one training run."""

    def __init__(self, config: RunConfig, data: Split, device: torch.device | str = "cpu", *,
                 defer_nan_checks: bool | None = None):
        """``defer_nan_checks``: guard against non-finite losses on the device, without a host sync
        per step (default: on CUDA with ``on_nan='stop'``); see :meth:`_guard_finite`."""
        self.config = config
        self.device = torch.device(device)
        t = config.train
        if t.threads:
            torch.set_num_threads(t.threads)
        set_determinism(t.deterministic)
        torch.manual_seed(t.seed)
        self.generator, self.discriminator = build_models(config)
        self.generator.to(self.device)
        self.is_vae = self.discriminator is None
        self.conditional = getattr(self.generator, "conditional", False)
        betas = (t.beta1, t.beta2)
        # Fused Adam (one kernel per group, CPU and CUDA): the TP's update rule, ≈ 4.6× cheaper on CPU.
        self.optimizer_g = make_adam(self.generator.parameters(), cfg.lr_g(config), betas, self.device)
        if not self.is_vae:
            self.discriminator.to(self.device)
            self.optimizer_d = make_adam(self.discriminator.parameters(), cfg.lr_d(config), betas, self.device)
            self.loss_pair: LossPair = get_loss_pair(t.loss)
            if self.device.type == "cpu":
                use_sampled_dropout(self.discriminator)  # same Bernoulli mask law, ≈ 2.5× faster on CPU
        self.ema_generator = copy.deepcopy(self.generator).eval().requires_grad_(False) if t.ema else None

        self.data_generator = torch.Generator().manual_seed(t.seed + 1)
        self.noise_generator = torch.Generator(device=self.device).manual_seed(t.seed + 2)
        self.fixed_noise = torch.randn(FIXED_NOISE_SIZE, config.model.latent_dim,
                                       generator=torch.Generator().manual_seed(t.seed + 3))
        self.fixed_labels = torch.arange(FIXED_NOISE_SIZE) % 10

        # The whole split lives on the device as uint8 (N, 784); batches are gathered by index.
        self.images = data.images.reshape(len(data), -1).to(self.device)
        self.labels = data.labels.to(self.device)
        self.data_sha256 = data.sha256
        self.num_batches = math.ceil(len(data) / t.batch_size)  # the last batch may be short

        self.epoch = 0  # completed epochs
        self.batch_index = 0  # next batch within the current epoch
        self.step = 0  # batches processed since the start
        self.epoch_data_state = self.data_generator.get_state()
        self.permutation: torch.Tensor | None = None
        self.accumulator = self._new_accumulator()
        self.history: list[dict[str, Any]] = []
        self.alarms: list[str] = []
        self.d_win_streak = 0
        self.collapse = CollapseDetector()
        self.real_diversity = real_diversity(data.images)
        self.nan_skips = 0
        self.stop_signal: int | None = None  # set by a signal handler; checked between steps
        self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16,
                                       enabled=t.precision == "bf16")
        self._step = self._vae_step if self.is_vae else self._gan_step
        # D sees real and fake in one forward pass when it has no BatchNorm and is unconditional.
        # (Writing both into a preallocated (2B, 784) buffer instead of a cat was measured: no gain.)
        self.one_d_pass = (not self.is_vae and not self.conditional
                           and not getattr(self.discriminator, "has_batchnorm", True))
        self.defer_nan_checks = (self.device.type == "cuda" if defer_nan_checks is None else defer_nan_checks)
        self.defer_nan_checks = self.defer_nan_checks and t.on_nan == "stop" and self._all_fused()
        if self.defer_nan_checks:
            # Sticky flag: 1 once any loss was non-finite. The fused Adam kernels read it (found_inf)
            # and skip their update, so every step from the bad one on leaves the weights untouched
            # until the host reads the flag and raises.
            self._nonfinite = torch.zeros((), device=self.device)
            self._nonfinite_at = torch.zeros(3, dtype=torch.long, device=self.device)  # step, epoch, batch
            self._nonfinite_which = torch.zeros((), dtype=torch.long, device=self.device)  # 1 D, 2 G, 3 VAE
            for optimizer in self._optimizers():
                optimizer.found_inf = self._nonfinite

    # ----------------------------------------------------------------------------- data
    def _new_accumulator(self) -> EpochAccumulator:
        return EpochAccumulator(sums=torch.zeros(4, device=self.device, dtype=torch.float64))

    def _begin_epoch(self) -> None:
        """Draw this epoch's permutation (re-drawn identically on a mid-epoch resume)."""
        self.epoch_data_state = self.data_generator.get_state()
        self.permutation = torch.randperm(self.images.shape[0], generator=self.data_generator)
        self.permutation = self.permutation.to(self.device)

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``index`` of the current permutation: images (B, 1, 28, 28) in [0, 1], labels (B,)."""
        size = self.config.train.batch_size
        indices = self.permutation[index * size:(index + 1) * size]
        images = self.images[indices].float().div_(255.0).view(-1, 1, 28, 28)  # ToTensor's scaling
        return images, self.labels[indices]

    def noise(self, count: int) -> torch.Tensor:
        return torch.randn(count, self.config.model.latent_dim, device=self.device,
                           generator=self.noise_generator)

    def random_labels(self, count: int) -> torch.Tensor:
        return torch.randint(0, 10, (count,), device=self.device, generator=self.noise_generator)

    # ----------------------------------------------------------------------------- steps
    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer_g] + ([] if self.is_vae else [self.optimizer_d])

    def _all_fused(self) -> bool:
        return all(group.get("fused") for o in self._optimizers() for group in o.param_groups)

    def _guard_finite(self, loss: torch.Tensor, which: str) -> bool:
        """:meth:`_check_finite`, or with deferred checks its sync-free form on the device.

        Deferred: a non-finite loss sets the sticky flag that the fused optimizers read as
        ``found_inf`` (their update is skipped on the device, step counters included), and
        records where it happened; :meth:`raise_if_nonfinite` raises the same error every
        :data:`NAN_CHECK_EVERY` steps, at the end of an epoch and before the loop returns. The
        weights are those from before the bad step: "stopped before the optimizer step" holds.
        """
        if self.defer_nan_checks and not self._all_fused():  # e.g. an older checkpoint's non-fused Adam
            self.raise_if_nonfinite()
            self.defer_nan_checks = False
            for optimizer in self._optimizers():
                optimizer.found_inf = None
        if not self.defer_nan_checks:
            return self._check_finite(loss, which)
        first = (~torch.isfinite(loss.detach())) & (self._nonfinite == 0)  # () bool, on the device
        where = torch.tensor([self.step + 1, self.epoch + 1, self.batch_index + 1])  # 1-based, as _check_finite
        self._nonfinite_at.copy_(torch.where(first, where.to(self.device, non_blocking=True), self._nonfinite_at))
        self._nonfinite_which.copy_(torch.where(first, {"D": 1, "G": 2}.get(which, 3), self._nonfinite_which))
        self._nonfinite.copy_(torch.maximum(self._nonfinite, first.float()))
        return True

    def raise_if_nonfinite(self) -> None:
        """With deferred checks: raise NonFiniteLossError if a non-finite loss was flagged (one host sync)."""
        if not self.defer_nan_checks or not bool(self._nonfinite):
            return
        step, epoch, batch = self._nonfinite_at.tolist()
        which = {1: "D", 2: "G"}.get(int(self._nonfinite_which), "VAE")
        raise NonFiniteLossError(
            f"non-finite {which} loss at step {step} (epoch {epoch}, batch {batch}); stopped before the "
            f"optimizer step (detected on the device; the {self.step + 1 - step} steps since were not applied)"
        )

    def _check_finite(self, loss: torch.Tensor, which: str) -> bool:
        """True if finite. Otherwise stop (raise) or, with on_nan='skip', report a skip."""
        if bool(torch.isfinite(loss)):
            return True
        where = f"step {self.step + 1} (epoch {self.epoch + 1}, batch {self.batch_index + 1})"  # 1-based
        if self.config.train.on_nan == "skip" and self.nan_skips < self.config.train.max_nan_skips:
            self.nan_skips += 1
            self.alarms.append(f"non-finite {which} loss at {where}: step skipped")
            return False
        raise NonFiniteLossError(
            f"non-finite {which} loss ({loss.item()}) at {where}; stopped before the optimizer step"
        )

    def _gan_step(self, real: torch.Tensor, labels: torch.Tensor) -> StepResult | None:
        """One TP step: D on real (target 1) and detached fakes (target 0), then G on the same fakes.

        Same math as the TP, rearranged for speed: when D has no BatchNorm, real and fake go
        through D in one forward pass (the two BCE means are still computed separately and
        summed), and D's weights are frozen during G's backward (their gradients would be
        discarded by the next ``zero_grad`` anyway).
        """
        t = self.config.train
        generator, discriminator, pair = self.generator, self.discriminator, self.loss_pair
        batch = real.shape[0]
        z = self.noise(batch)
        fake_labels = self.random_labels(batch) if self.conditional else None
        g_turn = (self.step % t.d_steps) == t.d_steps - 1
        d_kwargs_real = {"labels": labels} if self.conditional else {}
        d_kwargs_fake = {"labels": fake_labels} if self.conditional else {}

        # ---- 1. D step: maximise log D(x) + log(1 − D(G(z))) ------------------------------
        with self.autocast, torch.set_grad_enabled(g_turn):
            fake = generator(z, fake_labels) if self.conditional else generator(z)  # (B, 784) or (B,1,28,28)
        fake = fake.view_as(real)  # the MLP's (B, 784) → (B, 1, 28, 28), a view
        with self.autocast:
            if not self.one_d_pass:
                # BatchNorm statistics must not mix real and fake batches.
                real_logits = discriminator(real, **d_kwargs_real)
                fake_logits = discriminator(fake.detach(), **d_kwargs_fake)  # .detach(): no gradient into G
            else:
                logits = discriminator(torch.cat([real, fake.detach()]))  # (2B, 1); .detach(): no gradient into G
                real_logits, fake_logits = logits[:batch], logits[batch:]
            real_target = 1.0 - t.label_smoothing
            d_loss = pair.d_loss(real_logits.float(), fake_logits.float(), real_target=real_target)
        if pair.uses_gradient_penalty:
            alpha = torch.rand(batch, *([1] * (real.dim() - 1)), device=self.device,
                               generator=self.noise_generator)  # one weight per sample
            d_loss = d_loss + t.gp_weight * gradient_penalty(
                discriminator, real, fake.detach().float(), alpha, **d_kwargs_real)
        if not self._guard_finite(d_loss, "D"):
            return None
        self.optimizer_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizer_d.step()
        with torch.no_grad():
            d_real = torch.sigmoid(real_logits.detach().float()).mean()
            d_fake = torch.sigmoid(fake_logits.detach().float()).mean()

        # ---- 2. G step: the same fakes, now with G's graph, scored against REAL -------------
        if not g_turn:
            return StepResult(d_loss.detach(), torch.zeros_like(d_loss.detach()), d_real, d_fake,
                              g_stepped=False)
        discriminator.requires_grad_(False)
        try:
            with self.autocast:
                g_logits = discriminator(fake, **d_kwargs_fake)
                g_loss = pair.g_loss(g_logits.float())
            if not self._guard_finite(g_loss, "G"):
                return None
            self.optimizer_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.optimizer_g.step()
        finally:
            discriminator.requires_grad_(True)
        self._update_ema()
        return StepResult(d_loss.detach(), g_loss.detach(), d_real, d_fake)

    def _vae_step(self, real: torch.Tensor, labels: torch.Tensor) -> StepResult | None:
        """One VAE step: loss = −ELBO = BCE reconstruction (summed over pixels) + KL(q(z|x) ‖ N(0, I)).

        Logged as d_loss = KL and g_loss = reconstruction (there is no discriminator).
        """
        vae = self.generator
        with self.autocast:
            mean, log_var = vae.encode(real)
            eps = torch.randn(mean.shape, device=self.device, generator=self.noise_generator)
            z = mean + eps * torch.exp(0.5 * log_var)  # reparameterisation trick
            logits = vae.decode_logits(z)
        reconstruction = bernoulli_reconstruction(logits.float(), real)
        kl = gaussian_kl(mean.float(), log_var.float())
        loss = reconstruction + kl
        if not self._guard_finite(loss, "VAE"):
            return None
        self.optimizer_g.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer_g.step()
        self._update_ema()
        nan = torch.full_like(kl.detach(), float("nan"))
        return StepResult(kl.detach(), reconstruction.detach(), nan, nan)

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema_generator is None:
            return
        decay = self.config.train.ema
        weight = 1.0 - decay
        if self.defer_nan_checks:  # once a loss was non-finite, the EMA stays put too (no host sync)
            weight = (1.0 - self._nonfinite) * weight
        for ema_param, param in zip(self.ema_generator.parameters(), self.generator.parameters()):
            ema_param.lerp_(param, weight)
        for ema_buffer, buffer in zip(self.ema_generator.buffers(), self.generator.buffers()):
            ema_buffer.copy_(buffer)

    # ----------------------------------------------------------------------------- loop
    def train_step(self) -> StepResult | None:
        """Process the next batch (drawing a new epoch's permutation when needed)."""
        if self.permutation is None:
            self._begin_epoch()
        real, labels = self.batch(self.batch_index)
        result = self._step(real, labels)
        if result is not None:
            self.nan_skips = 0
            acc = self.accumulator
            acc.sums += torch.stack([result.d_loss, result.g_loss, result.d_real, result.d_fake]).double()
            acc.batches += 1
            acc.g_batches += result.g_stepped
        self.batch_index += 1
        self.step += 1
        if self.defer_nan_checks:
            every = self.config.train.checkpoint_every_steps
            if self.step % NAN_CHECK_EVERY == 0 or self.epoch_done() or (every and self.step % every == 0):
                self.raise_if_nonfinite()  # before any row, checkpoint or sample is written
        return result

    def epoch_done(self) -> bool:
        return self.batch_index >= self.num_batches

    def finish_epoch(self) -> dict[str, Any]:
        """Close the epoch: its history row (means over batches, as the TP averages)."""
        acc = self.accumulator
        means = (acc.sums / max(acc.batches, 1)).tolist()
        means[1] = acc.sums[1].item() / max(acc.g_batches, 1)  # G loss over G steps only
        self.epoch += 1
        row = {"epoch": self.epoch, "step": self.step, "d_loss": means[0], "g_loss": means[1],
               "d_real": means[2], "d_fake": means[3], "seconds": acc.seconds}
        self.history.append(row)
        self.batch_index = 0
        self.permutation = None
        self.accumulator = self._new_accumulator()
        self._check_d_winning(row)
        self._check_collapse(row)
        return row

    def _check_d_winning(self, row: dict[str, Any]) -> None:
        if self.is_vae:
            return
        self.d_win_streak, alarm = d_winning_alarm(self.d_win_streak, row, self.config.train)
        if alarm:
            self.alarms.append(alarm)

    def _check_collapse(self, row: dict[str, Any]) -> None:
        """Pixel diversity of the fixed-noise samples (see :mod:`gan_atelier.collapse`), every epoch."""
        if self.real_diversity <= 0:  # fewer than two distinct real images: nothing to compare with
            return
        row["diversity"] = pixel_diversity(self.fixed_grid_images()) / self.real_diversity
        alarm = self.collapse.check_diversity(self.epoch, row["diversity"])
        if alarm:
            self.alarms.append(alarm)

    @torch.no_grad()
    def sample_images(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, 1, 28, 28) in [0, 1] from the sampling generator (EMA if enabled), in eval mode."""
        from .models import generate_images

        generator = self.ema_generator or self.generator
        was_training = generator.training
        generator.eval()
        try:
            if self.conditional and labels is None:
                labels = torch.arange(z.shape[0], device=z.device) % 10
            return generate_images(generator, z.to(self.device),
                                   labels.to(self.device) if labels is not None else None).float().cpu()
        finally:
            generator.train(was_training)

    def fixed_grid_images(self) -> torch.Tensor:
        return self.sample_images(self.fixed_noise, self.fixed_labels if self.conditional else None)

    # ----------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue identically; only tensors and plain values."""
        state = {
            "config": cfg.to_dict(self.config),
            "generator": self.generator.state_dict(),
            "optimizer_g": self.optimizer_g.state_dict(),
            "ema_generator": self.ema_generator.state_dict() if self.ema_generator else None,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "data": self.data_generator.get_state(),
                "epoch_data": self.epoch_data_state,
                "noise": self.noise_generator.get_state(),
            },
            "position": {"epoch": self.epoch, "batch": self.batch_index, "step": self.step,
                         "in_epoch": self.permutation is not None},
            "accumulator": {"sums": self.accumulator.sums.cpu(), "batches": self.accumulator.batches,
                            "g_batches": self.accumulator.g_batches, "seconds": self.accumulator.seconds},
            "fixed_noise": self.fixed_noise,
            "history": [dict(row) for row in self.history],
            "alarms": list(self.alarms),
            "d_win_streak": self.d_win_streak,
            "collapse": self.collapse.state_dict(),
            "data_sha256": self.data_sha256,
        }
        if not self.is_vae:
            state["discriminator"] = self.discriminator.state_dict()
            state["optimizer_d"] = self.optimizer_d.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], *, restore_rng: bool = True,
                        restore_optimizers: bool = True, restore_position: bool = True) -> None:
        """Restore a :meth:`state_dict`. The ``restore_*`` switches exist for negative-control tests."""
        self.generator.load_state_dict(state["generator"])
        if not self.is_vae:
            self.discriminator.load_state_dict(state["discriminator"])
        if restore_optimizers:
            self.optimizer_g.load_state_dict(state["optimizer_g"])
            if not self.is_vae:
                self.optimizer_d.load_state_dict(state["optimizer_d"])
        if self.ema_generator is not None and state.get("ema_generator") is not None:
            self.ema_generator.load_state_dict(state["ema_generator"])
        rng = state["rng"]
        if restore_rng:
            torch.set_rng_state(rng["torch"])
            if torch.cuda.is_available() and rng["cuda"]:
                torch.cuda.set_rng_state_all(rng["cuda"])
            self.noise_generator.set_state(rng["noise"])
        self.fixed_noise = state["fixed_noise"]
        position = state["position"]
        self.epoch, self.step = position["epoch"], position["step"]
        self.history = [dict(row) for row in state["history"]]
        self.alarms = list(state["alarms"])
        self.d_win_streak = state["d_win_streak"]
        self.collapse = CollapseDetector()
        self.collapse.load_state_dict(state.get("collapse", {}))  # absent in checkpoints before it existed
        acc = state["accumulator"]
        self.accumulator = EpochAccumulator(acc["sums"].to(self.device), acc["batches"],
                                            acc["g_batches"], acc["seconds"])
        if restore_position and position["in_epoch"]:
            # Re-draw the interrupted epoch's permutation and continue at the next batch.
            self.data_generator.set_state(rng["epoch_data"])
            self._begin_epoch()
            self.batch_index = position["batch"]
        elif restore_position:
            self.data_generator.set_state(rng["data"])
            self.permutation, self.batch_index = None, 0
        else:
            self.permutation, self.batch_index = None, 0


def d_winning_alarm(streak: int, row: dict[str, Any], t: cfg.TrainConfig) -> tuple[int, str | None]:
    """The D-winning watch of one GAN after an epoch: ``(new streak, alarm line or None)``.

    Only for the BCE objectives (``ns``, ``saturating``), whose D loss has a floor of 0 that means
    "D separates perfectly"; LS, hinge and Wasserstein losses have other scales.
    """
    if t.loss not in ("ns", "saturating"):
        return streak, None
    streak = streak + 1 if row["d_loss"] < t.d_win_threshold else 0
    if streak != t.d_win_epochs:
        return streak, None
    epoch = row["epoch"]
    return streak, (f"D is winning: D loss < {t.d_win_threshold} for {t.d_win_epochs} epochs "
                    f"(epochs {epoch - t.d_win_epochs + 1}-{epoch}); G gets little signal")


def state_hash(trainer: Trainer) -> str:
    """SHA-256 over G and D parameters and buffers and both optimizer states (resume tests)."""
    digest = hashlib.sha256()

    def feed(tensor: torch.Tensor) -> None:
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())

    modules = [trainer.generator] + ([] if trainer.is_vae else [trainer.discriminator])
    for module in modules:
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            digest.update(name.encode())
            feed(tensor)
    optimizers = [trainer.optimizer_g] + ([] if trainer.is_vae else [trainer.optimizer_d])
    for optimizer in optimizers:
        for index, param_state in sorted(optimizer.state_dict()["state"].items()):
            for key, value in sorted(param_state.items()):
                digest.update(f"{index}.{key}".encode())
                feed(value if isinstance(value, torch.Tensor) else torch.tensor(float(value)))
    return digest.hexdigest()


Callback = Callable[[Trainer], None]


@dataclass
class LoopHooks:
    """Callbacks the driver gives the loop: after every step, and after every epoch."""

    on_step: list[Callback] = field(default_factory=list)
    on_epoch: list[Callable[[Trainer, dict[str, Any]], None]] = field(default_factory=list)
    should_stop: Callable[[], bool] = lambda: False


def run_loop(trainer: Trainer, hooks: LoopHooks | None = None, progress: bool = True) -> bool:
    """Train until ``train.epochs`` are done (True) or ``hooks.should_stop()`` (False)."""
    from tqdm.auto import tqdm

    hooks = hooks or LoopHooks()
    epochs = trainer.config.train.epochs
    while trainer.epoch < epochs:
        bar = tqdm(total=trainer.num_batches, initial=trainer.batch_index, leave=False,
                   desc=f"epoch {trainer.epoch + 1}/{epochs}", disable=None if progress else True,
                   dynamic_ncols=True)
        started = time.perf_counter()
        try:
            while not trainer.epoch_done():
                result = trainer.train_step()
                bar.update(1)
                if result is not None and trainer.batch_index % 25 == 0 and not bar.disable:
                    bar.set_postfix(d_loss=f"{result.d_loss.item():.3f}", g_loss=f"{result.g_loss.item():.3f}")
                for callback in hooks.on_step:
                    callback(trainer)
                if hooks.should_stop():
                    trainer.accumulator.seconds += time.perf_counter() - started
                    trainer.raise_if_nonfinite()
                    return False
        finally:
            bar.close()
        trainer.accumulator.seconds += time.perf_counter() - started
        row = trainer.finish_epoch()
        for callback in hooks.on_epoch:
            callback(trainer, row)
    return True
