"""``check_d_step``, ``check_g_step``, ``check_training``: the student's ``train_gan`` against TP III.

Each runs the function once through :func:`~gan_atelier.checks.recording.record_training`
(≈ 0.1 s on CPU) and compares what it did with closed forms. With ℓ a logit, σ the sigmoid and N
the batch size, the slopes of the TP's losses with respect to each logit are (Goodfellow et al.
2014, https://arxiv.org/abs/1406.2661, §3; the non-saturating G loss is their remedy):

* D's loss  L_D = BCE(ℓ_real, 1) + BCE(ℓ_fake, 0)      ∂L_D/∂ℓ_real = (σ(ℓ) − 1)/N, ∂L_D/∂ℓ_fake = σ(ℓ)/N
  (at ℓ = 0 it is 2 ln 2); swapped targets give σ/N and (σ − 1)/N, the mean of the two terms half.
* G's loss  L_G = BCE(ℓ_fake, 1) = −log σ(ℓ)          ∂L_G/∂ℓ = (σ(ℓ) − 1)/N;
  the saturating log(1 − σ(ℓ)) gives −σ(ℓ)/N, the FAKE target BCE(ℓ, 0) gives +σ(ℓ)/N.

Each check judges only its own part of the loop, so that one mistake is named once.
"""

from __future__ import annotations

import re

import torch

from .messages import say
from .recording import BATCHES, EPOCHS, Backward, Forward, OptimizerCall, Recording, record_training
from .report import CheckResult, finish

_NUMBER = r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_D_PRINTED = re.compile(r"D[ _]?loss\s*[:=]?\s*" + _NUMBER, re.IGNORECASE)
_G_PRINTED = re.compile(r"G[ _]?loss\s*[:=]?\s*" + _NUMBER, re.IGNORECASE)


def _close(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    return actual is not None and actual.shape == expected.shape and bool(
        torch.allclose(actual, expected, rtol=1e-3, atol=1e-6))


def _slopes(grad: torch.Tensor) -> str:
    return f"{(grad * grad.numel()).mean().item():+.3f}"


def _norm(grads: list[torch.Tensor | None]) -> float:
    return sum(float(g.pow(2).sum()) for g in grads if g is not None) ** 0.5


def _gap(held: list[torch.Tensor | None], expected: list[torch.Tensor | None]) -> float:
    """‖held − expected‖ / ‖expected‖ over all parameters (None counts as zeros)."""
    difference = sum(float(((h if h is not None else 0) - (e if e is not None else 0)).pow(2).sum())
                     for h, e in zip(held, expected) if h is not None or e is not None)
    return difference ** 0.5 / max(_norm(expected), 1e-12)


class _Batch:
    """One batch's events, read: D's outputs by source, the D loss and the G loss backward."""

    def __init__(self, recording: Recording, batch: int):
        self.recording, self.batch = recording, batch
        self.outputs = {i: e for i, e in recording.of(Forward, batch) if e.net == "D"}
        self.backwards = recording.of(Backward, batch)
        self.calls = recording.of(OptimizerCall, batch)

    def depends(self, backward: Backward, source: str) -> list[tuple[Forward, torch.Tensor]]:
        return [(self.outputs[i], g) for i, g in backward.output_grads.items()
                if g is not None and self.outputs[i].source == source]

    def d_loss(self) -> tuple[int, Backward] | None:
        return next(((i, b) for i, b in self.backwards if self.depends(b, "real")), None)

    def g_loss(self) -> tuple[int, Backward] | None:
        return next(((i, b) for i, b in self.backwards
                     if not self.depends(b, "real") and self.depends(b, "fake")), None)

    def step_after(self, net: str, index: int) -> tuple[int, OptimizerCall] | None:
        return next(((i, c) for i, c in self.calls if c.net == net and c.action == "step" and i > index), None)


def _run(train_gan, name: str, lang: str) -> tuple[Recording | None, CheckResult]:
    result = CheckResult(name, lang, say(f"ok_{name.removeprefix('check_')}", lang))
    if not callable(train_gan):
        result.mistakes.append(say("not_callable", lang, name=type(train_gan).__name__))
        return None, result
    recording = record_training(train_gan)
    if isinstance(recording.error, NotImplementedError):
        result.mistakes.append(say("todo", lang, error=str(recording.error) or "NotImplementedError"))
        return None, result
    return recording, result


def _crash(recording: Recording, where: str, lang: str) -> str:
    error = recording.error
    return say("crashed", lang, error=f"{type(error).__name__}: {error}".splitlines()[0],
               line=recording.error_line or "?", where=say(where, lang))


def _missing(recording: Recording, net: str, what: str, lang: str) -> str:
    """Why a loss or a step of ``net`` ("d" or "g") is absent: the run crashed, or it is not written."""
    return _crash(recording, f"where_{net}", lang) if recording.error else say(f"{net}_no_{what}", lang)


def _losses(recording: Recording, net: str, found: dict[str, str], lang: str):
    """(batch, event index, Backward) of D's or G's loss on each of the first epoch's batches."""
    for index in range(1, BATCHES + 1):
        batch = _Batch(recording, index)
        loss = batch.d_loss() if net == "d" else batch.g_loss()
        if loss is None:
            found.setdefault("loss", _missing(recording, net, "loss", lang))
            return
        yield (batch, *loss)


def _d_loss_mistake(batch: _Batch, backward: Backward, lang: str) -> str | None:
    fakes = batch.depends(backward, "fake")
    if not fakes:
        return say("d_no_fake", lang)
    (real, g_real), (fake, g_fake) = batch.depends(backward, "real")[0], fakes[0]
    s_real, s_fake = torch.sigmoid(real.output.detach()), torch.sigmoid(fake.output.detach())
    n_real, n_fake = s_real.numel(), s_fake.numel()
    expected_real, expected_fake = (s_real - 1) / n_real, s_fake / n_fake
    if _close(g_real, expected_real) and _close(g_fake, expected_fake):
        return None
    if _close(g_real, s_real / n_real) and _close(g_fake, (s_fake - 1) / n_fake):
        return say("d_swapped", lang)
    if _close(g_real, expected_real / 2) and _close(g_fake, expected_fake / 2):
        return say("d_halved", lang)
    return say("d_wrong_loss", lang, measured=f"({_slopes(g_real)}, {_slopes(g_fake)})",
               expected=f"({_slopes(expected_real)}, {_slopes(expected_fake)})")


def check_d_step(train_gan, *, lang: str = "fr", raise_on_failure: bool = True) -> CheckResult:
    """D's step in the student's ``train_gan`` (TP III, step 1), on each of the first epoch's batches.

    Checks: a backpropagated loss depends on D(real images) and on D(fakes), with the slopes of
    BCE(real, 1) + BCE(fake, 0) (targets not swapped, terms added: 2 ln 2 at zero logits); it sends
    no gradient into G (``.detach()``); ``D_optimizer.step()`` follows, holding exactly ∇L_D (so
    the gradients were zeroed before the backward).
    """
    recording, result = _run(train_gan, "check_d_step", lang)
    if recording is None:
        return finish(result, raise_on_failure)
    found: dict[str, str] = {}
    for batch, position, backward in _losses(recording, "d", found, lang):
        mistake = _d_loss_mistake(batch, backward, lang)
        if mistake:
            found.setdefault("loss", mistake)
        if _norm(backward.generator_grads) > 0:
            found.setdefault("detach", say("d_no_detach", lang, norm=_norm(backward.generator_grads)))
        step = batch.step_after("D", position)
        if step is None:
            found.setdefault("step", _missing(recording, "d", "step", lang))
            continue
        gap = _gap(step[1].grads, backward.discriminator_grads)
        if gap > 1e-4:
            found.setdefault("zero_grad", say("d_no_zero_grad", lang, gap=gap))
    result.mistakes += list(found.values())
    return finish(result, raise_on_failure)


def _g_loss_mistake(batch: _Batch, backward: Backward, lang: str) -> str | None:
    fake, grad = batch.depends(backward, "fake")[0]
    s = torch.sigmoid(fake.output.detach())
    n = s.numel()
    expected = (s - 1) / n
    if _close(grad, expected):
        return None
    if _close(grad, -s / n):
        return say("g_saturating", lang, measured=_slopes(grad), expected=_slopes(expected))
    if _close(grad, s / n):
        return say("g_fake_target", lang)
    return say("g_wrong_loss", lang, measured=_slopes(grad), expected=_slopes(expected))


def check_g_step(train_gan, *, lang: str = "fr", raise_on_failure: bool = True) -> CheckResult:
    """G's step in the student's ``train_gan`` (TP III, step 2), on each of the first epoch's batches.

    Checks: a backpropagated loss depends on D(fakes) and not on real images, with the slope of the
    non-saturating −log σ(ℓ) (told apart from the saturating log(1 − σ(ℓ)) and from the FAKE
    target); it reaches G's weights (fakes not detached); ``G_optimizer.step()`` follows, holding
    exactly ∇L_G (zeroed before); and D is not stepped after G's backward.
    """
    recording, result = _run(train_gan, "check_g_step", lang)
    if recording is None:
        return finish(result, raise_on_failure)
    found: dict[str, str] = {}
    for batch, position, backward in _losses(recording, "g", found, lang):
        mistake = _g_loss_mistake(batch, backward, lang)
        if mistake:
            found.setdefault("loss", mistake)
        if _norm(backward.generator_grads) == 0:
            found.setdefault("attached", say("g_detached", lang))
        step = batch.step_after("G", position)
        if step is None:
            found.setdefault("step", _missing(recording, "g", "step", lang))
        elif _gap(step[1].grads, backward.generator_grads) > 1e-4:
            found.setdefault("zero_grad", say("g_no_zero_grad", lang,
                                              gap=_gap(step[1].grads, backward.generator_grads)))
        d_step = batch.step_after("D", position)
        d_losses_between = d_step and [i for i, b in batch.backwards
                                       if position < i < d_step[0] and batch.depends(b, "real")]
        if d_step and not d_losses_between:
            found.setdefault("d_stepped", say("g_d_stepped", lang))
    result.mistakes += list(found.values())
    return finish(result, raise_on_failure)


def _order_mistake(recording: Recording, lang: str) -> str | None:
    for index in range(1, recording.batch + 1):
        steps = [c.net for _, c in recording.of(OptimizerCall, index) if c.action == "step"]
        if "D" in steps and "G" in steps and steps.index("G") < steps.index("D"):
            return say("t_order", lang, batch=index, order=" → ".join(steps))
    return None


def _means_mistake(recording: Recording, lang: str) -> str | None:
    printed = [(float(d.group(1)), float(g.group(1))) for line in recording.printed
               if (d := _D_PRINTED.search(line)) and (g := _G_PRINTED.search(line))]
    if not printed:
        return say("t_no_print", lang)
    for epoch, (printed_d, printed_g) in enumerate(printed, start=1):
        batches = [_Batch(recording, b) for b in range((epoch - 1) * BATCHES + 1, epoch * BATCHES + 1)]
        d_losses = [b.d_loss() for b in batches]
        g_losses = [b.g_loss() for b in batches]
        for which, shown, losses in (("D Loss", printed_d, d_losses), ("G Loss", printed_g, g_losses)):
            if any(loss is None for loss in losses):
                continue  # a missing step: check_d_step / check_g_step name it
            expected = sum(loss[1].value for loss in losses) / len(losses)
            if abs(shown - expected) > 6e-4 + 1e-3 * abs(expected):
                return say("t_means", lang, epoch=epoch, which=which, printed=shown, expected=expected)
    return None


def _fixed_noise_mistake(recording: Recording, lang: str) -> str | None:
    grids = [(e.batch, e.inputs) for _, e in recording.of(Forward)
             if e.net == "G" and (not e.grad_enabled or not e.training) and len(e.inputs) == 64]
    if not grids:
        return say("t_no_grid", lang, epochs=EPOCHS)
    first = grids[0][1]
    if any(not torch.equal(noise, first) for _, noise in grids[1:]):
        epochs = ", ".join(str(-(-batch // BATCHES)) for batch, _ in grids)
        return say("t_fixed_noise", lang, epochs=epochs)
    if not torch.equal(first.cpu(), recording.fixed_noise):
        return say("t_not_global", lang)
    return None


def check_training(train_gan, *, lang: str = "fr", raise_on_failure: bool = True) -> CheckResult:
    """The loop around the two steps (TP III, steps 3-4): epochs, order, per-epoch means, fixed noise.

    Checks: the data are gone over ``epochs`` times; on every batch D's step comes before G's; the
    printed ``D Loss``/``G Loss`` of each epoch are the means of that epoch's batch losses (sum of
    ``.item()`` divided by ``len(dataloader)``); every grid is drawn from the same fixed noise, the
    one defined before training.
    """
    recording, result = _run(train_gan, "check_training", lang)
    if recording is None:
        return finish(result, raise_on_failure)
    if recording.error is not None:
        result.mistakes.append(_crash(recording, "where_run", lang))
        return finish(result, raise_on_failure)
    if recording.passes != EPOCHS:
        result.mistakes.append(say("t_epochs", lang, passes=recording.passes, epochs=EPOCHS))
    for mistake in (_order_mistake(recording, lang), _means_mistake(recording, lang),
                    _fixed_noise_mistake(recording, lang)):
        if mistake:
            result.mistakes.append(mistake)
    return finish(result, raise_on_failure)
