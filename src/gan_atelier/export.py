"""Export a trained generator as ``safetensors``: weights only, loadable without pickle.

The resolved config travels in the file's metadata as a JSON string, so the generator can be
rebuilt without trusting any pickled object.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import config as cfg
from .checkpoint import atomic_write_bytes, load_error_summary
from .errors import CheckpointError
from .models import build_models


def export_generator(run: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    from safetensors.torch import save

    from .api import load_generator

    generator = load_generator(run)
    run = Path(run)
    out = Path(out) if out else (run if run.is_dir() else run.parent) / "generator.safetensors"
    tensors = {name: tensor.detach().contiguous() for name, tensor in generator.state_dict().items()}
    metadata = {"format": "gan-atelier-generator", "config": json.dumps(cfg.to_dict(generator.run_config))}
    blob = save(tensors, metadata=metadata)
    atomic_write_bytes(out, lambda file: file.write(blob))
    return out


def load_safetensors_generator(path: str | os.PathLike, device: str = "cpu"):
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as file:
            metadata = file.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None
    if metadata.get("format") != "gan-atelier-generator":
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
