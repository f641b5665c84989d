"""``check_generator`` and ``check_discriminator``: the student's G and D against TP 2.2 and 2.3.

Both accept the class (built with the TP's sizes, ``Generator(100, 784)``, ``Discriminator(784)``)
or an instance. They run a few forward passes on random inputs in well under a second on CPU.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .messages import say
from .report import CheckResult, finish

TP_LATENT_DIM = 100
TP_IMAGE_SIZE = 28 * 28
# Linear layer sizes of the TP (section 2.2 and 2.3), and the parameter counts they give:
# sum over layers of (inputs × outputs + outputs).
TP_GENERATOR_SIZES = (TP_LATENT_DIM, 256, 512, 1024, TP_IMAGE_SIZE)
TP_DISCRIMINATOR_SIZES = (TP_IMAGE_SIZE, 1024, 512, 256, 1)


def mlp_parameter_count(sizes: tuple[int, ...]) -> int:
    """Parameters of a stack of ``nn.Linear`` with these sizes: Σ (n_in · n_out + n_out)."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def _build(model, arguments: tuple, key: str, lang: str) -> tuple[nn.Module | None, list[str]]:
    if isinstance(model, nn.Module):
        return model, []
    try:
        return model(*arguments), []
    except NotImplementedError as error:  # a TODO of the student edition, not written yet
        return None, [say("todo_model", lang, name=getattr(model, "__name__", "?"), error=error)]
    except Exception as error:  # the student's constructor: any error is theirs to read
        return None, [say(key, lang, error=f"{type(error).__name__}: {error}")]


def _first_linear(module: nn.Module) -> nn.Linear | None:
    return next((m for m in module.modules() if isinstance(m, nn.Linear)), None)


def _last_linear(module: nn.Module) -> nn.Linear | None:
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def check_generator(generator, *, lang: str = "fr", raise_on_failure: bool = True) -> CheckResult:
    """The TP's generator: z (N, latent_dim) → images (N, 784) in [0, 1], 1,486,352 parameters.

    The [0, 1] range is what the final ``nn.Sigmoid`` guarantees and what real images have
    (``ToTensor``); it is probed with noise of standard deviation 3 so that a network without the
    Sigmoid shows values outside it. The parameter count is compared only when G has the TP's sizes
    (``latent_dim`` 100, ``img_dim`` 784).
    """
    model, mistakes = _build(generator, (TP_LATENT_DIM, TP_IMAGE_SIZE), "g_build", lang)
    result = CheckResult("check_generator", lang, "", mistakes)
    if model is None:
        return finish(result, raise_on_failure)
    first = _first_linear(model)
    latent_dim = first.in_features if first is not None else TP_LATENT_DIM
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        was_training = model.training
        model.eval()
        z = 3.0 * torch.randn(256, latent_dim)
        try:
            images = model(z)
        finally:
            model.train(was_training)
    if tuple(images.shape) != (256, TP_IMAGE_SIZE):
        result.mistakes.append(say("g_shape", lang, shape=tuple(images.shape), z_shape=tuple(z.shape),
                                   n=256, image_size=TP_IMAGE_SIZE))
    low, high = images.min().item(), images.max().item()
    if low < 0.0 or high > 1.0:
        result.mistakes.append(say("g_range", lang, low=low, high=high))
    count = _count(model)
    expected = mlp_parameter_count(TP_GENERATOR_SIZES)
    if latent_dim == TP_LATENT_DIM and count != expected:
        result.mistakes.append(say("g_params", lang, count=count, expected=expected,
                                   sizes=" → ".join(map(str, TP_GENERATOR_SIZES))))
    result.summary = say("ok_generator", lang, count=count)
    return finish(result, raise_on_failure)


def check_discriminator(discriminator, *, lang: str = "fr", raise_on_failure: bool = True) -> CheckResult:
    """The TP's discriminator: images (N, 784) → logits (N, 1), no Sigmoid, 1,460,225 parameters.

    A logit is unbounded; ``BCEWithLogitsLoss`` applies σ itself, so a final Sigmoid would make the
    loss compare σ(σ(ℓ)) with the target: gradients shrink and D(x) can never pass σ(1) ≈ 0.73. The test adds
    +20 to the bias of D's last Linear (on a copy): a logit output then exceeds 1, a probability cannot.
    """
    model, mistakes = _build(discriminator, (TP_IMAGE_SIZE,), "d_build", lang)
    result = CheckResult("check_discriminator", lang, "", mistakes)
    if model is None:
        return finish(result, raise_on_failure)
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        probe = copy.deepcopy(model).eval()
        images = torch.rand(64, TP_IMAGE_SIZE)
        scores = probe(images)
        if tuple(scores.shape) != (64, 1):
            result.mistakes.append(say("d_shape", lang, shape=tuple(scores.shape),
                                       x_shape=tuple(images.shape), n=64))
        last = _last_linear(probe)
        if last is not None and last.bias is not None:
            last.bias += 20.0
            shifted = probe(images)
            if shifted.min() >= 0.0 and shifted.max() <= 1.0:
                result.mistakes.append(say("d_sigmoid", lang))
    count = _count(model)
    expected = mlp_parameter_count(TP_DISCRIMINATOR_SIZES)
    if count != expected and _first_linear(model) is not None and _first_linear(model).in_features == TP_IMAGE_SIZE:
        result.mistakes.append(say("d_params", lang, count=count, expected=expected,
                                   sizes=" → ".join(map(str, TP_DISCRIMINATOR_SIZES))))
    result.summary = say("ok_discriminator", lang, count=count)
    return finish(result, raise_on_failure)
