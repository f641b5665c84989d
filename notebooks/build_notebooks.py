"""Write ``tp_mlp_gan.ipynb`` (French) and ``tp_mlp_gan_en.ipynb`` (English) from one cell list.

The two notebooks tell the same story with the same code; only the prose (and code comments)
differ. Edit the cells here, then run ``python notebooks/build_notebooks.py``: the notebooks
are written without outputs (as they are kept in git).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
CELLS: list[tuple[str, str, str]] = []  # (kind, French, English)


def md(fr: str, en: str) -> None:
    CELLS.append(("markdown", fr.strip(), en.strip()))


def code(fr: str, en: str | None = None) -> None:
    CELLS.append(("code", fr.strip(), (en if en is not None else fr).strip()))


# ============================================================================ title and settings
md(r"""
# 🎓 TP : Introduction pédagogique aux GANs (MLP-GAN), avec `gan-atelier`

Ce notebook suit le TP *« Introduction Pédagogique aux GANs (MLP-GAN) »* section par section :
**I.** le jeu antagoniste et sa fonction objectif, **II.** l'architecture (le code du générateur et du
discriminateur, affiché depuis le paquet pour que vous le lisiez), **III.** la boucle d'entraînement,
avec grilles et courbes en direct, **IV.** l'analyse des résultats.

Chaque question du TP est suivie de l'**expérience** du laboratoire qui y répond *sur votre machine* :
`gan-atelier lab <expérience>` en ligne de commande, ou `experience("<nom>")` ici. Chaque expérience
écrit un dossier (figures, `summary.md`, `results.json`, et les entraînements qu'elle a faits) ; le
résumé cite les nombres mesurés pendant **votre** exécution. Le corrigé (`docs/fr/corrige.md`) commente
ces mêmes figures.

**Durée.** Avec `QUICK = True` (par défaut), le notebook entier tourne en une dizaine de minutes sur un
CPU à 2 cœurs : sous-ensemble de 12 000 images, peu d'époques. Avec `QUICK = False`, les réglages
complets du TP (60 000 images, 50 époques : plusieurs heures sur CPU, quelques minutes sur GPU).
""", r"""
# 🎓 Lab: a teaching introduction to GANs (MLP-GAN), with `gan-atelier`

This notebook follows the lab *"Introduction Pédagogique aux GANs (MLP-GAN)"* section by section:
**I.** the adversarial game and its objective, **II.** the architecture (the generator's and the
discriminator's code, shown from the package so that you read it), **III.** the training loop, with
live grids and curves, **IV.** the analysis of the results.

Each question of the lab is followed by the lab **experiment** that answers it *on your machine*:
`gan-atelier lab <experiment>` on the command line, or `experiment("<name>")` here. Each experiment
writes a folder (figures, `summary.md`, `results.json`, and the training runs it made); its summary
quotes the numbers measured during **your** run. The answer key (`docs/en/answers.md`) discusses
these same figures.

**Time.** With `QUICK = True` (the default), the whole notebook runs in about ten minutes on a
2-core CPU: a 12,000-image subset, few epochs. With `QUICK = False`, the lab's full settings (60,000
images, 50 epochs: hours on a CPU, minutes on a GPU).
""")

code(r"""
QUICK = True  # False : les réglages complets du TP (long sur CPU)

import os
import torch

# En intégration continue, GAN_ATELIER_NB_TINY=1 remplace les données par des taches synthétiques :
# le notebook s'exécute en une à deux minutes (les nombres obtenus n'ont alors aucun sens).
TINY = os.environ.get("GAN_ATELIER_NB_TINY") == "1"
SCALE = "tiny" if TINY else ("quick" if QUICK else "full")
OUT = "runs/notebook"  # dossier de tous les résultats du notebook
if SCALE != "full":
    torch.set_num_threads(1)  # ces petits MLP ne gagnent presque rien à plusieurs threads sur un CPU partagé
print(f"échelle : {SCALE}, résultats dans {OUT}/, {torch.get_num_threads()} thread(s)")
""", r"""
QUICK = True  # False: the lab's full settings (long on a CPU)

import os
import torch

# In continuous integration, GAN_ATELIER_NB_TINY=1 replaces the data with synthetic blobs:
# the notebook runs in a minute or two (the numbers it prints then mean nothing).
TINY = os.environ.get("GAN_ATELIER_NB_TINY") == "1"
SCALE = "tiny" if TINY else ("quick" if QUICK else "full")
OUT = "runs/notebook"  # folder of everything this notebook writes
if SCALE != "full":
    torch.set_num_threads(1)  # these small MLPs gain almost nothing from several threads on a shared CPU
print(f"scale: {SCALE}, outputs in {OUT}/, {torch.get_num_threads()} thread(s)")
""")

code(r"""
from IPython.display import Image, Markdown, display

from gan_atelier.lab import run_experiment
from gan_atelier.lab.common import LabContext


def experience(nom):
    # Lance `gan-atelier lab <nom>` à l'échelle choisie, puis affiche les preuves et les figures.
    resultat = run_experiment(nom, LabContext(out_dir=f"{OUT}/lab/{nom}", scale=SCALE, verbose=False))
    display(Markdown(f"**{resultat.question} — `{resultat.command}`**\n\n" + " ".join(resultat.evidence)
                     + ("\n\n" + resultat.table if resultat.table else "")))
    for figure in resultat.figures:
        display(Image(filename=str(figure)))
    for note in resultat.notes:
        print("note :", note)
    return resultat
""", r"""
from IPython.display import Image, Markdown, display

from gan_atelier.lab import run_experiment
from gan_atelier.lab.common import LabContext


def experiment(name):
    # Runs `gan-atelier lab <name>` at the chosen scale, then shows the evidence and the figures.
    result = run_experiment(name, LabContext(out_dir=f"{OUT}/lab/{name}", scale=SCALE, verbose=False))
    display(Markdown(f"**{result.question} — `{result.command}`**\n\n" + " ".join(result.evidence)
                     + ("\n\n" + result.table if result.table else "")))
    for figure in result.figures:
        display(Image(filename=str(figure)))
    for note in result.notes:
        print("note:", note)
    return result
""")

# ============================================================================ I
md(r"""
## I. Introduction conceptuelle : le jeu antagoniste

| Composant | Rôle analogue | Rôle technique | Objectif |
| :--- | :--- | :--- | :--- |
| **Générateur (G)** | le faux-monnayeur | prend un bruit $\mathbf{z}$ et crée $\mathbf{x}_{\text{faux}} = G(\mathbf{z})$ | tromper $D$ : que $D$ classe ses faux comme VRAIS (1) |
| **Discriminateur (D)** | le détective | classe une image comme VRAIE (1) ou FAUSSE (0) | identifier parfaitement la provenance de l'image |

### 1.1 La fonction objectif (jeu minimax)

$$\min_G \max_D V(D, G) = \mathbb{E}_{\mathbf{x} \sim p_{\text{data}}} [\log D(\mathbf{x})] + \mathbb{E}_{\mathbf{z} \sim p_{\mathbf{z}}} [\log (1 - D(G(\mathbf{z})))]$$

$D$ veut $D(\mathbf{x}) \to 1$ et $D(G(\mathbf{z})) \to 0$ ; $G$ veut $D(G(\mathbf{z})) \to 1$. À l'équilibre
$p_g = p_{\text{data}}$, le meilleur $D$ vaut $\tfrac12$ partout. Le code du paquet écrit $D = \sigma(\ell)$,
avec $\ell$ le *logit* que renvoie le réseau, et la perte de $D$ comme la **somme** de deux entropies
croisées moyennes (comme le TP) : à l'équilibre elle vaut $2 \ln 2$. Vérifions-le avec les fonctions de
perte du paquet :
""", r"""
## I. Conceptual introduction: the adversarial game

| Component | Analogy | Technical role | Goal |
| :--- | :--- | :--- | :--- |
| **Generator (G)** | the counterfeiter | takes noise $\mathbf{z}$ and makes $\mathbf{x}_{\text{fake}} = G(\mathbf{z})$ | fool $D$: have $D$ call its fakes REAL (1) |
| **Discriminator (D)** | the detective | labels an image REAL (1) or FAKE (0) | tell perfectly where an image comes from |

### 1.1 The objective (a minimax game)

$$\min_G \max_D V(D, G) = \mathbb{E}_{\mathbf{x} \sim p_{\text{data}}} [\log D(\mathbf{x})] + \mathbb{E}_{\mathbf{z} \sim p_{\mathbf{z}}} [\log (1 - D(G(\mathbf{z})))]$$

$D$ wants $D(\mathbf{x}) \to 1$ and $D(G(\mathbf{z})) \to 0$; $G$ wants $D(G(\mathbf{z})) \to 1$. At the
equilibrium $p_g = p_{\text{data}}$ the best $D$ is $\tfrac12$ everywhere. The package writes
$D = \sigma(\ell)$, with $\ell$ the *logit* the network returns, and D's loss as the **sum** of two mean
cross-entropies (as the lab does): at the equilibrium it is $2 \ln 2$. Let us check it with the
package's own loss functions:
""")

code(r"""
import inspect
import math

from gan_atelier import losses

logits_nuls = torch.zeros(128, 1)  # logit 0 : D répond σ(0) = 0,5 à toutes les images
print(f"perte de D à l'équilibre : {losses.ns_d_loss(logits_nuls, logits_nuls).item():.4f}"
      f"  (2 ln 2 = {2 * math.log(2):.4f})")
print(f"perte de G (non saturante, celle du TP) : {losses.ns_g_loss(logits_nuls).item():.4f}"
      f"  (ln 2 = {math.log(2):.4f})")
display(Markdown("```python\n" + inspect.getsource(losses.ns_d_loss) + "\n"
                 + inspect.getsource(losses.ns_g_loss) + "\n"
                 + inspect.getsource(losses.saturating_g_loss) + "```"))
""", r"""
import inspect
import math

from gan_atelier import losses

zero_logits = torch.zeros(128, 1)  # logit 0: D answers σ(0) = 0.5 for every image
print(f"D's loss at the equilibrium: {losses.ns_d_loss(zero_logits, zero_logits).item():.4f}"
      f"  (2 ln 2 = {2 * math.log(2):.4f})")
print(f"G's loss (non-saturating, the lab's): {losses.ns_g_loss(zero_logits).item():.4f}"
      f"  (ln 2 = {math.log(2):.4f})")
display(Markdown("```python\n" + inspect.getsource(losses.ns_d_loss) + "\n"
                 + inspect.getsource(losses.ns_g_loss) + "\n"
                 + inspect.getsource(losses.saturating_g_loss) + "```"))
""")

md(r"""
### Question (Q1.1)

Si, au début de l'entraînement, le discriminateur renvoie $D(\mathbf{x}) = 0.9$ pour les vraies images
et $D(G(\mathbf{z})) = 0.1$ pour les fausses, comment cela impacte-t-il l'apprentissage du générateur $G$
à ce stade ? (Indice : regardez le terme $\log (1 - D(G(\mathbf{z})))$.)

*Votre réponse :*

Calculons la pente des deux pertes possibles de $G$ par rapport au logit de $D$, au point de la question :
""", r"""
### Question (Q1.1)

If, early in training, the discriminator outputs $D(\mathbf{x}) = 0.9$ for real images and
$D(G(\mathbf{z})) = 0.1$ for fakes, how does this affect the generator's learning at that point?
(Hint: look at the term $\log (1 - D(G(\mathbf{z})))$.)

*Your answer:*

Let us compute the slope of G's two possible losses with respect to D's logit, at the question's point:
""")

code(r"""
logit = torch.tensor([[math.log(0.1 / 0.9)]], requires_grad=True)  # σ(logit) = D(G(z)) = 0,1
for nom, perte in [("saturante  log(1 − D(G(z)))", losses.saturating_g_loss),
                   ("non saturante  −log D(G(z))", losses.ns_g_loss)]:
    (pente,) = torch.autograd.grad(perte(logit), logit)
    print(f"{nom:30s} ∂L/∂logit = {pente.item():+.3f}")
""", r"""
logit = torch.tensor([[math.log(0.1 / 0.9)]], requires_grad=True)  # σ(logit) = D(G(z)) = 0.1
for name, loss in [("saturating  log(1 − D(G(z)))", losses.saturating_g_loss),
                   ("non-saturating  −log D(G(z))", losses.ns_g_loss)]:
    (slope,) = torch.autograd.grad(loss(logit), logit)
    print(f"{name:30s} ∂L/∂logit = {slope.item():+.3f}")
""")

md(r"""
L'expérience `saturating` entraîne le même GAN avec chacune des deux pertes et mesure, à chaque pas,
$D(G(\mathbf{z}))$ et la norme du gradient qui arrive dans les poids de $G$ :
""", r"""
The `saturating` experiment trains the same GAN with each of the two losses and measures, at every
step, $D(G(\mathbf{z}))$ and the norm of the gradient that reaches G's weights:
""")
code('experience("saturating");', 'experiment("saturating");')

# ============================================================================ II
md(r"""
## II. Préparation et architecture (MLP-GAN)

Les images 28×28 sont mises à plat en vecteurs de 784 valeurs dans $[0, 1]$ (comme `ToTensor()`).
Les hyperparamètres du TP sont le préréglage `seed` du paquet ; en mode `QUICK` on garde le même
modèle et le même pas, sur un sous-ensemble et moins d'époques :
""", r"""
## II. Preparation and architecture (MLP-GAN)

The 28×28 images are flattened to vectors of 784 values in $[0, 1]$ (as `ToTensor()` gives).
The lab's hyperparameters are the package's `seed` preset; in `QUICK` mode we keep the same model
and step, on a subset and for fewer epochs:
""")

code(r"""
from gan_atelier import get_config, show_grid
from gan_atelier.data import load_split, synthetic_split

if SCALE == "tiny":
    config = get_config("dry-run")  # 512 images synthétiques, 2 époques
elif SCALE == "quick":
    config = get_config("quick", {"train.epochs": 5})  # 12 000 images, 5 époques
else:
    config = get_config("seed")  # le TP exactement : 60 000 images, 50 époques
print(config.model)
print(config.train)

if TINY:
    donnees = synthetic_split(config.data.subset)
else:
    donnees = load_split("fashion-mnist", "train", subset=config.data.subset)
print(f"{len(donnees)} images d'entraînement, {tuple(donnees.images.shape)} en uint8")
show_grid(donnees.as_float()[:64], "64 images réelles", figsize=(5, 5))
""", r"""
from gan_atelier import get_config, show_grid
from gan_atelier.data import load_split, synthetic_split

if SCALE == "tiny":
    config = get_config("dry-run")  # 512 synthetic images, 2 epochs
elif SCALE == "quick":
    config = get_config("quick", {"train.epochs": 5})  # 12,000 images, 5 epochs
else:
    config = get_config("seed")  # the lab exactly: 60,000 images, 50 epochs
print(config.model)
print(config.train)

if TINY:
    data = synthetic_split(config.data.subset)
else:
    data = load_split("fashion-mnist", "train", subset=config.data.subset)
print(f"{len(data)} training images, {tuple(data.images.shape)} as uint8")
show_grid(data.as_float()[:64], "64 real images", figsize=(5, 5))
""")

md(r"""
### 2.2 Le générateur (G) et 2.3 le discriminateur (D)

Voici le code exact utilisé par le paquet (`gan_atelier/models/mlp.py`). Lisez-le : entrée, sorties,
activations, pourquoi une **Sigmoid** à la sortie de $G$ et **aucune** à la sortie de $D$.
""", r"""
### 2.2 The generator (G) and 2.3 the discriminator (D)

Here is the exact code the package uses (`gan_atelier/models/mlp.py`). Read it: input, outputs,
activations, why a **Sigmoid** ends $G$ and **none** ends $D$.
""")

code(r"""
from gan_atelier.models import count_parameters, mlp

display(Markdown("```python\n" + inspect.getsource(mlp.Generator) + "\n\n"
                 + inspect.getsource(mlp.Discriminator) + "```"))
G, D = mlp.Generator(latent_dim=100), mlp.Discriminator()
z = torch.randn(4, 100)
print("G(z) :", tuple(G(z).shape), "dans [", G(z).min().item(), ",", G(z).max().item(), "]")
print("D(G(z)) :", tuple(D(G(z)).shape), "(des logits, pas des probabilités)")
print(f"paramètres : G {count_parameters(G):,}, D {count_parameters(D):,}")
""", r"""
from gan_atelier.models import count_parameters, mlp

display(Markdown("```python\n" + inspect.getsource(mlp.Generator) + "\n\n"
                 + inspect.getsource(mlp.Discriminator) + "```"))
G, D = mlp.Generator(latent_dim=100), mlp.Discriminator()
z = torch.randn(4, 100)
print("G(z):", tuple(G(z).shape), "in [", G(z).min().item(), ",", G(z).max().item(), "]")
print("D(G(z)):", tuple(D(G(z)).shape), "(logits, not probabilities)")
print(f"parameters: G {count_parameters(G):,}, D {count_parameters(D):,}")
""")

md(r"""
### Question (Q2.1)

Observez les taux d'apprentissage. Pourquoi le taux d'apprentissage est-il souvent très bas (ici
0.0002) dans les GANs par rapport à d'autres réseaux (souvent 0.001) ? Quel risque prend-on avec des
taux d'apprentissage trop élevés pour $G$ ou $D$ ?

*Votre réponse :*

L'expérience `learning-rate` entraîne le même GAN avec lr = 2e-4, 1e-3, 5e-3 et deux réglages inégaux
($D$ plus rapide, $G$ plus rapide), puis nomme ce que chaque entraînement a fait (stable, oscillant,
D gagne, D perd, divergence) :
""", r"""
### Question (Q2.1)

Look at the learning rates. Why is the learning rate often very low in GANs (here 0.0002) compared
with other networks (often 0.001)? What do we risk with learning rates that are too high for $G$ or $D$?

*Your answer:*

The `learning-rate` experiment trains the same GAN with lr = 2e-4, 1e-3, 5e-3 and two unequal
settings (D faster, G faster), then names what each run did (stable, oscillating, D wins, D loses,
diverged):
""")
code('experience("learning-rate");', 'experiment("learning-rate");')

# ============================================================================ III
md(r"""
## III. Boucle d'entraînement : l'alternance cruciale

À chaque batch : d'abord un pas de $D$ (vraies images → 1, fausses images **détachées** → 0), puis un pas
de $G$ (les mêmes fausses images, cette fois reliées au graphe de $G$, notées contre la cible VRAI). Voici
le pas exact du paquet (`Trainer._gan_step` dans `gan_atelier/train.py`) :
""", r"""
## III. The training loop: the crucial alternation

On every batch: first a step of $D$ (real images → 1, **detached** fakes → 0), then a step of $G$ (the
same fakes, now attached to G's graph, scored against the REAL target). Here is the package's exact
step (`Trainer._gan_step` in `gan_atelier/train.py`):
""")

code(r"""
from gan_atelier.train import LoopHooks, Trainer

display(Markdown("```python\n" + inspect.getsource(Trainer._gan_step) + "```"))
""")

md(r"""
Entraînons. Après chaque époque, la cellule affiche la grille des 64 bruits fixes et les courbes
(perte de $D$ contre $2 \ln 2$, perte de $G$ contre $\ln 2$, $D(\mathbf{x})$ et $D(G(\mathbf{z}))$ contre 0,5).
Le dossier de l'entraînement contient aussi `metrics.csv`, `samples/`, `progress.gif` et `curves.png`.
""", r"""
Let us train. After each epoch the cell shows the grid of the 64 fixed noise vectors and the curves
(D's loss against $2 \ln 2$, G's loss against $\ln 2$, $D(\mathbf{x})$ and $D(G(\mathbf{z}))$ against 0.5).
The run folder also holds `metrics.csv`, `samples/`, `progress.gif` and `curves.png`.
""")

code(r"""
from IPython.display import clear_output
from matplotlib import pyplot as plt

from gan_atelier import train
from gan_atelier.viz import make_grid


def afficher(trainer, ligne):
    # Appelé par la boucle à la fin de chaque époque : grille du bruit fixe + courbes jusqu'ici.
    clear_output(wait=True)
    historique = trainer.history
    epoques = [h["epoch"] for h in historique]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    axes[0].imshow(make_grid(trainer.fixed_grid_images())[0], cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"époque {trainer.epoch}"); axes[0].axis("off")
    axes[1].plot(epoques, [h["d_loss"] for h in historique], "o-", label="perte de D")
    axes[1].plot(epoques, [h["g_loss"] for h in historique], "o-", label="perte de G")
    axes[1].axhline(2 * math.log(2), color="C0", linestyle=":", label="2 ln 2")
    axes[1].axhline(math.log(2), color="C1", linestyle=":", label="ln 2")
    axes[1].set_xlabel("époque"); axes[1].legend()
    axes[2].plot(epoques, [h["d_real"] for h in historique], "o-", label="D(x)")
    axes[2].plot(epoques, [h["d_fake"] for h in historique], "o-", label="D(G(z))")
    axes[2].axhline(0.5, color="gray", linestyle=":"); axes[2].set_ylim(0, 1)
    axes[2].set_xlabel("époque"); axes[2].legend()
    plt.show()
    print(f"époque {ligne['epoch']} : perte D {ligne['d_loss']:.3f}, perte G {ligne['g_loss']:.3f}, "
          f"{ligne['seconds']:.1f} s")


entrainement = train(config, f"{OUT}/entrainement", overwrite=True, data=donnees, progress=False,
                     verbose=False, hooks=LoopHooks(on_epoch=[afficher]))
print(entrainement, "alarmes :", entrainement.alarms or "aucune")
""", r"""
from IPython.display import clear_output
from matplotlib import pyplot as plt

from gan_atelier import train
from gan_atelier.viz import make_grid


def show(trainer, row):
    # Called by the loop at the end of every epoch: the fixed-noise grid + the curves so far.
    clear_output(wait=True)
    history = trainer.history
    epochs = [h["epoch"] for h in history]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    axes[0].imshow(make_grid(trainer.fixed_grid_images())[0], cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"epoch {trainer.epoch}"); axes[0].axis("off")
    axes[1].plot(epochs, [h["d_loss"] for h in history], "o-", label="D loss")
    axes[1].plot(epochs, [h["g_loss"] for h in history], "o-", label="G loss")
    axes[1].axhline(2 * math.log(2), color="C0", linestyle=":", label="2 ln 2")
    axes[1].axhline(math.log(2), color="C1", linestyle=":", label="ln 2")
    axes[1].set_xlabel("epoch"); axes[1].legend()
    axes[2].plot(epochs, [h["d_real"] for h in history], "o-", label="D(x)")
    axes[2].plot(epochs, [h["d_fake"] for h in history], "o-", label="D(G(z))")
    axes[2].axhline(0.5, color="gray", linestyle=":"); axes[2].set_ylim(0, 1)
    axes[2].set_xlabel("epoch"); axes[2].legend()
    plt.show()
    print(f"epoch {row['epoch']}: D loss {row['d_loss']:.3f}, G loss {row['g_loss']:.3f}, "
          f"{row['seconds']:.1f} s")


run = train(config, f"{OUT}/training", overwrite=True, data=data, progress=False,
            verbose=False, hooks=LoopHooks(on_epoch=[show]))
print(run, "alarms:", run.alarms or "none")
""")

md(r"""
### Question (Q3.1)

Dans l'étape d'entraînement du discriminateur, nous utilisons `.detach()` sur les `fake_images`
générées par $G$. Quel est l'effet précis de cette méthode PyTorch dans le contexte des GANs, et
pourquoi est-il essentiel pour l'entraînement de $D$ ?

*Votre réponse :*

L'expérience `detach` fait le pas de $D$ avec et sans `.detach()` sur le $G$ et le $D$ du TP, regarde ce
qui arrive dans les gradients de $G$, tente le pas de $G$ qui suit, et chronomètre la différence :
""", r"""
### Question (Q3.1)

In the discriminator's training step we call `.detach()` on the `fake_images` generated by $G$. What
exactly does this PyTorch method do in the context of GANs, and why is it essential for training $D$?

*Your answer:*

The `detach` experiment runs D's step with and without `.detach()` on the lab's G and D, looks at what
lands in G's gradients, attempts the G step that follows, and times the difference:
""")
code('experience("detach");', 'experiment("detach");')

# ============================================================================ IV
md(r"""
## IV. Analyse des résultats et questions de synthèse

Les courbes de l'entraînement de la partie III, tracées depuis son `metrics.csv` :
""", r"""
## IV. Analysis of the results and closing questions

The curves of section III's run, drawn from its `metrics.csv`:
""")
code(r"""
display(Image(filename=str(entrainement.run_dir / "curves.png")))
""", r"""
display(Image(filename=str(run.run_dir / "curves.png")))
""")

md(r"""
### 1. Interprétation de la perte de D

Expliquez la valeur idéale vers laquelle la perte du discriminateur devrait converger. Que signifie une
perte de $D$ trop basse (proche de 0) en milieu ou fin d'entraînement ?

*Votre réponse :*
""", r"""
### 1. Reading D's loss

Explain the ideal value D's loss should converge to. What does a D loss that is too low (close to 0)
mean in the middle or at the end of training?

*Your answer:*
""")
code('experience("d-loss");', 'experiment("d-loss");')

md(r"""
### 2. Problème de stabilité : le *mode collapse*

Expliquez ce phénomène et décrivez visuellement ce qu'il se passerait sur la grille de génération si
votre modèle en était victime.

*Votre réponse :*
""", r"""
### 2. A stability problem: *mode collapse*

Explain the phenomenon and describe what the generation grid would look like if your model suffered
from it.

*Your answer:*
""")
code('experience("mode-collapse");', 'experiment("mode-collapse");')

md(r"""
Le même détecteur surveille **votre** entraînement de la partie III : à chaque époque, la diversité
en pixels des 64 images du bruit fixe, rapportée à celle d'images réelles (colonne `diversity` de
`metrics.csv`, 1 = aussi variées que les vraies, 0 = la même image quel que soit z). Sous 0,02 trois
époques de suite, l'entraînement affiche une alarme *mode collapse*.
""", r"""
The same detector watches **your** training from part III: every epoch, the pixel diversity of the
64 fixed-noise images against real images (the `diversity` column of `metrics.csv`; 1 = as varied
as real images, 0 = the same image whatever z). Below 0.02 for three epochs in a row, training
prints a *mode collapse* alarm.
""")
code('''print("diversité par époque :", [round(ligne["diversity"], 3) for ligne in entrainement.trainer.history])
print("alarmes :", entrainement.alarms or "aucune")''',
     '''print("diversity per epoch:", [round(row["diversity"], 3) for row in run.trainer.history])
print("alarms:", run.alarms or "none")''')

md(r"""
### 3. Avantage par rapport au VAE

Par rapport au VAE, quel est le principal avantage du GAN en termes de qualité visuelle des images
générées ? Quelle en est la contrepartie ?

*Votre réponse :*
""", r"""
### 3. Advantage over the VAE

Compared with the VAE, what is the GAN's main advantage in the visual quality of the generated images?
What is the price (the drawback)?

*Your answer:*
""")
code('experience("vae");', 'experiment("vae");')

md(r"""
### 4. Ouverture : DCGAN

Quel type d'architecture sera introduit dans la prochaine étape (DCGAN) pour remplacer les couches
linéaires ? Quel avantage les couches convolutionnelles apportent-elles pour la génération d'images ?

*Votre réponse :*
""", r"""
### 4. Looking ahead: DCGAN

Which kind of architecture will the next step (DCGAN) introduce to replace the linear layers? What do
convolutional layers bring to image generation, compared with linear layers?

*Your answer:*
""")
code('experience("dcgan");', 'experiment("dcgan");')

md(r"""
---
Le corrigé commenté, avec les figures et les nombres d'une exécution `--quick` : `docs/fr/corrige.md`.
Pour refaire une expérience hors du notebook : `gan-atelier lab <nom> --quick` (ou sans `--quick` pour
les réglages complets).
""", r"""
---
The answer key, with the figures and numbers of a `--quick` run: `docs/en/answers.md`. To rerun an
experiment outside the notebook: `gan-atelier lab <name> --quick` (or without `--quick` for the full
settings).
""")


def build(language: str) -> nbformat.NotebookNode:
    column = 1 if language == "fr" else 2
    notebook = nbformat.v4.new_notebook()
    notebook.metadata.update({
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    for cell in CELLS:
        text = cell[column]
        new = nbformat.v4.new_markdown_cell(text) if cell[0] == "markdown" else nbformat.v4.new_code_cell(text)
        notebook.cells.append(new)
    for index, cell in enumerate(notebook.cells):  # stable ids: clean diffs when rebuilt
        cell["id"] = f"{language}-{index:02d}"
    return notebook


def main() -> None:
    for language, name in (("fr", "tp_mlp_gan.ipynb"), ("en", "tp_mlp_gan_en.ipynb")):
        nbformat.write(build(language), HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
