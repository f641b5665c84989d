"""Batched sweeps: K members trained at once equal K Trainers run one by one; outputs; refusals."""

import csv

import pytest
import torch
import torch.nn as nn

from gan_atelier import config as cfg
from gan_atelier.inference import load_generator
from gan_atelier.sweep import BatchedGANTrainer
from gan_atelier.cli import main
from gan_atelier.data import synthetic_split
from gan_atelier.errors import ConfigError
from gan_atelier.sweep import expand_members, run_sweep
from gan_atelier.training import Trainer

STEPS = 5  # 100 images in batches of 32: an epoch boundary and a short last batch


def disable_dropout(module):
    for layer in module.modules():
        if isinstance(layer, nn.Dropout):
            layer.p = 0.0


@pytest.fixture
def base(one_thread):
    return cfg.get_config("dry-run", {"train.batch_size": 32})


def member_configs(base):
    grid = {"train.lr": [2e-4, 1e-3], "train.beta1": [0.5, 0.9]}
    return [config for _, config in expand_members(base, grid, seeds=[0, 1])]


def test_batched_members_equal_one_by_one_trainers(base):
    configs = member_configs(base)
    split = synthetic_split(100, seed=5)
    batched = BatchedGANTrainer(configs, split)
    disable_dropout(batched.discriminator)
    batched_losses = []
    for _ in range(STEPS):
        batched_losses.append(torch.stack(batched.train_step(), dim=1))  # (K, 2)
        if batched.epoch_done():
            batched.finish_epoch(0.0)
    assert batched.epoch == 1
    for k, config in enumerate(configs):
        trainer = Trainer(config, split)
        disable_dropout(trainer.discriminator)
        losses = []
        for _ in range(STEPS):
            result = trainer.train_step()
            losses.append(torch.stack([result.d_loss, result.g_loss]))
            if trainer.epoch_done():
                trainer.finish_epoch()
        torch.testing.assert_close(torch.stack([step[k] for step in batched_losses]), torch.stack(losses),
                                   atol=1e-5, rtol=0)
        for stacked, single in ((batched.generator, trainer.generator),
                                (batched.discriminator, trainer.discriminator)):
            expected = single.state_dict()
            for name, value in stacked.member_state_dict(k).items():
                torch.testing.assert_close(value, expected[name], atol=1e-5, rtol=0,
                                           msg=f"member {k} ({config.train.lr}, {config.train.beta1}, "
                                               f"seed {config.train.seed}): {name}")
        assert batched.state[k].history[0]["d_loss"] == pytest.approx(trainer.history[0]["d_loss"], abs=1e-5)


def test_members_are_independent_a_diverged_member_stops_alone(base):
    configs = member_configs(base)[:3]
    split = synthetic_split(96, seed=1)  # 3 batches: 3 steps stay inside one epoch
    clean = BatchedGANTrainer(configs, split)
    broken = BatchedGANTrainer(configs, split)
    for trainer in (clean, broken):
        disable_dropout(trainer.discriminator)
    with torch.no_grad():
        broken.discriminator.model[0].weight[1, 0, 0] = float("nan")  # member 1's D outputs NaN
    before = broken.generator.member_state_dict(1)
    for _ in range(3):
        clean.train_step()
        broken.train_step()
    assert broken.state[1].stopped_at == 1 and "member stopped" in broken.state[1].alarms[0]
    for name, value in broken.generator.member_state_dict(1).items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)  # frozen before its optimizer step
    for k in (0, 2):
        assert broken.state[k].stopped_at is None
        for stacked_a, stacked_b in ((clean.generator, broken.generator), (clean.discriminator, broken.discriminator)):
            for (name, a), b in zip(stacked_a.member_state_dict(k).items(), stacked_b.member_state_dict(k).values()):
                torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"member {k} {name}")


def test_refusals_name_the_problem(base):
    split = synthetic_split(32)
    with pytest.raises(ConfigError, match="model.name='mlp' only"):
        BatchedGANTrainer([cfg.apply_overrides(base, {"model.name": "dcgan"})], split)
    with pytest.raises(ConfigError, match="train.batch_size differs"):
        BatchedGANTrainer([base, cfg.apply_overrides(base, {"train.batch_size": 16})], split)
    with pytest.raises(ConfigError, match="cannot vary"):
        expand_members(base, {"train.epochs": [1, 2]})
    with pytest.raises(ConfigError, match="wgan-gp"):
        BatchedGANTrainer([cfg.apply_overrides(base, {"train.loss": "wgan-gp"})], split)


def test_sweep_cli_writes_member_run_folders_and_the_comparison(tmp_path, one_thread):
    out = tmp_path / "sweep"
    code = main(["sweep", "--dry-run", "--set", "train.lr=1e-3,2e-3", "--seeds", "2", "--out", str(out),
                 "--set", "train.epochs=2", "--set", "data.subset=64", "--no-progress"])
    assert code == 0
    for name in ("comparison.png", "summary.csv", "summary.md", "sweep.json"):
        assert (out / name).is_file(), name
    with open(out / "summary.csv") as file:
        rows = list(csv.DictReader(file))
    assert [r["member"] for r in rows] == ["lr0.001-seed0", "lr0.001-seed1", "lr0.002-seed0", "lr0.002-seed1"]
    assert all(r["status"] == "completed" and r["epochs"] == "2" for r in rows)
    member = out / "lr0.002-seed1"
    for name in ("config.toml", "run.json", "metrics.csv", "curves.png", "progress.gif",
                 "samples/epoch_001.png", "samples/final.png", "generator.safetensors"):
        assert (member / name).is_file(), name
    config = cfg.load_toml(member / "config.toml")
    assert config.train.lr == 2e-3 and config.train.seed == 1 and config.train.epochs == 2
    with open(member / "metrics.csv") as file:
        assert len(list(csv.DictReader(file))) == 2
    generator = load_generator(member / "generator.safetensors")
    assert generator.run_config.train.lr == 2e-3


def test_run_sweep_api_returns_members_and_generators(tmp_path, base):
    base = cfg.apply_overrides(base, {"train.epochs": 1, "data.subset": 64})
    result = run_sweep(base, members=[{"train.lr_d": 1e-3, "train.lr_g": 2e-4}, {"train.lr": 5e-4}],
                       seeds=1, out_dir=tmp_path / "s", dry_run=True, progress=False, verbose=False)
    assert [m.name for m in result.members] == ["lrD0.001-lrG0.0002-seed0", "lr0.0005-seed0"]
    assert result.members[0].config.train.lr_d == 1e-3 and len(result.members[1].history) == 1
    z = torch.randn(4, 100)
    stacked = result.trainer.generator
    with torch.no_grad():
        expected = stacked.eval()(z.unsqueeze(0).expand(2, -1, -1))[1]
    torch.testing.assert_close(result.generator(1)(z), expected, atol=1e-6, rtol=0)


def test_members_carry_the_trainers_alarms_diversity_and_collapse(base):
    """Each member gets the Trainer's epoch checks: the same diversity, and its own collapse alarm."""
    from gan_atelier.collapse import COLLAPSE_EPOCHS

    configs = member_configs(base)[:2]
    split = synthetic_split(100, seed=5)
    batched = BatchedGANTrainer(configs, split)
    trainer = Trainer(configs[1], split)
    disable_dropout(batched.discriminator)  # as in the equality test: the RNG streams of dropout differ
    disable_dropout(trainer.discriminator)
    with torch.no_grad():  # member 0 collapses: all of its G's weights 0, so G ignores z
        for parameter in batched.generator.parameters():
            parameter[0].zero_()
    for _ in range(COLLAPSE_EPOCHS):
        while not batched.epoch_done():
            batched.train_step()
            trainer.train_step()
        rows = batched.finish_epoch(0.0)
        trainer.finish_epoch()
        assert rows[0]["diversity"] < 1e-3
        assert rows[1]["diversity"] == pytest.approx(trainer.history[-1]["diversity"], rel=1e-3)
    collapse = [[a for a in state.alarms if "mode collapse" in a] for state in batched.state]
    assert len(collapse[0]) == 1 and f"at epoch {COLLAPSE_EPOCHS}:" in collapse[0][0]
    assert collapse[1] == [] and not any("mode collapse" in a for a in trainer.alarms)


def test_members_carry_the_rejection_alarm_of_their_own_g_loss(base):
    """G's loss above ln 1000 for REJECTED_EPOCHS epochs: the member that diverged warns, the other not."""
    from gan_atelier.collapse import REJECTED_EPOCHS

    batched = BatchedGANTrainer(member_configs(base)[:2], synthetic_split(100, seed=5))
    for epoch in range(1, REJECTED_EPOCHS + 1):
        batched.epoch = epoch
        batched._check_alarms([{"epoch": epoch, "d_loss": 0.5, "g_loss": 40.0},
                               {"epoch": epoch, "d_loss": 0.5, "g_loss": 2.0}])
    rejected = [[a for a in state.alarms if a.startswith("G's samples rejected")] for state in batched.state]
    assert len(rejected[0]) == 1 and f"at epoch {REJECTED_EPOCHS}:" in rejected[0][0] and rejected[1] == []
