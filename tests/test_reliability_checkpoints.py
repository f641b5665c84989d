"""Checkpoint files: atomic writes, crashes during a save, damaged and untrusted files, export, legacy.

References: Lightning's ``_atomic_save`` and ``test_legacy_checkpoints``; torchtitan's
``_find_load_step`` that ignores half-written checkpoints; PyTorch's ``weights_only`` loader
(``../shared/notes/REFERENCES.md`` §7.2–7.3).
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gan_atelier import checkpoint as ckpt
from gan_atelier import cli
from gan_atelier import config as cfg
from gan_atelier import files
from gan_atelier.inference import load_generator, sample
from gan_atelier.checkpoint import find_latest, load_checkpoint, plain_state, save_checkpoint
from gan_atelier.data import synthetic_split
from gan_atelier.errors import CheckpointError, WriteError
from gan_atelier.inference import export_generator, load_safetensors_generator
from gan_atelier.run.folder import environment
from gan_atelier.training import LoopHooks, Trainer, run_loop

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def small_state(step: int) -> dict:
    return {"weights": torch.arange(1000, dtype=torch.float32) * step, "position": {"step": step}}


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def committed(tmp_path) -> Path:
    """A checkpoint folder holding one good checkpoint (step 4), pointed at by latest.json."""
    folder = tmp_path / "checkpoints"
    save_checkpoint(small_state(4), folder, "step_000000004.pt")
    return folder


def assert_step_4_intact(folder: Path) -> None:
    assert json.loads((folder / "latest.json").read_text()) == {"checkpoint": "step_000000004.pt"}
    assert find_latest(folder) == folder / "step_000000004.pt"
    torch.testing.assert_close(load_checkpoint(folder / "step_000000004.pt")["weights"], small_state(4)["weights"])
    assert not (folder / "step_000000008.pt").exists()
    assert temp_files(folder) == []


# ----------------------------------------------------------------------------- crash during a save
def test_serialiser_failing_half_way_leaves_the_previous_checkpoint(committed, monkeypatch):
    real_save = torch.save

    def half_then_crash(obj, file, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise RuntimeError("simulated crash in the middle of torch.save")

    monkeypatch.setattr(torch, "save", half_then_crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        save_checkpoint(small_state(8), committed, "step_000000008.pt")
    assert_step_4_intact(committed)


def test_file_write_failing_half_way_is_a_write_error(committed, monkeypatch):
    """The bytes reach the temporary file, then the disk fills (ENOSPC at fsync, as on NFS)."""
    real_fsync = os.fsync
    written = []

    def full_disk_fsync(fd):
        if os.fstat(fd).st_size > 1000:  # the checkpoint's temporary file, not a folder
            written.append(os.fstat(fd).st_size)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk_fsync)
    with pytest.raises(WriteError, match="No space left on device") as caught:
        save_checkpoint(small_state(8), committed, "step_000000008.pt")
    assert written, "the failure must come after bytes were written"
    assert "step_000000008.pt" in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.exit_code == 7
    assert_step_4_intact(committed)


def test_atomic_write_keeps_the_old_file_when_the_writer_dies(tmp_path):
    target = tmp_path / "run.json"
    target.write_text("old and good")

    def writer(file):
        file.write(b"new but only ha")
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))

    with pytest.raises(WriteError, match="File too large"):
        ckpt.atomic_write_bytes(target, writer)
    assert target.read_text() == "old and good"
    assert temp_files(tmp_path) == []


def test_rename_failing_leaves_no_temp_file(committed, monkeypatch):
    def failing_replace(source, destination):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(WriteError, match="Input/output error"):
        save_checkpoint(small_state(8), committed, "step_000000008.pt")
    monkeypatch.undo()
    assert_step_4_intact(committed)


def test_too_little_free_space_is_refused_before_writing(committed, monkeypatch):
    usage = shutil.disk_usage(committed)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=100))
    with pytest.raises(WriteError, match=r"not enough free space \(0\.0 MB needed, 0\.0 MB free"):
        save_checkpoint(small_state(8), committed, "step_000000008.pt")
    monkeypatch.undo()
    assert_step_4_intact(committed)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_folder_is_a_write_error(committed):
    committed.chmod(0o500)
    try:
        with pytest.raises(WriteError, match="Permission denied"):
            save_checkpoint(small_state(8), committed, "step_000000008.pt")
    finally:
        committed.chmod(0o700)
    assert_step_4_intact(committed)


def test_unwritable_folder_is_a_write_error_simulated(committed, monkeypatch):
    """The same path as above, for root (which ignores permissions): ``open`` refuses."""
    def refusing_open(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(files, "open", refusing_open, raising=False)
    with pytest.raises(WriteError, match="Permission denied"):
        save_checkpoint(small_state(8), committed, "step_000000008.pt")
    monkeypatch.undo()
    assert_step_4_intact(committed)


# ----------------------------------------------------------------------------- partial files on resume
def test_find_latest_skips_partial_and_corrupt_files_and_names_them(committed):
    good = (committed / "step_000000004.pt").read_bytes()
    leftover = committed / ".step_000000008.pt.4242.tmp"  # a save killed before its rename
    leftover.write_bytes(good[: len(good) // 2])
    with pytest.warns(UserWarning, match=r"\.step_000000008\.pt\.4242\.tmp"):
        assert find_latest(committed) == committed / "step_000000004.pt"

    leftover.unlink()
    (committed / "step_000000008.pt").write_bytes(good[: len(good) // 3])  # truncated, and pointed at
    (committed / "latest.json").write_text(json.dumps({"checkpoint": "step_000000008.pt"}))
    with pytest.warns(UserWarning, match=r"step_000000008\.pt: corrupt or truncated"):
        assert find_latest(committed) == committed / "step_000000004.pt"

    (committed / "step_000000008.pt").unlink()
    (committed / "latest.json").write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable pointer"):
        assert find_latest(committed) == committed / "step_000000004.pt"


def test_rotation_keeps_two_and_never_touches_foreign_files(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    foreign = [folder / "step_best.pt", folder / "notes.txt", folder / "step_12.pt"]
    for path in foreign:
        path.write_text("mine, not the toolkit's")
    for step in (3, 6, 9, 12):
        save_checkpoint(small_state(step), folder, f"step_{step:09d}.pt")
    assert sorted(p.name for p in folder.glob("step_0*.pt")) == ["step_000000009.pt", "step_000000012.pt"]
    assert all(path.read_text() == "mine, not the toolkit's" for path in foreign)
    assert find_latest(folder) == folder / "step_000000012.pt"
    # Past 10^9 steps the name grows a digit: order stays numeric, not alphabetical.
    save_checkpoint(small_state(10**9), folder, ckpt.checkpoint_name(10**9))
    assert sorted(p.name for p in folder.glob("step_*0.pt")) == ["step_1000000000.pt"]
    assert sorted(p.name for p in folder.glob("step_0*.pt")) == ["step_000000012.pt"]
    (folder / "latest.json").unlink()
    assert find_latest(folder) == folder / "step_1000000000.pt"


# ----------------------------------------------------------------------------- what a checkpoint holds
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A run folder with one real checkpoint (TP MLP, 2 steps on synthetic data), saved as train() saves."""
    previous = torch.get_num_threads()
    config = cfg.get_config("dry-run", {"data.subset": 64, "train.batch_size": 32, "train.epochs": 2,
                                        "train.threads": 1})
    trainer = Trainer(config, synthetic_split(64, seed=0))
    run_loop(trainer, LoopHooks(should_stop=lambda: trainer.step == 3), progress=False)
    torch.set_num_threads(previous)
    folder = tmp_path_factory.mktemp("run")
    state = trainer.state_dict()
    state["versions"] = environment(trainer.device)
    save_checkpoint(state, folder / "checkpoints", "step_000000003.pt")
    return folder


def test_checkpoint_holds_everything_and_loads_weights_only(run_folder):
    state = torch.load(run_folder / "checkpoints" / "step_000000003.pt", weights_only=True)
    assert state["schema_version"] == ckpt.SCHEMA_VERSION
    for key in ("generator", "discriminator", "optimizer_g", "optimizer_d", "fixed_noise", "history",
                "config", "versions", "position", "accumulator", "data_sha256"):
        assert key in state, key
    assert set(state["rng"]) == {"torch", "cuda", "data", "epoch_data", "noise"}
    assert state["position"] == {"epoch": 1, "batch": 1, "step": 3, "in_epoch": True}
    assert len(state["history"]) == 1 and state["fixed_noise"].shape == (64, 100)
    assert len(state["optimizer_d"]["state"]) == 8  # Adam moments of all 8 D tensors
    assert type(state["versions"]["torch"]) is str  # not torch's TorchVersion (refused by weights_only)


def test_saving_refuses_what_weights_only_would_refuse(tmp_path):
    with pytest.raises(CheckpointError, match=r"state\['history'\]\[0\]\['fid'\] is a numpy.ndarray"):
        save_checkpoint({"history": [{"fid": np.zeros(2)}]}, tmp_path, "step_000000001.pt")
    assert list(tmp_path.iterdir()) == []
    # Numpy scalars and str/int subclasses become plain values that load back.
    state = {"fid": np.float64(1.5), "torch": torch.__version__, "count": np.int64(3)}
    assert {type(v) for v in plain_state(state).values()} == {float, str, int}
    save_checkpoint(state, tmp_path, "step_000000001.pt")
    loaded = load_checkpoint(tmp_path / "step_000000001.pt")
    assert (loaded["fid"], loaded["torch"], loaded["count"]) == (1.5, str(torch.__version__), 3)


# ----------------------------------------------------------------------------- untrusted files
class Payload:
    """Unpickling this calls ``os.mkdir(sentinel)``: code execution if the loader allows it."""

    def __init__(self, sentinel: Path):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (os.mkdir, (self.sentinel,))


def test_pickle_carrying_code_is_refused_and_never_runs(tmp_path):
    sentinel = tmp_path / "code-ran"
    evil = tmp_path / "step_000000009.pt"
    torch.save({"schema_version": 1, "generator": Payload(sentinel)}, evil)
    with pytest.raises(CheckpointError, match=r"refused: it references (posix|os)\.mkdir"):
        load_checkpoint(evil)
    assert not sentinel.exists()
    # Through the commands a user runs on a downloaded file: exit 5, still nothing ran.
    assert cli.main(["inspect-checkpoint", str(evil)]) == 5
    assert cli.main(["sample", str(evil), "--out", str(tmp_path / "grid.png")]) == 5
    assert not sentinel.exists()
    # Control: the payload is live (an unsafe loader would have run it).
    control = tmp_path / "control"
    torch.save({"x": Payload(control)}, tmp_path / "control.pt")
    torch.load(tmp_path / "control.pt", weights_only=False)
    assert control.is_dir()


def test_plain_pickle_file_with_code_is_refused(tmp_path):
    sentinel = tmp_path / "code-ran"
    path = tmp_path / "legacy.pt"
    with open(path, "wb") as file:
        pickle.dump({"schema_version": 1, "x": Payload(sentinel)}, file, protocol=2)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert not sentinel.exists()


def test_resume_skips_a_malicious_newest_checkpoint(committed, tmp_path):
    sentinel = tmp_path / "code-ran"
    torch.save({"schema_version": 1, "x": Payload(sentinel)}, committed / "step_000000008.pt")
    (committed / "latest.json").write_text(json.dumps({"checkpoint": "step_000000008.pt"}))
    with pytest.warns(UserWarning, match=r"step_000000008\.pt: refused"):
        assert find_latest(committed) == committed / "step_000000004.pt"
    assert not sentinel.exists()


@pytest.mark.parametrize("payload, named", [
    (np.zeros(3), r"numpy\S*\._reconstruct"),
    (torch.nn.Linear(2, 2), r"torch\.nn\.modules\.linear\.Linear"),
])
def test_numpy_arrays_and_pickled_modules_are_refused_by_name(tmp_path, payload, named):
    path = tmp_path / "step_000000001.pt"
    torch.save({"schema_version": 1, "generator": payload}, path)
    with pytest.raises(CheckpointError, match=rf"refused: it references {named}, which a gan-atelier") as caught:
        load_checkpoint(path)
    assert "weights_only=False" not in str(caught.value) and "\n" not in str(caught.value)


def test_foreign_and_damaged_files_are_checkpoint_errors(tmp_path):
    cases = {"empty.pt": b"", "text.pt": b"hello", "zip.pt": b"PK\x03\x04" + b"\x00" * 40}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match="corrupt or truncated"):
            load_checkpoint(tmp_path / name)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a gan-atelier checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.fixture(scope="module")
def valid_checkpoint_bytes(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("fuzz")
    save_checkpoint({"weights": torch.arange(16.0), "history": [{"d_loss": 1.0}], "name": "x"}, folder,
                    "step_000000001.pt")
    return (folder / "step_000000001.pt").read_bytes()


@settings(max_examples=150, deadline=2000, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_checkpoints_only_raise_checkpoint_error(valid_checkpoint_bytes, tmp_path_factory, data):
    blob = bytearray(valid_checkpoint_bytes)
    mode = data.draw(st.sampled_from(["truncate", "flip", "insert"]))
    position = data.draw(st.integers(0, len(blob) - 1))
    if mode == "truncate":
        blob = blob[:position]
    elif mode == "flip":
        blob[position] ^= data.draw(st.integers(1, 255))
    else:
        blob[position:position] = data.draw(st.binary(min_size=1, max_size=8))
    path = tmp_path_factory.getbasetemp() / "mutated.pt"
    path.write_bytes(bytes(blob))
    try:
        state = load_checkpoint(path)
    except CheckpointError:
        return
    assert isinstance(state, dict) and state["schema_version"] == ckpt.SCHEMA_VERSION


# ----------------------------------------------------------------------------- safetensors export
def test_safetensors_export_round_trip_gives_the_same_samples(run_folder, tmp_path):
    from safetensors import safe_open

    out = tmp_path / "generator.safetensors"
    assert cli.main(["export", str(run_folder), "--out", str(out)]) == 0
    with safe_open(str(out), framework="pt") as file:  # readable without pickle or gan-atelier
        assert file.metadata()["format"] == "gan-atelier-generator"
        assert set(file.keys()) == set(load_generator(run_folder).state_dict())
    from_checkpoint = sample(load_generator(run_folder), 16, seed=7)
    from_export = sample(load_safetensors_generator(out), 16, seed=7)
    assert from_export.shape == (16, 1, 28, 28)
    torch.testing.assert_close(from_export, from_checkpoint, rtol=0, atol=0)


def test_safetensors_with_wrong_shapes_or_bad_metadata_is_refused(run_folder, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    good = tmp_path / "good.safetensors"
    export_generator(run_folder, good)

    tensors = load_file(str(good))
    with safe_open(str(good), framework="pt") as file:
        metadata = file.metadata()

    small = dict(metadata, config=json.dumps({**json.loads(metadata["config"]),
                                               "model": {"name": "mlp", "latent_dim": 16}}))
    save_file(tensors, str(tmp_path / "shapes.safetensors"), metadata=small)
    with pytest.raises(CheckpointError, match=r"weights do not fit the model \(size mismatch for model\.0\.weight"):
        load_safetensors_generator(tmp_path / "shapes.safetensors")

    missing = {k: v for k, v in tensors.items() if k != "model.6.bias"}
    save_file(missing, str(tmp_path / "missing.safetensors"), metadata=metadata)
    with pytest.raises(CheckpointError, match=r"Missing key\(s\).*model\.6\.bias"):
        load_safetensors_generator(tmp_path / "missing.safetensors")

    save_file(tensors, str(tmp_path / "json.safetensors"), metadata=dict(metadata, config="{not json"))
    with pytest.raises(CheckpointError, match="unreadable config"):
        load_safetensors_generator(tmp_path / "json.safetensors")

    save_file(tensors, str(tmp_path / "foreign.safetensors"), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a gan-atelier generator export"):
        load_safetensors_generator(tmp_path / "foreign.safetensors")

    (tmp_path / "garbage.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_safetensors_generator(tmp_path / "garbage.safetensors")


def test_checkpoint_whose_weights_do_not_fit_its_config_is_refused(run_folder, tmp_path):
    state = load_checkpoint(run_folder / "checkpoints" / "step_000000003.pt")
    state["config"]["model"]["latent_dim"] = 16
    save_checkpoint(state, tmp_path, "step_000000003.pt")
    with pytest.raises(CheckpointError, match="generator does not fit its config.*size mismatch for model.0.weight"):
        load_generator(tmp_path / "step_000000003.pt")


# ----------------------------------------------------------------------------- legacy fixture
@pytest.fixture
def legacy_checkpoint(tmp_path) -> Path:
    path = tmp_path / "step_000000003.pt"
    with gzip.open(FIXTURES / "checkpoint_v1.pt.gz", "rb") as source, open(path, "wb") as target:
        shutil.copyfileobj(source, target)
    return path


def test_legacy_v1_checkpoint_keeps_loading_and_resuming(legacy_checkpoint, one_thread):
    """``tests/fixtures/checkpoint_v1.pt.gz`` was written by schema v1 (see make_legacy_checkpoint.py)."""
    facts = json.loads((FIXTURES / "checkpoint_v1.json").read_text())
    assert (FIXTURES / "checkpoint_v1.pt.gz").stat().st_size < 200_000
    state = load_checkpoint(legacy_checkpoint)
    assert state["schema_version"] == facts["schema_version"] == 1
    assert state["position"] == facts["position"] and len(state["history"]) == facts["history_rows"]
    config = cfg.from_dict(state["config"])
    assert config.preset == facts["preset"] and config.train.batch_size == 32
    # The frozen constants survived: the first G tensor holds fill value 0.001.
    assert torch.equal(state["generator"]["model.0.weight"], torch.full((256, 100), 0.001))
    trainer = Trainer(config, synthetic_split(config.data.subset, seed=config.train.seed))
    trainer.load_state_dict(state)
    assert run_loop(trainer, progress=False) and trainer.step == 4  # the rest of epoch 2
    assert all(torch.isfinite(p).all() for p in trainer.generator.parameters())
    images = sample(load_generator(legacy_checkpoint), 4, seed=0)
    assert images.shape == (4, 1, 28, 28) and 0 <= images.min() and images.max() <= 1


def test_checkpoint_from_another_schema_is_refused_naming_the_version(legacy_checkpoint, tmp_path):
    state = torch.load(legacy_checkpoint, weights_only=True)
    state["schema_version"] = 2
    state["versions"]["gan_atelier"] = "9.9.0"
    torch.save(state, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match=r"schema v2 \(made by gan-atelier 9\.9\.0\); this version reads v1"):
        load_checkpoint(tmp_path / "future.pt")
    del state["versions"]
    torch.save(state, tmp_path / "anonymous.pt")
    with pytest.raises(CheckpointError, match="schema v2 .made by gan-atelier of unknown version"):
        load_checkpoint(tmp_path / "anonymous.pt")


def test_old_torch_gets_a_loud_warning(legacy_checkpoint, monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.5.1")
    monkeypatch.setattr(ckpt, "_warned_old_torch", False)
    with pytest.warns(UserWarning, match="CVE-2026-24747"):
        load_checkpoint(legacy_checkpoint)
