"""Q3.1: what ``fake_images.detach()`` does in D's step, shown on the TP's own G and D.

In the TP's step the fakes are made once, ``fake = G(z)``, then used twice:

1. D's step, ``L_D = BCE(D(x), 1) + BCE(D(fake.detach()), 0)``: ``.detach()`` returns a tensor that
   shares ``fake``'s data but has no history, so ``L_D.backward()`` stops at D's input. G's
   parameters receive no gradient (their ``.grad`` stays ``None``) and G's graph is left intact.
2. G's step, ``L_G = BCE(D(fake), 1)``: the same ``fake``, still attached to G's graph.

Without ``.detach()``, ``L_D.backward()`` runs on into G: it computes ∇θ_G L_D, the direction in
which G would make its fakes *easier* to reject (the opposite of what G wants: L_D's fake term
is softplus(ℓ), L_G's is softplus(−ℓ), so per sample the slopes on the logit have opposite
signs), spends the time of a backward through G, and frees G's saved tensors: the G step's
``backward`` then fails with PyTorch's "Trying to backward through the graph a second time".

This experiment checks each of those facts and measures the wasted backward.
"""

from __future__ import annotations

import copy
import statistics
import time

import torch

from ..losses import FAKE, bce_with_logits, ns_d_loss, ns_g_loss
from ..models import build_models, generate_images
from ..viz import save_figure, subplots
from .context import LabContext
from .report import LabResult, fmt

NAME, QUESTION = "detach", "Q3.1"
SETTINGS = {"full": {"repeats": 50}, "quick": {"repeats": 20}, "tiny": {"repeats": 3}}
BATCH = 128  # the TP's batch size
SECOND_BACKWARD = "backward through the graph a second time"


def _clear(*modules) -> None:
    for module in modules:
        for parameter in module.parameters():
            parameter.grad = None


def d_step_backward(generator, discriminator, real, z, detach: bool) -> torch.Tensor:
    """D's loss on a real batch and ``G(z)``, backpropagated (no optimizer step); returns the fakes."""
    fake = generate_images(generator, z)  # (B, 1, 28, 28) with G's graph
    scored = fake.detach() if detach else fake
    d_loss = ns_d_loss(discriminator(real), discriminator(scored))
    d_loss.backward()
    return fake


def gradient_report(module) -> dict[str, float | None]:
    """Per-parameter ‖grad‖ (None where ``.grad`` is None), keyed by parameter name."""
    return {name: (None if p.grad is None else float(p.grad.norm())) for name, p in module.named_parameters()}


def second_backward_error(generator, discriminator, real, z) -> str | None:
    """The error raised by the TP's G step after a D step *without* ``.detach()`` (None if none)."""
    _clear(generator, discriminator)
    fake = d_step_backward(generator, discriminator, real, z, detach=False)
    try:
        ns_g_loss(discriminator(fake)).backward()
    except RuntimeError as error:
        return str(error)
    finally:
        _clear(generator, discriminator)
    return None


def flat_gradient(loss: torch.Tensor, module) -> torch.Tensor:
    """∇θ loss over all of ``module``'s parameters, as one flat vector."""
    grads = torch.autograd.grad(loss, list(module.parameters()), retain_graph=True)
    return torch.cat([g.flatten() for g in grads])


def direction_facts(generator, discriminator, z, step: float = 2e-4) -> dict[str, float]:
    """Which way the gradient D's loss writes into G points, compared with G's own gradient.

    With D in eval mode (no dropout, so both losses see the same logits): the cosine between
    ∇θ L_D (fake term) and ∇θ L_G, and the mean D(G(z)) after one Adam-like first step
    θ ← θ − step·sign(∇) along each (Adam's first update is ≈ lr·sign(g)).
    """
    was_training = discriminator.training
    discriminator.eval()
    try:
        fake = generate_images(generator, z)
        logits = discriminator(fake)
        from_d = flat_gradient(bce_with_logits(logits, FAKE), generator)  # L_D's fake term: G's share of it
        from_g = flat_gradient(ns_g_loss(logits), generator)
        cosine = float(torch.nn.functional.cosine_similarity(from_d.double(), from_g.double(), dim=0))
        before = float(torch.sigmoid(logits.detach()).mean())
        after = {}
        for name, gradient in (("d", from_d), ("g", from_g)):
            moved = copy.deepcopy(generator)
            with torch.no_grad():
                offset = 0
                for parameter in moved.parameters():
                    count = parameter.numel()
                    parameter -= step * gradient[offset:offset + count].view_as(parameter).sign()
                    offset += count
                after[name] = float(torch.sigmoid(discriminator(generate_images(moved, z))).mean())
        return {"cosine": cosine, "d_fake_before": before, "d_fake_after_d_gradient": after["d"],
                "d_fake_after_g_gradient": after["g"]}
    finally:
        discriminator.train(was_training)


def time_d_backward(generator, discriminator, real, z, detach: bool, repeats: int) -> float:
    """Median CPU seconds of G's forward + D's loss + its backward, with or without ``.detach()``.

    Process CPU time (``time.process_time``), not wall time: on a shared machine other jobs
    stretch the wall clock but not the work this process does.
    """
    times = []
    for _ in range(repeats + 1):
        _clear(generator, discriminator)
        started = time.process_time()
        d_step_backward(generator, discriminator, real, z, detach)
        times.append(time.process_time() - started)
    _clear(generator, discriminator)
    return statistics.median(times[1:])  # the first call warms up


def run(context: LabContext) -> LabResult:
    settings = context.pick(SETTINGS)
    out = context.out_dir
    config = context.config()
    torch.manual_seed(config.train.seed)
    generator, discriminator = build_models(config)  # the TP's G and D, at initialisation
    data = context.data(BATCH)
    real = data.as_float()[:BATCH]  # (128, 1, 28, 28)
    z = torch.randn(real.shape[0], config.model.latent_dim, generator=torch.Generator().manual_seed(context.seed))

    _clear(generator, discriminator)
    d_step_backward(generator, discriminator, real, z, detach=True)
    with_detach = gradient_report(generator)
    d_has_grads = all(p.grad is not None for p in discriminator.parameters())
    _clear(generator, discriminator)
    d_step_backward(generator, discriminator, real, z, detach=False)
    without_detach = gradient_report(generator)
    _clear(generator, discriminator)
    error = second_backward_error(generator, discriminator, real, z)
    direction = direction_facts(generator, discriminator, z)
    seconds_detach = time_d_backward(generator, discriminator, real, z, True, settings["repeats"])
    seconds_attached = time_d_backward(generator, discriminator, real, z, False, settings["repeats"])

    numbers = {
        "g_grads_none_with_detach": all(v is None for v in with_detach.values()),
        "d_grads_present_with_detach": d_has_grads,
        "g_grads_set_without_detach": all(v is not None and v > 0 for v in without_detach.values()),
        "g_grad_norm_from_d_loss": sum(v ** 2 for v in without_detach.values()) ** 0.5,
        "second_backward_error": error,
        **direction,
        "ms_d_step_with_detach": 1e3 * seconds_detach,
        "ms_d_step_without_detach": 1e3 * seconds_attached,
        "extra_fraction": seconds_attached / seconds_detach - 1.0,
        "batch": real.shape[0], "repeats": settings["repeats"], "threads": torch.get_num_threads(),
    }
    figures = [_plot(without_detach, numbers, out / "detach.png")]
    (out / "second_backward_error.txt").write_text((error or "no error was raised") + "\n")
    evidence = [
        f"With .detach(), D's backward left "
        f"{'all' if numbers['g_grads_none_with_detach'] else 'NOT all'} {len(with_detach)} of G's parameter "
        f"gradients empty (None) while D's were set; without it, D's loss wrote a gradient of norm "
        f"{fmt(numbers['g_grad_norm_from_d_loss'])} into G, pointing "
        f"{'against' if direction['cosine'] < 0 else 'along'} G's own (cosine {direction['cosine']:.3f}): "
        f"one Adam-like step along it moves mean D(G(z)) from {direction['d_fake_before']:.4f} to "
        f"{direction['d_fake_after_d_gradient']:.4f} (G's own gradient: "
        f"{direction['d_fake_after_g_gradient']:.4f}), "
        f"{'the way that helps D' if direction['d_fake_after_d_gradient'] < direction['d_fake_before'] else 'not the way that helps D'}.",
        (f"Re-using the fakes for G's step then fails: RuntimeError \"{_first_sentence(error)}\", "
         f"because that backward already freed G's saved activations." if error else
         "Re-using the fakes for G's step raised no error here (unexpected: see second_backward_error.txt)."),
        f"The useless backward through G costs {numbers['ms_d_step_with_detach']:.1f} → "
        f"{numbers['ms_d_step_without_detach']:.1f} ms of CPU time per D step (batch {real.shape[0]}, median of "
        f"{settings['repeats']}, {torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''}): "
        f"{100 * numbers['extra_fraction']:+.0f} %.",
    ]
    return LabResult(NAME, QUESTION, out, context.scale, evidence, numbers, figures).write()


def _first_sentence(message: str | None) -> str:
    if not message:
        return "(no error)"
    return message.split(".")[0].strip() + "."


def _plot(without_detach: dict[str, float], numbers: dict, path):
    figure, (left, right) = subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    names = list(without_detach)
    left.bar(range(len(names)), [without_detach[n] for n in names], color="C3",
             label="without .detach(): ‖∇ L_D‖ in G")
    left.scatter(range(len(names)), [0.0] * len(names), marker="x", color="C0", zorder=3,
                 label="with .detach(): grad is None")
    left.set_xticks(range(len(names)), [n.replace("model.", "") for n in names], rotation=60, fontsize=7)
    left.set_yscale("symlog", linthresh=1e-6); left.set_ylabel("gradient norm")
    left.set_title("what D's backward writes into G's parameters"); left.legend(fontsize=8)
    right.bar([0, 1], [numbers["ms_d_step_with_detach"], numbers["ms_d_step_without_detach"]],
              color=["C0", "C3"])
    right.set_xticks([0, 1], ["with .detach()", "without"])
    right.set_ylabel("CPU ms per D step (G forward + D loss + backward)")
    right.set_title(f"cost of the useless backward ({numbers['extra_fraction']:+.0%})")
    return save_figure(figure, path)
