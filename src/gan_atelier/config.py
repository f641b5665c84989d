"""Typed configuration: frozen dataclasses, named presets, TOML files and checked overrides.

Standard library only (``python -c "import gan_atelier.config"`` needs no torch). A run is described by one :class:`RunConfig` made of one dataclass per
concern. Presets are small named values built from the defaults; the defaults *are* the TP
(``seed`` preset). Overrides such as ``--set train.lr=1e-3`` are parsed against the field's
type, and an unknown section, key or bad value raises :class:`ConfigError` naming the valid
choices (no silent new keys: nanoGPT#64).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .config_checks import validate_recipe
from .presets import preset_values as _preset_values
from .errors import ConfigError
from .objectives import LOSSES  # the one list of loss names (torch-free)

DATASETS = ("fashion-mnist", "mnist")
MODELS = ("mlp", "dcgan", "cgan", "vae")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")
ON_NAN = ("stop", "skip")
D_NORMS = ("auto", "batch", "layer", "none")  # "auto": the loss's choice (objectives.discriminator_norm)
TENSORBOARD = ("auto", "true", "false")


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "fashion-mnist"  # one of DATASETS
    data_dir: str = ""  # "" = look it up (--data-dir, $GAN_ATELIER_DATA, Debian, cache)
    subset: int = 0  # use only the first N training images; 0 = all


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mlp"  # one of MODELS; "mlp" is the TP's G and D
    latent_dim: int = 100
    spectral_norm: bool = False  # on D's layers (not in the TP)
    d_norm: str = "auto"  # D's normalisation (dcgan, cgan), one of D_NORMS; "none" for R1/R2
    sync_batchnorm: bool = False  # data-parallel: BatchNorm statistics over the global batch (CUDA only)
    g_channels: int = 0  # base width of the convolutional G (dcgan, cgan); 0 = the model's default (32)
    d_channels: int = 0  # base width of the convolutional D (dcgan, cgan); 0 = the model's default (32)
    clusters: int = 0  # dcgan: self-conditioning on k-means pseudo-classes of the pixels (0 = off); see clusters.py


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    batch_size: int = 128
    lr: float = 2e-4  # both networks, unless lr_d / lr_g are set
    lr_d: float = 0.0  # 0 = use lr
    lr_g: float = 0.0  # 0 = use lr
    beta1: float = 0.5
    beta2: float = 0.999
    loss: str = "ns"  # one of LOSSES; "ns" is the TP's non-saturating BCE
    d_steps: int = 1  # D steps per G step (n_critic)
    gp_weight: float = 10.0  # lambda of the gradient penalty (wgan-gp only)
    label_smoothing: float = 0.0  # one-sided: real target 1 - s (0 = the TP)
    ema: float = 0.0  # decay of an EMA copy of G used for sampling (0 = off)
    ema_half_life: float = 0.0  # or: the EMA's half-life in images (0 = off); see schedules.ema_decay
    ema_ramp: float = 0.0  # half-life ramp-up: min(ema_half_life, ramp · images seen) (0 = no ramp)
    r1_gamma: float = 0.0  # zero-centred penalty (γ/2)·E‖∇D(x)‖² on real images (0 = off)
    r2_gamma: float = 0.0  # the same on generated images (0 = off)
    r_every: int = 1  # lazy R1/R2: applied every r_every D steps with γ × r_every
    gamma_end_ratio: float = 1.0  # cosine decay of γ to γ × ratio over the run (1 = constant)
    lr_end_ratio: float = 1.0  # cosine decay of both lrs to lr × ratio over the run (1 = constant)
    topk_end: float = 1.0  # top-k G loss (Sinha et al. 2020): fraction of fakes kept, cosine 1 → this (1 = off)
    ac_weight: float = 0.0  # auxiliary classifier on D's projection: λ·CE added to both losses (0 = off)
    seed: int = 0
    sample_every: int = 5  # epochs between fixed-noise grids
    checkpoint_every: int = 1  # epochs between checkpoints (0 = only at the end)
    checkpoint_every_steps: int = 0  # also every N optimizer steps (0 = off)
    eval_every: int = 0  # epochs between in-training metric evaluations (0 = off)
    eval_samples: int = 2000
    device: str = "auto"  # one of DEVICES
    precision: str = "fp32"  # one of PRECISIONS
    on_nan: str = "stop"  # one of ON_NAN
    max_nan_skips: int = 10  # with on_nan="skip": give up after this many in a row
    d_win_threshold: float = 0.05  # alarm: D loss below this ...
    d_win_epochs: int = 3  # ... for this many epochs in a row
    threads: int = 0  # torch.set_num_threads (0 = leave PyTorch's default)
    deterministic: bool = False


@dataclass(frozen=True)
class LogConfig:
    """What a run writes beside metrics.csv (nothing here changes what is trained)."""

    tensorboard: str = "auto"  # one of TENSORBOARD; "auto" = write an event file when tensorboard is installed
    every_steps: int = 50  # per-step losses in the event file every N optimizer steps (0 = off)
    image_scale: int = 4  # grids and GIF frames enlarged N times, nearest neighbour (1 = exact 28×28 tiles)


@dataclass(frozen=True)
class RunConfig:
    preset: str = "seed"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "log": LogConfig}
CHOICES = {
    ("data", "dataset"): DATASETS,
    ("model", "name"): MODELS,
    ("train", "loss"): LOSSES,
    ("train", "device"): DEVICES,
    ("train", "precision"): PRECISIONS,
    ("train", "on_nan"): ON_NAN,
    ("model", "d_norm"): D_NORMS,
    ("log", "tensorboard"): TENSORBOARD,
}
# Keys that may change when a run is resumed; the rest would silently change the experiment.
RESUMABLE_KEYS = {
    "train.epochs", "train.device", "train.sample_every", "train.checkpoint_every",
    "train.checkpoint_every_steps", "train.eval_every", "train.eval_samples", "train.threads",
    "data.data_dir", "log.tensorboard", "log.every_steps", "log.image_scale",
}


PRESETS = tuple(_preset_values())


def get_config(preset: str = "seed", overrides: dict[str, Any] | list[str] | None = None) -> RunConfig:
    """The config of a named preset, with overrides applied and checked.

    ``overrides`` is a mapping ``{"train.lr": 1e-3}`` or a list of ``"train.lr=1e-3"`` strings.
    """
    values = _preset_values()
    if preset not in values:
        raise ConfigError(f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    config = apply_overrides(RunConfig(preset=preset), values[preset])
    return apply_overrides(config, overrides or {})


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """``["train.lr=1e-3"]`` → ``{"train.lr": "1e-3"}`` (values still strings)."""
    parsed = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {assignment!r} is not of the form section.key=value")
        parsed[key.strip()] = value.strip()
    return parsed


def apply_overrides(config: RunConfig, overrides: dict[str, Any] | list[str]) -> RunConfig:
    """A new config with each ``section.key`` set, its value parsed and checked."""
    if isinstance(overrides, list):
        overrides = parse_assignments(overrides)
    sections = {name: getattr(config, name) for name in SECTIONS}
    for dotted, raw in overrides.items():
        section_name, key = _split_key(dotted)
        section = sections[section_name]
        field_type = {f.name: f.type for f in fields(section)}[key]
        value = _coerce(dotted, raw, field_type)
        sections[section_name] = replace(section, **{key: value})
    return validate(replace(config, **sections))


def _split_key(dotted: str) -> tuple[str, str]:
    section_name, sep, key = dotted.partition(".")
    if not sep or section_name not in SECTIONS:
        raise ConfigError(
            f"unknown config section in {dotted!r}; valid sections: {', '.join(SECTIONS)}"
        )
    valid = [f.name for f in fields(SECTIONS[section_name])]
    if key not in valid:
        raise ConfigError(
            f"unknown config key {dotted!r}; valid keys in [{section_name}]: {', '.join(valid)}"
        )
    return section_name, key


def _coerce(dotted: str, raw: Any, field_type: str) -> Any:
    """Parse ``raw`` (a string from the CLI, or a TOML value) as ``field_type``."""
    try:
        if field_type == "bool":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "on"):
                return True
            if isinstance(raw, str) and raw.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if field_type == "int":
            if isinstance(raw, bool) or isinstance(raw, float):
                raise ValueError
            return int(raw)
        if field_type == "float":
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            return value
        if field_type == "str":
            if isinstance(raw, bool) and dotted == "log.tensorboard":  # TOML: tensorboard = true
                return "true" if raw else "false"
            if not isinstance(raw, str):
                raise ValueError
            return raw
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"bad value {raw!r} for {dotted}: expected {field_type}")


def validate(config: RunConfig) -> RunConfig:
    """Check choices and ranges; return the config unchanged or raise ConfigError."""
    for (section_name, key), choices in CHOICES.items():
        value = getattr(getattr(config, section_name), key)
        if value not in choices:
            raise ConfigError(
                f"bad value {value!r} for {section_name}.{key}; valid choices: {', '.join(choices)}"
            )
    t = config.train
    positive = {"train.epochs": t.epochs, "train.batch_size": t.batch_size,
                "train.sample_every": t.sample_every, "train.d_steps": t.d_steps,
                "model.latent_dim": config.model.latent_dim, "train.eval_samples": t.eval_samples,
                "train.max_nan_skips": t.max_nan_skips, "train.d_win_epochs": t.d_win_epochs,
                "log.image_scale": config.log.image_scale}
    non_negative = {"data.subset": config.data.subset, "train.lr_d": t.lr_d, "train.lr_g": t.lr_g,
                    "train.checkpoint_every": t.checkpoint_every,
                    "train.checkpoint_every_steps": t.checkpoint_every_steps,
                    "train.eval_every": t.eval_every, "train.threads": t.threads,
                    "train.gp_weight": t.gp_weight, "train.seed": t.seed,
                    "log.every_steps": config.log.every_steps}
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"bad value {value!r} for {key}: must be > 0")
    for key, value in non_negative.items():
        if value < 0:
            raise ConfigError(f"bad value {value!r} for {key}: must be >= 0")
    if t.lr <= 0:
        raise ConfigError(f"bad value {t.lr!r} for train.lr: must be > 0")
    for key, value in {"train.beta1": t.beta1, "train.beta2": t.beta2, "train.ema": t.ema,
                       "train.label_smoothing": t.label_smoothing}.items():
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"bad value {value!r} for {key}: must be in [0, 1)")
    if config.model.name == "vae" and t.loss != "ns":
        raise ConfigError("train.loss does not apply to model.name='vae' (it has its own ELBO loss)")
    validate_recipe(config)  # the modern recipe's keys (config_checks.py)
    return config


def to_dict(config: RunConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def _split_sections(values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``{"preset": p, "train": {"lr": x}}`` → ``(p, {"train.lr": x})``, checking names and shapes."""
    values = dict(values)
    preset = values.pop("preset", "seed")
    if not isinstance(preset, str):
        raise ConfigError(f"bad value {preset!r} for preset: expected str")
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    flat: dict[str, Any] = {}
    for section_name, section_values in values.items():
        if section_name not in SECTIONS or not isinstance(section_values, dict):
            raise ConfigError(
                f"unknown config section {section_name!r} (sections are [tables]); valid sections: "
                f"preset, {', '.join(SECTIONS)}"
            )
        for key, value in section_values.items():
            flat[f"{section_name}.{key}"] = value
    return preset, flat


def from_dict(values: dict[str, Any]) -> RunConfig:
    """Rebuild a config from :func:`to_dict` output (complete: every key given), checking every key."""
    preset, flat = _split_sections(values)
    return apply_overrides(RunConfig(preset=preset), flat)


def load_toml(path: str | Path) -> RunConfig:
    """Read a config file. Keys not given keep the defaults of the file's ``preset``."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            values = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    try:
        preset, flat = _split_sections(values)
        return apply_overrides(get_config(preset), flat)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def dumps_toml(config: RunConfig) -> str:
    """The resolved config as TOML (flat tables of str, int, float and bool)."""
    lines = [f"preset = {_toml_value(config.preset)}"]
    for section_name in SECTIONS:
        lines.append("")
        lines.append(f"[{section_name}]")
        for f in fields(SECTIONS[section_name]):
            line = f"{f.name} = {_toml_value(getattr(getattr(config, section_name), f.name))}"
            if section_name == "train" and f.name in _EFFECTIVE and not getattr(config.train, f.name):
                line += f"  # 0 = use lr: {_toml_value(_EFFECTIVE[f.name](config))} in effect"
            lines.append(line)
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def lr_d(config: RunConfig) -> float:
    """D's learning rate in effect: ``train.lr_d``, or ``train.lr`` when it is 0."""
    return config.train.lr_d or config.train.lr


def lr_g(config: RunConfig) -> float:
    """G's learning rate in effect: ``train.lr_g``, or ``train.lr`` when it is 0."""
    return config.train.lr_g or config.train.lr


# Keys whose stored 0 means "use train.lr": config.toml shows the rate in effect beside them (a TOML
# comment, so the file still loads back to the same config and a later --set train.lr still applies).
_EFFECTIVE = {"lr_d": lr_d, "lr_g": lr_g}
