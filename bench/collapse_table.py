"""The collapse detector's false-alarm and detection table, from recorded runs (no training).

Every run recorded by ``bench/lab_robustness.py`` (the lab's experiments over seeds and thread
counts) and ``bench/collapse_calibration.py`` (healthy presets, failures provoked) holds the
detector's inputs per epoch: the pixel diversity, G's loss, and the class histogram of the
in-training evaluation. :func:`gan_atelier.collapse.replay` runs this branch's detector on them, as
the trainer would have epoch by epoch. Each run belongs to a group whose expected outcome is set by
its setting, not by the detector (``GROUPS``). The sequences go to
``tests/fixtures/collapse_sequences.json``, which ``tests/test_collapse.py`` replays.

The lab records are read from ``bench/results/lab_robustness`` of this checkout, or from the folder
named by the environment variable ``GAN_ATELIER_LAB_RECORDS``::

    python bench/collapse_table.py              # the fixture, and the table on stdout
    python bench/collapse_table.py --metrics    # also between the collapse-table markers of docs/metrics.md
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
from pathlib import Path

from gan_atelier.collapse import ALARM_PREFIXES, replay
from gan_atelier.lab import EXPERIMENTS

ROOT = Path(__file__).resolve().parents[1]
LAB = Path(os.environ.get("GAN_ATELIER_LAB_RECORDS") or ROOT / "bench" / "results" / "lab_robustness")
CALIBRATION = ROOT / "bench" / "results" / "collapse_calibration"
FIXTURE = ROOT / "tests" / "fixtures" / "collapse_sequences.json"
SCALE = "quick"  # the scale bench/lab_robustness.py runs

SLOW_G = "G ten times slower than D (D wins): one speckled blob, at most 2 classes or coverage lost"
HIGH_LR = "lr 5e-3 from the start: speckled noise that D rejects outright"
SATURATING = "the saturating loss (Q1.1): a slow start"
# (source, experiment or spec, run) -> (group, expected). Expected, from the setting and the final grid:
# "healthy" (no alarm wanted), "collapse" (an alarm wanted: G's samples are one image, one or two
# classes, or noise that D rejects outright), "slow" (the saturating loss: G's gradient vanishes while D
# rejects its samples, so it leaves the blob stage late, then trains — FID 660 and 729 after 10 epochs
# at seeds 0 and 1, against 766-847 for the TP — and its classes, once they come, hop widely: reported,
# neither silence nor an alarm asserted; docs/metrics.md says what it got).
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
    ("calibration", "seed-50", None): ("the seed preset (the TP: 50 epochs on 60,000 images)", "healthy"),
    ("calibration", "seed-5", None): ("the seed preset (the TP on 60,000 images), its first 5 epochs", "healthy"),
    ("lab", "saturating", "saturating"): (SATURATING + ", 5 epochs", "slow"),
    ("calibration", "saturating", None): (SATURATING + ", 5 epochs", "slow"),
    ("calibration", "saturating-10", None): (SATURATING + ", 10 epochs", "slow"),
    ("lab", "mode-collapse", "collapse"): ("lab mode-collapse, collapsing run (lr 1e-3, β1 0.9)", "collapse"),
    ("lab", "learning-rate", "lr0.005"): (HIGH_LR, "collapse"),
    ("lab", "d-loss", "strong-d"): (SLOW_G + ", 8 epochs", "collapse"),
    ("calibration", "strong-d", None): (SLOW_G + ", 8 epochs", "collapse"),
    ("calibration", "lr5e-3", None): (HIGH_LR, "collapse"),
    ("calibration", "late-beta1", None): ("healthy 4 epochs, then β1 0.9 (late collapse)", "collapse"),
    ("calibration", "late-lr", None): ("healthy 4 epochs, then lr 5e-3 (late collapse)", "collapse"),
}


def lab_subset(experiment: str) -> int:
    """Training images per epoch of a lab experiment at the grid's scale (its ``SETTINGS``)."""
    return importlib.import_module(EXPERIMENTS[experiment]).SETTINGS[SCALE]["subset"]


def is_collapse_alarm(line: str) -> bool:
    """A line of the collapse detector (pixel diversity, G's loss, class coverage), not "D is winning"."""
    return line.startswith(ALARM_PREFIXES)


def lab_inputs(experiment: str, name: str, run: dict) -> dict:
    """The detector's inputs of a lab record's run: diversities, G's losses (the ns loss only), histograms."""
    saturating = experiment == "saturating" and name.startswith("saturating")
    return {"diversity": [_round(row.get("diversity")) for row in run["epochs"]],
            "g_loss": None if saturating else [_round(row.get("g_loss")) for row in run["epochs"]],
            "histograms": run["eval_histograms"], "images_per_epoch": lab_subset(experiment)}


def replay_run(inputs: dict) -> list[tuple[int, str]]:
    """This branch's detector on one run's inputs (``lab_inputs`` or a fixture entry)."""
    found = replay(inputs["diversity"], inputs["histograms"], images_per_epoch=inputs["images_per_epoch"],
                   generator_losses=inputs["g_loss"])
    return [(e, a) for e, a in found if is_collapse_alarm(a)]


def replayed_alarms(run: dict, experiment: str = "mode-collapse", name: str = "") -> list[tuple[int, str]]:
    """This branch's detector on a lab record's run (``epochs`` rows and ``eval_histograms``)."""
    return replay_run(lab_inputs(experiment, name, run))


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
                          **lab_inputs(record["experiment"], name, run),
                          "alarms_as_run": [a for a in run["alarms"] if is_collapse_alarm(a)]})
    for path in sorted(CALIBRATION.glob("*.json")):
        record = json.loads(path.read_text())
        group = GROUPS[("calibration", record["spec"], None)]
        ns = record["overrides"].get("train.loss", "ns") == "ns" and "rows" in record
        found.append({"group": group[0], "expected": group[1], "source": f"calibration {record['spec']}",
                      "seed": record["seed"], "threads": 1, "diversity": [_round(d) for d in record["diversity"]],
                      "g_loss": [_round(row["g_loss"]) for row in record["rows"]] if ns else None,
                      "histograms": record["eval_histograms"],
                      "images_per_epoch": record.get("images_per_epoch", 12000),
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


KINDS = (("mode collapse", "by pixel diversity"), ("G's samples rejected", "by G's loss"),
         ("class coverage collapsing", "by class coverage lost"),
         ("class coverage never established", "by the blob-stage deadline"))
FIXTURE_KEYS = ("group", "expected", "source", "seed", "threads", "diversity", "g_loss", "histograms", "images_per_epoch")


def _old_rule_flagged(run: dict, found: list[tuple[int, str]]) -> bool:
    return bool(old_rule_alarm_epochs(run["histograms"])) or any(a.startswith("mode collapse") for _, a in found)


def _check_live(run: dict, found: list[tuple[int, str]]) -> None:
    """Runs trained with this rule: the replay must say what they said (alarm kinds, in order)."""
    def kinds(lines):
        return [next(k for k, _ in KINDS if line.startswith(k)) for line in lines]
    if run["source"].startswith("calibration") and kinds(a for _, a in found) != kinds(run["alarms_as_run"]):
        print(f"warning: replay differs from the live alarms in {run['source']} seed {run['seed']}")


def collapse_section() -> str:
    """The detector table (markdown), and the fixture file."""
    runs = sequences()
    FIXTURE.write_text(json.dumps({"about": "recorded collapse-detector inputs; see bench/collapse_table.py",
                                   "runs": [{k: r[k] for k in FIXTURE_KEYS} for r in runs]},
                                  separators=(",", ":")) + "\n")
    lines = ["## The collapse detector on these runs", "",
             "Generated with the lab tables (`bench/collapse_table.py`): every recorded run of the grid and of",
             "`bench/collapse_calibration.py`, replayed through this branch's detector (`gan_atelier.collapse.replay`).",
             "\"old rule\": the same runs replayed through the class rule before issue #16 (2 classes below 1 % lost, or the",
             "entropy down 0.3 nats, against the best evaluation; no bounds, no blob stage, no persistence, no deadline)",
             "with the same pixel-diversity rule and no G-loss signal.", "",
             "| runs | expected | n | flagged | " + " | ".join(label for _, label in KINDS)
             + " | first alarm (epoch) | lowest pixel diversity | highest G loss | old rule flagged |",
             "|---|---|---|---|" + "---|" * len(KINDS) + "---|---|---|---|"]
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(run["group"], []).append(run)
    order = {"healthy": 0, "collapse": 1, "slow": 2}
    totals: dict[str, list[int]] = {}
    for name, members in sorted(groups.items(), key=lambda item: (order[item[1][0]["expected"]], item[0])):
        alarms = [replay_run(r) for r in members]
        for r, found in zip(members, alarms):
            _check_live(r, found)
            entry = totals.setdefault(r["expected"], [0, 0, 0])
            entry[0], entry[1], entry[2] = entry[0] + 1, entry[1] + bool(found), entry[2] + _old_rule_flagged(r, found)
        by_kind = [sum(any(a.startswith(kind) for _, a in found) for found in alarms) for kind, _ in KINDS]
        first = [found[0][0] for found in alarms if found]
        lowest = [min((d for d in r["diversity"] if d is not None), default=None) for r in members]
        highest = [max((g for g in r["g_loss"] or [] if g is not None), default=None) for r in members]
        old = sum(_old_rule_flagged(r, found) for r, found in zip(members, alarms))
        lines.append(f"| {name} | {members[0]['expected']} | {len(members)} | {sum(bool(f) for f in alarms)} | "
                     + " | ".join(map(str, by_kind)) + f" | {_span(first)} | {_span(lowest)} | {_span(highest)} | {old} |")
    lines += ["", "In all: " + "; ".join(f"{kind} runs {n}, flagged {k} (old rule {m})"
                                         for kind, (n, k, m) in sorted(totals.items(), key=lambda t: order[t[0]])) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """Write the fixture and print the table; ``--metrics``: also put it between docs/metrics.md's markers
    (``bench/lab_robustness_table.py`` does the same along with the lab's tables)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metrics", action="store_true", help="write the table into docs/metrics.md")
    args = parser.parse_args(argv)
    section = collapse_section()
    print(section)
    if args.metrics:
        metrics = ROOT / "docs" / "metrics.md"
        text = metrics.read_text()
        start, end = text.index("<!-- collapse-table:start"), text.index("<!-- collapse-table:end -->")
        start = text.index("\n", start) + 1
        metrics.write_text(text[:start] + "\n" + section.split("\n", 2)[2].lstrip("\n") + "\n" + text[end:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
