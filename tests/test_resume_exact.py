"""Exact resume, in process: an interrupted run continued from its checkpoint = an uninterrupted run.

The reference is Composer's ``test_resumption`` and torchtitan's ``hash_model``: the final
SHA-256 over G and D parameters, buffers and both Adam states (``train.state_hash``) must be
equal bit for bit on CPU with one thread, for interruptions at step 0, mid-epoch, after the
last batch of an epoch (before the epoch closes), at a closed epoch edge, and one step before
the end. Every checkpoint goes through the file (``save_checkpoint`` / ``load_checkpoint``,
``weights_only=True``) into freshly built objects. The negative controls (Composer's
``test_spin_dataloaders``) show the comparison can fail: skipping the RNG, optimizer or data
position restore each changes the hash.

Setting: TP MLP, 100 synthetic images, batch 32 (batches 32, 32, 32 and a short 4), 3 epochs
= 12 steps.
"""

from __future__ import annotations

import pytest
import torch

from gan_atelier import config as cfg
from gan_atelier.checkpoint import load_checkpoint, save_checkpoint
from gan_atelier.data import synthetic_split
from gan_atelier.training import LoopHooks, Trainer, run_loop, state_hash

OVERRIDES = {"data.subset": 100, "train.batch_size": 32, "train.epochs": 3, "train.threads": 1}
STEPS_PER_EPOCH = 4
TOTAL_STEPS = 12


class _ProcessDied(Exception):
    """Raised by a hook right after a checkpoint: the process 'dies' there."""


@pytest.fixture(scope="module", autouse=True)
def _restore_thread_count():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def config():
    return cfg.get_config("dry-run", OVERRIDES)


@pytest.fixture(scope="module")
def data():
    return synthetic_split(100, seed=0)


def comparable_history(trainer: Trainer) -> list[dict]:
    """The history rows without wall-clock time (the one field allowed to differ)."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in trainer.history]


@pytest.fixture(scope="module")
def uninterrupted(config, data):
    trainer = Trainer(config, data)
    initial_hash = state_hash(trainer)
    assert run_loop(trainer, progress=False)
    assert trainer.step == TOTAL_STEPS and trainer.num_batches == STEPS_PER_EPOCH
    assert state_hash(trainer) != initial_hash  # training changed something
    return {"hash": state_hash(trainer), "history": comparable_history(trainer),
            "fixed_noise": trainer.fixed_noise.clone()}


def interrupted_checkpoint(config, data, folder, *, at_step: int | None = None,
                           after_epoch: int | None = None):
    """Train until the interruption point, checkpoint to ``folder``, return the file."""
    trainer = Trainer(config, data)
    if at_step is not None:
        if at_step > 0:
            finished = run_loop(trainer, LoopHooks(should_stop=lambda: trainer.step == at_step),
                                progress=False)
            assert not finished and trainer.step == at_step
        return save_checkpoint(trainer.state_dict(), folder, f"step_{at_step:09d}.pt")

    saved = []

    def save_then_die(tr: Trainer, row: dict) -> None:
        if tr.epoch == after_epoch:
            saved.append(save_checkpoint(tr.state_dict(), folder, f"step_{tr.step:09d}.pt"))
            raise _ProcessDied

    with pytest.raises(_ProcessDied):
        run_loop(trainer, LoopHooks(on_epoch=[save_then_die]), progress=False)
    return saved[0]


def resume_to_the_end(config, data, path, **switches) -> Trainer:
    trainer = Trainer(config, data)  # fresh models, optimizers and generators
    trainer.load_state_dict(load_checkpoint(path), **switches)
    assert run_loop(trainer, progress=False)
    return trainer


INTERRUPTIONS = {
    "step 0 (before any step)": {"at_step": 0},
    "mid-epoch (epoch 2, after batch 2)": {"at_step": STEPS_PER_EPOCH + 2},
    "last batch of epoch 1 done, epoch not yet closed": {"at_step": STEPS_PER_EPOCH},
    "epoch edge (epoch 1 closed)": {"after_epoch": 1},
    "one step before the end": {"at_step": TOTAL_STEPS - 1},
}


@pytest.fixture(scope="module")
def checkpoints(config, data, tmp_path_factory):
    """One checkpoint file per interruption point, each in its own folder."""
    root = tmp_path_factory.mktemp("interruptions")
    return {where: interrupted_checkpoint(config, data, root / f"case{index}", **point)
            for index, (where, point) in enumerate(INTERRUPTIONS.items())}


@pytest.mark.parametrize("where", list(INTERRUPTIONS))
def test_resume_reaches_the_uninterrupted_hash(where, config, data, uninterrupted, checkpoints):
    resumed = resume_to_the_end(config, data, checkpoints[where])
    assert resumed.step == TOTAL_STEPS
    assert state_hash(resumed) == uninterrupted["hash"]
    # Composer's deep_compare, minus wall-clock fields: the metrics history is identical too.
    assert comparable_history(resumed) == uninterrupted["history"]
    assert torch.equal(resumed.fixed_noise, uninterrupted["fixed_noise"])


@pytest.mark.parametrize("switch, where", [
    ("restore_rng", "mid-epoch (epoch 2, after batch 2)"),
    ("restore_optimizers", "mid-epoch (epoch 2, after batch 2)"),
    ("restore_position", "mid-epoch (epoch 2, after batch 2)"),
    # At a closed epoch edge the step count is right either way: only the data order differs.
    ("restore_position", "epoch edge (epoch 1 closed)"),
])
def test_negative_controls_change_the_hash(switch, where, config, data, uninterrupted, checkpoints):
    # The same checkpoint with every restore on reaches the hash (test above); with one off:
    broken = resume_to_the_end(config, data, checkpoints[where], **{switch: False})
    assert broken.step >= TOTAL_STEPS
    assert state_hash(broken) != uninterrupted["hash"], f"skipping {switch} went unnoticed"


def test_state_hash_covers_buffers_and_optimizer_state(config, data):
    """The hash sees a one-ulp change in an Adam moment and in a buffer, not only in weights."""
    trainer = Trainer(config, data)
    run_loop(trainer, LoopHooks(should_stop=lambda: trainer.step == 1), progress=False)
    reference = state_hash(trainer)
    moment = next(iter(trainer.optimizer_d.state.values()))["exp_avg_sq"]
    moment.view(-1)[0] = torch.nextafter(moment.view(-1)[0], torch.tensor(1.0))
    assert state_hash(trainer) != reference
    trainer.generator.register_buffer("probe", torch.zeros(1))
    with_buffer = state_hash(trainer)
    trainer.generator.probe.add_(1.0)
    assert state_hash(trainer) != with_buffer
