"""``gan-atelier train`` under data parallelism, through the real command line, CPU and gloo.

Each scenario runs ``gan-atelier train --dry-run`` on two ranks (synthetic data, the TP's MLP,
256 images, global batch 64, 4 steps per epoch, 2 epochs, one thread each). Scenario 1 starts
real processes through torchrun; the others fork this process (torch already imported), with
torchrun's variables set by hand so that each rank's exit code and output are visible:

1. ``torchrun --standalone --nproc_per_node=2``: one complete run folder, written by rank 0
   alone, with the world size, backend and devices in ``run.json``; this is also the reference;
2. SIGTERM to rank 1 only after step 3 (mid-epoch): both exit 143 after the same step, and
   there is exactly one checkpoint;
3. the interrupted run resumed at world size 2: its final checkpoint is **bitwise** equal to
   the uninterrupted one (G, D, both Adam states) and so are the metrics rows;
4. the interrupted run resumed in one process (in this test process): a warning, and training
   continues from the same global sample count to the same number of steps;
5. rank 1 killed (SIGKILL) after step 3: rank 0 fails at once with exit code 9 and a one-line
   error, ``run.json`` says "failed", and the step-2 checkpoint loads.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from gan_atelier.checkpoint import find_latest, load_checkpoint

SRC = Path(__file__).resolve().parents[1] / "src"
ARGS = ["--dry-run", "--no-progress", "--set", "data.subset=256", "--set", "train.batch_size=64",
        "--set", "train.checkpoint_every=0", "--set", "train.sample_every=1", "--set", "train.threads=1"]
STEPS = 8  # 256 images / 64 per global batch × 2 epochs
STOP_AT = 3  # mid-epoch 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    environment.update(PYTHONPATH=str(SRC), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    return environment


def _rank_main(arguments: list[str], environment: dict[str, str], log: Path) -> None:
    """A forked rank: the command line's ``main``, its output in ``log.out``/``log.err``, its exit code."""
    code = 1
    try:
        os.environ.clear()
        os.environ.update(environment)
        for fd, suffix in ((1, ".out"), (2, ".err")):
            target = os.open(str(log) + suffix, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(target, fd)
        sys.stdout, sys.stderr = os.fdopen(1, "w", buffering=1), os.fdopen(2, "w", buffering=1)
        from gan_atelier.cli import main

        code = main(["train", *arguments])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _ranks(arguments: list[str], log: Path, world: int = 2, timeout: float = 240,
           **extra: str) -> list[subprocess.CompletedProcess]:
    """``world`` ranks of ``gan-atelier train …``, forked from this process (torch already imported:
    seconds cheaper than new interpreters), with torchrun's variables set by hand."""
    import multiprocessing

    import gan_atelier.run  # noqa: F401  (imported once, here, before forking)
    from gan_atelier.speed import make_adam

    make_adam([torch.nn.Parameter(torch.zeros(1))], 1e-3, (0.5, 0.999), torch.device("cpu"))  # torch._dynamo
    port = str(_free_port())
    forked = multiprocessing.get_context("fork")
    processes = []
    for rank in range(world):
        environment = _environment(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                                   MASTER_ADDR="127.0.0.1", MASTER_PORT=port, **extra)
        process = forked.Process(target=_rank_main, args=(arguments, environment, log.with_name(f"{log.name}{rank}")))
        process.start()
        processes.append(process)
    deadline = time.monotonic() + timeout
    results = []
    for rank, process in enumerate(processes):
        process.join(max(deadline - time.monotonic(), 1))
        if process.is_alive():
            for other in processes:
                other.kill()
            raise TimeoutError(f"rank {rank} did not finish in {timeout} s")
        base = log.with_name(f"{log.name}{rank}")
        results.append(subprocess.CompletedProcess(arguments, process.exitcode,
                                                   Path(str(base) + ".out").read_text(),
                                                   Path(str(base) + ".err").read_text()))
    return results


def _weights(run_dir: Path) -> dict:
    state = load_checkpoint(find_latest(run_dir / "checkpoints"))
    return {key: state[key] for key in ("generator", "discriminator", "optimizer_g", "optimizer_d")}, state


def _assert_bitwise_equal(left, right, path: str = "") -> None:
    if isinstance(left, torch.Tensor):
        assert torch.equal(left, right), path
    elif isinstance(left, dict):
        assert left.keys() == right.keys(), path
        for key in left:
            _assert_bitwise_equal(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, (list, tuple)):
        assert len(left) == len(right), path
        for index, (a, b) in enumerate(zip(left, right)):
            _assert_bitwise_equal(a, b, f"{path}[{index}]")
    else:
        assert left == right, path


def _rows(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in load_checkpoint(
        find_latest(run_dir / "checkpoints"))["history"]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Scenario 1 (torchrun) and scenario 2 (SIGTERM to rank 1), side by side."""
    root = tmp_path_factory.mktemp("ddp")
    reference, interrupted = root / "reference", root / "interrupted"
    torchrun = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "gan_atelier", "train", *ARGS, "--run-dir", str(reference)],
        env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = _ranks([*ARGS, "--run-dir", str(interrupted)], root / "stopped",
                     GAN_ATELIER_DEBUG_SIGNAL_AT=f"{STOP_AT}:TERM:1")
    dead = root / "dead"  # rank 1 is killed (SIGKILL: no goodbye) after step 3; a checkpoint every 2 steps
    died = _ranks([*ARGS, "--set", "train.checkpoint_every_steps=2", "--run-dir", str(dead)], root / "died",
                  GAN_ATELIER_DEBUG_SIGNAL_AT="3:KILL:1")
    stdout, stderr = torchrun.communicate(timeout=240)
    return {"reference": reference, "interrupted": interrupted, "root": root, "dead": dead, "died": died,
            "torchrun": subprocess.CompletedProcess(torchrun.args, torchrun.returncode, stdout, stderr),
            "stopped": stopped}


def test_torchrun_writes_one_complete_run_folder(runs):
    result, run_dir = runs["torchrun"], runs["reference"]
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("config.toml", "run.json", "metrics.csv", "progress.gif", "curves.png",
                 "samples/epoch_001.png", "samples/epoch_002.png", "samples/final.png"):
        assert (run_dir / name).is_file(), name
    assert len(list((run_dir / "checkpoints").glob("step_*.pt"))) == 1
    import importlib.util  # TensorBoard (log.tensorboard = auto): one event file, from rank 0 only

    assert len(list(run_dir.glob("events.out.tfevents.*"))) == (importlib.util.find_spec("tensorboard") is not None)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "completed" and info["steps_done"] == STEPS
    assert info["distributed"]["world_size"] == 2 and info["distributed"]["backend"] == "gloo"
    assert info["distributed"]["launcher"] == "torchrun" and len(info["distributed"]["devices"]) == 2
    assert result.stdout.count("Epoch  2 |") == 1  # one rank prints the epoch lines
    assert result.stdout.count("Run folder:") == 1
    lines = (run_dir / "metrics.csv").read_text().strip().splitlines()
    assert len(lines) == 3  # header + 2 epochs, written once


def test_sigterm_to_one_rank_stops_all_after_the_same_step(runs):
    zero, one = runs["stopped"]
    assert (zero.returncode, one.returncode) == (143, 143), (zero.stderr[-2000:], one.stderr[-2000:])
    run_dir = runs["interrupted"]
    assert len(list((run_dir / "checkpoints").glob("step_*.pt"))) == 1  # rank 0 alone saved, once
    state = load_checkpoint(find_latest(run_dir / "checkpoints"))
    assert state["position"]["step"] == STOP_AT and state["position"]["in_epoch"]
    assert state["distributed"]["world_size"] == 2 and len(state["distributed"]["ranks"]) == 2
    noise = [rank["noise"] for rank in state["distributed"]["ranks"]]
    assert not torch.equal(noise[0], noise[1])  # training noise differs per rank
    from gan_atelier.training import RunSeeds

    assert torch.equal(state["fixed_noise"], RunSeeds(0).fixed_noise(100))  # the grids' z: independent of rank
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert one.stdout == ""  # rank 1 prints nothing but errors
    assert f"Stopped at epoch 0, batch {STOP_AT}" in zero.stdout


def test_a_dead_rank_fails_the_job_with_a_clear_error_and_a_loadable_checkpoint(runs):
    zero, one = runs["died"]
    assert one.returncode == -9  # killed
    error = zero.stderr.strip().splitlines()[-1]
    assert zero.returncode == 9 and error.startswith("gan-atelier: error: rank 0 of 2:"), zero.stderr[-2000:]
    assert "died" in error and "checkpoint" in error
    info = json.loads((runs["dead"] / "run.json").read_text())
    assert info["status"] == "failed" and "died" in info["error"]
    state = load_checkpoint(find_latest(runs["dead"] / "checkpoints"))  # the last one, loadable
    assert state["position"]["step"] == 2


def test_resume_at_world_two_is_bitwise_equal_to_uninterrupted(runs):
    copy = runs["root"] / "resumed-2"
    shutil.copytree(runs["interrupted"], copy)
    results = _ranks(["--resume", str(copy), "--no-progress"], runs["root"] / "resumed")
    assert [r.returncode for r in results] == [0, 0], results[0].stderr[-3000:] + results[1].stderr[-3000:]
    resumed, _ = _weights(copy)
    reference, _ = _weights(runs["reference"])
    _assert_bitwise_equal(resumed, reference)
    assert _rows(copy) == _rows(runs["reference"])


def test_resume_at_another_world_size_warns_and_keeps_the_sample_count(runs):
    from gan_atelier.run import train

    copy = runs["root"] / "resumed-1"
    shutil.copytree(runs["interrupted"], copy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = train(run_dir=copy, resume=True, progress=False, verbose=False)
    assert any("resumed on 1" in str(w.message) and f"{STOP_AT * 64} samples" in str(w.message) for w in caught), \
        [str(w.message) for w in caught]
    assert run.status == "completed" and run.trainer.step == STEPS and run.trainer.epoch == 2


def test_sync_batchnorm_off_cuda_is_a_one_line_config_error(tmp_path, capsys):
    from gan_atelier.cli import main

    run_dir = tmp_path / "never"
    code = main(["train", "--dry-run", "--device", "cpu", "--set", "model.sync_batchnorm=true",
                 "--run-dir", str(run_dir)])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1 and "sync_batchnorm=true needs CUDA" in error[0], error
    assert not run_dir.exists()  # refused before anything was written
