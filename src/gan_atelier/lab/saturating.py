"""Q1.1: the saturating G loss log(1 − D(G(z))) against the TP's non-saturating −log D(G(z)).

With D(x) = σ(ℓ) and ℓ D's logit for a fake, the per-sample G losses and their slopes are

* saturating (Goodfellow et al. 2014's minimax): L = log(1 − σ(ℓ)),  ∂L/∂ℓ = −σ(ℓ) = −D,
* non-saturating (the TP):                     L = −log σ(ℓ),      ∂L/∂ℓ = −(1 − σ(ℓ)) = −(1 − D).

Early on D rejects fakes (D(G(z)) → 0): the saturating slope vanishes with D while the
non-saturating one tends to 1; at the TP's D(G(z)) = 0.1 the ratio is 0.1 / 0.9 = 1/9. Every
gradient that reaches G's weights is this slope times the same chain ∂ℓ/∂θ, so the parameter
gradients of the two losses at the same (G, D) and the same batch compare as the weighted sums
Σᵢ Dᵢ Jᵢ against Σᵢ (1 − Dᵢ) Jᵢ.

The experiment trains the TP twice (same seed, same data), once per G loss, records each step's
mean D(G(z)) and ‖∇θ L_G‖, and probes both losses' gradients on the same state at regular steps.
Reference: Goodfellow et al., "Generative Adversarial Nets" (NeurIPS 2014), §3; Goodfellow,
"NIPS 2016 Tutorial: Generative Adversarial Networks", Fig. 16.
"""

from __future__ import annotations

import math

import torch

from ..losses import get_loss_pair
from ..models import generate_images
from ..training import LoopHooks
from ..viz import save_figure, save_grids_figure, subplots
from .context import LabContext, fixed_noise_images, sample_images
from .recording import StepRecorder, moving_average
from .report import LabResult, fmt, metrics_notes, score

NAME, QUESTION = "saturating", "Q1.1"
LOSSES = ("saturating", "ns")
LABELS = {"saturating": "saturating  log(1 − D(G(z)))", "ns": "non-saturating  −log D(G(z))"}
SETTINGS = {  # (images, epochs, probe every N steps)
    "full": {"subset": 0, "epochs": 10, "probe_every": 50},
    "quick": {"subset": 12000, "epochs": 5, "probe_every": 10},
    "tiny": {"subset": 256, "epochs": 2, "probe_every": 1},
}
PROBE_SIZE = 256


def logit_gradient(d_fake: torch.Tensor | float, loss: str) -> torch.Tensor:
    """|∂L_G/∂ℓ| for one fake with D(G(z)) = σ(ℓ) = ``d_fake``: D (saturating) or 1 − D (ns)."""
    d_fake = torch.as_tensor(d_fake, dtype=torch.float64)
    if loss == "saturating":
        return d_fake
    if loss == "ns":
        return 1.0 - d_fake
    raise ValueError(f"unknown G loss {loss!r}; valid: {', '.join(LOSSES)}")


def theoretical_ratio(d_fake: float) -> float:
    """|∂L_sat/∂ℓ| / |∂L_ns/∂ℓ| = D / (1 − D): 1/9 at D = 0.1, 1 at 0.5."""
    return d_fake / (1.0 - d_fake)


def probe(generator, discriminator, z: torch.Tensor) -> dict[str, torch.Tensor | float]:
    """Both G losses' gradients at the current (G, D) on one batch of noise ``z``.

    D is put in eval mode (no dropout: both losses see the same logits) and restored. Returns
    per-sample D(G(z)), per-sample |∂L/∂ℓ| scaled by the batch size (the loss is a batch mean),
    and ‖∇θ L_G‖ over G's parameters, for each loss. No optimizer state is touched.
    """
    was_training = discriminator.training
    discriminator.eval()
    parameters = [p for p in generator.parameters() if p.requires_grad]
    try:
        out: dict[str, torch.Tensor | float] = {}
        for loss in LOSSES:
            fake = generate_images(generator, z)  # (B, 1, 28, 28), with G's graph
            logits = discriminator(fake)  # (B, 1)
            # autograd.grad, not .backward(): no .grad of G or D is touched
            logit_grad, *param_grads = torch.autograd.grad(get_loss_pair(loss).g_loss(logits),
                                                           [logits, *parameters])
            out[f"{loss}_logit_grad"] = logit_grad.abs().flatten() * z.shape[0]  # undo the batch mean
            out[f"{loss}_param_norm"] = math.sqrt(sum(float(g.pow(2).sum()) for g in param_grads))
            out["d_fake"] = torch.sigmoid(logits.detach()).flatten()
        return out
    finally:
        discriminator.train(was_training)


class Prober:
    """on_step hook: every ``every`` steps, :func:`probe` on fresh noise from its own generator.

    It runs after the step and writes no ``.grad`` (``autograd.grad``), its noise comes from a
    private generator and D's dropout is off during it, so training's RNG streams, gradients and
    optimizers are untouched: the run is the same with or without probes.
    """

    def __init__(self, every: int, latent_dim: int, seed: int):
        self.every = every
        self.rng = torch.Generator().manual_seed(seed)
        self.latent_dim = latent_dim
        self.rows: list[dict] = []

    def __call__(self, trainer) -> None:
        if trainer.step % self.every:
            return
        z = torch.randn(PROBE_SIZE, self.latent_dim, generator=self.rng).to(trainer.device)
        result = probe(trainer.generator, trainer.discriminator, z)
        result["step"] = trainer.step
        self.rows.append(result)


def summarise(recorders: dict[str, StepRecorder], probes: list[dict]) -> dict[str, float]:
    """The numbers the summary quotes (pure: recorded values in, numbers out)."""
    numbers: dict[str, float] = {"theory_ratio_at_0.1": theoretical_ratio(0.1)}
    for loss, recorder in recorders.items():
        d_fake, norms = recorder.column("d_fake"), recorder.column("g_grad_norm")
        low = [n for d, n in zip(d_fake, norms) if d < 0.1 and math.isfinite(n)]
        numbers[f"{loss}_min_d_fake"] = min(d_fake)
        numbers[f"{loss}_final_d_fake"] = sum(d_fake[-20:]) / len(d_fake[-20:])
        numbers[f"{loss}_median_grad_norm"] = _median([n for n in norms if math.isfinite(n)])
        numbers[f"{loss}_median_grad_norm_when_d_below_0.1"] = _median(low) if low else float("nan")
        numbers[f"{loss}_steps_with_d_below_0.1"] = len(low)
    if probes:
        ratios = [p["saturating_param_norm"] / p["ns_param_norm"] for p in probes]
        d_means = [float(p["d_fake"].mean()) for p in probes]
        predicted = [float(p["d_fake"].sum() / (1 - p["d_fake"]).sum()) for p in probes]
        numbers["probe_median_ratio"] = _median(ratios)
        numbers["probe_median_d_fake"] = _median(d_means)
        numbers["probe_median_predicted_ratio"] = _median(predicted)
        # per-sample identity |∂L/∂ℓ| = D (sat) and 1 − D (ns): worst error over all probes
        numbers["probe_max_identity_error"] = max(
            max(float((p["saturating_logit_grad"] - p["d_fake"]).abs().max()),
                float((p["ns_logit_grad"] - (1 - p["d_fake"])).abs().max())) for p in probes)
    return numbers


def _median(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])


def run(context: LabContext) -> LabResult:
    settings = context.pick(SETTINGS)
    out = context.out_dir
    data = context.data(settings["subset"])
    recorders, probers, runs = {}, {}, {}
    for loss in LOSSES:
        config = context.config({"train.loss": loss, "train.epochs": settings["epochs"],
                                 "data.subset": settings["subset"], "train.sample_every": 1})
        recorders[loss] = StepRecorder()
        probers[loss] = Prober(settings["probe_every"], config.model.latent_dim, seed=context.seed + 99)
        runs[loss] = context.train(loss, config, data,
                                   LoopHooks(on_step=[recorders[loss], probers[loss]]))
        recorders[loss].write_csv(out / f"steps_{loss}.csv")

    probes = probers["saturating"].rows + probers["ns"].rows
    numbers = summarise(recorders, probes)
    metrics = {}
    for loss, run_ in runs.items():
        scores = score(sample_images(run_, context.eval_samples), context)
        if scores:
            metrics[loss] = scores
            numbers[f"{loss}_fid"] = scores.get("fid")
    figures = [
        _plot_gradient_vs_dfake(probes, out / "gradient_vs_dfake.png"),
        _plot_training(recorders, out / "training.png"),
        save_grids_figure({LABELS[loss]: fixed_noise_images(runs[loss]) for loss in LOSSES},
                          out / "grids.png", title=f"fixed noise after {settings['epochs']} epochs"),
    ]
    evidence = _evidence(numbers, settings)
    return LabResult(NAME, QUESTION, out, context.scale, evidence, numbers, figures,
                     [r.run_dir for r in runs.values()],
                     notes=metrics_notes(context)).write()


def _evidence(n: dict[str, float], settings: dict) -> list[str]:
    sentences = [
        f"Theory on D's logit: at D(G(z)) = 0.1 the saturating loss passes a slope of 0.1 and the "
        f"non-saturating one 0.9 (ratio 1/9); the probes confirm |∂L/∂ℓ| = D and 1 − D per sample "
        f"(largest deviation {n.get('probe_max_identity_error', float('nan')):.1e}).",
        f"At the same (G, D) and batch, the saturating loss's gradient on G's weights was "
        f"{fmt(n.get('probe_median_ratio'))}× the non-saturating one's (median over probes, mean "
        f"D(G(z)) {fmt(n.get('probe_median_d_fake'))}; predicted ΣD/Σ(1−D) = "
        f"{fmt(n.get('probe_median_predicted_ratio'))}).",
        f"Trained with it, the saturating run's mean D(G(z)) fell to {fmt(n['saturating_min_d_fake'])} "
        f"(ends at {fmt(n['saturating_final_d_fake'])}) with a median ‖∇G‖ of "
        f"{fmt(n['saturating_median_grad_norm'])}, against {fmt(n['ns_median_grad_norm'])} for the "
        f"non-saturating run (D(G(z)) ends at {fmt(n['ns_final_d_fake'])}).",
    ]
    if n.get("saturating_fid") is not None and n.get("ns_fid") is not None:
        sentences.append(f"Classifier FID after {settings['epochs']} epochs: saturating "
                         f"{fmt(n['saturating_fid'])}, non-saturating {fmt(n['ns_fid'])}.")
    return sentences


def _plot_gradient_vs_dfake(probes: list[dict], path):
    figure, (left, right) = subplots(1, 2, figsize=(11, 4.2))
    d = torch.linspace(1e-3, 1 - 1e-3, 400)
    left.plot(d, logit_gradient(d, "saturating"), color="C3", label="theory, saturating: D")
    left.plot(d, logit_gradient(d, "ns"), color="C0", label="theory, non-saturating: 1 − D")
    if probes:
        d_all = torch.cat([p["d_fake"] for p in probes])
        left.scatter(d_all, torch.cat([p["saturating_logit_grad"] for p in probes]), s=3, color="C3",
                     alpha=0.3, label="measured (autograd), saturating")
        left.scatter(d_all, torch.cat([p["ns_logit_grad"] for p in probes]), s=3, color="C0",
                     alpha=0.3, label="measured (autograd), non-saturating")
    left.axvline(0.1, color="gray", linestyle=":", label="Q1.1: D(G(z)) = 0.1")
    left.set_xlabel("D(G(z))"); left.set_ylabel("|∂L_G / ∂ logit|  (per sample)")
    left.set_title("slope of G's loss on D's logit"); left.legend(fontsize=7)
    if probes:
        means = [float(p["d_fake"].mean()) for p in probes]
        ratios = [p["saturating_param_norm"] / p["ns_param_norm"] for p in probes]
        right.scatter(means, ratios, s=10, color="C2", label="measured ‖∇θ L_sat‖ / ‖∇θ L_ns‖")
        grid = torch.linspace(max(min(means) * 0.8, 1e-4), min(max(means) * 1.2, 0.99), 200)
        right.plot(grid, grid / (1 - grid), color="k", linestyle="--", label="D / (1 − D)")
        right.set_xscale("log"); right.set_yscale("log")
    right.set_xlabel("mean D(G(z)) of the probe batch"); right.set_ylabel("gradient ratio on G's weights")
    right.set_title("same G, same D, same z: saturating / non-saturating"); right.legend(fontsize=7)
    return save_figure(figure, path)


def _plot_training(recorders: dict[str, StepRecorder], path):
    figure, (top, bottom) = subplots(1, 2, figsize=(11, 4))
    for loss, color in zip(LOSSES, ("C3", "C0")):
        steps = recorders[loss].column("step")
        window = max(1, len(steps) // 50)
        top.plot(steps, moving_average(recorders[loss].column("d_fake"), window), color=color,
                 label=LABELS[loss])
        bottom.plot(steps, moving_average(recorders[loss].column("g_grad_norm"), window), color=color,
                    label=LABELS[loss])
    top.axhline(0.5, color="gray", linestyle=":"); top.axhline(0.1, color="gray", linestyle="--")
    top.set_ylim(0, 1); top.set_xlabel("step"); top.set_ylabel("mean D(G(z))"); top.legend(fontsize=8)
    top.set_title("D's verdict on the fakes (moving average)")
    bottom.set_yscale("log"); bottom.set_xlabel("step"); bottom.set_ylabel("‖∇θ L_G‖ on G's weights")
    bottom.set_title("G's gradient norm (moving average)"); bottom.legend(fontsize=8)
    return save_figure(figure, path)
