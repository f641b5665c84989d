"""Config: the seed preset is the TP; overrides are parsed against types and checked."""

import math

import pytest

from gan_atelier import config as cfg
from gan_atelier.errors import ConfigError


def test_seed_preset_is_the_tp():
    c = cfg.get_config("seed")
    assert (c.model.name, c.model.latent_dim) == ("mlp", 100)
    t = c.train
    assert (t.epochs, t.batch_size, t.lr, t.beta1, t.beta2) == (50, 128, 2e-4, 0.5, 0.999)
    assert (t.loss, t.d_steps, t.label_smoothing, t.ema, t.sample_every) == ("ns", 1, 0.0, 0.0, 5)
    assert cfg.lr_d(c) == cfg.lr_g(c) == 2e-4
    assert (c.data.dataset, c.data.subset) == ("fashion-mnist", 0)
    assert not c.model.spectral_norm


def test_documented_keys_exist():
    c = cfg.get_config("seed")
    for key in ("train.epochs", "train.batch_size", "train.lr", "train.seed", "train.sample_every",
                "train.device", "data.dataset", "data.subset"):
        section, name = key.split(".")
        assert hasattr(getattr(c, section), name), key


def test_overrides_are_typed():
    c = cfg.get_config("seed", ["train.lr=1e-3", "train.epochs=3", "model.spectral_norm=true",
                                "data.dataset=mnist"])
    assert c.train.lr == 1e-3 and isinstance(c.train.lr, float)
    assert c.train.epochs == 3 and isinstance(c.train.epochs, int)
    assert c.model.spectral_norm is True
    assert c.data.dataset == "mnist"


@pytest.mark.parametrize("override, fragment", [
    ("train.lrr=1", "unknown config key 'train.lrr'; valid keys in [train]: epochs, batch_size, lr"),
    ("trian.lr=1", "unknown config section"),
    ("train.epochs=ten", "bad value 'ten' for train.epochs: expected int"),
    ("train.epochs=2.5", "expected int"),
    ("train.lr=nan", "expected float"),
    ("train.device=tpu", "valid choices: auto, cpu, cuda"),
    ("data.dataset=cifar", "valid choices: fashion-mnist, mnist"),
    ("train.epochs=0", "must be > 0"),
    ("train.beta1=1.5", "must be in [0, 1)"),
    ("train.lr", "is not of the form section.key=value"),
])
def test_bad_overrides_name_the_problem(override, fragment):
    with pytest.raises(ConfigError) as info:
        cfg.get_config("seed", [override])
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(ConfigError, match="valid presets: seed, quick"):
        cfg.get_config("sead")


def test_toml_round_trip(tmp_path):
    c = cfg.get_config("quick", ["train.lr=0.001", "train.seed=7"])
    path = tmp_path / "config.toml"
    path.write_text(cfg.dumps_toml(c))
    assert cfg.load_toml(path) == c
    assert cfg.from_dict(cfg.to_dict(c)) == c


def test_toml_unknown_key_and_wrong_type_are_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('preset = "seed"\n[train]\nepochs = "many"\n')
    with pytest.raises(ConfigError, match="bad value 'many' for train.epochs"):
        cfg.load_toml(path)
    path.write_text('[train]\nlearning_rate = 0.1\n')
    with pytest.raises(ConfigError, match="unknown config key 'train.learning_rate'"):
        cfg.load_toml(path)
    path.write_text('[optimizer]\nlr = 0.1\n')
    with pytest.raises(ConfigError, match="unknown config section 'optimizer'"):
        cfg.load_toml(path)
    path.write_text('[train\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        cfg.load_toml(path)


def test_configs_are_frozen():
    c = cfg.get_config("seed")
    with pytest.raises(Exception):
        c.train.lr = 1.0  # type: ignore[misc]


def test_every_preset_is_valid():
    for name in cfg.PRESETS:
        c = cfg.get_config(name)
        assert c.preset == name
        assert math.isfinite(c.train.lr)
