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
