"""The :class:`~gan_atelier.training.Trainer` under data parallelism: what changes, all in one place.

:func:`attach` plugs a :class:`~.distributed.DistributedContext` into a trainer's extension
points; with one process it changes nothing. Under ``torchrun``/``srun`` with W ranks:

* **data** — every rank draws the same permutation (one data seed) and takes its contiguous
  share of each global batch of ``train.batch_size`` images (:func:`~.distributed.shard_bounds`);
* **gradients** — ``trainer.sync_gradients(module)`` (called by ``step.descend`` between every
  backward and its optimizer step) all-reduces them weighted by the share ``n_r / B``, so they
  are the gradient of the global-batch mean, penalties included (see :mod:`.distributed`);
* **statistics** — each step's values are added weighted by ``n_r / B`` and the epoch sums are
  all-reduced once per epoch, so ``metrics.csv``, the D-winning alarm and the collapse detector
  see the global batch means;
* **BatchNorm** — each rank normalises with its own batch's statistics (``model.sync_batchnorm``
  for global ones, CUDA only); the running statistics (buffers) are rank 0's, broadcast at the
  end of every epoch as DDP's ``broadcast_buffers`` does, so eval-mode samples and the collapse
  detector agree on every rank, and resuming stays exact (rank 0's buffers are saved);
* **non-finite losses** — the guard's "bad loss" flag is all-reduced (MAX) before it is acted on,
  so every rank stops, or skips the same step;
* **random streams** — model init identical on every rank (and broadcast from rank 0); training
  noise per rank (:class:`.seeds.RunSeeds`, rank r: ``seed + 2 + r·1000003``); dropout (the
  global RNG) re-seeded per rank for r > 0; data order and fixed noise independent of rank and
  world size;
* **checkpoints** — :func:`rank_states` gathers every rank's random states and epoch sums, which
  rank 0 saves with the world size; :func:`restore_rank_state` gives each rank its own back
  (exact resume at the same world size; at another one, the same global sample count and a
  warning).
"""

from __future__ import annotations

import socket
import warnings
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from ..errors import ConfigError, DistributedError
from .distributed import (DistributedContext, StopAgreement, _collective, all_reduce_, broadcast_parameters,
                          sync_gradients)

if TYPE_CHECKING:
    from .trainer import Trainer


def check_job(config, images: int, device: torch.device, context: DistributedContext) -> None:
    """The one-line refusals, before anything is written: a world too large for the batches, and
    ``model.sync_batchnorm`` off CUDA.

    Every rank needs at least one image of every global batch, the short last one included.
    ``SyncBatchNorm`` has no CPU kernel, so it cannot run (or be tested) over gloo.
    """
    if config.model.sync_batchnorm and device.type != "cuda":
        raise ConfigError(f"model.sync_batchnorm=true needs CUDA (SyncBatchNorm has no CPU implementation); "
                          f"this run trains on {device}: set model.sync_batchnorm=false")
    batch_size = config.train.batch_size
    last = images % batch_size
    if context.world_size > min(batch_size, images) or 0 < last < context.world_size:
        raise ConfigError(
            f"{context.world_size} processes cannot share batches of {batch_size} images "
            f"(the last batch of each epoch holds {last or batch_size}): each needs at least one; "
            f"change train.batch_size or data.subset, or start fewer processes")


def attach(trainer: "Trainer", context: DistributedContext) -> None:
    """Make ``trainer`` one rank of ``context``'s job (nothing to do for one process)."""
    trainer.distributed = context
    if not context.enabled:
        return
    if trainer.rank != context.rank:
        raise ValueError(f"the trainer was built for rank {trainer.rank}, the process is rank {context.rank}")
    check_job(trainer.config, trainer.images.shape[0], trainer.device, context)
    modules = [m for m in (trainer.generator, trainer.discriminator, trainer.ema_generator) if m is not None]
    broadcast_parameters(modules, context)
    trainer.seeds.seed_dropout(context.rank)  # dropout masks differ between ranks (rank 0: unchanged)

    def sync(module: torch.nn.Module) -> None:
        sync_gradients(module.parameters(), context, weight=trainer.batch_weight)

    buffers = [buffer for module in modules for buffer in module.buffers()]  # BatchNorm running statistics

    def all_reduce_stats(accumulator):  # once per epoch, before the alarms and the collapse detector
        all_reduce_(accumulator.sums, context, what="the epoch statistics")
        for buffer in buffers:
            _collective(context, "broadcasting the BatchNorm statistics", dist.broadcast, buffer, src=0)
        return accumulator

    def any_rank(bad: torch.Tensor) -> torch.Tensor:
        flag = bad.to(torch.float32).reshape(1)
        all_reduce_(flag, context, dist.ReduceOp.MAX, what="the non-finite loss check")
        return flag.reshape(bad.shape).bool()

    trainer.sync_gradients = sync
    trainer.all_reduce_stats = all_reduce_stats
    trainer.nonfinite.any_rank = any_rank


def use_sync_batchnorm(trainer: "Trainer", context: DistributedContext) -> None:
    """``model.sync_batchnorm = true``: BatchNorm statistics over the global batch (CUDA only).

    ``SyncBatchNorm`` has no CPU kernel, so it cannot run (or be tested) over gloo; it keeps the
    same parameter objects, so the optimizers stay valid. With one process it changes nothing.
    """
    check_job(trainer.config, trainer.images.shape[0], trainer.device, context)
    if not context.enabled:
        return
    trainer.generator = torch.nn.SyncBatchNorm.convert_sync_batchnorm(trainer.generator)
    if trainer.discriminator is not None:
        trainer.discriminator = torch.nn.SyncBatchNorm.convert_sync_batchnorm(trainer.discriminator)


# ----------------------------------------------------------------------------- checkpoints
def _own_state(trainer: "Trainer") -> dict[str, Any]:
    """This rank's random states and epoch sums (what differs between ranks)."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(trainer.device) if trainer.device.type == "cuda" else None,
            "noise": trainer.noise_generator.get_state().cpu(),
            "accumulator_sums": trainer.accumulator.sums.detach().cpu()}


def rank_states(trainer: "Trainer") -> dict[str, Any] | None:
    """Every rank's own state, gathered (a collective: call on every rank), for rank 0's checkpoint."""
    context: DistributedContext = getattr(trainer, "distributed", DistributedContext())
    if not context.enabled:
        return None
    gathered: list[Any] = [None] * context.world_size
    _collective(context, "gathering the ranks' random states", dist.all_gather_object, gathered, _own_state(trainer))
    return {"world_size": context.world_size, "backend": context.backend, "ranks": gathered}


def restore_rank_state(trainer: "Trainer", state: dict[str, Any]) -> str | None:
    """After ``load_state_dict`` (rank 0's streams): this rank's own streams; a warning line or None.

    Same world size: each rank gets back its own RNG states and epoch sums (exact). Another world
    size: the position (global step, hence global sample count) and the data order are kept, the
    noise of rank r is re-seeded for the step, the partial epoch sums are kept by rank 0 alone.
    """
    context: DistributedContext = getattr(trainer, "distributed", DistributedContext())
    saved = state.get("distributed") or {"world_size": 1, "ranks": None}
    step = state["position"]["step"]
    if saved["world_size"] == context.world_size:
        if context.enabled:
            own = saved["ranks"][context.rank]
            torch.set_rng_state(own["torch"])
            if own["cuda"] is not None and trainer.device.type == "cuda":
                torch.cuda.set_rng_state(own["cuda"], trainer.device)
            if own["noise"].shape == trainer.noise_generator.get_state().shape:
                trainer.noise_generator.set_state(own["noise"])
            else:  # moved between CPU and GPU: re-seeded, as the driver does for rank 0 (with its warning)
                trainer.noise_generator = trainer.seeds.noise_generator(trainer.device, rank=context.rank, step=step)
            trainer.accumulator.sums.copy_(own["accumulator_sums"].to(trainer.device))
        return None
    if saved["ranks"] is not None:  # the partial epoch's sums: all ranks' share, now held by rank 0
        total = sum(own["accumulator_sums"] for own in saved["ranks"])
        trainer.accumulator.sums.copy_(total.to(trainer.device) if context.is_main else torch.zeros_like(total))
    elif not context.is_main:
        trainer.accumulator.sums.zero_()
    if context.rank > 0:
        trainer.noise_generator = trainer.seeds.noise_generator(trainer.device, rank=context.rank, step=step)
        trainer.seeds.seed_dropout(context.rank, step)
    return (f"checkpoint written by {saved['world_size']} process(es), resumed on {context.world_size}: "
            f"training continues from the same global sample count (step {step}, "
            f"{step * trainer.config.train.batch_size} samples) but not bit-identically")


# ----------------------------------------------------------------------------- the run driver's needs
def broadcast_object(value: Any, context: DistributedContext) -> Any:
    """Rank 0's ``value`` on every rank (e.g. the run folder's timestamped name)."""
    if not context.enabled:
        return value
    box = [value if context.is_main else None]
    _collective(context, "agreeing on the run folder", dist.broadcast_object_list, box, src=0)
    return box[0]


def on_main_then_share(context: DistributedContext, function, *args, **kwargs):
    """Run ``function`` on rank 0 only; every rank returns its result, or raises its error.

    Used for the run folder's preparation: a refusal on rank 0 (folder exists, locked) becomes the
    same one-line error on every rank instead of a hang at the next collective.
    """
    result, error = None, None
    if context.is_main:
        try:
            result = function(*args, **kwargs)
        except Exception as caught:  # shared, then raised on every rank
            error = caught
    shared = broadcast_object((result, error), context) if context.enabled else (result, error)
    if shared[1] is not None:
        raise shared[1] if context.is_main else type(shared[1])(*shared[1].args)
    return shared[0]


def describe(context: DistributedContext) -> dict[str, Any]:
    """``run.json``'s record of the job: world size, backend, launcher, every rank's host and device."""
    here = f"{socket.gethostname()}:{context.device}"
    if context.device.type == "cuda":
        here += f" ({torch.cuda.get_device_name(context.device)})"
    devices = [here]
    if context.enabled:
        devices = [None] * context.world_size
        _collective(context, "describing the ranks", dist.all_gather_object, devices, here)
    return {"world_size": context.world_size, "backend": context.backend or "none",
            "launcher": context.launcher, "devices": devices}


class AgreedStop:
    """``should_stop`` for the loop: a signal to any rank stops all ranks after the same step.

    ``local_stop``: the user's own ``should_stop`` (a notebook hook), agreed on like a signal.
    After a stop, :attr:`signal` is the signal all ranks stop on (None for a user's stop).
    """

    USER_STOP = 1  # the flag's value for a local_stop() request (SIGHUP, 1, is not handled)

    def __init__(self, guard, trainer: "Trainer", context: DistributedContext, local_stop=None, every: int = 1):
        self.guard, self.trainer, self.local_stop = guard, trainer, local_stop or (lambda: False)
        self.agreement = StopAgreement(context, every)
        self.signal: int | None = None

    def __call__(self) -> bool:
        local = self.guard.received or (self.USER_STOP if self.local_stop() else None)
        agreed = self.agreement.agreed_signal(local, self.trainer.step)
        self.signal = agreed if agreed not in (None, self.USER_STOP) else None
        return agreed is not None


def warn_on_main(context: DistributedContext, message: str | None) -> None:
    if message and context.is_main:
        warnings.warn(message, stacklevel=3)


__all__ = ["AgreedStop", "DistributedError", "attach", "broadcast_object", "check_job", "describe",
           "on_main_then_share", "rank_states", "restore_rank_state", "use_sync_batchnorm", "warn_on_main"]
