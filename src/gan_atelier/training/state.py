"""A trainer's checkpoint state: everything needed to continue bit for bit, and its hash.

The layout (schema v1, :mod:`gan_atelier.checkpoint`) is unchanged since the first release:
``config``, ``generator``, ``optimizer_g``, ``ema_generator``, ``rng`` (torch, cuda, data,
epoch_data, noise), ``position``, ``accumulator``, ``fixed_noise``, ``history``, ``alarms``,
``d_win_streak``, ``collapse``, ``data_sha256`` and, for a GAN, ``discriminator`` and
``optimizer_d``. Older checkpoints without ``collapse`` still load.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import torch

from .. import config as cfg
from ..collapse import CollapseDetector
from .stats import EpochAccumulator

if TYPE_CHECKING:
    from .trainer import Trainer


def trainer_state(trainer: "Trainer") -> dict[str, Any]:
    """Only tensors and plain values (``torch.load(weights_only=True)`` reads it back)."""
    acc = trainer.accumulator
    state = {
        "config": cfg.to_dict(trainer.config),
        "generator": trainer.generator.state_dict(),
        "optimizer_g": trainer.optimizer_g.state_dict(),
        "ema_generator": trainer.ema_generator.state_dict() if trainer.ema_generator else None,
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "data": trainer.data_generator.get_state(),
            "epoch_data": trainer.epoch_data_state,
            "noise": trainer.noise_generator.get_state(),
        },
        "position": {"epoch": trainer.epoch, "batch": trainer.batch_index, "step": trainer.step,
                     "in_epoch": trainer.permutation is not None},
        "accumulator": {"sums": acc.sums.cpu(), "batches": acc.batches, "g_batches": acc.g_batches,
                        "seconds": acc.seconds},
        "fixed_noise": trainer.fixed_noise,
        "history": [dict(row) for row in trainer.history],
        "alarms": list(trainer.alarms),
        "d_win_streak": trainer.d_win_streak,
        "collapse": trainer.collapse.state_dict(),
        "data_sha256": trainer.data_sha256,
    }
    if not trainer.is_vae:
        state["discriminator"] = trainer.discriminator.state_dict()
        state["optimizer_d"] = trainer.optimizer_d.state_dict()
    return state


def load_trainer_state(trainer: "Trainer", state: dict[str, Any], *, restore_rng: bool = True,
                       restore_optimizers: bool = True, restore_position: bool = True) -> None:
    """Restore :func:`trainer_state` output. The ``restore_*`` switches exist for negative-control tests."""
    trainer.generator.load_state_dict(state["generator"])
    if not trainer.is_vae:
        trainer.discriminator.load_state_dict(state["discriminator"])
    if restore_optimizers:
        trainer.optimizer_g.load_state_dict(state["optimizer_g"])
        if not trainer.is_vae:
            trainer.optimizer_d.load_state_dict(state["optimizer_d"])
    if trainer.ema_generator is not None and state.get("ema_generator") is not None:
        trainer.ema_generator.load_state_dict(state["ema_generator"])
    rng = state["rng"]
    if restore_rng:
        torch.set_rng_state(rng["torch"])
        if torch.cuda.is_available() and rng["cuda"]:
            torch.cuda.set_rng_state_all(rng["cuda"])
        trainer.noise_generator.set_state(rng["noise"])
    trainer.fixed_noise = state["fixed_noise"]
    position = state["position"]
    trainer.epoch, trainer.step = position["epoch"], position["step"]
    trainer.history = [dict(row) for row in state["history"]]
    trainer.alarms = list(state["alarms"])
    trainer.d_win_streak = state["d_win_streak"]
    trainer.collapse = CollapseDetector()
    trainer.collapse.load_state_dict(state.get("collapse", {}))  # absent in checkpoints before it existed
    acc = state["accumulator"]
    trainer.accumulator = EpochAccumulator(acc["sums"].to(trainer.device), acc["batches"], acc["g_batches"],
                                           acc["seconds"])
    trainer.permutation, trainer.batch_index = None, 0
    if restore_position and position["in_epoch"]:
        # Re-draw the interrupted epoch's permutation and continue at the next batch.
        trainer.data_generator.set_state(rng["epoch_data"])
        trainer._begin_epoch()
        trainer.batch_index = position["batch"]
    elif restore_position:
        trainer.data_generator.set_state(rng["data"])


def state_hash(trainer: "Trainer") -> str:
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
