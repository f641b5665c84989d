"""The notebooks' first cells: title, setup, settings, section I and the 2-D section (issue #13)."""

from cellkit import BOTH, INSTRUCTOR, STUDENT, answer, code, experiment, md  # noqa: F401

# ============================================================================ title
md(r"""
# 🎓 TP : Introduction pédagogique aux GANs (MLP-GAN), avec `gan-atelier`

Ce notebook suit le TP *« Introduction Pédagogique aux GANs (MLP-GAN) »* section par section :
**I.** le jeu antagoniste et sa fonction objectif, **II.** l'architecture (le code du générateur et du
discriminateur, affiché depuis le paquet pour que vous le lisiez), **III.** la boucle d'entraînement,
avec grilles et courbes en direct, **IV.** l'analyse des résultats.

Chaque question du TP est suivie de l'**expérience** du laboratoire qui y répond *sur votre machine* :
`gan-atelier lab <expérience>` en ligne de commande, ou `experiment("<nom>")` ici. Chaque expérience
écrit un dossier (figures, `summary.md`, `results.json`, et les entraînements qu'elle a faits) ; le
résumé cite les nombres mesurés pendant **votre** exécution. Le corrigé (`docs/fr/corrige.md`) commente
ces mêmes figures ; le guide de l'enseignant (`docs/fr/enseignant.md`) dit comment mener la séance.
L'édition étudiante de ce notebook (`tp_mlp_gan_etudiant.ipynb`) fait écrire le code du TP, avec une
vérification après chaque cellule.

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
these same figures; the instructor's guide (`docs/en/instructor.md`) says how to run the class. The
student edition of this notebook (`tp_mlp_gan_student.ipynb`) has the students write the lab's code,
with a check after each cell.

**Time.** With `QUICK = True` (the default), the whole notebook runs in about ten minutes on a
2-core CPU: a 12,000-image subset, few epochs. With `QUICK = False`, the lab's full settings (60,000
images, 50 epochs: hours on a CPU, minutes on a GPU).
""", INSTRUCTOR)

md(r"""
# 🎓 TP : Introduction pédagogique aux GANs (MLP-GAN) — édition étudiante

Vous allez **écrire** le GAN du TP : le générateur (2.2), le discriminateur (2.3) et la boucle
d'entraînement (III). Les parties à écrire sont marquées `# TODO` ; remplacez la ligne
`raise NotImplementedError(...)` par votre code. Après chaque cellule à compléter, une cellule de
**vérification** teste votre code sur de petites données synthétiques (moins d'une seconde) et, s'il y a
une erreur, la **nomme** (un `.detach()` oublié, une Sigmoid avant `BCEWithLogitsLoss`, des cibles
inversées…) en citant la ligne du TP concernée. Corrigez, réexécutez la cellule, puis la vérification.

Chaque question du TP a sa cellule de réponse (vide, à vous de l'écrire), suivie de l'**expérience**
du laboratoire qui y répond sur votre machine : ses figures et ses nombres sont des **preuves** pour
appuyer votre réponse. Hors notebook : `gan-atelier check mon_tp.py` vérifie un script qui contient les
cellules du TP.

**Durée.** Avec `QUICK = True` (par défaut), le notebook tourne en une quinzaine de minutes sur un CPU
à 2 cœurs. Avec `QUICK = False`, les réglages complets du TP (60 000 images, 50 époques).
""", r"""
# 🎓 Lab: a teaching introduction to GANs (MLP-GAN) — student edition

You are going to **write** the lab's GAN: the generator (2.2), the discriminator (2.3) and the
training loop (III). The parts to write are marked `# TODO`; replace the line
`raise NotImplementedError(...)` with your code. After each cell to complete, a **check** cell tests
your code on small synthetic data (under a second) and, if something is wrong, **names** the mistake (a
forgotten `.detach()`, a Sigmoid before `BCEWithLogitsLoss`, swapped targets…) and quotes the lab's
line it concerns. Fix it, rerun the cell, then the check.

Each question of the lab has its answer cell (empty, yours to write), followed by the lab
**experiment** that answers it on your machine: its figures and numbers are **evidence** for your
answer. Outside notebooks: `gan-atelier check my_lab.py` checks a script holding the lab's cells.

**Time.** With `QUICK = True` (the default), the notebook runs in about fifteen minutes on a 2-core
CPU. With `QUICK = False`, the lab's full settings (60,000 images, 50 epochs).
""", STUDENT)

# ============================================================================ setup and settings
code(r'''
# ⟨Mise en route : installe gan-atelier s'il manque, récupère Fashion-MNIST s'il est absent, choisit le GPU s'il y en a un.‖Setup: installs gan-atelier when missing, fetches Fashion-MNIST when absent, picks the GPU when there is one.⟩
# ⟨La source du paquet, réglée par l'enseignant (une seule variable) :‖The package's source, set by the instructor (one variable):⟩
#   "gan-atelier"                                     ⟨l'index de paquets (une fois publié)‖the package index (once published)⟩
#   "/chemin/vers/gan_atelier-0.1.0-py3-none-any.whl" ⟨une roue construite par `make wheel` (dans dist/), chemin ou URL‖a wheel built by `make wheel` (in dist/), path or URL⟩
#   "git+https://github.com/<compte>/gan-atelier.git" ⟨le dépôt git‖the git repository⟩
PACKAGE_SOURCE = "gan-atelier"

import importlib
import importlib.util
import os
import subprocess
import sys

done = []
if importlib.util.find_spec("gan_atelier") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", PACKAGE_SOURCE], check=True)
    importlib.invalidate_caches()
    done.append(f"⟨gan-atelier installé depuis‖gan-atelier installed from⟩ {PACKAGE_SOURCE}")
else:
    done.append("⟨gan-atelier déjà installé‖gan-atelier already installed⟩")
if os.environ.get("GAN_ATELIER_NB_TINY") != "1":  # ⟨en CI : données synthétiques, rien à télécharger‖in CI: synthetic data, nothing to fetch⟩
    from gan_atelier.data import find_data_dir
    from gan_atelier.errors import DataError

    try:
        done.append(f"Fashion-MNIST ⟨trouvé dans‖found in⟩ {find_data_dir('fashion-mnist')}")
    except DataError:
        subprocess.run([sys.executable, "-m", "gan_atelier", "data", "fetch"], check=True)
        done.append("⟨Fashion-MNIST téléchargé‖Fashion-MNIST downloaded⟩")
import torch

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
print("setup: " + "; ".join(done) + f"; device {DEVICE}")
''', tags=("setup",))

code(r'''
QUICK = True  # ⟨False : les réglages complets du TP (long sur CPU)‖False: the lab's full settings (long on a CPU)⟩

import os
import torch

# ⟨En intégration continue, GAN_ATELIER_NB_TINY=1 remplace les données par des taches synthétiques :
# le notebook s'exécute en une à deux minutes (les nombres obtenus n'ont alors aucun sens).‖In continuous integration, GAN_ATELIER_NB_TINY=1 replaces the data with synthetic blobs:
# the notebook runs in a minute or two (the numbers it prints then mean nothing).⟩
TINY = os.environ.get("GAN_ATELIER_NB_TINY") == "1"
SCALE = "tiny" if TINY else ("quick" if QUICK else "full")
OUT = "runs/notebook"  # ⟨dossier de tous les résultats du notebook‖folder of everything this notebook writes⟩
LANG = "⟨fr‖en⟩"  # ⟨langue des messages des vérifications‖language of the checks' messages⟩
if SCALE != "full":
    torch.set_num_threads(1)  # ⟨ces petits MLP ne gagnent presque rien à plusieurs threads sur un CPU partagé‖these small MLPs gain almost nothing from several threads on a shared CPU⟩
print(f"⟨échelle‖scale⟩ {SCALE}, ⟨résultats dans‖outputs in⟩ {OUT}/, {torch.get_num_threads()} thread(s)")
''')

code(r'''
from IPython.display import Image, Markdown, display

from gan_atelier.lab import run_experiment
from gan_atelier.lab.context import LabContext


def experiment(name):
    # ⟨Lance `gan-atelier lab <nom>` à l'échelle choisie, puis affiche les preuves et les figures.‖Runs `gan-atelier lab <name>` at the chosen scale, then shows the evidence and the figures.⟩
    result = run_experiment(name, LabContext(out_dir=f"{OUT}/lab/{name}", scale=SCALE, verbose=False))
    display(Markdown(f"**{result.question} — `{result.command}`**\n\n" + " ".join(result.evidence)
                     + ("\n\n" + result.table if result.table else "")))
    for figure in result.figures:
        display(Image(filename=str(figure)))
    for note in result.notes:
        print("note:", note)
    return result
''')

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

code(r'''
import inspect
import math

from gan_atelier import losses

zero_logits = torch.zeros(128, 1)  # ⟨logit 0 : D répond σ(0) = 0,5 à toutes les images‖logit 0: D answers σ(0) = 0.5 for every image⟩
print(f"⟨perte de D à l'équilibre‖D's loss at the equilibrium⟩: {losses.ns_d_loss(zero_logits, zero_logits).item():.4f}"
      f"  (2 ln 2 = {2 * math.log(2):.4f})")
print(f"⟨perte de G (non saturante, celle du TP)‖G's loss (non-saturating, the lab's)⟩: {losses.ns_g_loss(zero_logits).item():.4f}"
      f"  (ln 2 = {math.log(2):.4f})")
display(Markdown("```python\n" + inspect.getsource(losses.ns_d_loss) + "\n"
                 + inspect.getsource(losses.ns_g_loss) + "\n"
                 + inspect.getsource(losses.saturating_g_loss) + "```"))
''')

md(r"""
### Question (Q1.1)

Si, au début de l'entraînement, le discriminateur renvoie $D(\mathbf{x}) = 0.9$ pour les vraies images
et $D(G(\mathbf{z})) = 0.1$ pour les fausses, comment cela impacte-t-il l'apprentissage du générateur $G$
à ce stade ? (Indice : regardez le terme $\log (1 - D(G(\mathbf{z})))$.)
""", r"""
### Question (Q1.1)

If, early in training, the discriminator outputs $D(\mathbf{x}) = 0.9$ for real images and
$D(G(\mathbf{z})) = 0.1$ for fakes, how does this affect the generator's learning at that point?
(Hint: look at the term $\log (1 - D(G(\mathbf{z})))$.)
""")
md("*Votre réponse :*", "*Your answer:*", INSTRUCTOR)
answer()
md(r"""
Calculons la pente des deux pertes possibles de $G$ par rapport au logit de $D$, au point de la question :
""", r"""
Let us compute the slope of G's two possible losses with respect to D's logit, at the question's point:
""")

code(r'''
logit = torch.tensor([[math.log(0.1 / 0.9)]], requires_grad=True)  # σ(logit) = D(G(z)) = ⟨0,1‖0.1⟩
for name, loss in [("⟨saturante‖saturating⟩  log(1 − D(G(z)))", losses.saturating_g_loss),
                   ("⟨non saturante‖non-saturating⟩  −log D(G(z))", losses.ns_g_loss)]:
    (slope,) = torch.autograd.grad(loss(logit), logit)
    print(f"{name:30s} ∂L/∂logit = {slope.item():+.3f}")
''')

md(r"""
L'expérience `saturating` entraîne le même GAN avec chacune des deux pertes et mesure, à chaque pas,
$D(G(\mathbf{z}))$ et la norme du gradient qui arrive dans les poids de $G$ :
""", r"""
The `saturating` experiment trains the same GAN with each of the two losses and measures, at every
step, $D(G(\mathbf{z}))$ and the norm of the gradient that reaches G's weights:
""")
experiment("saturating")

# ============================================================================ the 2-D GAN (issue #13)
md(r"""
### 1.2 Le jeu en deux dimensions

Avant les images, le même jeu sur des **points du plan** : les « vraies données » sont quelques taches
gaussiennes, $G$ transforme un bruit en points, $D$ colore le plan selon qu'il y croit (vrai) ou non.
En 2-D on *voit* tout : la densité de $G$, la frontière de $D$, et ce qui se passe quand le jeu
déraille. Le scénario `mode-collapse` montre $G$ qui couvre d'abord une seule tache, puis saute d'une
tache à l'autre au lieu de les couvrir toutes (d'autres scénarios : `saturating`, `learning-rate`,
`detach`, `d-loss`, `optimal-d`, `dirac`).
""", r"""
### 1.2 The game in two dimensions

Before images, the same game on **points in the plane**: the "real data" are a few Gaussian blobs, $G$
turns noise into points, $D$ colours the plane by whether it believes them (real) or not. In 2-D we
*see* everything: G's density, D's boundary, and what happens when the game goes wrong. The
`mode-collapse` scenario shows $G$ covering a single blob at first, then jumping from blob to blob
instead of covering them all (other scenarios: `saturating`, `learning-rate`, `detach`, `d-loss`,
`optimal-d`, `dirac`).
""")

code(r'''
from gan_atelier.toy2d import run_scenario

toy_result = run_scenario("mode-collapse", out_dir=f"{OUT}/toy2d/mode-collapse", quick=QUICK or TINY)
display(Image(filename=str(toy_result.figure_path)))
print(toy_result.summary)
''', tags=("experiment", "toy2d"))
