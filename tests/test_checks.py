"""gan_atelier.checks: the TP's verbatim code passes; each classic mistake is named by one check only."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from gan_atelier import checks
from gan_atelier.checks.script import run_checks
from gan_atelier.checks.models import TP_DISCRIMINATOR_SIZES, TP_GENERATOR_SIZES, mlp_parameter_count
from gan_atelier.checks.recording import record_training
from gan_atelier.checks.script import load_definitions
from gan_atelier.cli import main
from gan_atelier.errors import CheckFailed

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tp_reference.py"
SEED = Path("/work/shared/seed/tp_mlp_gan.md")
REFERENCE = FIXTURE.read_text(encoding="utf-8")
CHECKS = {"check_generator": "Generator", "check_discriminator": "Discriminator",
          "check_d_step": "train_gan", "check_g_step": "train_gan", "check_training": "train_gan"}


def _edit(*replacements: tuple[str, str]) -> str:
    source = REFERENCE
    for old, new in replacements:
        assert source.count(old) == 1, old  # each mistake is one precise edit of the TP's code
        source = source.replace(old, new)
    return source


# name → (edited source, the check that must fail, a phrase of its French message, of its English one)
VARIANTS = {
    "no detach": (_edit(("D(fake_images.detach())", "D(fake_images)")),
                  "check_d_step", "pas de .detach()", "no .detach()"),
    "Sigmoid + BCEWithLogits": (_edit(("nn.Linear(256, 1) # Sortie finale", "nn.Linear(256, 1), nn.Sigmoid() #")),
                                "check_discriminator", "Sigmoid + BCEWithLogitsLoss", "Sigmoid + BCEWithLogitsLoss"),
    "swapped targets": (_edit(("criterion(D_real_pred, real_labels)", "criterion(D_real_pred, fake_labels)"),
                              ("criterion(D_fake_pred, fake_labels)", "criterion(D_fake_pred, real_labels)")),
                        "check_d_step", "cibles inversées", "swapped targets"),
    "saturating G loss": (_edit(("G_loss = criterion(G_pred, real_labels)", "G_loss = -criterion(G_pred, fake_labels)")),
                          "check_g_step", "perte de G saturante", "saturating G loss"),
    "no zero_grad (D)": (_edit(("            D_optimizer.zero_grad()\n", "")),
                         "check_d_step", "zero_grad oublié pour D", "forgotten zero_grad for D"),
    "no zero_grad (G)": (_edit(("            G_optimizer.zero_grad()\n", "")),
                         "check_g_step", "zero_grad oublié pour G", "forgotten zero_grad for G"),
    "D stepped during G's step": (_edit(("            G_optimizer.step()\n",
                                         "            G_optimizer.step()\n            D_optimizer.step()\n")),
                                  "check_g_step", "D mis à jour pendant le pas de G", "D updated during G's step"),
    "G without final Sigmoid": (_edit(("            nn.Sigmoid() # Sigmoid pour garantir la sortie [0, 1] (normalisation simple)\n",
                                       "")),
                                "check_generator", "G sans Sigmoid finale", "G without its final Sigmoid"),
    "fixed noise redrawn each epoch": (_edit(("                generated_images = G(fixed_noise)",
                                              "                fixed_noise = torch.randn(64, latent_dim, device=device)\n"
                                              "                generated_images = G(fixed_noise)")),
                                       "check_training", "bruit fixe retiré à chaque époque",
                                       "fixed noise redrawn each epoch"),
    "FAKE target for G": (_edit(("G_loss = criterion(G_pred, real_labels)", "G_loss = criterion(G_pred, fake_labels)")),
                          "check_g_step", "cible FAUX (0) pour G", "FAKE target (0) for G"),
    "D loss averaged": (_edit(("D_loss = D_real_loss + D_fake_loss", "D_loss = (D_real_loss + D_fake_loss) / 2")),
                        "check_d_step", "la perte de D est la moyenne", "D's loss is the mean"),
    "G step on detached fakes": (_edit(("G_pred = D(fake_images) ", "G_pred = D(fake_images.detach()) ")),
                                 "check_g_step", "G ne reçoit aucun gradient", "G receives no gradient"),
    "epoch totals never reset": (_edit(("        D_loss_total = 0\n        G_loss_total = 0\n", ""),
                                       ("    G.train(); D.train()\n",
                                        "    G.train(); D.train()\n    D_loss_total = 0\n    G_loss_total = 0\n")),
                                 "check_training", "moyenne par époque fausse", "wrong per-epoch mean"),
}


# Code that differs from the TP's but does the same thing: no check may complain about it.
EQUIVALENTS = {
    "fakes under no_grad, regenerated for G": (
        ("            fake_images = G(noise) \n",
         "            with torch.no_grad():\n                fake_images = G(noise)\n"),
        ("G_pred = D(fake_images) ", "G_pred = D(G(noise)) ")),
    "functional BCE": (("D_real_loss = criterion(D_real_pred, real_labels)",
                        "D_real_loss = F.binary_cross_entropy_with_logits(D_real_pred, real_labels)"),),
    "D.zero_grad()": (("            D_optimizer.zero_grad()\n", "            D.zero_grad()\n"),),
    "zero_grad(set_to_none=False)": (("            G_optimizer.zero_grad()\n",
                                      "            G_optimizer.zero_grad(set_to_none=False)\n"),),
    "hand-written -log D(G(z))": (("G_loss = criterion(G_pred, real_labels)",
                                   "G_loss = -torch.log(torch.sigmoid(G_pred)).mean()"),),
    "print instead of tqdm.write": (('tqdm.write(f"Epoch', 'print(f"Epoch'),),
}


def _namespace(source: str, tmp_path: Path) -> dict:
    path = tmp_path / "student.py"
    path.write_text(source, encoding="utf-8")
    return load_definitions(path)


def test_fixture_is_the_seeds_code_cells_verbatim():
    if not SEED.exists():
        pytest.skip("the seed TP is not on this machine")
    seed = SEED.read_text(encoding="utf-8")
    cells = re.findall(r"In \[None\]:\n(.*?)(?=\nIn \[None\]:|\n### |\n## |\n--- |\Z)", seed, re.S)
    body = REFERENCE.split("\n\n# %% cell 0\n", 1)[1]
    assert [c.rstrip() for c in re.split(r"\n*# %% cell \d\n", "# %% cell 0\n" + body)[1:]] == \
        [c.rstrip() for c in cells]


def test_reference_code_passes_every_check(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = _namespace(REFERENCE, tmp_path)
    assert "train_dataset" not in namespace and not (tmp_path / "data").exists()  # top level not run
    for name, argument in CHECKS.items():
        result = getattr(checks, name)(namespace[argument])
        assert result.ok, str(result)
    assert capsys.readouterr().out.count("✓") == 5


def test_tp_parameter_counts_are_the_verbatim_models(tmp_path):
    namespace = _namespace(REFERENCE, tmp_path)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(namespace["Generator"](100, 784)) == mlp_parameter_count(TP_GENERATOR_SIZES) == 1_486_352
    assert count(namespace["Discriminator"](784)) == mlp_parameter_count(TP_DISCRIMINATOR_SIZES) == 1_460_225


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_mistake_is_named_by_its_check_only(variant, tmp_path):
    source, failing, french, english = VARIANTS[variant]
    namespace = _namespace(source, tmp_path)
    for name, argument in CHECKS.items():
        result = getattr(checks, name)(namespace[argument], raise_on_failure=False)
        if name == failing:
            assert not result.ok and len(result.mistakes) == 1, str(result)
            assert french in result.mistakes[0], str(result)
            assert "TP" in result.mistakes[0]  # the TP line or section it concerns
        else:
            assert result.ok, f"{variant}: {name} also failed: {result}"
    english_result = getattr(checks, failing)(namespace[CHECKS[failing]], lang="en", raise_on_failure=False)
    assert len(english_result.mistakes) == 1 and english in english_result.mistakes[0], str(english_result)


@pytest.mark.parametrize("variant", list(EQUIVALENTS))
def test_equivalent_code_passes_every_check(variant, tmp_path):
    namespace = _namespace(_edit(*EQUIVALENTS[variant]), tmp_path)
    for name, argument in CHECKS.items():
        result = getattr(checks, name)(namespace[argument], raise_on_failure=False)
        assert result.ok, f"{variant}: {result}"


def test_a_failure_raises_with_the_message_only(tmp_path):
    namespace = _namespace(VARIANTS["no detach"][0], tmp_path)
    with pytest.raises(CheckFailed) as caught:
        checks.check_d_step(namespace["train_gan"], lang="en")
    assert caught.value.exit_code == 8
    lines = caught.value._render_traceback_()  # what IPython shows instead of a traceback
    assert lines[0] == "✗ check_d_step: 1 mistake(s)" and "no .detach()" in lines[1]


def test_an_unfinished_todo_is_reported_as_such(tmp_path):
    source = _edit(("            D_optimizer.zero_grad()\n",
                    "            raise NotImplementedError('TODO: D step')\n"))
    result = checks.check_d_step(_namespace(source, tmp_path)["train_gan"], lang="en", raise_on_failure=False)
    assert result.mistakes == ["train_gan is not complete yet: TODO: D step"]


def test_an_unwritten_model_is_reported_as_such(tmp_path):
    source = _edit(("        self.model = nn.Sequential(\n            nn.Linear(latent_dim, 256),",
                    "        raise NotImplementedError('TODO (generator)')\n        self.model = nn.Sequential(\n"
                    "            nn.Linear(latent_dim, 256),"))
    result = checks.check_generator(_namespace(source, tmp_path)["Generator"], lang="en", raise_on_failure=False)
    assert result.mistakes == ["Generator is not complete yet: TODO (generator)"]


def test_the_recorded_d_loss_is_the_closed_form(tmp_path):
    """L_D = mean softplus(−ℓ_real) + mean softplus(ℓ_fake): 2 ln 2 at zero logits."""
    recording = record_training(_namespace(REFERENCE, tmp_path)["train_gan"])
    forwards = [e for e in recording.events if type(e).__name__ == "Forward" and e.net == "D" and e.batch == 1]
    real, fake = (next(f.output.detach() for f in forwards if f.source == s) for s in ("real", "fake"))
    first_loss = next(e for e in recording.events if type(e).__name__ == "Backward")
    expected = torch.nn.functional.softplus(-real).mean() + torch.nn.functional.softplus(fake).mean()
    torch.testing.assert_close(torch.tensor(first_loss.value), expected)
    zero = torch.zeros(4, 1)
    assert math.isclose(float(torch.nn.functional.softplus(-zero).mean() + torch.nn.functional.softplus(zero).mean()),
                        2 * math.log(2), rel_tol=1e-6)


def test_checks_leave_the_students_globals_and_random_state_alone(tmp_path):
    namespace = _namespace(REFERENCE, tmp_path)
    namespace["fixed_noise"] = sentinel = object()
    show_grid = namespace["show_grid"]  # the TP's own, defined in its initialisation cell
    state = torch.get_rng_state()
    checks.check_training(namespace["train_gan"], raise_on_failure=False)
    assert namespace["fixed_noise"] is sentinel and namespace["show_grid"] is show_grid
    assert "trange" not in namespace and namespace["image_size"] == 784  # trange: supplied during the run only
    assert torch.equal(torch.get_rng_state(), state)


def test_cli_check_exits_0_on_the_reference_and_8_naming_a_mistake(tmp_path, capsys):
    assert main(["check", str(FIXTURE)]) == 0
    assert capsys.readouterr().out.count("✓") == 5
    buggy = tmp_path / "buggy.py"
    buggy.write_text(VARIANTS["saturating G loss"][0], encoding="utf-8")
    assert main(["check", str(buggy), "--lang", "en"]) == 8
    out = capsys.readouterr().out
    assert "✗ check_g_step" in out and "saturating G loss" in out and out.count("✓") == 4


def test_cli_check_names_missing_definitions_and_syntax_errors(tmp_path, capsys):
    partial = tmp_path / "partial.py"
    partial.write_text("import torch\nlatent_dim = 100\n", encoding="utf-8")
    assert main(["check", str(partial), "--lang", "en"]) == 8
    assert "does not define `Generator`" in capsys.readouterr().out
    broken = tmp_path / "broken.py"
    broken.write_text("def train_gan(:\n", encoding="utf-8")
    assert main(["check", str(broken)]) == 8
    assert "broken.py:1: syntax error" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "absent.py")]) == 2
    assert "cannot read" in capsys.readouterr().err
