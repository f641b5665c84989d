"""Tables from ``bench/lab_robustness.py``'s records: conclusions held in k of n runs, number ranges.

``python bench/lab_robustness.py table`` (or this file) reads ``bench/results/lab_robustness/`` and
``bench/results/collapse_calibration/`` and writes

* ``docs/lab-robustness.md``: per experiment, each conclusion its ``summary.md`` draws, "held in k
  of n runs", and the range (min–max over the runs) of every number the answer keys quote;
* ``src/gan_atelier/lab/ranges.json``: the same ranges, for the notebooks to print beside a student's numbers;
* ``tests/fixtures/collapse_sequences.json`` and the detector table (``collapse_table.md``, pasted
  into ``docs/metrics.md``): see :mod:`collapse_table`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collapse_table import collapse_section, is_collapse_alarm, old_rule_alarm_epochs, replayed_alarms  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "bench" / "results" / "lab_robustness"


def _last(n, run, key):
    return n[run]["per_epoch"][-1][key]


def _mc_silent(record, run, replayed):
    if replayed:
        return not any(is_collapse_alarm(a) for _, a in replayed_alarms(record["runs"][run]))
    return not any(is_collapse_alarm(a) for a in record["runs"][run]["alarms"])


def _old_rule_silent(record, run):
    """The rule before issue #16 replayed on the run's histograms (the records of seeds 2-4 ran with the new
    rule, so their logs cannot say what the old one would have done), with the same pixel-diversity rule."""
    histograms = record["runs"][run]["eval_histograms"]
    return not old_rule_alarm_epochs(histograms) and not any(
        a.startswith("mode collapse") for _, a in replayed_alarms(record["runs"][run]))


# experiment -> (conclusions [(id, text, predicate(numbers, record))], quantities [(key, label, getter)])
CONCLUSIONS = {
    "mode-collapse": (
        [("collapse_from_epoch_1", "the collapsing run's pixel diversity stays below 0.02 from epoch 1 on",
          lambda n, r: n["collapse"]["collapsed_from_epoch"] == 1),
         ("healthy_more_varied", "the healthy run ends with a higher pixel diversity than the collapsing one",
          lambda n, r: _last(n, "healthy", "diversity") > _last(n, "collapse", "diversity")),
         ("collapse_one_class", "the collapsing run's samples all fall into one class (entropy 0)",
          lambda n, r: _last(n, "collapse", "covered") == 1),
         ("healthy_five_classes", "the healthy run covers at least 5 classes",
          lambda n, r: _last(n, "healthy", "covered") >= 5),
         ("collapse_flagged", "the collapse detector flags the collapsing run (this branch's rule, replayed)",
          lambda n, r: not _mc_silent(r, "collapse", True)),
         ("healthy_silent", "the healthy run raises no collapse alarm (this branch's rule, replayed)",
          lambda n, r: _mc_silent(r, "healthy", True)),
         ("healthy_silent_old_rule", "the healthy run raises no collapse alarm with the old rule "
          "(2 classes / 0.3 nats, replayed)", lambda n, r: _old_rule_silent(r, "healthy"))],
        [("healthy_diversity", "healthy run: final pixel diversity", lambda n, r: _last(n, "healthy", "diversity")),
         ("collapse_diversity", "collapsing run: final pixel diversity", lambda n, r: _last(n, "collapse", "diversity")),
         ("healthy_classes", "healthy run: classes covered (≥ 1 %)", lambda n, r: _last(n, "healthy", "covered")),
         ("healthy_entropy", "healthy run: class entropy (nats)", lambda n, r: _last(n, "healthy", "entropy")),
         ("healthy_recall", "healthy run: recall", lambda n, r: _last(n, "healthy", "recall")),
         ("healthy_coverage", "healthy run: coverage", lambda n, r: _last(n, "healthy", "coverage")),
         ("collapse_coverage", "collapsing run: coverage", lambda n, r: _last(n, "collapse", "coverage")),
         ("collapse_max_share", "collapsing run: share of the top class", lambda n, r: _last(n, "collapse", "max_share"))]),
    "saturating": (
        [("probe_identity", "the probes confirm |∂L/∂ℓ| = D and 1 − D (largest deviation < 1e-5)",
          lambda n, r: n["probe_max_identity_error"] < 1e-5),
         ("probe_ratio_below_1", "at the same state the saturating loss's gradient on G is smaller (ratio < 1)",
          lambda n, r: n["probe_median_ratio"] < 1),
         ("probe_ratio_matches", "that ratio is within 25 % of the predicted ΣD/Σ(1−D)",
          lambda n, r: abs(n["probe_median_ratio"] / n["probe_median_predicted_ratio"] - 1) < 0.25),
         ("sat_falls_below_0.1", "the saturating run's mean D(G(z)) falls below 0.1",
          lambda n, r: n["saturating_min_d_fake"] < 0.1),
         ("sat_smaller_grad", "the saturating run's median ‖∇G‖ is smaller than the non-saturating run's",
          lambda n, r: n["saturating_median_grad_norm"] < n["ns_median_grad_norm"]),
         ("sat_more_low_steps", "the saturating run spends more steps with D(G(z)) < 0.1",
          lambda n, r: n["saturating_steps_with_d_below_0.1"] > n["ns_steps_with_d_below_0.1"]),
         ("fid_close", "the two FIDs are within 10 % of each other (FID does not separate them)",
          lambda n, r: abs(n["saturating_fid"] / n["ns_fid"] - 1) < 0.10),
         ("ns_better_fid", "the non-saturating run has the lower FID", lambda n, r: n["ns_fid"] < n["saturating_fid"])],
        [("probe_median_ratio", "gradient ratio at the same state", lambda n, r: n["probe_median_ratio"]),
         ("probe_predicted_ratio", "predicted ΣD/Σ(1−D)", lambda n, r: n["probe_median_predicted_ratio"]),
         ("probe_d_fake", "mean D(G(z)) at the probes", lambda n, r: n["probe_median_d_fake"]),
         ("sat_min_d_fake", "saturating: lowest mean D(G(z))", lambda n, r: n["saturating_min_d_fake"]),
         ("sat_grad", "saturating: median ‖∇G‖", lambda n, r: n["saturating_median_grad_norm"]),
         ("ns_grad", "non-saturating: median ‖∇G‖", lambda n, r: n["ns_median_grad_norm"]),
         ("sat_low_steps", "saturating: steps with D(G(z)) < 0.1", lambda n, r: n["saturating_steps_with_d_below_0.1"]),
         ("ns_low_steps", "non-saturating: steps with D(G(z)) < 0.1", lambda n, r: n["ns_steps_with_d_below_0.1"]),
         ("sat_fid", "saturating: FID", lambda n, r: n["saturating_fid"]),
         ("ns_fid", "non-saturating: FID", lambda n, r: n["ns_fid"])]),
    "learning-rate": (
        [("tp_stable", "lr 2e-4 (the TP) is diagnosed stable", lambda n, r: n["lr2e-4"]["diagnosis"] == "stable"),
         ("high_diverged", "lr 5e-3 diverges", lambda n, r: n["lr5e-3"]["diagnosis"] == "diverged"),
         ("one_unstable", "exactly 1 of the 4 other settings is not stable",
          lambda n, r: sum(n[k]["diagnosis"] != "stable" for k in _lr_others(n)) == 1),
         ("lr1e-3_best_fid", "lr 1e-3 has the lowest FID", lambda n, r: min(_lr_all(n), key=lambda k: n[k]["fid"]) == "lr1e-3"),
         ("lr1e-3_beats_tp", "lr 1e-3 has a lower FID than lr 2e-4", lambda n, r: n["lr1e-3"]["fid"] < n["lr2e-4"]["fid"]),
         ("lr5e-3_worst_fid", "lr 5e-3 has the highest FID", lambda n, r: max(_lr_all(n), key=lambda k: n[k]["fid"]) == "lr5e-3")],
        [("fid_" + k, f"FID, {k}", (lambda k: lambda n, r: n[k]["fid"])(k))
         for k in ("lr2e-4", "lr1e-3", "lr5e-3", "d1e-3_g2e-4", "d2e-4_g1e-3")]
        + [("late_d_loss_lr2e-4", "late D loss, lr 2e-4", lambda n, r: n["lr2e-4"]["late_d_loss"]),
           ("late_g_loss_lr5e-3", "late G loss, lr 5e-3", lambda n, r: n["lr5e-3"]["late_g_loss"])]),
    "detach": (
        [("no_g_grads", "with .detach() D's backward leaves G's gradients empty", lambda n, r: n["g_grads_none_with_detach"]),
         ("cosine_minus_1", "without it, the gradient written into G has cosine −1 with G's own (< −0.999)",
          lambda n, r: n["cosine"] < -0.999),
         ("second_backward_fails", "re-using the fakes for G's step fails (second backward)",
          lambda n, r: "second time" in (n["second_backward_error"] or "")),
         ("costs_more", "the useless backward makes D's step slower", lambda n, r: n["extra_fraction"] > 0)],
        [("g_grad_norm", "norm of the gradient written into G", lambda n, r: n["g_grad_norm_from_d_loss"]),
         ("extra_percent", "extra CPU time of D's step (%)", lambda n, r: 100 * n["extra_fraction"])]),
    "d-loss": (
        [("tp_below_equilibrium", "the TP's late D loss is below 2 ln 2 (D ahead)", lambda n, r: n["tp_late_d_loss"] < n["equilibrium"]),
         ("tp_no_episode", "the TP run has no episode where D wins", lambda n, r: not n["tp_episode_steps"]),
         ("strong_episodes", "with G ten times slower, D wins in at least one episode", lambda n, r: bool(n["strong-d_episode_steps"])),
         ("strong_worse_fid", "the slow-G run ends with a higher FID than the TP", lambda n, r: n["strong-d_fid"] > n["tp_fid"])],
        [("tp_late_d_loss", "TP: late D loss", lambda n, r: n["tp_late_d_loss"]),
         ("tp_late_d_real", "TP: late D(x)", lambda n, r: n["tp_late_d_real"]),
         ("tp_late_d_fake", "TP: late D(G(z))", lambda n, r: n["tp_late_d_fake"]),
         ("tp_min_smooth", "TP: lowest smoothed D loss", lambda n, r: n["tp_min_smooth_d_loss"]),
         ("strong_episodes", "slow G: episodes where D wins", lambda n, r: len(n["strong-d_episode_steps"] or [])),
         ("strong_fraction", "slow G: share of steps where D wins", lambda n, r: n["strong-d_fraction_winning"]),
         ("strong_late_d_loss", "slow G: late D loss", lambda n, r: n["strong-d_late_d_loss"]),
         ("tp_fid", "TP: FID", lambda n, r: n["tp_fid"]), ("strong_fid", "slow G: FID", lambda n, r: n["strong-d_fid"])]),
    "vae": (
        [("gan_sharper", "GAN samples are sharper than VAE samples", lambda n, r: n["sharpness"]["GAN"] > n["sharpness"]["VAE"]),
         ("vae_blurrier_than_real", "VAE samples and reconstructions are blurrier than real images",
          lambda n, r: max(n["sharpness"]["VAE"], n["sharpness"]["VAE reconstructions"]) < n["sharpness"]["real test images"]),
         ("vae_better_fid", "the VAE has the lower FID at this length", lambda n, r: n["scores"]["VAE"]["fid"] < n["scores"]["GAN"]["fid"]),
         ("vae_better_recall", "the VAE has the higher recall", lambda n, r: n["scores"]["VAE"]["recall"] > n["scores"]["GAN"]["recall"])],
        [("sharp_real", "sharpness, real", lambda n, r: n["sharpness"]["real test images"]),
         ("sharp_gan", "sharpness, GAN", lambda n, r: n["sharpness"]["GAN"]),
         ("sharp_vae", "sharpness, VAE samples", lambda n, r: n["sharpness"]["VAE"]),
         ("sharp_recon", "sharpness, VAE reconstructions", lambda n, r: n["sharpness"]["VAE reconstructions"]),
         ("gan_fid", "GAN: FID", lambda n, r: n["scores"]["GAN"]["fid"]), ("vae_fid", "VAE: FID", lambda n, r: n["scores"]["VAE"]["fid"]),
         ("gan_recall", "GAN: recall", lambda n, r: n["scores"]["GAN"]["recall"]),
         ("vae_recall", "VAE: recall", lambda n, r: n["scores"]["VAE"]["recall"]),
         ("gan_coverage", "GAN: coverage", lambda n, r: n["scores"]["GAN"]["coverage"]),
         ("vae_coverage", "VAE: coverage", lambda n, r: n["scores"]["VAE"]["coverage"]),
         ("neg_elbo", "VAE: −ELBO (nats per image)", lambda n, r: n["vae_test_bound"]["nats_per_image"])]),
    "dcgan": (
        [("dcgan_better_fid", "the DCGAN has the lower FID", lambda n, r: n["dcgan"]["fid"] < n["mlp"]["fid"]),
         ("dcgan_better_recall", "the DCGAN has the higher recall", lambda n, r: n["dcgan"]["recall"] > n["mlp"]["recall"]),
         ("dcgan_slower", "an epoch costs the DCGAN more CPU time",
          lambda n, r: n["dcgan"]["cpu_seconds_per_epoch"] > n["mlp"]["cpu_seconds_per_epoch"])],
        [("mlp_fid", "MLP: FID", lambda n, r: n["mlp"]["fid"]), ("dcgan_fid", "DCGAN: FID", lambda n, r: n["dcgan"]["fid"]),
         ("mlp_recall", "MLP: recall", lambda n, r: n["mlp"]["recall"]), ("dcgan_recall", "DCGAN: recall", lambda n, r: n["dcgan"]["recall"]),
         ("mlp_coverage", "MLP: coverage", lambda n, r: n["mlp"]["coverage"]),
         ("dcgan_coverage", "DCGAN: coverage", lambda n, r: n["dcgan"]["coverage"]),
         ("mlp_precision", "MLP: precision", lambda n, r: n["mlp"]["precision"]),
         ("dcgan_precision", "DCGAN: precision", lambda n, r: n["dcgan"]["precision"]),
         ("mlp_cpu", "MLP: CPU s per epoch", lambda n, r: n["mlp"]["cpu_seconds_per_epoch"]),
         ("dcgan_cpu", "DCGAN: CPU s per epoch", lambda n, r: n["dcgan"]["cpu_seconds_per_epoch"])]),
}


def _lr_all(n):
    return [k for k in n if isinstance(n[k], dict) and "diagnosis" in n[k]]


def _lr_others(n):
    return [k for k in _lr_all(n) if k != "lr2e-4"]


def load_records() -> dict[str, list[dict]]:
    records = {}
    for path in sorted(RECORDS.glob("*/*.json")):
        record = json.loads(path.read_text())
        records.setdefault(record["experiment"], []).append(record)
    for runs in records.values():
        runs.sort(key=lambda r: (r["threads_requested"] == 0, r["seed"]))
    return records


def _label(record) -> str:
    return f"seed {record['seed']}, {record['threads_used']} thread{'s' if record['threads_used'] > 1 else ''}"


def fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _safe(getter, n, r):
    try:
        return getter(n, r)
    except (KeyError, TypeError, ZeroDivisionError, IndexError):
        return None


def analyse(experiment: str, records: list[dict]) -> dict:
    conclusions, quantities = CONCLUSIONS[experiment]
    out = {"runs": [_label(r) for r in records], "conclusions": {}, "ranges": {}}
    for key, text, predicate in conclusions:
        verdicts = [_safe(predicate, r["numbers"], r) for r in records]
        known = [(v, r) for v, r in zip(verdicts, records) if v is not None]
        out["conclusions"][key] = {"text": text, "held": sum(bool(v) for v, _ in known), "runs": len(known),
                                   "failed_in": [_label(r) for v, r in known if not v]}
    for key, label, getter in quantities:
        values = [(v, r) for v, r in ((_safe(getter, r["numbers"], r), r) for r in records)
                  if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))]
        if values:
            out["ranges"][key] = {"label": label, "min": min(v for v, _ in values), "max": max(v for v, _ in values),
                                  "runs": len(values), "by_run": {_label(r): v for v, r in values}}
    return out


def _seed_list(seeds) -> str:
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}–{seeds[-1]}"
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def coverage_paragraph(records: dict, seeds=range(5)) -> str:
    """What the grid holds and what it lacks, counted from the records (the full grid: every experiment
    at ``seeds`` × {1 thread, PyTorch's default})."""
    experiments = list(CONCLUSIONS)
    held = {(r["experiment"], r["seed"], r["threads_requested"]) for runs in records.values() for r in runs}
    parts = []
    for threads, name, short in ((1, "one thread", "one thread"),
                                 (0, "PyTorch's default thread count (2 here)", "the default count")):
        by_seed = {s: [e for e in experiments if (e, s, threads) in held] for s in seeds}
        everywhere = [s for s in seeds if len(by_seed[s]) == len(experiments)]
        if everywhere:
            parts.append(f"{_seed_list(everywhere)} at {name} for all {len(experiments)} experiments "
                         f"({len(everywhere) * len(experiments)} runs)")
        partial = {s: es for s, es in by_seed.items() if es and s not in everywhere}
        for s, es in partial.items():
            parts.append(f"{', '.join(es)} at seed {s} and {short} ({len(es)} run{'s' if len(es) > 1 else ''})")
    total, full = len(held), len(experiments) * len(seeds) * 2
    missing = [(e, s, t) for e in experiments for s in seeds for t in (1, 0) if (e, s, t) not in held]
    missing_default = sorted({s for e, s, t in missing if t == 0})
    lines = [f"**Coverage of the grid.** The full grid is {len(experiments)} experiments × seeds "
             f"{min(seeds)}–{max(seeds)} × {{1 thread, default}} = {full} runs; {total} are recorded here: "
             + "; ".join(parts) + "."]
    if missing:
        only_default = all(t == 0 for _, _, t in missing)
        what = (f"the default-thread runs of {_seed_list(missing_default)}" if only_default
                else "the cells not listed under each experiment")
        if only_default:
            per_experiment = {e: sorted(s for m, s, _ in missing if m == e) for e in experiments}
            other = {e: ss for e, ss in per_experiment.items() if ss != missing_default}
            what += "".join(f" ({e}: {_seed_list(ss) if ss else 'none'})" for e, ss in other.items())
        lines.append(f"The {len(missing)} missing runs are {what}: they were not run, because the CPU time of "
                     "the session that wrote this table (2 cores shared by several jobs) went to the one-thread "
                     "runs of every seed first. `python bench/lab_robustness.py run` resumes the grid where it "
                     "stopped (it skips recorded cells), and `... table` rewrites this file.")
    lines.append("Default-thread runs set `OMP_WAIT_POLICY=PASSIVE` (same numbers, checked bit for bit on the "
                 "mode-collapse healthy run; a spinning OpenMP thread on this loaded machine took 10× longer).")
    return "\n".join(lines)


def _uncommitted(records: dict) -> str:
    """The records written before ``source_commit`` was recorded, e.g. "mode-collapse seeds 0, 1; ..."."""
    cells = {}
    for experiment, runs in records.items():
        for r in runs:
            if not r.get("source_commit"):
                cells.setdefault(experiment, set()).add(r["seed"])
    return "; ".join(f"{e} {_seed_list(s)}" for e, s in cells.items()) or "none"


def markdown(analyses: dict, records: dict) -> str:
    lines = ["# The lab's conclusions across seeds and thread counts", "",
             "Generated by `python bench/lab_robustness.py table` from the records of `python bench/lab_robustness.py run`",
             "(every experiment at `--quick`, each cell in its own process; \"threads\" is what PyTorch used:",
             "1 with `--threads 1`, PyTorch's default otherwise, 2 on this 2-core machine). A conclusion reads",
             "\"k of n\": it held in k of the n runs of the grid; each number is given as min–max over the runs.",
             "Numbers: `src/gan_atelier/lab/ranges.json` (shipped in the package; the notebooks print them beside the student's run).", "",
             coverage_paragraph(records), "",
             "**Evaluation added for the detector.** Every GAN run gets `train.eval_every = 1` so that its class histograms",
             f"feed the detector's table. Records without a `source_commit` ({_uncommitted(records)})",
             "ran before this branch fixed the evaluator's first classifier load, which drew from the global RNG that D's",
             "dropout uses: there the first run of each experiment is another, equally valid draw of its seed, not",
             "bit-identical to the plain command (mode-collapse evaluates itself and detach does not train: neither is",
             "affected). The later records reproduce the plain command at one thread bit for bit (checked: dcgan and vae,",
             "seed 0).", ""]
    for experiment, analysis in analyses.items():
        cpu = [r["cpu_seconds"] for r in records[experiment]]
        lines += [f"## `{experiment}`", "", f"Runs ({len(analysis['runs'])}): {'; '.join(analysis['runs'])}. "
                  f"CPU time per run {min(cpu):.0f}–{max(cpu):.0f} s.", "",
                  "| conclusion | held | not held in |", "|---|---|---|"]
        for item in analysis["conclusions"].values():
            lines.append(f"| {item['text']} | {item['held']} of {item['runs']} | {'; '.join(item['failed_in']) or '—'} |")
        lines += ["", "| number | range | runs |", "|---|---|---|"]
        for item in analysis["ranges"].values():
            span = fmt(item["min"]) if fmt(item["min"]) == fmt(item["max"]) else f"{fmt(item['min'])}–{fmt(item['max'])}"
            lines.append(f"| {item['label']} | {span} | {item['runs']} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    records = load_records()
    analyses = {e: analyse(e, records[e]) for e in CONCLUSIONS if e in records}
    section = collapse_section()
    (ROOT / "docs" / "lab-robustness.md").write_text(markdown(analyses, records) + "\n" + section + "\n")
    metrics = ROOT / "docs" / "metrics.md"
    text = metrics.read_text()
    start, end = text.index("<!-- collapse-table:start"), text.index("<!-- collapse-table:end -->")
    start = text.index("\n", start) + 1
    metrics.write_text(text[:start] + "\n" + section.split("\n", 2)[2].lstrip("\n") + "\n" + text[end:])
    ranges = {e: {"runs": a["runs"],
                  "conclusions": {k: {x: v[x] for x in ("text", "held", "runs")} for k, v in a["conclusions"].items()},
                  "ranges": {k: {x: v[x] for x in ("label", "min", "max", "runs")} for k, v in a["ranges"].items()}}
              for e, a in analyses.items()}
    (ROOT / "src" / "gan_atelier" / "lab" / "ranges.json").write_text(json.dumps(ranges, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote docs/lab-robustness.md and src/gan_atelier/lab/ranges.json ({sum(len(r) for r in records.values())} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
