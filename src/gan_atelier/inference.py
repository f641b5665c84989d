"""Using a trained generator: load it, sample from it, export it as ``safetensors``.

* :func:`load_generator` — from a run folder, a ``.pt`` checkpoint or a ``.safetensors`` export;
* :func:`sample` — ``n`` images ``(n, 1, 28, 28)`` in [0, 1] from seeded CPU noise;
* :func:`export_hub` — a Hugging Face model folder (:mod:`gan_atelier.hub`), which
  :func:`load_generator` reads back;
* :func:`write_generator` — the one ``safetensors`` layout (weights only, the resolved config as
  JSON in the metadata, so the generator is rebuilt without trusting any pickled object), used
  by ``gan-atelier export`` and by every sweep member; :func:`export_generator` wraps it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from . import config as cfg
from .checkpoint import find_latest, load_checkpoint, load_error_summary
from .config import RunConfig
from .errors import CheckpointError, ConfigError
from .files import atomic_write_bytes
from .models import build_models, generate_images
from .truncation import truncated_normal

EXPORT_FORMAT = "gan-atelier-generator"


def load_generator(path: str | os.PathLike, *, device: str = "cpu", ema: bool = True) -> nn.Module:
    """A trained generator in eval mode from a run folder, a ``.pt`` checkpoint, a ``.safetensors`` export
    or a Hugging Face model folder (``gan-atelier export RUN --hub DIR``, see :mod:`gan_atelier.hub`).

    The returned module carries ``.run_config`` (its :class:`RunConfig`).
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        return load_safetensors_generator(path, device=device)
    if path.is_dir() and (path / "config.json").is_file() and not (path / "checkpoints").is_dir():
        from .hub import load_hub_generator  # the optional huggingface_hub, imported only for such a folder

        return load_hub_generator(path, device=device)
    if path.is_dir():
        checkpoint = find_latest(path / "checkpoints") if (path / "checkpoints").is_dir() else find_latest(path)
        if checkpoint is None:
            raise CheckpointError(f"{path}: no checkpoint found (is it a run folder?)")
        path = checkpoint
    state = load_checkpoint(path)
    try:
        config = cfg.from_dict(state["config"])
        generator, _ = build_models(config)
        weights = state["ema_generator"] if ema and state.get("ema_generator") is not None else state["generator"]
        generator.load_state_dict(weights)
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its generator does not fit its config "
                              f"({type(error).__name__}: {load_error_summary(error)})") from None
    generator.run_config = config
    return generator.to(device).eval()


@torch.no_grad()
def sample(generator: nn.Module, n: int = 64, *, seed: int | None = 0, labels: torch.Tensor | int | None = None,
           batch_size: int = 1000, truncation: float | None = None) -> torch.Tensor:
    """``n`` images ``(n, 1, 28, 28)`` in [0, 1]. ``labels``: a class for all, or one per image (cGAN).

    ``truncation = T``: the truncation trick (BigGAN): every latent component with |z_k| > T is
    redrawn until none is (:func:`gan_atelier.truncation.truncated_normal`); None = N(0, I),
    the same draws as without the argument.
    """
    if truncation is not None and not (truncation > 0 and truncation != float("inf")):
        raise ConfigError(f"bad value {truncation} for truncation: must be a finite number > 0")
    device = next(generator.parameters()).device
    rng = torch.Generator().manual_seed(seed) if seed is not None else None
    if generator.conditional:
        if labels is None:
            labels = torch.arange(n) % 10
        elif isinstance(labels, int):
            labels = torch.full((n,), labels, dtype=torch.long)
    elif labels is not None:
        raise ConfigError("labels were given but this generator is not conditional")
    generator.eval()
    outputs = []
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        z = truncated_normal(count, generator.latent_dim, truncation, generator=rng).to(device)
        batch_labels = labels[start:start + count].to(device) if generator.conditional else None
        outputs.append(generate_images(generator, z, batch_labels).float().cpu())
    return torch.cat(outputs) if outputs else torch.empty(0, 1, 28, 28)


def write_generator(generator: nn.Module, config: RunConfig, path: str | os.PathLike) -> Path:
    """Write ``generator``'s weights and ``config`` as one ``safetensors`` file (atomically)."""
    from safetensors.torch import save

    tensors = {name: tensor.detach().contiguous() for name, tensor in generator.state_dict().items()}
    blob = save(tensors, metadata={"format": EXPORT_FORMAT, "config": json.dumps(cfg.to_dict(config))})
    path = Path(path)
    atomic_write_bytes(path, lambda file: file.write(blob))
    return path


def export_generator(run: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """``gan-atelier export``: a run's (EMA) generator as ``RUN/generator.safetensors`` (or ``out``)."""
    generator = load_generator(run)
    run = Path(run)
    out = Path(out) if out else (run if run.is_dir() else run.parent) / "generator.safetensors"
    return write_generator(generator, generator.run_config, out)


def export_hub(run: str | os.PathLike, out: str | os.PathLike) -> Path:
    """``gan-atelier export RUN --hub DIR``: the run's (EMA) generator as a Hugging Face model folder."""
    from .hub import write_model_folder  # the optional huggingface_hub, imported only here

    run = Path(run)
    run_dir = run if run.is_dir() else run.parent.parent  # RUN/checkpoints/step_*.pt → RUN
    return write_model_folder(load_generator(run), run_dir, Path(out))


def load_safetensors_generator(path: str | os.PathLike, device: str = "cpu") -> nn.Module:
    """Rebuild a generator from a :func:`write_generator` file (no pickle involved)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as file:
            metadata = file.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None
    if metadata.get("format") != EXPORT_FORMAT:
        raise CheckpointError(f"{path}: not a gan-atelier generator export")
    try:
        config = cfg.from_dict(json.loads(metadata["config"]))
    except (KeyError, ValueError, TypeError, AttributeError) as error:  # ConfigError is a ValueError
        raise CheckpointError(f"{path}: unreadable config in the file's metadata ({error})") from None
    generator, _ = build_models(config)
    try:
        generator.load_state_dict(tensors)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not fit the model ({load_error_summary(error)})") from None
    generator.run_config = config
    return generator.to(device).eval()
