"""``gan-atelier lab toy2d``: exit codes, bad points files, and the scenarios' outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gan_atelier import cli
from gan_atelier.errors import DataError
from gan_atelier.toy2d import SCENARIOS, run_scenario
from gan_atelier.toy2d.data import load_points


def test_unknown_scenario_exits_2_with_the_valid_names(tmp_path, capsys):
    assert cli.main(["lab", "toy2d", "--scenario", "nope", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "unknown toy2d scenario 'nope'" in error and "mode-collapse" in error
    assert cli.main(["lab", "toy2d", "--out", str(tmp_path)]) == 2  # --scenario missing


@pytest.mark.parametrize("name, content, message", [
    ("missing.npy", None, "does not exist"),
    ("points.txt", b"1,2\n", "expected a .npy or .csv file"),
    ("wide.npy", np.zeros((5, 3)), "expected numbers of shape (N, 2)"),
    ("nan.npy", np.array([[0.0, 1.0], [np.nan, 2.0]]), "NaN or infinite"),
    ("one.npy", np.zeros((1, 2)), "at least 2 points"),
    ("text.csv", b"x,y\n1,a\n2,3\n", "unreadable"),
    ("broken.npy", b"not numpy at all", "unreadable"),
])
def test_bad_points_file_exits_3_on_one_line(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_points(path)
    code = cli.main(["lab", "toy2d", "--scenario", "play", "--dataset", str(path), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip()
    assert code == 3 and len(error.splitlines()) == 1 and message in error


def test_play_on_a_user_csv_writes_its_folder(tmp_path, capsys, one_thread):
    points = np.random.default_rng(0).normal(size=(300, 2)) * [1.0, 0.3]
    np.savetxt(tmp_path / "mine.csv", points, delimiter=",", header="x,y", comments="")
    out = tmp_path / "play"
    code = cli.main(["lab", "toy2d", "--scenario", "play", "--dataset", str(tmp_path / "mine.csv"), "--quick",
                     "--steps", "8", "--no-frames", "--out", str(out)])
    assert code == 0
    payload = json.loads((out / "results.json").read_text())
    assert payload["numbers"]["dataset"] == "mine.csv" and payload["numbers"]["steps"] == 8
    assert "D loss" in (out / "summary.md").read_text() and not (out / "play.gif").exists()


def test_quick_scenario_api_returns_what_the_notebooks_use(tmp_path, one_thread):
    result = run_scenario("dirac", out_dir=tmp_path / "dirac", quick=True)
    assert set(SCENARIOS) >= {"saturating", "learning-rate", "detach", "d-loss", "mode-collapse", "optimal-d", "dirac"}
    assert result.summary_path.is_file() and result.gif is not None and result.gif.is_file()
    assert result.frames and all(p.is_file() and p.stat().st_size < 200_000 for p in result.frames)
    assert result.figure_path == result.frames[-1]
    text = result.summary_path.read_text()
    assert f"{result.summary['alternating']['end_norm']:.4g}" in text  # the summary quotes its own numbers


@pytest.mark.slow
def test_modes_covered_healthy_vs_collapse(tmp_path, one_thread):
    """The mode-collapse scenario with its seed: the healthy run covers ≥ 7 of 8 modes, the collapse ≤ 2."""
    result = run_scenario("mode-collapse", out_dir=tmp_path / "mc", steps=600, frames=False)
    assert result.summary["healthy"]["modes_covered"] >= 7, result.summary["healthy"]["modes_over_time"]
    assert result.summary["collapse"]["modes_covered"] <= 2, result.summary["collapse"]["modes_over_time"]
    assert result.gif is None and result.frames == []
