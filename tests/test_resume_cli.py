"""Kill and resume through the real command line, in subprocesses.

Each scenario is a ``python -m gan_atelier train --dry-run`` process (synthetic data, the TP's
MLP, 256 images, batch 64: 4 steps per epoch, 2 epochs, one thread). The debug hook
``GAN_ATELIER_DEBUG_SIGNAL_AT=STEP:SIG`` makes the process signal itself after that step.

* SIGTERM → exit 143, SIGINT → exit 130, a committed checkpoint, and ``train --resume DIR``
  reaches the uninterrupted run's hash (SHA-256 over G, D and both optimizer states). The
  resumes run through ``cli.main`` (what the console script calls) in the test process;
* SIGKILL (no chance to save) → the last periodic checkpoint, and resume still reaches it;
* a second training on a folder whose lock is held by another process → exit 4;
* disk full (``RLIMIT_FSIZE`` with SIGXFSZ ignored) → one-line error, exit 7, no ``*.tmp``,
  the last good checkpoint byte-identical and loadable.

The five processes of phase 1 run side by side, then the disk-full process runs while the
resumes run here: the file costs about two process lifetimes of wall time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from gan_atelier import cli
from gan_atelier import config as cfg
from gan_atelier.checkpoint import find_latest, load_checkpoint
from gan_atelier.data import synthetic_split
from gan_atelier.run.folder import RunLock
from gan_atelier.training import Trainer, state_hash
from conftest import metric_rows, run_dir_hash as final_hash

pytestmark = pytest.mark.slow

DRY_RUN = ["train", "--dry-run", "--no-progress", "--set", "data.subset=256", "--set", "train.batch_size=64",
           "--set", "train.threads=1"]
TOTAL_STEPS = 8  # 2 epochs of 4 batches
FILE_SIZE_LIMIT = 8_000_000  # bytes: grids, curves and the GIF fit, a 35 MB checkpoint does not
TIMEOUT = 300


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


def launch(args: list[str], *, signal_at: str | None = None, preexec_fn=None) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    env.pop("GAN_ATELIER_DEBUG_SIGNAL_AT", None)
    if signal_at:
        env["GAN_ATELIER_DEBUG_SIGNAL_AT"] = signal_at
    return subprocess.Popen([sys.executable, "-m", "gan_atelier", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec_fn)


def wait_all(processes: dict[str, subprocess.Popen]) -> dict[str, Finished]:
    results = {}
    for name, process in processes.items():
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            pytest.fail(f"{name}: no exit within {TIMEOUT}s (a hang)\n{stderr}")
        results[name] = Finished(process.returncode, stdout, stderr)
    return results


def small_disk() -> None:
    """In the child before exec: a file-size limit, and EFBIG instead of death by SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module", autouse=True)
def _restore_thread_count():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli-runs")


@pytest.fixture(scope="module")
def first_runs(root) -> dict:
    """Phase 1, side by side: the uninterrupted run, the three interrupted ones, the locked folder."""
    locked = root / "locked"
    locked.mkdir()
    with RunLock(locked):  # another process holds this folder while the CLI tries it
        processes = {
            "baseline": launch([*DRY_RUN, "--run-dir", str(root / "baseline")]),
            "term": launch([*DRY_RUN, "--run-dir", str(root / "term")], signal_at="3:TERM"),
            "int": launch([*DRY_RUN, "--run-dir", str(root / "int")], signal_at="4:INT"),
            "kill": launch([*DRY_RUN, "--set", "train.checkpoint_every_steps=3", "--run-dir", str(root / "kill")],
                           signal_at="7:KILL"),
            "locked": launch([*DRY_RUN, "--run-dir", str(locked), "--overwrite"]),
        }
        results = wait_all(processes)
    assert results["baseline"].returncode == 0, results["baseline"].stderr
    # Taken now: the disk-full test later tries (and must fail) to extend this very folder.
    results["baseline-hash"] = final_hash(root / "baseline")
    results["baseline-metrics"] = metric_rows(root / "baseline")
    return results


@pytest.fixture(scope="module")
def resumed_runs(root, first_runs) -> dict:
    """Phase 2: the disk-full resume in a subprocess while the three resumes run through
    ``cli.main`` (the console script's own entry point) in this process."""
    checkpoints = root / "baseline" / "checkpoints"
    good = checkpoints / "step_000000008.pt"
    results = {"disk-before": {"sha256": sha256_file(good), "pointer": (checkpoints / "latest.json").read_text()}}
    disk = launch(["train", "--resume", str(root / "baseline"), "--set", "train.epochs=3", "--no-progress"],
                  preexec_fn=small_disk)
    for name, extra in (("term", []), ("int", ["--dry-run"]), ("kill", [])):
        # No --dry-run for two of them: the checkpoint records its synthetic data, resume finds it alone.
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main(["train", "--resume", str(root / name), "--no-progress", *extra])
        results[name] = Finished(code, stdout.getvalue(), stderr.getvalue())
    results.update(wait_all({"disk": disk}))
    return results




def temp_files(run_dir: Path) -> list[Path]:
    return [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]


def test_uninterrupted_cli_run(first_runs, root):
    assert first_runs["baseline"].returncode == 0, first_runs["baseline"].stderr
    step, _ = first_runs["baseline-hash"]
    assert step == TOTAL_STEPS


@pytest.mark.parametrize("name, signal_name, code, step, position", [
    ("term", "SIGTERM", 143, 3, {"epoch": 0, "batch": 3, "step": 3, "in_epoch": True}),
    # After the last batch of epoch 1, before the epoch closes (its row and grid come on resume).
    ("int", "SIGINT", 130, 4, {"epoch": 0, "batch": 4, "step": 4, "in_epoch": True}),
])
def test_signal_finishes_the_step_saves_and_exits_128_plus_signal(first_runs, root, name, signal_name, code,
                                                                  step, position):
    result, run_dir = first_runs[name], root / name
    assert result.returncode == code, result.stderr
    assert f"{signal_name} received" in result.stderr and "Traceback" not in result.stderr
    assert f"gan-atelier train --resume {run_dir}" in result.stdout
    pointer = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    assert pointer == {"checkpoint": f"step_{step:09d}.pt"}
    assert load_checkpoint(run_dir / "checkpoints" / pointer["checkpoint"])["position"] == position
    run_info = json.loads((run_dir / "run.json").read_text())
    assert (run_info["status"], run_info["signal"], run_info["steps_done"]) == ("interrupted", signal_name, step)
    assert temp_files(run_dir) == []


def test_sigkill_leaves_the_last_periodic_checkpoint(first_runs, root):
    assert first_runs["kill"].returncode == -signal.SIGKILL
    latest = find_latest(root / "kill" / "checkpoints")
    assert latest.name == "step_000000006.pt"  # checkpoint_every_steps=3, mid-epoch 2
    assert load_checkpoint(latest)["position"] == {"epoch": 1, "batch": 2, "step": 6, "in_epoch": True}


@pytest.mark.parametrize("name", ["term", "int", "kill"])
def test_resume_reaches_the_uninterrupted_hash(first_runs, resumed_runs, root, name):
    result = resumed_runs[name]
    assert result.returncode == 0, result.stderr
    assert "Resuming" in result.stdout
    assert final_hash(root / name) == first_runs["baseline-hash"]
    assert metric_rows(root / name) == first_runs["baseline-metrics"]
    run_info = json.loads((root / name / "run.json").read_text())
    assert run_info["status"] == "completed" and len(run_info["resumed"]) == 1
    # Both epoch grids exist, as in the uninterrupted run (the interrupted epoch's came on resume).
    assert sorted(p.name for p in (root / name / "samples").glob("epoch_*.png")) == ["epoch_001.png",
                                                                                 "epoch_002.png"]


def test_second_training_on_a_locked_folder_refuses(first_runs, root):
    result = first_runs["locked"]
    assert result.returncode == 4, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("gan-atelier: error:")]
    assert len(error_lines) == 1 and "is in use by pid" in error_lines[0] and "refusing to interleave" in error_lines[0]
    assert f"pid {os.getpid()} " in error_lines[0]  # it names the holder
    assert not (root / "locked" / "checkpoints").exists() and not (root / "locked" / "run.json").exists()


def test_disk_full_is_one_clear_line_and_the_last_checkpoint_survives(first_runs, resumed_runs, root):
    """Resuming the finished baseline for a third epoch under an 8 MB file-size limit."""
    result, run_dir = resumed_runs["disk"], root / "baseline"
    assert result.returncode == 7, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("gan-atelier: error:")]
    assert len(error_lines) == 1
    assert "could not write" in error_lines[0] and "step_000000012.pt" in error_lines[0]
    assert "File too large" in error_lines[0]
    assert temp_files(run_dir) == []
    good = run_dir / "checkpoints" / "step_000000008.pt"
    assert sha256_file(good) == resumed_runs["disk-before"]["sha256"]
    assert (good.parent / "latest.json").read_text() == resumed_runs["disk-before"]["pointer"]
    assert find_latest(good.parent) == good and load_checkpoint(good)["position"]["step"] == TOTAL_STEPS
    assert not (good.parent / "step_000000012.pt").exists()
    assert final_hash(run_dir) == first_runs["baseline-hash"]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
