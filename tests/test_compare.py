"""``gan-atelier compare``: runs of different presets, interrupted, older and crashed ones, 30 at once,
and the HTML page opened in headless Chromium."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_atelier import cli, get_config, train
from gan_atelier.compare import compare, read_run
from gan_atelier.training import LoopHooks


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Real run folders: two presets, an interrupted one, and doctored copies (older, crashed)."""
    root = tmp_path_factory.mktemp("compare")
    quiet = dict(dry_run=True, progress=False, verbose=False, handle_signals=False)
    base = {"train.epochs": 2, "data.subset": 256, "log.tensorboard": "false", "train.sample_every": 2}
    train(get_config("dry-run", base), root / "dry", **quiet)
    train(get_config("quick", {**base, "train.lr": 1e-3}), root / "quick-lr", **quiet)
    stop = LoopHooks(should_stop=lambda: bool(stopper["trainer"]) and stopper["trainer"].epoch >= 1)
    stopper = {"trainer": None}
    stop.on_step.append(lambda trainer: stopper.__setitem__("trainer", trainer))
    train(get_config("dry-run", {**base, "train.epochs": 3}), root / "interrupted", hooks=stop, **quiet)
    older = root / "older"
    shutil.copytree(root / "dry", older)
    info = json.loads((older / "run.json").read_text())
    info["environment"]["gan_atelier"] = "0.0.9"
    del info["cpu_seconds"]
    (older / "run.json").write_text(json.dumps(info))
    text = (older / "config.toml").read_text()
    (older / "config.toml").write_text(text[:text.index("[log]")])  # a config from before [log]
    with open(older / "metrics.csv", newline="") as file:
        rows = [{k: v for k, v in row.items() if k not in ("diversity", "fid", "recall")}
                for row in csv.DictReader(file)]
    with open(older / "metrics.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    crashed = root / "crashed"
    shutil.copytree(root / "dry", crashed)
    info = json.loads((crashed / "run.json").read_text())
    (crashed / "run.json").write_text(json.dumps({**info, "status": "running"}))
    (root / "dry" / "evaluation.json").write_text(json.dumps(
        {"fid": 12.5, "precision": 0.81, "recall": 0.25, "coverage": 0.5, "n_generated": 10000}))
    (root / "not-a-run").mkdir()
    return {path.name: path for path in root.iterdir()}


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as file:
        return {row["run"]: row for row in csv.DictReader(file)}


def test_table_from_the_files(runs, tmp_path, capsys):
    order = ["dry", "quick-lr", "interrupted", "older", "crashed", "not-a-run"]
    assert cli.main(["compare", *(str(runs[name]) for name in order), "--out", str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().out
    rows = _rows(tmp_path / "compare.csv")
    assert list(rows) == order[:-1]
    header = list(next(iter(rows.values())))
    assert {"train.lr", "train.epochs"} <= set(header) and "train.beta1" not in header  # only what differs
    assert rows["quick-lr"]["preset"] == "quick" and rows["quick-lr"]["train.lr"] == "0.001"
    assert rows["dry"]["status"] == "completed" and rows["dry"]["epochs"] == "2/2"
    assert (rows["dry"]["fid"], rows["dry"]["precision"], rows["dry"]["coverage"]) == ("12.5", "0.81", "0.5")
    with open(runs["dry"] / "metrics.csv", newline="") as file:
        last = list(csv.DictReader(file))[-1]
    assert float(rows["dry"]["D loss"]) == pytest.approx(float(last["d_loss"]), rel=1e-3)
    assert float(rows["dry"]["CPU s"]) > 0
    assert rows["interrupted"]["status"] == "interrupted, incomplete (1 of 3 epochs)"
    assert rows["interrupted"]["epochs"] == "1/3"
    assert rows["older"]["status"] == "completed, older version 0.0.9" and rows["older"]["CPU s"] == ""
    assert rows["crashed"]["status"].startswith("stopped without closing")
    markdown = (tmp_path / "compare.md").read_text()
    assert markdown.count("\n") == 2 + 5 and "| interrupted |" in markdown


def test_html_is_self_contained(runs, tmp_path):
    written = compare([runs["dry"], runs["quick-lr"], runs["interrupted"]], tmp_path)
    page = written["html"].read_text()
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert page.count('src="data:image/png;base64,') == 3
    assert page.count("<polyline") >= 3 * 4  # each run in the loss and D-output charts


def test_thirty_run_folders_in_seconds(runs, tmp_path):
    folders = []
    for index in range(30):
        folder = tmp_path / "runs" / f"student-{index:02d}"
        # compare reads checkpoints/latest.json only: the weights are left behind to keep the copy fast
        shutil.copytree(runs["quick-lr" if index % 2 else "dry"], folder, ignore=shutil.ignore_patterns("*.pt"))
        folders.append(folder)
    started = time.perf_counter()
    written = compare(sorted((tmp_path / "runs").glob("*")), tmp_path / "out")
    seconds = time.perf_counter() - started
    assert written["count"] == 30 and len(_rows(written["csv"])) == 30
    print(f"compare of 30 run folders: {seconds:.2f} s")
    assert seconds < 10, seconds  # about 0.5 s on one idle core


def test_nothing_to_compare_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["compare", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert read_run(tmp_path) is None


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def test_html_in_headless_chromium(runs, tmp_path):
    chromium = _chromium()
    written = compare([runs["dry"], runs["quick-lr"], runs["interrupted"]], tmp_path)
    url = written["html"].resolve().as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for text in ("3 run(s) compared", "quick-lr", "interrupted, incomplete (1 of 3 epochs)", "train.lr", "D loss"):
        assert text in dom.stdout, text
    shot = tmp_path / "shot.png"
    result = subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1300,1800", url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(np.int32)
    assert pixels.shape[:2] == (1800, 1300)
    assert pixels.std() > 20  # not a blank page
    colours = {tuple(p) for p in pixels.reshape(-1, 3)[::7]}
    assert len(colours) > 50  # text, table, coloured curves and grayscale grids
    # The grids were decoded and drawn: some 8×8 block of the lower page is neither white nor one flat tone.
    lower = pixels[900:].mean(axis=2)
    assert (lower < 250).mean() > 0.02
