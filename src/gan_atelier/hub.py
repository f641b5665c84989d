"""Hugging Face model folders: ``gan-atelier export RUN --hub DIR`` and loading them back.

A model folder is what huggingface_hub's :class:`~huggingface_hub.PyTorchModelHubMixin` writes
with ``save_pretrained`` and reads with ``from_pretrained``::

    DIR/model.safetensors   the generator's weights (no pickle)
    DIR/config.json         {"format": "gan-atelier-generator", "run_config": {...}}: rebuilds the module
    DIR/README.md           the model card: what was trained, on what data (SHA-256), metrics, grid,
                            license, the three lines that load it
    DIR/grid.png            the run's final fixed-noise grid, shown by the card

Written by :func:`gan_atelier.inference.export_hub`, read by :func:`load_hub_generator` (which
``gan_atelier.inference.load_generator`` calls for such a folder). The folder can be pushed to the Hub as is; here everything stays offline (``HF_HUB_OFFLINE=1``
works, a local folder never touches the network). huggingface_hub is an optional extra
(``pip install gan-atelier[hub]``), imported only here.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import config as cfg
from .errors import CheckpointError, ConfigError, RunDirError, WriteError
from .models import build_models, generate_images

FORMAT = "gan-atelier-generator"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
LICENSE = "mit"  # the project's license; Fashion-MNIST itself is MIT-licensed too

try:
    from huggingface_hub import ModelCard, PyTorchModelHubMixin
except ImportError:  # the optional extra is not installed: the rest of the package works without it
    PyTorchModelHubMixin = None


def _require_hub() -> None:
    if PyTorchModelHubMixin is None:
        raise ConfigError("Hugging Face model folders need huggingface_hub: pip install 'gan-atelier[hub]'")


def is_model_folder(path: str | os.PathLike) -> bool:
    """A folder holding ``config.json`` and ``model.safetensors`` (a model folder, maybe not ours)."""
    path = Path(path)
    return path.is_dir() and (path / CONFIG).is_file() and (path / WEIGHTS).is_file()


if PyTorchModelHubMixin is not None:
    class HubGenerator(nn.Module, PyTorchModelHubMixin, library_name="gan-atelier", license=LICENSE,
                       tags=["gan", "fashion-mnist", "image-generation"]):
        """A trained generator as a Hugging Face model: ``HubGenerator.from_pretrained(DIR)``.

        Wraps the generator that ``build_models(run_config)`` builds (its weights under
        ``generator.``); ``gan_atelier.sample(HubGenerator.from_pretrained(DIR), 64)`` draws
        images ``(64, 1, 28, 28)`` in [0, 1], the same as ``load_generator`` on the run.
        """

        def __init__(self, run_config: dict[str, Any], format: str = FORMAT):
            super().__init__()
            if format != FORMAT:
                raise CheckpointError(f"config.json is a {format!r} model, not a {FORMAT}")
            config = cfg.from_dict(run_config)
            self.generator, _ = build_models(config)
            self.run_config = config
            self.latent_dim = config.model.latent_dim
            self.conditional = bool(self.generator.conditional)

        def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
            return generate_images(self.generator, z, labels)  # (B, 1, 28, 28) in [0, 1]

        def generate_model_card(self, *args, card_text: str = "", **kwargs) -> "ModelCard":
            return ModelCard(card_text) if card_text else super().generate_model_card(*args, **kwargs)
else:
    HubGenerator = None


def write_model_folder(generator: nn.Module, run_dir: Path, out: Path) -> Path:
    """Write ``generator`` (with its ``.run_config``, as ``load_generator`` returns it) as a model folder,
    its card read from ``run_dir``'s files (:func:`gan_atelier.inference.export_hub` is the entry point).

    ``out`` must not exist or be empty; the folder is written beside it and renamed into place.
    """
    _require_hub()
    from .hub_card import model_card

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirError(f"{out} already exists and is not an empty folder; choose another --hub folder")
    hub_generator = HubGenerator(run_config=cfg.to_dict(generator.run_config))
    hub_generator.generator.load_state_dict(generator.state_dict())
    staging = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        grid = run_dir / "samples" / "final.png"
        staging.mkdir(parents=True)
        if grid.is_file():
            shutil.copyfile(grid, staging / "grid.png")
        card = model_card(run_dir, generator.run_config, out.name, has_grid=grid.is_file())
        hub_generator.save_pretrained(staging, model_card_kwargs={"card_text": card})
        if out.is_dir():
            out.rmdir()
        os.replace(staging, out)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise WriteError(f"could not write the model folder {out}: {error.strerror or error}") from None
    return out


def load_hub_generator(path: str | os.PathLike, *, device: str = "cpu") -> nn.Module:
    """The generator of a model folder, in eval mode with ``.run_config`` (what ``load_generator`` returns).

    A folder that is not a gan-atelier model folder, or whose files are damaged, raises
    :class:`CheckpointError` in one line.
    """
    _require_hub()
    path = Path(path)
    if not is_model_folder(path):
        raise CheckpointError(f"{path}: not a model folder (needs {CONFIG} and {WEIGHTS})")
    try:
        config = json.loads((path / CONFIG).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path / CONFIG}: not readable JSON ({type(error).__name__})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT or "run_config" not in config:
        raise CheckpointError(f"{path}: a model folder, but not a gan-atelier generator (config.json has "
                              f"no \"format\": \"{FORMAT}\")")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the mixin prints "Loading weights from local directory"
            hub_generator = HubGenerator.from_pretrained(path, strict=True, map_location=device)
    except (ConfigError, CheckpointError) as error:
        raise CheckpointError(f"{path}: {str(error).splitlines()[0]}") from None
    except Exception as error:  # safetensors' header errors, missing or misshapen tensors
        summary = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise CheckpointError(f"{path}: its weights do not load into the generator its config.json "
                              f"describes ({type(error).__name__}: {summary})") from None
    generator = hub_generator.generator
    generator.run_config = hub_generator.run_config
    return generator.to(device).eval()
