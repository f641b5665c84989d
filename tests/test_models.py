"""The TP's G and D: exact layers, parameter counts, shapes, ranges, logits."""

import torch
from torch import nn

from gan_atelier.models import Discriminator, Generator, build_models, count_parameters, generate_images
from gan_atelier import config as cfg


def test_parameter_counts_are_the_tps():
    assert count_parameters(Generator(100)) == 1_486_352
    assert count_parameters(Discriminator()) == 1_460_225


def test_layers_are_exactly_the_tps():
    generator, discriminator = Generator(100), Discriminator()
    linear = [(m.in_features, m.out_features) for m in generator.model if isinstance(m, nn.Linear)]
    assert linear == [(100, 256), (256, 512), (512, 1024), (1024, 784)]
    assert [type(m).__name__ for m in generator.model] == [
        "Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear", "Sigmoid"]
    assert all(m.negative_slope == 0.2 for m in generator.model if isinstance(m, nn.LeakyReLU))
    linear = [(m.in_features, m.out_features) for m in discriminator.model if isinstance(m, nn.Linear)]
    assert linear == [(784, 1024), (1024, 512), (512, 256), (256, 1)]
    dropouts = [m.p for m in discriminator.model if isinstance(m, nn.Dropout)]
    assert dropouts == [0.3, 0.3, 0.3]
    assert isinstance(discriminator.model[-1], nn.Linear), "D must end in a logit, no Sigmoid"


def test_state_dict_keys_match_the_tp_notebook():
    keys = list(Generator(100).state_dict())
    assert keys[:2] == ["model.0.weight", "model.0.bias"] and keys[-1] == "model.6.bias"


def test_shapes_and_ranges():
    torch.manual_seed(0)
    generator, discriminator = Generator(100), Discriminator()
    z = torch.randn(16, 100) * 10  # large inputs still map into [0, 1]
    images = generator(z)
    assert images.shape == (16, 784)
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert generate_images(generator, z).shape == (16, 1, 28, 28)
    logits = discriminator(images.view(16, 1, 28, 28))
    assert logits.shape == (16, 1)
    # Logits, not probabilities: far outside [0, 1] once the input is scaled up.
    assert float(discriminator(images * 1000).abs().max()) > 1.0


def test_flat_and_image_inputs_give_the_same_logits():
    torch.manual_seed(0)
    discriminator = Discriminator().eval()
    x = torch.rand(4, 784)
    torch.testing.assert_close(discriminator(x), discriminator(x.view(4, 1, 28, 28)))


def test_default_init_is_pytorchs():
    """Same seed → same weights as building the TP's layers by hand (no custom init)."""
    torch.manual_seed(1)
    ours = Generator(100)
    torch.manual_seed(1)
    reference = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                              nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Sigmoid())
    for a, b in zip(ours.model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_build_models_for_seed_preset():
    generator, discriminator = build_models(cfg.get_config("seed"))
    assert isinstance(generator, Generator) and isinstance(discriminator, Discriminator)
