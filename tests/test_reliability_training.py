"""Training-time reliability through the Python API: interrupts, crashes, non-finite losses, bad input.

* a notebook's KeyboardInterrupt (raised from a hook) and a real SIGINT return a partial
  :class:`Run`, write a checkpoint and restore the signal handlers; resuming reaches the
  uninterrupted hash;
* a crash (an exception, no graceful stop) loses only the steps since the last periodic
  checkpoint; resume removes the stale temp file and reaches the same hash;
* a NaN or infinite loss at step k stops before the optimizer step (state hash unchanged) and
  names the step and the loss; ``train.on_nan=skip`` skips the step instead;
* run names that escape the runs folder and bad config files are refused, naming the problem.

Setting: TP MLP, 96 synthetic images, batch 32 (3 steps per epoch), 2 epochs, one thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import signal
from pathlib import Path

import pytest
import torch

from gan_atelier import cli
from gan_atelier import config as cfg
from gan_atelier.run import train
from gan_atelier.checkpoint import find_latest, load_checkpoint, save_checkpoint
from gan_atelier.data import synthetic_split
from gan_atelier.errors import CheckpointError, NonFiniteLossError, RunDirError
from gan_atelier.run.folder import RunLock, check_run_name, default_run_dir
from gan_atelier.training import LoopHooks, Trainer, run_loop, state_hash
from conftest import metric_rows, run_dir_hash as run_hash

OVERRIDES = {"data.subset": 96, "train.batch_size": 32, "train.epochs": 2, "train.threads": 1}
STEPS_PER_EPOCH = 3
TOTAL_STEPS = 6


@pytest.fixture(scope="module", autouse=True)
def _restore_thread_count():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def tiny_config(**extra) -> cfg.RunConfig:
    return cfg.get_config("dry-run", {**OVERRIDES, **extra})




def at_step(step: int, action):
    """An on_step hook doing ``action()`` once, right after step ``step``."""
    def hook(trainer):
        if trainer.step == step:
            action()
    return hook


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    run_dir = tmp_path_factory.mktemp("api") / "baseline"
    run = train(tiny_config(), run_dir, dry_run=True, progress=False, verbose=False)
    assert run.status == "completed"
    return {"hash": run_hash(run_dir), "metrics": metric_rows(run_dir), "run_dir": run_dir}


def handlers() -> tuple:
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


# ----------------------------------------------------------------------------- interrupts
def test_notebook_interrupt_returns_a_partial_run_then_resumes_exactly(uninterrupted, tmp_path):
    """Jupyter's "interrupt kernel" when our handler is not in place: a KeyboardInterrupt."""
    before = handlers()

    def interrupt():
        raise KeyboardInterrupt

    run = train(tiny_config(), tmp_path / "run", dry_run=True, progress=False, verbose=False,
                hooks=LoopHooks(on_step=[at_step(2, interrupt)]))
    assert (run.status, run.signal, run.trainer.step) == ("interrupted", signal.SIGINT, 2)
    assert handlers() == before
    assert find_latest(tmp_path / "run" / "checkpoints").name == "step_000000002.pt"
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "interrupted"

    resumed = train(run_dir=tmp_path / "run", resume=True, progress=False, verbose=False)
    assert resumed.status == "completed" and handlers() == before
    assert run_hash(tmp_path / "run") == uninterrupted["hash"]
    assert metric_rows(tmp_path / "run") == uninterrupted["metrics"]


def test_real_sigint_in_process_stops_at_the_step_boundary(tmp_path):
    """The same in a notebook whose SIGINT reaches our handler (main thread): a graceful stop.
    A second Ctrl-C while stopping is ignored (it would otherwise cut the final save)."""
    before = handlers()

    def press_ctrl_c_twice():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    run = train(tiny_config(), tmp_path / "run", dry_run=True, progress=False, verbose=False,
                hooks=LoopHooks(on_step=[at_step(STEPS_PER_EPOCH + 1, press_ctrl_c_twice)]))
    assert (run.status, run.signal, run.trainer.step) == ("interrupted", signal.SIGINT, STEPS_PER_EPOCH + 1)
    assert handlers() == before
    state = load_checkpoint(find_latest(tmp_path / "run" / "checkpoints"))
    assert state["position"] == {"epoch": 1, "batch": 1, "step": STEPS_PER_EPOCH + 1, "in_epoch": True}


def test_crash_loses_only_the_steps_since_the_last_periodic_checkpoint(uninterrupted, tmp_path):
    run_dir = tmp_path / "run"

    def power_cut():
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        train(tiny_config(**{"train.checkpoint_every_steps": 2}), run_dir, dry_run=True, progress=False,
              verbose=False, hooks=LoopHooks(on_step=[at_step(5, power_cut)]))
    run_info = json.loads((run_dir / "run.json").read_text())
    assert run_info["status"] == "failed" and run_info["error"] == "power cut"
    latest = find_latest(run_dir / "checkpoints")
    assert latest.name == "step_000000004.pt"  # every 2 steps, mid-epoch 2
    stale = run_dir / "checkpoints" / ".step_000000006.pt.4242.tmp"  # a save the crash cut short
    stale.write_bytes(latest.read_bytes()[:1000])

    output = io.StringIO()
    with contextlib.redirect_stdout(output), pytest.warns(UserWarning, match=stale.name):
        run = train(run_dir=run_dir, resume=True, progress=False)
    assert f"Removed {stale.name}" in output.getvalue() and not stale.exists()
    assert "Resuming" in output.getvalue() and "(epoch 1, batch 1, step 4)" in output.getvalue()
    assert run.status == "completed"
    assert run_hash(run_dir) == uninterrupted["hash"]
    assert metric_rows(run_dir) == uninterrupted["metrics"]


def test_resume_refuses_a_checkpoint_that_does_not_fit_its_model(uninterrupted, tmp_path):
    state = load_checkpoint(find_latest(uninterrupted["run_dir"] / "checkpoints"))
    del state["discriminator"]["model.0.weight"]
    save_checkpoint(state, tmp_path / "run" / "checkpoints", "step_000000006.pt")
    with pytest.raises(CheckpointError, match=r"does not fit the model.*Missing key\(s\).*model\.0\.weight"):
        train(run_dir=tmp_path / "run", resume=True, progress=False, verbose=False)


def test_a_gpu_checkpoint_resumes_on_cpu_with_a_warning(uninterrupted, tmp_path):
    """Colab (CUDA) → laptop (CPU): the CUDA noise state (16 bytes of Philox) cannot load on CPU."""
    state = load_checkpoint(find_latest(uninterrupted["run_dir"] / "checkpoints"))
    state["rng"]["noise"] = torch.zeros(16, dtype=torch.uint8)  # the shape of a CUDA generator state
    state["versions"]["device"] = "cuda"
    save_checkpoint(state, tmp_path / "run" / "checkpoints", "step_000000006.pt")
    with pytest.warns(UserWarning, match=r"made on cuda, resumed on cpu: the noise generator is re-seeded"):
        run = train(run_dir=tmp_path / "run", resume=True, overrides={"train.epochs": 3}, progress=False,
                    verbose=False)
    assert run.status == "completed" and run.trainer.step == TOTAL_STEPS + STEPS_PER_EPOCH
    assert all(torch.isfinite(p).all() for p in run.generator.parameters())


def test_a_second_lock_on_the_same_folder_is_refused(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunDirError, match="is in use by pid") as caught:
            with RunLock(tmp_path):
                pass
    assert caught.value.exit_code == 4
    with RunLock(tmp_path):  # released: usable again
        pass


# ----------------------------------------------------------------------------- non-finite losses
def trainer_after(steps: int, **extra) -> Trainer:
    trainer = Trainer(tiny_config(**extra), synthetic_split(96, seed=0))
    run_loop(trainer, LoopHooks(should_stop=lambda: trainer.step == steps), progress=False)
    assert trainer.step == steps
    return trainer


def poison_discriminator(trainer: Trainer, value: float, *, only_at_step: int | None = None):
    """D's logits become ``value`` (on the 0-based step ``only_at_step``, or always)."""
    def hook(module, inputs, output):
        if only_at_step is None or trainer.step == only_at_step:
            return output * 0 + value
        return output
    return trainer.discriminator.register_forward_hook(hook)


def infinite_d_loss(trainer: Trainer) -> None:
    pair = trainer.loss_pair
    trainer.loss_pair = dataclasses.replace(
        pair, d_loss=lambda real, fake, **kwargs: pair.d_loss(real, fake, **kwargs) + float("inf"))


@pytest.mark.parametrize("poison, shown", [
    (lambda trainer: poison_discriminator(trainer, float("nan")), "nan"),  # NaN logits
    (infinite_d_loss, "inf"),
])
def test_non_finite_d_loss_stops_before_the_update_naming_the_step(poison, shown):
    trainer = trainer_after(4)
    before = state_hash(trainer)
    poison(trainer)
    with pytest.raises(NonFiniteLossError) as caught:
        trainer.train_step()
    # Step 5 is the 2nd batch of epoch 2 (3 steps per epoch).
    assert str(caught.value) == (f"non-finite D loss ({shown}) at step 5 (epoch 2, batch 2); "
                                 f"stopped before the optimizer step")
    assert caught.value.exit_code == 6
    assert state_hash(trainer) == before  # neither network nor optimizer moved


def test_non_finite_g_loss_stops_before_g_update():
    trainer = trainer_after(4)
    g_before = [p.detach().clone() for p in trainer.generator.parameters()]
    g_optimizer_before = {k: {n: v.clone() for n, v in s.items()} for k, s in trainer.optimizer_g.state.items()}
    trainer.loss_pair = dataclasses.replace(trainer.loss_pair, g_loss=lambda logits: logits.mean() * float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"non-finite G loss \(nan\) at step 5 \(epoch 2, batch 2\)"):
        trainer.train_step()
    assert all(torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters()))
    for key, param_state in trainer.optimizer_g.state.items():
        assert all(torch.equal(value, g_optimizer_before[key][name]) for name, value in param_state.items())


def test_on_nan_skip_skips_the_step_and_continues():
    trainer = trainer_after(4, **{"train.on_nan": "skip"})
    before = state_hash(trainer)
    handle = poison_discriminator(trainer, float("nan"), only_at_step=4)
    assert trainer.train_step() is None  # skipped
    assert state_hash(trainer) == before and trainer.step == 5
    assert trainer.alarms == ["non-finite D loss at step 5 (epoch 2, batch 2): step skipped"]
    assert trainer.train_step() is not None and state_hash(trainer) != before  # training goes on
    handle.remove()


def test_on_nan_skip_gives_up_after_max_skips_in_a_row():
    trainer = trainer_after(1, **{"train.on_nan": "skip", "train.max_nan_skips": 2})
    poison_discriminator(trainer, float("nan"))
    assert trainer.train_step() is None and trainer.train_step() is None
    with pytest.raises(NonFiniteLossError, match="at step 4"):
        trainer.train_step()


def test_nan_during_train_keeps_the_last_good_checkpoint(tmp_path):
    run_dir = tmp_path / "run"

    def poison_after_epoch_1(trainer, row):
        poison_discriminator(trainer, float("nan"), only_at_step=STEPS_PER_EPOCH + 1)

    with pytest.raises(NonFiniteLossError, match="at step 5 "):
        train(tiny_config(), run_dir, dry_run=True, progress=False, verbose=False,
              hooks=LoopHooks(on_epoch=[poison_after_epoch_1]))
    checkpoints = run_dir / "checkpoints"
    good = checkpoints / "step_000000003.pt"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["latest.json", "step_000000003.pt"]
    assert find_latest(checkpoints) == good
    state = load_checkpoint(good)
    assert all(torch.isfinite(t).all() for t in state["discriminator"].values())
    run_info = json.loads((run_dir / "run.json").read_text())
    assert run_info["status"] == "failed" and "non-finite D loss (nan) at step 5" in run_info["error"]


# ----------------------------------------------------------------------------- names and config files
@pytest.mark.parametrize("name", ["..", "../escape", "/abs", "/etc/passwd", "a/b", "a\\b", ".hidden",
                                  "a\x00b", "line\nbreak", "x" * 129, "café"])
def test_run_names_that_could_escape_are_refused(name, tmp_path):
    with pytest.raises(RunDirError, match="invalid run name"):
        default_run_dir("seed", tmp_path, name)


def test_good_run_names_stay_inside_the_root(tmp_path):
    assert check_run_name("my-run_2.v1") == "my-run_2.v1"
    assert default_run_dir("seed", tmp_path, "my-run_2.v1") == (tmp_path / "my-run_2.v1").resolve()


def test_a_symlinked_run_name_cannot_lead_outside(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "runs" / "trap").symlink_to(tmp_path / "outside")
    with pytest.raises(RunDirError, match="escapes"):
        default_run_dir("seed", tmp_path / "runs", "trap")


def test_cli_refuses_an_escaping_name(tmp_path, capsys):
    assert cli.main(["train", "--dry-run", "--name", "../x", "--runs-root", str(tmp_path)]) == 4
    assert "invalid run name '../x'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("toml, named", [
    ("[train]\nlrr = 0.1\n", "unknown config key 'train.lrr'"),
    ('[train]\nepochs = "ten"\n', "bad value 'ten' for train.epochs: expected int"),
    ("[train]\nepochs = 1.5\n", "bad value 1.5 for train.epochs: expected int"),
    ("[train]\nbatch_size = true\n", "bad value True for train.batch_size: expected int"),
    ("[train]\nlr = [0.1]\n", "bad value [0.1] for train.lr: expected float"),
    ("[model]\nlatent_dim = 0\n", "bad value 0 for model.latent_dim: must be > 0"),
    ('[train]\nloss = "nope"\n', "bad value 'nope' for train.loss; valid choices"),
    ("[optim]\nlr = 0.1\n", "unknown config section 'optim'"),
    ("train = 3\n", "unknown config section 'train'"),
    ("preset = 5\n", "bad value 5 for preset: expected str"),
    ('preset = "nope"\n', "unknown preset 'nope'"),
    ("[train\n", "is not valid TOML"),
])
def test_bad_config_files_exit_2_naming_the_key(toml, named, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    assert cli.main(["train", "--config", str(path), "--dry-run", "--run-dir", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("gan-atelier: error:") and "\n" not in error
    assert named in error
    assert not (tmp_path / "run").exists()
