"""TensorBoard: the event file read back with tensorboard's own EventAccumulator."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from gan_atelier.run import tensorboard as tensorboard_log
from gan_atelier.errors import ConfigError

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_events(run_dir: Path):
    accumulator = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0,
                                                                                   "tensors": 0})
    accumulator.Reload()
    return accumulator


def test_writer_round_trip_one_file_no_subfolder(tmp_path):
    log = tensorboard_log.TensorBoardLog(tmp_path)
    rows = [{"epoch": 1, "step": 4, "d_loss": 1.25, "g_loss": 0.75, "fid": None, "recall": math.nan},
            {"epoch": 2, "step": 8, "d_loss": 1.0, "g_loss": 0.5, "fid": 150.0, "recall": 0.25}]
    for row in rows:
        log.epoch(row)
    log.step(6, {"d_loss": 1.5, "g_loss": 2.0})
    grid = torch.rand(1, 62, 242)
    log.grid(8, grid)
    log.hparams({"train.lr": 2e-4, "preset": "seed", "model.spectral_norm": False},
                {"d_loss": 1.0, "fid": 150.0, "recall": math.nan}, 8)
    log.close()
    assert [p.name.startswith("events.out.tfevents.") for p in tmp_path.iterdir()] == [True]  # no sub-folder
    events = read_events(tmp_path)
    assert [(e.step, e.value) for e in events.Scalars("epoch/d_loss")] == [(4, 1.25), (8, 1.0)]
    assert [(e.step, e.value) for e in events.Scalars("epoch/fid")] == [(8, 150.0)]  # empty cells skipped
    assert [(e.step, e.value) for e in events.Scalars("step/g_loss")] == [(6, 2.0)]
    assert "epoch/epoch" not in events.Tags()["scalars"] and "final/recall" not in events.Tags()["scalars"]
    image = events.Images("samples/fixed_noise")[0]
    assert (image.step, image.width, image.height) == (8, 242, 62)  # exact pixels, not upscaled
    hparams = events.PluginTagToContent("hparams")
    assert set(hparams) == {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    start = HParamsPluginData.FromString(hparams["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["train.lr"].number_value == pytest.approx(2e-4)
    assert start.hparams["preset"].string_value == "seed" and start.hparams["model.spectral_norm"].bool_value is False
    experiment = HParamsPluginData.FromString(hparams["_hparams_/experiment"]).experiment
    assert sorted(m.name.tag for m in experiment.metric_infos) == ["final/d_loss", "final/fid"]
    assert events.Scalars("final/fid")[0].value == 150.0


def test_wanted_auto_true_false(monkeypatch):
    assert tensorboard_log.wanted("false") is False
    monkeypatch.setattr(tensorboard_log, "tensorboard_available", lambda: True)
    assert tensorboard_log.wanted("auto") and tensorboard_log.wanted("true")
    monkeypatch.setattr(tensorboard_log, "tensorboard_available", lambda: False)
    assert tensorboard_log.wanted("auto") is False
    with pytest.raises(ConfigError, match="pip install 'gan-atelier\\[tensorboard\\]'"):
        tensorboard_log.wanted("true")


# ------------------------------------------------------------------------------ through a real run
def _train(run_dir: Path, **overrides):
    from gan_atelier import get_config, train

    values = {"train.epochs": 2, "data.subset": 512, "log.tensorboard": "true", "log.every_steps": 2,
              "train.checkpoint_every": 1, **overrides}
    hooks = values.pop("hooks", None)
    return train(get_config("dry-run", values), run_dir, dry_run=True, progress=False, verbose=False,
                 handle_signals=False, hooks=hooks)


def _csv_rows(run_dir: Path) -> list[dict[str, str]]:
    import csv

    with open(run_dir / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def assert_scalars_equal_metrics_csv(events, run_dir: Path) -> None:
    rows = _csv_rows(run_dir)
    for column in rows[0]:
        if column in ("epoch", "step"):
            continue
        expected = [(int(row["step"]), float(row[column])) for row in rows if row[column] != ""]
        got = [(e.step, e.value) for e in events.Scalars(f"epoch/{column}")] if expected else []
        assert [s for s, _ in got] == [s for s, _ in expected], column
        for (_, value), (_, reference) in zip(got, expected):
            assert value == pytest.approx(reference, rel=1e-5, abs=1e-7), column  # csv keeps 6 digits


def test_a_run_writes_one_event_file_from_its_metrics_rows(tmp_path, real_data_dir):
    run_dir = tmp_path / "run"
    _train(run_dir, **{"train.eval_every": 2, "train.eval_samples": 64, "data.data_dir": str(real_data_dir)})
    assert sorted(p.name for p in run_dir.iterdir() if p.is_dir()) == ["checkpoints", "samples"]  # no 2nd run
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    events = read_events(run_dir)
    assert_scalars_equal_metrics_csv(events, run_dir)
    assert [e.step for e in events.Scalars("epoch/fid")] == [8]  # the evaluation at epoch 2 (4 steps/epoch)
    assert [e.step for e in events.Scalars("step/d_loss")] == [2, 4, 6, 8]  # log.every_steps = 2
    images = events.Images("samples/fixed_noise")
    assert [(i.step, i.width, i.height) for i in images] == [(4, 242, 242), (8, 242, 242)]  # exact tiles
    hparams = events.PluginTagToContent("hparams")
    assert sorted(hparams) == ["_hparams_/experiment", "_hparams_/session_end_info", "_hparams_/session_start_info"]
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    start = HParamsPluginData.FromString(hparams["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["train.eval_every"].number_value == 2 and start.hparams["preset"].string_value == "dry-run"
    last = _csv_rows(run_dir)[-1]
    assert events.Scalars("final/fid")[0].value == pytest.approx(float(last["fid"]), rel=1e-5)
    assert events.Scalars("final/g_loss")[0].value == pytest.approx(float(last["g_loss"]), rel=1e-5)


def test_a_crash_then_resume_leaves_no_step_twice(tmp_path):
    from gan_atelier import train
    from gan_atelier.training import LoopHooks

    run_dir = tmp_path / "run"

    def crash(trainer):
        if trainer.step == 6:  # after epoch 1's checkpoint (step 4), before epoch 2's
            raise RuntimeError("the machine went away")

    with pytest.raises(RuntimeError, match="went away"):
        _train(run_dir, **{"train.epochs": 3, "log.every_steps": 1, "hooks": LoopHooks(on_step=[crash])})
    train(run_dir=run_dir, resume=True, progress=False, verbose=False, handle_signals=False)
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 2
    events = read_events(run_dir)
    assert [e.step for e in events.Scalars("step/g_loss")] == list(range(1, 13))  # steps 5, 6 purged, redone
    assert_scalars_equal_metrics_csv(events, run_dir)


def test_asked_but_not_installed_is_a_usage_error(tmp_path, monkeypatch, capsys):
    from gan_atelier import cli

    monkeypatch.setattr(tensorboard_log, "tensorboard_available", lambda: False)
    run_dir = tmp_path / "run"
    code = cli.main(["train", "--dry-run", "--run-dir", str(run_dir), "--no-progress",
                     "--set", "log.tensorboard=true"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "tensorboard is not installed" in err
    assert not run_dir.exists()  # refused before any file was written
    assert cli.main(["train", "--dry-run", "--run-dir", str(run_dir), "--no-progress",
                     "--set", "train.epochs=1"]) == 0  # auto: no tensorboard, no event file, no error
    assert not list(run_dir.glob("events.out.tfevents.*"))
