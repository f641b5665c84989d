"""The collapse detector's false-alarm and detection table, from recorded runs (no training).

Every run recorded by ``bench/lab_robustness.py`` (the lab's experiments over seeds and thread
counts) and ``bench/collapse_calibration.py`` (healthy presets, collapses provoked late) holds the
detector's two inputs per epoch: the pixel diversity and the class histogram of the in-training
evaluation. :func:`gan_atelier.collapse.replay` runs this branch's detector on them, as the trainer
would have epoch by epoch. Each run belongs to a group whose expected outcome is set by its
setting, not by the detector (``GROUPS``). The sequences go to
``tests/fixtures/collapse_sequences.json``, which ``tests/test_collapse.py`` replays.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from gan_atelier.collapse import replay

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "bench" / "results" / "lab_robustness"
CALIBRATION = ROOT / "bench" / "results" / "collapse_calibration"
FIXTURE = ROOT / "tests" / "fixtures" / "collapse_sequences.json"

# (source, experiment or spec, run) -> (group, expected). Expected, from the setting and the final grid:
# "healthy" (no alarm wanted), "collapse" (an alarm wanted), "stuck" (G failed before it ever covered
# three classes: every sample the same speckled silhouette. The class signal has no coverage to compare
# with, and the speckle keeps the pixel diversity above 0.02 (0.06-0.07 for a winning D, 0.6 at lr 5e-3):
# the detector does not flag these runs; the table says so rather than counting them as healthy).
GROUPS = {
    ("lab", "mode-collapse", "healthy"): ("lab mode-collapse, healthy run (lr 1e-3, β1 0.5)", "healthy"),
    ("lab", "saturating", "ns"): ("lab saturating, non-saturating run (the TP, 5 epochs)", "healthy"),
    ("lab", "d-loss", "tp"): ("lab d-loss, the TP (8 epochs)", "healthy"),
    ("lab", "vae", "gan"): ("lab vae, the GAN (lr 1e-3, 10 epochs)", "healthy"),
    ("lab", "dcgan", "mlp"): ("lab dcgan, the MLP-GAN (5 epochs)", "healthy"),
    ("lab", "dcgan", "dcgan"): ("lab dcgan, the DCGAN (5 epochs)", "healthy"),
    ("lab", "learning-rate", "lr0.0002"): ("lab learning-rate, lr 2e-4, 1e-3 and unequal rates", "healthy"),
    ("lab", "learning-rate", "lr0.001"): ("lab learning-rate, lr 2e-4, 1e-3 and unequal rates", "healthy"),
    ("lab", "learning-rate", "lrD0.001-lrG0.0002"): ("lab learning-rate, lr 2e-4, 1e-3 and unequal rates", "healthy"),
    ("lab", "learning-rate", "lrD0.0002-lrG0.001"): ("lab learning-rate, lr 2e-4, 1e-3 and unequal rates", "healthy"),
    ("calibration", "quick", None): ("the quick preset (TP, 10 epochs on 12,000 images)", "healthy"),
    ("calibration", "lab-healthy", None): ("the lab's healthy setting, 10 epochs", "healthy"),
    ("calibration", "dcgan", None): ("the dcgan preset (6 epochs on 12,000 images)", "healthy"),
    ("calibration", "cgan", None): ("the cgan preset (8 epochs on 12,000 images)", "healthy"),
    ("lab", "mode-collapse", "collapse"): ("lab mode-collapse, collapsing run (lr 1e-3, β1 0.9)", "collapse"),
    ("lab", "learning-rate", "lr0.005"): ("lr 5e-3 from the start: speckled blobs, no class ever covered", "stuck"),
    ("lab", "d-loss", "strong-d"): ("G ten times slower than D (D wins), 8 epochs: stuck at the blob stage", "stuck"),
    ("lab", "saturating", "saturating"): ("the saturating loss, 5 epochs: still the blob stage, no collapse", "healthy"),
    ("calibration", "saturating", None): ("the saturating loss, 5 epochs: still the blob stage, no collapse", "healthy"),
    ("calibration", "strong-d", None): ("G ten times slower than D (D wins), 8 epochs: stuck at the blob stage", "stuck"),
    ("calibration", "lr5e-3", None): ("lr 5e-3 from the start: speckled blobs, no class ever covered", "stuck"),
    ("calibration", "late-beta1", None): ("healthy 4 epochs, then β1 0.9 (late collapse)", "collapse"),
    ("calibration", "late-lr", None): ("healthy 4 epochs, then lr 5e-3 (late collapse)", "collapse"),
}


def is_collapse_alarm(line: str) -> bool:
    return "collaps" in line


def replayed_alarms(run: dict) -> list[tuple[int, str]]:
    """This branch's detector on a lab record's run (``epochs`` rows and ``eval_histograms``)."""
    diversities = [row.get("diversity") for row in run["epochs"]]
    return [(e, a) for e, a in replay(diversities, run["eval_histograms"]) if is_collapse_alarm(a)]


def old_rule_alarm_epochs(histograms) -> list[int]:
    """The class rule before issue #16, replayed: 2 classes (≥ 1 % of samples) lost or the entropy down
    more than 0.3 nats against the best evaluation so far; once per episode. For the comparison only."""
    best_entropy = best_covered = None
    alarmed, epochs = False, []
    for epoch, counts in enumerate(histograms, 1):
        if not counts:
            continue
        total = sum(counts)
        shares = [c / total for c in counts]
        entropy = -sum(p * math.log(p) for p in shares if p > 0)
        covered = sum(p >= 0.01 for p in shares)
        if best_entropy is not None:
            if best_covered - covered < 2 and best_entropy - entropy <= 0.3:
                alarmed = False
            elif not alarmed:
                alarmed = True
                epochs.append(epoch)
        best_entropy = entropy if best_entropy is None else max(best_entropy, entropy)
        best_covered = covered if best_covered is None else max(best_covered, covered)
    return epochs


def sequences() -> list[dict]:
    """Every recorded run with a group: its inputs, its expected outcome, and its alarms as run."""
    found = []
    for path in sorted(LAB.glob("*/*.json")):
        record = json.loads(path.read_text())
        for name, run in record["runs"].items():
            group = GROUPS.get(("lab", record["experiment"], re.sub(r"-seed\d+$", "", name)))
            if group is None:
                continue
            found.append({"group": group[0], "expected": group[1], "source": f"lab {record['experiment']}/{name}",
                          "seed": record["seed"], "threads": record["threads_used"],
                          "diversity": [_round(row.get("diversity")) for row in run["epochs"]],
                          "histograms": run["eval_histograms"],
                          "alarms_as_run": [a for a in run["alarms"] if is_collapse_alarm(a)]})
    for path in sorted(CALIBRATION.glob("*.json")):
        record = json.loads(path.read_text())
        group = GROUPS[("calibration", record["spec"], None)]
        found.append({"group": group[0], "expected": group[1], "source": f"calibration {record['spec']}",
                      "seed": record["seed"], "threads": 1, "diversity": [_round(d) for d in record["diversity"]],
                      "histograms": record["eval_histograms"],
                      "alarms_as_run": [a for a in record["alarms"] if is_collapse_alarm(a)]})
    return found


def _round(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(f"{value:.4g}")


def _span(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    low, high = min(values), max(values)
    text = (lambda v: f"{v:.3g}") if isinstance(low, float) else str
    return text(low) if low == high else f"{text(low)}–{text(high)}"


def collapse_section() -> str:
    """The detector table (markdown), and the fixture file."""
    runs = sequences()
    FIXTURE.write_text(json.dumps({"about": "recorded collapse-detector inputs; see bench/collapse_table.py",
                                   "runs": [{k: r[k] for k in ("group", "expected", "source", "seed", "threads",
                                                               "diversity", "histograms")} for r in runs]},
                                  separators=(",", ":")) + "\n")
    lines = ["## The collapse detector on these runs", "",
             "Generated with the lab tables (`bench/collapse_table.py`): every recorded run of the grid and of",
             "`bench/collapse_calibration.py`, replayed through this branch's detector (`gan_atelier.collapse.replay`).",
             "\"old rule\": the same runs replayed through the previous class rule (2 classes below 1 % lost, or the entropy",
             "down 0.3 nats, against the best evaluation; no bounds, no blob stage, no persistence) with the same pixel-diversity rule.", "",
             "| runs | expected | n | flagged | by pixel diversity | by class coverage | first alarm (epoch) "
             "| lowest pixel diversity | old rule flagged |", "|---|---|---|---|---|---|---|---|---|"]
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(run["group"], []).append(run)
    order = {"healthy": 0, "collapse": 1, "stuck": 2}
    for name, members in sorted(groups.items(), key=lambda item: (order[item[1][0]["expected"]], item[0])):
        alarms = [replay(r["diversity"], r["histograms"]) for r in members]
        alarms = [[(e, a) for e, a in found if is_collapse_alarm(a)] for found in alarms]
        by_div = sum(any(a.startswith("mode collapse") for _, a in found) for found in alarms)
        by_class = sum(any(a.startswith("class coverage") for _, a in found) for found in alarms)
        first = [found[0][0] for found in alarms if found]
        lowest = [min((d for d in r["diversity"] if d is not None), default=None) for r in members]
        for r, found in zip(members, alarms):  # runs trained with this rule: the replay must say what they said
            if r["source"].startswith("calibration") and [a.split(" (")[0].split(":")[0] for _, a in found] != \
                    [a.split(" (")[0].split(":")[0] for a in r["alarms_as_run"]]:
                print(f"warning: replay differs from the live alarms in {r['source']} seed {r['seed']}")
        old = sum(bool(old_rule_alarm_epochs(r["histograms"])) or any(a.startswith("mode collapse") for _, a in found)
                  for r, found in zip(members, alarms))
        lines.append(f"| {name} | {members[0]['expected']} | {len(members)} | {sum(bool(f) for f in alarms)} | {by_div} "
                     f"| {by_class} | {_span(first)} | {_span(lowest)} | {old} |")
    totals = {}
    for run in runs:
        found = [a for _, a in replay(run["diversity"], run["histograms"]) if is_collapse_alarm(a)]
        old = bool(old_rule_alarm_epochs(run["histograms"])) or any(a.startswith("mode collapse") for a in found)
        entry = totals.setdefault(run["expected"], [0, 0, 0])
        entry[0], entry[1], entry[2] = entry[0] + 1, entry[1] + bool(found), entry[2] + old
    lines += ["", "In all: " + "; ".join(f"{kind} runs {n}, flagged {k} (old rule {m})"
                                         for kind, (n, k, m) in sorted(totals.items(), key=lambda t: order[t[0]])) + "."]
    return "\n".join(lines) + "\n"
