"""Run a student's ``train_gan`` on tiny synthetic data and record what it does, step by step.

``record_training(train_gan)`` calls the function with the TP's signature
``train_gan(G, D, G_optimizer, D_optimizer, criterion, dataloader, epochs, latent_dim, device)``
on two batches of eight random 28×28 images for ten epochs (two fixed-noise grids, at epochs 5
and 10), with the checker's own tiny G and D (one hidden layer of 16 units, the TP's output layers),
so that a mistake in the student's G or D cannot show up as a mistake of the loop. It records:

* every forward pass of G and D (D's input tagged ``real`` when it is the batch's images, ``fake``
  when it shares storage with an output of G);
* every ``backward()`` with, computed *before* the gradients are applied, the loss's gradient with
  respect to each of D's outputs so far in the batch and to every parameter of G and D (the graph
  is retained so that this can be done, and so that a missing ``.detach()`` does not stop the run);
* every ``zero_grad()`` and ``step()`` of the two optimizers, with the gradients held at ``step``;
* what the loop prints (``tqdm.write`` or ``print``).

The TP's loop reads ``image_size``, ``fixed_noise``, ``show_grid``, ``make_grid``, ``trange`` and
``tqdm`` from the notebook's (or script's) globals: they are replaced while the function runs and
restored afterwards. Torch's random state is restored too.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field

import torch
from torch import nn

IMAGE_SIZE = 28 * 28
LATENT_DIM = 8
HIDDEN = 16
BATCH_SIZE = 8
BATCHES = 2
EPOCHS = 10
GRID_SIZE = 64
D_INITIAL_BIAS = -1.5  # D(·) ≈ σ(−1.5) ≈ 0.18 at first: the saturating and non-saturating slopes differ


@dataclass
class Forward:
    net: str            # "G" or "D"
    batch: int          # 1-based index of the batch over the whole run (0: before the first batch)
    inputs: torch.Tensor
    output: torch.Tensor
    grad_enabled: bool
    training: bool
    source: str = ""    # D only: "real", "fake" or "other"


@dataclass
class Backward:
    batch: int
    value: float
    output_grads: dict[int, torch.Tensor | None]   # index of a D Forward in Recording.events → ∂loss/∂output
    generator_grads: list[torch.Tensor | None]
    discriminator_grads: list[torch.Tensor | None]


@dataclass
class OptimizerCall:
    net: str
    batch: int
    action: str                                     # "zero_grad" or "step"
    grads: list[torch.Tensor | None] = field(default_factory=list)


@dataclass
class Recording:
    generator: nn.Module
    discriminator: nn.Module
    fixed_noise: torch.Tensor
    batches: list[torch.Tensor]
    events: list = field(default_factory=list)
    batch: int = 0
    passes: int = 0
    printed: list[str] = field(default_factory=list)
    grids: int = 0
    error: BaseException | None = None
    error_line: int | None = None
    fake_storages: set[int] = field(default_factory=set)

    def of(self, kind: type, batch: int | None = None) -> list[tuple[int, object]]:
        """(index, event) pairs of one kind, optionally in one batch."""
        return [(i, e) for i, e in enumerate(self.events)
                if isinstance(e, kind) and (batch is None or e.batch == batch)]


def _storage(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


def tiny_models(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """The checker's G (8 → 16 → 784, Sigmoid) and D (784 → 16 → 1, logits, last bias −1.5)."""
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(LATENT_DIM, HIDDEN), nn.LeakyReLU(0.2),
                              nn.Linear(HIDDEN, IMAGE_SIZE), nn.Sigmoid())
    discriminator = nn.Sequential(nn.Linear(IMAGE_SIZE, HIDDEN), nn.LeakyReLU(0.2), nn.Linear(HIDDEN, 1))
    with torch.no_grad():
        discriminator[-1].bias.fill_(D_INITIAL_BIAS)
    return generator, discriminator


class _Loader:
    """A DataLoader stand-in: ``len()`` batches of (images (B, 1, 28, 28), labels (B,))."""

    def __init__(self, recording: Recording):
        self.recording = recording

    def __len__(self) -> int:
        return len(self.recording.batches)

    def __iter__(self):
        self.recording.passes += 1
        for images in self.recording.batches:
            self.recording.batch += 1
            yield images, torch.zeros(len(images), dtype=torch.long)


class _Optimizer:
    """Stands for the TP's Adam: plain gradient steps (lr 2e-4), recording zero_grad and step.

    The checks need the order of the calls and the gradients held at ``step``, not Adam itself;
    plain steps also avoid the one-off ≈ 1.7 s that a first ``torch.optim`` step costs in a process.
    """

    def __init__(self, net: str, module: nn.Module, recording: Recording, lr: float = 2e-4):
        self._net, self._module, self._recording = net, module, recording
        self.param_groups = [{"params": list(module.parameters()), "lr": lr}]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self._recording.events.append(OptimizerCall(self._net, self._recording.batch, "zero_grad"))
        for parameter in self.param_groups[0]["params"]:
            if set_to_none:
                parameter.grad = None
            elif parameter.grad is not None:
                parameter.grad.zero_()

    @torch.no_grad()
    def step(self, closure=None):
        grads = [None if p.grad is None else p.grad.detach().clone() for p in self._module.parameters()]
        self._recording.events.append(OptimizerCall(self._net, self._recording.batch, "step", grads))
        for parameter in self.param_groups[0]["params"]:
            if parameter.grad is not None:
                parameter.add_(parameter.grad, alpha=-self.param_groups[0]["lr"])


class _Progress:
    """Stands for tqdm: iterable pass-through and ``tqdm.write`` recorded."""

    def __init__(self, recording: Recording):
        self.recording = recording

    def __call__(self, iterable=None, *args, **kwargs):
        return iterable

    def write(self, text, *args, **kwargs) -> None:
        self.recording.printed.append(str(text))


def _hooks(recording: Recording):
    def generator_hook(module, inputs, output):
        recording.fake_storages.add(_storage(output))
        recording.events.append(Forward("G", recording.batch, inputs[0].detach(), output,
                                        torch.is_grad_enabled(), module.training))

    def discriminator_hook(module, inputs, output):
        images = inputs[0]
        real = recording.batches[(recording.batch - 1) % len(recording.batches)] if recording.batch else None
        if _storage(images) in recording.fake_storages:
            source = "fake"
        elif real is not None and images.numel() == real.numel() and torch.equal(images.reshape(-1), real.reshape(-1)):
            source = "real"
        else:
            source = "other"
        recording.events.append(Forward("D", recording.batch, images.detach(), output,
                                        torch.is_grad_enabled(), module.training, source))

    return generator_hook, discriminator_hook


def _patched_backward(recording: Recording, original):
    def backward(loss, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        outputs = [(i, e.output) for i, e in recording.of(Forward, recording.batch)
                   if e.net == "D" and e.output.requires_grad]
        g_params = list(recording.generator.parameters())
        d_params = list(recording.discriminator.parameters())
        targets = [o for _, o in outputs] + g_params + d_params
        if loss.requires_grad and loss.numel() == 1:
            grads = torch.autograd.grad(loss, targets, retain_graph=True, allow_unused=True)
        else:
            grads = [None] * len(targets)
        n_out, n_g = len(outputs), len(g_params)
        recording.events.append(Backward(
            recording.batch, float(loss.detach().sum()),
            {i: g for (i, _), g in zip(outputs, grads[:n_out])},
            list(grads[n_out:n_out + n_g]), list(grads[n_out + n_g:])))
        # retain_graph=True: a missing .detach() must not stop the run before G's step is seen.
        return original(loss, gradient, True, create_graph, inputs)

    return backward


@contextlib.contextmanager
def _student_globals(namespace: dict, values: dict):
    missing = object()
    saved = {name: namespace.get(name, missing) for name in values}
    namespace.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def _error_line(error: BaseException, function) -> int | None:
    line, traceback = None, error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == function.__code__.co_filename:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def record_training(train_gan, seed: int = 0) -> Recording:
    """Run ``train_gan`` (the TP's signature) on the tiny setup and return what it did."""
    with torch.random.fork_rng():
        generator, discriminator = tiny_models(seed)
        batches = [torch.rand(BATCH_SIZE, 1, 28, 28) for _ in range(BATCHES)]
        fixed_noise = torch.randn(GRID_SIZE, LATENT_DIM)
        recording = Recording(generator, discriminator, fixed_noise, batches)
        generator_hook, discriminator_hook = _hooks(recording)
        handles = [generator.register_forward_hook(generator_hook),
                   discriminator.register_forward_hook(discriminator_hook)]
        progress = _Progress(recording)

        def show_grid(*args, **kwargs):
            recording.grids += 1

        replacements = {"image_size": IMAGE_SIZE, "fixed_noise": fixed_noise, "show_grid": show_grid,
                        "make_grid": lambda images, *args, **kwargs: images,
                        "trange": lambda n, *args, **kwargs: range(n), "tqdm": progress}
        original_backward = torch.Tensor.backward
        stdout = io.StringIO()
        try:
            torch.Tensor.backward = _patched_backward(recording, original_backward)
            with _student_globals(train_gan.__globals__, replacements), contextlib.redirect_stdout(stdout):
                train_gan(generator, discriminator, _Optimizer("G", generator, recording),
                          _Optimizer("D", discriminator, recording), nn.BCEWithLogitsLoss(), _Loader(recording),
                          EPOCHS, LATENT_DIM, torch.device("cpu"))
        except Exception as error:  # the student's code: every error is reported, none is ours
            recording.error, recording.error_line = error, _error_line(error, train_gan)
        finally:
            torch.Tensor.backward = original_backward
            for handle in handles:
                handle.remove()
        recording.printed += stdout.getvalue().splitlines()
    return recording
