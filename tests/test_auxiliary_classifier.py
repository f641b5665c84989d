"""train.ac_weight: the auxiliary classifier on the projection D's class vectors, against its formula."""

import pytest
import torch
from torch.nn import functional as F
from torch.testing import assert_close

from gan_atelier import config as cfg
from gan_atelier.data import synthetic_split
from gan_atelier.errors import ConfigError
from gan_atelier.models import ProjectionDiscriminator
from gan_atelier.training import Trainer


def test_class_logits_are_the_projection_term_of_every_class():
    torch.manual_seed(0)
    d = ProjectionDiscriminator(num_classes=4, channels=8, norm="none").eval()
    x, labels = torch.rand(5, 1, 28, 28), torch.tensor([0, 3, 1, 1, 2])
    logits, classes = d(x, labels, with_classes=True)
    assert classes.shape == (5, 4)
    assert_close(logits, d(x, labels))  # the adversarial logits do not change
    unconditional = d.backbone.head(d.backbone.features(x))  # ψ(φ(x))
    for k in range(4):  # entry k is the projection term of D(x, k)
        assert_close(classes[:, k:k + 1], d(x, torch.full_like(labels, k)) - unconditional)


@pytest.mark.parametrize("preset, overrides", [("modern-cgan", {}), ("modern", {"model.clusters": 3})])
def test_step_adds_lambda_cross_entropy_to_both_losses(preset, overrides):
    """One step's logged losses = the hinge losses of D's outputs + λ·CE of its class logits:
    on real images and their labels for D, on the fakes and the labels G drew them for, for G."""
    lam = 0.7
    config = cfg.get_config(preset, {**overrides, "data.subset": 96, "train.batch_size": 32, "train.epochs": 1,
                                     "train.ac_weight": lam})
    trainer = Trainer(config, synthetic_split(96, seed=0))
    calls = []
    hook = trainer.discriminator.register_forward_hook(
        lambda m, args, kwargs, out: calls.append((kwargs["labels"], out)), with_kwargs=True)
    trainer._begin_epoch()
    real, labels = trainer.batch(0)
    result = trainer._step(real, labels)
    hook.remove()
    (real_labels, (real_logits, real_classes)), (_, fake_logits), (fake_labels, (g_logits, g_classes)) = calls
    assert torch.equal(real_labels, labels)
    expected_d = (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
                  + lam * F.cross_entropy(real_classes, labels))
    expected_g = -g_logits.mean() + lam * F.cross_entropy(g_classes, fake_labels)
    assert_close(result.d_loss, expected_d.detach())
    assert_close(result.g_loss, expected_g.detach())


def test_ac_weight_is_checked():
    with pytest.raises(ConfigError, match="train.ac_weight.*projection D"):
        cfg.get_config("modern-plain", {"train.ac_weight": 0.5})  # no classes to predict
    with pytest.raises(ConfigError, match="must be >= 0"):
        cfg.get_config("modern-cgan", {"train.ac_weight": -1.0})
    assert cfg.get_config("modern-cgan", {"train.ac_weight": 0.5}).train.ac_weight == 0.5
