"""The restructured training core's extension points: one seed scheme with a rank, one gradient
path, one epoch reduction, hooks fed the step's result, one list of losses, critic-aware logging."""

from __future__ import annotations

import math

import pytest
import torch

from gan_atelier import config as cfg
from gan_atelier import losses, objectives
from gan_atelier.data import synthetic_split
from gan_atelier.run import train
from gan_atelier.sweep import SUPPORTED_LOSSES
from gan_atelier.training import LoopHooks, RunSeeds, StepResult, Trainer, run_loop
from gan_atelier.training.stats import EpochAccumulator, epoch_means
from gan_atelier.training.step import d_outputs, d_regularisers


def make_trainer(preset: str = "dry-run", **overrides) -> Trainer:
    config = cfg.get_config(preset, {"train.batch_size": 32, "train.threads": 1, **overrides})
    return Trainer(config, synthetic_split(96, seed=0))


def test_seeds_rank_zero_is_the_single_process_stream_and_ranks_differ():
    seeds = RunSeeds(7)
    legacy = torch.Generator().manual_seed(7 + 2)
    torch.testing.assert_close(torch.randn(5, generator=seeds.noise_generator()), torch.randn(5, generator=legacy))
    rank1 = torch.randn(5, generator=seeds.noise_generator(rank=1))
    assert not torch.equal(rank1, torch.randn(5, generator=seeds.noise_generator(rank=0)))
    assert seeds.as_dict() == {"init": 7, "data_order": 8, "noise": 9, "fixed_noise": 10}
    torch.testing.assert_close(seeds.fixed_noise(3), torch.randn(64, 3, generator=torch.Generator().manual_seed(10)))
    torch.testing.assert_close(seeds.eval_noise(4, 3), torch.randn(4, 3, generator=torch.Generator().manual_seed(11)))


def test_a_ranked_trainer_keeps_the_data_order_and_fixed_noise_and_changes_the_noise():
    config = cfg.get_config("dry-run", {"train.batch_size": 32, "train.threads": 1})
    data = synthetic_split(96, seed=0)
    zero, one = Trainer(config, data), Trainer(config, data, rank=1)
    torch.testing.assert_close(zero.fixed_noise, one.fixed_noise, rtol=0, atol=0)
    zero._begin_epoch(), one._begin_epoch()
    assert torch.equal(zero.permutation, one.permutation)
    assert not torch.equal(zero.noise(4), one.noise(4))


def test_every_gradient_passes_through_sync_gradients_before_its_step():
    trainer = make_trainer()
    before = [p.detach().clone() for m in (trainer.generator, trainer.discriminator) for p in m.parameters()]
    synced = []

    def zero_gradients(module):  # an all-reduce stand-in that leaves nothing to apply
        synced.append(module)
        for parameter in module.parameters():
            if parameter.grad is not None:
                parameter.grad.zero_()

    trainer.sync_gradients = zero_gradients
    assert trainer.train_step() is not None
    assert synced == [trainer.discriminator, trainer.generator]
    after = [p for m in (trainer.generator, trainer.discriminator) for p in m.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after))  # Adam's first step on zero gradients is 0


def test_on_result_hooks_receive_each_step_and_average_to_the_epoch_row():
    trainer = make_trainer(**{"train.epochs": 1})
    results: list[StepResult] = []
    run_loop(trainer, LoopHooks(on_result=[lambda result, tr: results.append(result)]), progress=False)
    row = trainer.history[0]
    assert len(results) == trainer.num_batches == 3
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert row[key] == pytest.approx(sum(float(getattr(r, key)) for r in results) / 3, rel=1e-9)
    assert trainer.last_result is results[-1]


def test_epoch_statistics_are_reduced_in_one_place():
    accumulator = EpochAccumulator(torch.tensor([4.0, 2.0, 1.0, 0.5], dtype=torch.float64), batches=4, g_batches=2)
    assert epoch_means(accumulator) == {"d_loss": 1.0, "g_loss": 1.0, "d_real": 0.25, "d_fake": 0.125}

    def two_ranks(acc):  # the sums of two identical ranks: the means stay
        return EpochAccumulator(acc.sums * 2, acc.batches * 2, acc.g_batches * 2, acc.seconds)

    assert epoch_means(accumulator, two_ranks) == epoch_means(accumulator)
    trainer = make_trainer()
    calls = []
    trainer.all_reduce_stats = lambda acc: calls.append(acc) or acc
    while not trainer.epoch_done():
        trainer.train_step()
    trainer.finish_epoch()
    assert len(calls) == 1


def test_the_run_driver_fires_grid_and_finish_hooks(tmp_path):
    grids, finished = [], []
    config = cfg.get_config("dry-run", {"train.epochs": 2, "train.batch_size": 64, "train.threads": 1,
                                        "data.subset": 128})
    hooks = LoopHooks(on_grid=[lambda epoch, images: grids.append((epoch, tuple(images.shape)))],
                      on_finish=[lambda trainer, status: finished.append(status)])
    train(config, tmp_path / "run", dry_run=True, progress=False, verbose=False, hooks=hooks)
    assert grids == [(1, (64, 1, 28, 28)), (2, (64, 1, 28, 28))] and finished == ["completed"]
    toml = (tmp_path / "run" / "config.toml").read_text()
    assert "lr_d = 0.0  # 0 = use lr: 0.0002 in effect" in toml
    assert cfg.load_toml(tmp_path / "run" / "config.toml") == config


def test_one_list_of_losses():
    assert tuple(losses.LOSS_PAIRS) == cfg.LOSSES == objectives.LOSSES
    for name, pair in losses.LOSS_PAIRS.items():
        assert pair.probabilistic == objectives.objective(name).probabilistic
        assert pair.uses_gradient_penalty == (objectives.objective(name).d_penalty == objectives.GRADIENT_PENALTY)
    assert SUPPORTED_LOSSES == ("ns", "saturating", "lsgan", "hinge")
    with pytest.raises(ValueError, match="valid losses: ns, saturating"):
        losses.get_loss_pair("bce")


def test_critic_losses_log_raw_scores_and_bce_losses_probabilities():
    real, fake = torch.tensor([[2.0], [4.0]]), torch.tensor([[-1.0], [-3.0]])
    probability = d_outputs(real, fake, probabilistic=True)
    torch.testing.assert_close(probability[0], torch.sigmoid(real).mean())
    torch.testing.assert_close(probability[1], torch.sigmoid(fake).mean())
    score = d_outputs(real, fake, probabilistic=False)
    assert float(score[0]) == 3.0 and float(score[1]) == -2.0
    hinge = make_trainer("dcgan", **{"train.loss": "hinge"})
    assert not hinge.loss_pair.probabilistic and math.isfinite(float(hinge.train_step().d_real))


def test_d_regularisers_follow_the_loss():
    plain = make_trainer()
    plain._begin_epoch()
    real = plain.batch(0)[0]
    assert d_regularisers(plain, real, real, {}) is None
    critic = make_trainer("wgan-gp", **{"train.gp_weight": 10.0})
    critic._begin_epoch()
    real = critic.batch(0)[0]
    penalty = d_regularisers(critic, real, torch.rand_like(real), {})
    assert penalty.dim() == 0 and float(penalty.detach()) >= 0.0
