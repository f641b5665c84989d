"""The TP's questions as 2-D scenarios (see :mod:`.scenarios` for the table and the outputs).

Each function takes a :class:`~.scenarios.Context` and returns (numbers, summary lines, frame
paths, comparison figure or None). Every number quoted in a summary line comes from the run.
"""

from __future__ import annotations

import math
import statistics

import torch

from ..collapse import CollapseDetector, pixel_diversity
from ..losses import ns_d_loss, ns_g_loss
from .data import get_dataset
from .game import GameConfig, gradient_vector
from .optimal import LN2
from .render import draw_planes
from .recording import Context, build_game, record, run_numbers

FAIR = dict(lr_d=1e-3, lr_g=1e-3)  # Adam, β = (0.5, 0.999): covers the 8 modes in ~1000 steps


def _fmt(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3g}"


def _compare(context: Context, recordings: dict, name: str) -> object:
    extent = next(iter(recordings.values())).observer.grid.extent
    titles = [f"{label}: step {r.game.step}" + ("" if r.last.modes is None else f", {r.last.modes} modes")
              for label, r in recordings.items()]
    return draw_planes(context.out_dir / f"{name}.png", [r.last for r in recordings.values()], titles, extent)


def saturating(context: Context):
    """Q1.1. D is trained alone first (G frozen) until it rejects the fakes; then G learns with the
    saturating loss log(1 − D(G(z))) or the non-saturating −log D(G(z)), with plain SGD (G moves by
    the raw gradient) and with the TP's Adam. Per fake, ∂ℓ/∂logit is −D(G(z)) for the first and
    −(1 − D(G(z))) for the second: a ratio D/(1 − D) (1/9 at D = 0.1)."""
    dataset = get_dataset("ring")
    pretrain, steps = context.pick(300, 40), context.n_steps(1000, 40)
    game = build_game(GameConfig(**FAIR, seed=context.seed, train_generator=False), dataset)
    game.play(pretrain)
    recordings, numbers = {}, {"pretrain_d_steps": pretrain}
    for optimizer, lr in (("sgd", 0.05), ("adam", 1e-3)):
        for loss in ("saturating", "ns"):
            label = f"{optimizer} {loss}"
            fork = game.fork(GameConfig(optimizer=optimizer, lr_d=lr, lr_g=lr, loss=loss, seed=context.seed))
            recordings[label] = record(context, fork, steps, label.replace(" ", "_"), f"{loss} G loss, {optimizer} {lr:g}",
                                       frames=(label == "sgd saturating"))
            numbers[label] = {**run_numbers(recordings[label]),
                              "arrow_norm_at_start": round(recordings[label].observer.snapshots[0].arrow_norm, 6)}
    d_fake = game.history[-1]["d_fake"]
    numbers["d_fake_at_start"] = round(d_fake, 6)
    numbers["theory_ratio"] = d_fake / (1 - d_fake)
    numbers["measured_ratio"] = numbers["sgd saturating"]["arrow_norm_at_start"] / numbers["sgd ns"]["arrow_norm_at_start"]
    sat, ns, adam_sat, adam_ns = (numbers[k] for k in ("sgd saturating", "sgd ns", "adam saturating", "adam ns"))
    lines = [f"After {pretrain} steps of D alone (Adam 1e-3), mean D(G(z)) = {d_fake:.2g}: D wins.",
             f"G's mean gradient on its fakes ‖∇ₓ ℓ_G‖ is {sat['arrow_norm_at_start']:.3g} with the saturating loss and "
             f"{ns['arrow_norm_at_start']:.3g} with −log D: ratio {numbers['measured_ratio']:.2g} (the closed form at the "
             f"mean D, D/(1 − D), gives {numbers['theory_ratio']:.2g}). The saturating arrows vanish.",
             f"Then {steps} steps with plain SGD (lr 0.05): saturating D(G(z)) {sat['d_fake']:.3g}, modes covered over time "
             f"{sat['modes_over_time']} (JS {sat['js']:.3f}); non-saturating D(G(z)) {ns['d_fake']:.3g}, "
             f"{ns['modes_over_time']} (JS {ns['js']:.3f}). G starves with log(1 − D(G(z))).",
             f"With the TP's Adam (lr 1e-3) the same start recovers either way: saturating {adam_sat['modes_covered']}/8 modes "
             f"(JS {adam_sat['js']:.3f}), non-saturating {adam_ns['modes_covered']}/8 (JS {adam_ns['js']:.3f}). Adam divides "
             "each step by a running gradient scale, which hides a uniformly small gradient; the non-saturating loss "
             "fixes the cause instead of relying on that."]
    compare = {k: recordings[k] for k in ("sgd saturating", "sgd ns")}
    return numbers, lines, recordings["sgd saturating"].frames, _compare(context, compare, "saturating_vs_ns")


def _smoothed_late_std(history: list[dict], key: str, window: int = 25) -> float:
    """Standard deviation, over the second half of the run, of ``key`` averaged over ``window`` steps
    (the averaging removes the minibatch noise, leaving the swings of the game)."""
    values = [r[key] for r in history[len(history) // 2:]]
    means = [sum(values[i:i + window]) / window for i in range(0, len(values) - window + 1, window)]
    return statistics.pstdev(means) if len(means) > 1 else 0.0


def _diagnose(rec, extent_half: float) -> str:
    fake_size = float(rec.last.fake.abs().max()) if torch.isfinite(rec.last.fake).all() else math.inf
    if not rec.finished or fake_size > 10 * extent_half:
        return "diverged"
    return "oscillating" if _smoothed_late_std(rec.game.history, "d_loss") > 0.1 else "stable"


def learning_rate(context: Context):
    """Q2.1. The same game with Adam at 1e-3, 3e-2 and 1e-1 for both players. Rule: diverged when a
    loss is not finite or a fake lies 10× farther than the plot's half-width; oscillating when the
    D loss, averaged over 25 steps, has a standard deviation > 0.1 over the second half (measured:
    0.02 at 1e-3 and 1e-2, 0.48 at 3e-2); else stable."""
    dataset = get_dataset("ring")
    steps = context.n_steps(1500, 60)
    extent = dataset.extent()
    recordings, numbers = {}, {}
    for lr in (1e-3, 3e-2, 1e-1):
        game = build_game(GameConfig(lr_d=lr, lr_g=lr, seed=context.seed), dataset)
        label = f"lr {lr:g}"
        recordings[label] = record(context, game, steps, f"lr{lr:g}", f"Adam lr {lr:g}", frames=(lr == 3e-2))
        history = recordings[label].game.history
        numbers[label] = {**run_numbers(recordings[label]), "diagnosis": _diagnose(recordings[label], (extent[1] - extent[0]) / 2),
                          "d_loss_swing": round(_smoothed_late_std(history, "d_loss"), 4),
                          "max_abs_fake": round(float(recordings[label].last.fake.abs().max()), 2)}
    lines = ["| Adam lr (D and G) | diagnosis | swing of the D loss, 2nd half | modes covered over time | JS at end | max ‖fake‖∞ |",
             "|---|---|---|---|---|---|"]
    for label, n in numbers.items():
        lines.append(f"| {label[3:]} | {n['diagnosis']} | {n['d_loss_swing']:.3g} | {n['modes_over_time']} | "
                     f"{_fmt(n['js'])} | {n['max_abs_fake']:.3g} |")
    lines += ["", "The swing is the standard deviation of the D loss averaged over 25 steps (minibatch noise removed). "
              "The Dirac-GAN scenario gives the closed form: each simultaneous step multiplies the distance to "
              "the equilibrium by √(1 + h²a²), so the damage grows with the square of the rate."]
    return numbers, lines, recordings["lr 0.03"].frames, _compare(context, recordings, "learning_rates")


def _detach_facts(seed: int) -> dict:
    """One D backward with and without .detach(): G's gradient, its cosine with ∇L_G, the crash."""
    dataset = get_dataset("ring")
    facts = {}
    for detach in (True, False):
        game = build_game(GameConfig(**FAIR, seed=seed, detach=detach), dataset)
        facts[f"g_grad_from_d_{'with' if detach else 'without'}_detach"] = game.discriminator_step()["g_grad_from_d"]
    game = build_game(GameConfig(**FAIR, seed=seed), dataset)
    real, fake = dataset.sample(256, game.noise), game.generator(game.sample_noise(256))
    ns_d_loss(game.discriminator(real), game.discriminator(fake)).backward()  # no .detach(): G's graph is freed
    try:
        ns_g_loss(game.discriminator(fake)).backward()  # the TP's G step reuses ``fake``
        facts["second_backward_error"] = None
    except RuntimeError as error:
        facts["second_backward_error"] = str(error).splitlines()[0][:120]
    fresh = game.generator(game.sample_noise(256))
    game.generator.zero_grad()
    ns_d_loss(game.discriminator(real), game.discriminator(fresh)).backward(retain_graph=True)
    from_d = gradient_vector(game.generator).clone()
    game.generator.zero_grad()
    ns_g_loss(game.discriminator(fresh)).backward()
    from_g = gradient_vector(game.generator)
    facts["cosine_grad_LD_grad_LG"] = round(float(torch.nn.functional.cosine_similarity(from_d, from_g, dim=0)), 4)
    return facts


def detach(context: Context):
    """Q3.1. Facts from one step, then three runs: with .detach() (the TP), without it but with G's
    gradients cleared before G's step (identical parameters, one extra backward), and without it
    with G's gradients cleared only at the top of the iteration (G steps on ∇L_G + ∇L_D)."""
    dataset = get_dataset("ring")
    steps = context.n_steps(1500, 60)
    numbers = _detach_facts(context.seed)
    recordings = {}
    for label, detach_flag, clear in (("detach", True, True), ("no-detach, cleared", False, True),
                                      ("no-detach, leaking", False, False)):
        game = build_game(GameConfig(**FAIR, seed=context.seed, detach=detach_flag, clear_generator_grads=clear), dataset)
        recordings[label] = record(context, game, steps, label.replace(", ", "_").replace(" ", ""), label,
                                   frames=(label == "no-detach, leaking"))
        numbers[label] = run_numbers(recordings[label])
    same = max(float((a - b).detach().abs().max()) for a, b in zip(recordings["detach"].game.generator.parameters(),
                                                            recordings["no-detach, cleared"].game.generator.parameters()))
    numbers["max_param_diff_detach_vs_cleared"] = same
    numbers["cpu_ratio_cleared_vs_detach"] = round(recordings["no-detach, cleared"].cpu_seconds / recordings["detach"].cpu_seconds, 3)
    leak = numbers["no-detach, leaking"]
    lines = [f"One D step: ‖gradient D's backward adds to G‖ = {numbers['g_grad_from_d_with_detach']:.3g} with .detach(), "
             f"{numbers['g_grad_from_d_without_detach']:.3g} without.",
             f"Cosine between ∇θ_G L_D and ∇θ_G L_G on the same fakes: {numbers['cosine_grad_LD_grad_LG']:.3f} "
             "(opposite: per fake, L_D's slope on the logit is D(G(z)) and L_G's is −(1 − D(G(z))), "
             "equal and opposite while D ≈ ½ at initialisation; L_D's gradient makes the fakes easier to reject).",
             f"The TP's G step after a D step without .detach(): `{numbers['second_backward_error']}`.",
             f"Without .detach() but G's gradients cleared before its step: G's parameters differ from the "
             f"detached run's by at most {same:.3g} after {steps} steps; CPU time × {numbers['cpu_ratio_cleared_vs_detach']:.2f} "
             "(the wasted backward through G).",
             f"Without .detach() and G's gradients leaking into its step: {leak['modes_covered']}/8 modes, JS {leak['js']:.3f}, "
             f"against {numbers['detach']['modes_covered']}/8, JS {numbers['detach']['js']:.3f} with .detach()."]
    return numbers, lines, recordings["no-detach, leaking"].frames, _compare(context, recordings, "detach_runs")


def d_loss(context: Context):
    """Final Q1. A fair game (Adam 1e-3 both): D's summed loss settles near 2 ln 2 = 1.386 (D ≡ ½ would
    give exactly that). D wins (D at 1e-2, G at 1e-5): the loss goes to 0 and the map saturates."""
    dataset = get_dataset("ring")
    steps = context.n_steps(1500, 60)
    recordings = {"fair": record(context, build_game(GameConfig(**FAIR, seed=context.seed), dataset), steps, "fair",
                                 "fair game"),
                  "D wins": record(context, build_game(GameConfig(lr_d=1e-2, lr_g=1e-5, seed=context.seed), dataset),
                                   steps, "dwins", "D wins", frames=False)}
    numbers = {label: run_numbers(rec) for label, rec in recordings.items()}
    for label, rec in recordings.items():
        d_map = rec.last.d_map
        numbers[label]["map_saturated_share"] = round(float(((d_map < 0.02) | (d_map > 0.98)).float().mean()), 3)
    fair, wins = numbers["fair"], numbers["D wins"]
    lines = [f"Fair game: D loss {fair['d_loss']:.3f} over the last tenth (2 ln 2 = {2 * LN2:.3f}), D(x) {fair['d_real']:.3f}, "
             f"D(G(z)) {fair['d_fake']:.3f}, JS {fair['js']:.3f} (so 2 ln 2 − 2 JS = {2 * LN2 - 2 * fair['js']:.3f}), "
             f"{fair['modes_covered']}/8 modes; "
             f"{fair['map_saturated_share']:.0%} of the map is saturated (D < 0.02 or > 0.98).",
             f"D wins: D loss {wins['d_loss']:.4f}, D(x) {wins['d_real']:.3f}, D(G(z)) {wins['d_fake']:.4f}, "
             f"JS {wins['js']:.3f}; {wins['map_saturated_share']:.0%} of the map saturated. A D loss near 0 means D "
             "separates the two sets perfectly and G's (saturating) gradient vanishes.",
             "At D*, the D loss is 2 ln 2 − 2 JS (see optimal-d): it reaches 2 ln 2 only when p_g = p_data."]
    return numbers, lines, recordings["fair"].frames, _compare(context, recordings, "fair_vs_dwins")


def mode_collapse(context: Context):
    """Final Q2. Healthy: Adam 1e-3 for both. Collapse: G at 5e-3, D at 1e-4 (G 50× faster): G jumps
    to wherever D is currently weakest, all its fakes together. The project's collapse detector
    (pixel diversity of the fakes / of the real points) is run on the same snapshots."""
    dataset = get_dataset("ring")
    steps = context.n_steps(2000, 60)
    settings = {"healthy": GameConfig(**FAIR, seed=context.seed),
                "collapse": GameConfig(lr_d=1e-4, lr_g=5e-3, seed=context.seed)}
    recordings = {label: record(context, build_game(config, dataset), steps, label, label, frames=(label == "collapse"))
                  for label, config in settings.items()}
    numbers = {}
    for label, rec in recordings.items():
        real_diversity = pixel_diversity(rec.observer.real)
        ratios = [pixel_diversity(s.fake) / real_diversity for s in rec.observer.snapshots]
        detector = CollapseDetector()
        alarms = [a for i, r in enumerate(ratios) if (a := detector.check_diversity(i, r))]
        numbers[label] = {**run_numbers(rec), "diversity_ratio_last": round(ratios[-1], 4),
                          "diversity_ratio_min": round(min(ratios), 4), "detector_alarms": alarms}
    healthy, collapse = numbers["healthy"], numbers["collapse"]
    lines = [f"Healthy (Adam 1e-3 / 1e-3): modes covered over time {healthy['modes_over_time']}, final "
             f"{healthy['modes_covered']}/8, JS {healthy['js']:.3f}.",
             f"Collapse (D 1e-4, G 5e-3): {collapse['modes_over_time']}, final {collapse['modes_covered']}/8, "
             f"JS {collapse['js']:.3f}. Its D loss is {collapse['d_loss']:.3f} (2 ln 2 = {2 * LN2:.3f}), D(x) "
             f"{collapse['d_real']:.3f}, D(G(z)) {collapse['d_fake']:.3f}: a D loss at 2 ln 2 does not mean G is right "
             "when D is too slow to tell (here D learns 50× slower than G).",
             f"Collapse detector (fakes' pixel diversity / real, alarm below 0.02 for 3 snapshots): healthy "
             f"{healthy['diversity_ratio_last']:.3f}, collapse {collapse['diversity_ratio_last']:.3f} (min "
             f"{collapse['diversity_ratio_min']:.3f}); alarms: {len(collapse['detector_alarms'])}. "
             "Its threshold is calibrated on 784-pixel images; in 2-D a collapsed G still spreads its fakes "
             "around one mode, so the modes-covered count is the signal to read here."]
    return numbers, lines, recordings["collapse"].frames, _compare(context, recordings, "healthy_vs_collapse")


def play(context: Context):
    """The TP's game (its defaults: ns loss, Adam 2e-4, β1 0.5, k = 1) on ``--dataset``."""
    dataset = get_dataset(context.dataset or "ring", seed=context.seed)
    steps = context.n_steps(2000, 60)
    rec = record(context, build_game(GameConfig(seed=context.seed), dataset), steps, "play", f"{dataset.name}, TP settings")
    numbers = {"dataset": dataset.name, **run_numbers(rec)}
    modes = "" if numbers["modes_covered"] is None else f", {numbers['modes_covered']}/{dataset.centres.shape[0]} modes"
    lines = [f"{dataset.name}: after {steps} steps D loss {numbers['d_loss']:.3f} (2 ln 2 = {2 * LN2:.3f}), "
             f"D(x) {numbers['d_real']:.3f}, D(G(z)) {numbers['d_fake']:.3f}, JS {_fmt(numbers['js'])}{modes}."]
    return numbers, lines, rec.frames, None
