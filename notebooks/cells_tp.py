"""Sections II to IV. The instructor edition shows and runs the package's code; the student edition
has the TP's own code cells to complete (TODO), each followed by a check cell."""

from cellkit import INSTRUCTOR, STUDENT, answer, check, code, experiment, md

# ============================================================================ II (instructor)
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
""", INSTRUCTOR)

code(r'''
from gan_atelier import get_config, show_grid
from gan_atelier.data import load_split, synthetic_split

if SCALE == "tiny":
    config = get_config("dry-run")  # ⟨512 images synthétiques, 2 époques‖512 synthetic images, 2 epochs⟩
elif SCALE == "quick":
    config = get_config("quick", {"train.epochs": 5})  # ⟨12 000 images, 5 époques‖12,000 images, 5 epochs⟩
else:
    config = get_config("seed")  # ⟨le TP exactement : 60 000 images, 50 époques‖the lab exactly: 60,000 images, 50 epochs⟩
print(config.model)
print(config.train)

if TINY:
    data = synthetic_split(config.data.subset)
else:
    data = load_split("fashion-mnist", "train", subset=config.data.subset)
print(f"{len(data)} ⟨images d'entraînement‖training images⟩, {tuple(data.images.shape)} uint8")
show_grid(data.as_float()[:64], "⟨64 images réelles‖64 real images⟩", figsize=(5, 5))
''', INSTRUCTOR)

md(r"""
### 2.2 Le générateur (G) et 2.3 le discriminateur (D)

Voici le code exact utilisé par le paquet (`gan_atelier/models/mlp.py`). Lisez-le : entrée, sorties,
activations, pourquoi une **Sigmoid** à la sortie de $G$ et **aucune** à la sortie de $D$.
""", r"""
### 2.2 The generator (G) and 2.3 the discriminator (D)

Here is the exact code the package uses (`gan_atelier/models/mlp.py`). Read it: input, outputs,
activations, why a **Sigmoid** ends $G$ and **none** ends $D$.
""", INSTRUCTOR)

code(r'''
from gan_atelier.models import count_parameters, mlp

display(Markdown("```python\n" + inspect.getsource(mlp.Generator) + "\n\n"
                 + inspect.getsource(mlp.Discriminator) + "```"))
G, D = mlp.Generator(latent_dim=100), mlp.Discriminator()
z = torch.randn(4, 100)
print("G(z):", tuple(G(z).shape), "⟨dans‖in⟩ [", G(z).min().item(), ",", G(z).max().item(), "]")
print("D(G(z)):", tuple(D(G(z)).shape), "⟨(des logits, pas des probabilités)‖(logits, not probabilities)⟩")
print(f"⟨paramètres‖parameters⟩: G {count_parameters(G):,}, D {count_parameters(D):,}")
''', INSTRUCTOR)

# ============================================================================ II (student)
md(r"""
## II. Préparation et architecture (MLP-GAN)

Nous utilisons des réseaux multi-couches (MLP) simples. Les images 28×28 sont mises à plat en vecteurs
de 784 valeurs dans $[0, 1]$. Les données sont lues par `gan-atelier` (la cellule de mise en route les a
trouvées ou téléchargées) au lieu de `torchvision` ; le reste est le code du TP.
""", r"""
## II. Preparation and architecture (MLP-GAN)

We use simple multi-layer networks (MLP). The 28×28 images are flattened to vectors of 784 values in
$[0, 1]$. The data are read by `gan-atelier` (the setup cell found or downloaded them) instead of
`torchvision`; the rest is the lab's code.
""", STUDENT)

code(r'''
import torch
import torch.nn as nn
import torch.nn.functional as F
import numpy as np
from torch.utils.data import DataLoader, TensorDataset
from matplotlib import pyplot as plt
from tqdm import trange, tqdm  # ⟨le TP : tqdm.notebook, qui demande ipywidgets‖the lab: tqdm.notebook, which needs ipywidgets⟩

from gan_atelier import make_grid  # ⟨comme torchvision.utils.make_grid (images dans [0, 1])‖like torchvision.utils.make_grid (images in [0, 1])⟩
from gan_atelier.checks import check_d_step, check_discriminator, check_g_step, check_generator, check_training
from gan_atelier.data import load_split, synthetic_split

device = torch.device(DEVICE)
print(f"⟨Exécution sur‖Running on⟩ {device}")

# ⟨Hyperparamètres du TP (moins d'époques et d'images sous l'échelle « full »)‖The lab's hyperparameters (fewer epochs and images below the "full" scale)⟩
image_size = 28 * 28  # 784
latent_dim = 100  # ⟨dimension du bruit z‖dimension of the noise z⟩
batch_size = 128
epochs = {"tiny": 1, "quick": 5, "full": 50}[SCALE]  # ⟨le TP : 50‖the lab: 50⟩
lr = 0.0002  # ⟨taux d'apprentissage bas pour la stabilité des GANs‖a low learning rate for GAN stability⟩

split = synthetic_split(512) if TINY else load_split("fashion-mnist", "train", subset=0 if SCALE == "full" else 12_000)
train_dataset = TensorDataset(split.as_float(), split.labels)  # ⟨images (N, 1, 28, 28) dans [0, 1] et étiquettes (N,)‖images (N, 1, 28, 28) in [0, 1] and labels (N,)⟩
train_dataloader = DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
print(f"{len(train_dataset)} images, {len(train_dataloader)} batches ⟨par époque‖per epoch⟩, {epochs} ⟨époque(s)‖epoch(s)⟩")
''', STUDENT)

md(r"""
### 2.2 Le générateur (G)

Entrée : un bruit $\mathbf{z}$ (`latent_dim`). Sortie : une image aplatie $\mathbf{x}'$ (`img_dim`), dans
$[0, 1]$ comme les vraies images. Couches du TP : Linear `latent_dim`→256→512→1024→`img_dim`, une
LeakyReLU(0.2) après chaque couche cachée.
""", r"""
### 2.2 The generator (G)

Input: a noise vector $\mathbf{z}$ (`latent_dim`). Output: a flattened image $\mathbf{x}'$ (`img_dim`),
in $[0, 1]$ like real images. The lab's layers: Linear `latent_dim`→256→512→1024→`img_dim`, a
LeakyReLU(0.2) after each hidden layer.
""", STUDENT)

code(r'''
class Generator(nn.Module):
    def __init__(self, latent_dim, img_dim):
        super().__init__()
        #<TODO generator: ⟨self.model = nn.Sequential(...) : Linear latent_dim → 256 → 512 → 1024 → img_dim, LeakyReLU(0.2) entre elles, sortie dans [0, 1]‖self.model = nn.Sequential(...): Linear latent_dim → 256 → 512 → 1024 → img_dim, LeakyReLU(0.2) in between, output in [0, 1]⟩>
        self.model = nn.Sequential(
            nn.Linear(latent_dim, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 1024),
            nn.LeakyReLU(0.2),
            nn.Linear(1024, img_dim),
            nn.Sigmoid()  # ⟨Sigmoid pour garantir la sortie [0, 1] (normalisation simple)‖Sigmoid to keep the output in [0, 1] (simple normalisation)⟩
        )
        #</TODO>

    def forward(self, z):
        return self.model(z)
''', STUDENT, tags=("todo",))
check("check_generator(Generator, lang=LANG)")

md(r"""
### 2.3 Le discriminateur (D)

Entrée : une image aplatie $\mathbf{x}$ (`img_dim`). Sortie : un score scalaire, un **logit**, que
`BCEWithLogitsLoss` transformera en probabilité. Couches du TP : Linear `img_dim`→1024→512→256→1,
LeakyReLU(0.2) puis Dropout(0.3) après chaque couche cachée.
""", r"""
### 2.3 The discriminator (D)

Input: a flattened image $\mathbf{x}$ (`img_dim`). Output: one score, a **logit**, that
`BCEWithLogitsLoss` will turn into a probability. The lab's layers: Linear `img_dim`→1024→512→256→1,
LeakyReLU(0.2) then Dropout(0.3) after each hidden layer.
""", STUDENT)

code(r'''
class Discriminator(nn.Module):
    def __init__(self, img_dim):
        super().__init__()
        #<TODO discriminator: ⟨self.model = nn.Sequential(...) : Linear img_dim → 1024 → 512 → 256 → 1, LeakyReLU(0.2) et Dropout(0.3) après chaque couche cachée, sortie = un logit‖self.model = nn.Sequential(...): Linear img_dim → 1024 → 512 → 256 → 1, LeakyReLU(0.2) and Dropout(0.3) after each hidden layer, output = one logit⟩>
        self.model = nn.Sequential(
            nn.Linear(img_dim, 1024),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(1024, 512),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(256, 1)  # ⟨Sortie finale sans activation (logits)‖Final output without activation (logits)⟩
        )
        #</TODO>

    def forward(self, x):
        return self.model(x)
''', STUDENT, tags=("todo",))
check("check_discriminator(Discriminator, lang=LANG)")

code(r'''
# ⟨Initialisation‖Initialisation⟩
G = Generator(latent_dim, image_size).to(device)
D = Discriminator(image_size).to(device)

# ⟨Optimiseurs : Adam avec betas=(0.5, 0.999) est standard pour les GANs.‖Optimizers: Adam with betas=(0.5, 0.999) is standard for GANs.⟩
G_optimizer = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
D_optimizer = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))

# ⟨Loss : BCEWithLogitsLoss est recommandée pour la stabilité numérique. Elle inclut la Sigmoid.‖Loss: BCEWithLogitsLoss is recommended for numerical stability. It includes the Sigmoid.⟩
criterion = nn.BCEWithLogitsLoss()

# ⟨Bruit fixe pour suivre la progression de la génération‖Fixed noise to follow how generation progresses⟩
fixed_noise = torch.randn(64, latent_dim, device=device)


# ⟨Fonction utilitaire de visualisation (réutilisée du TP VAE)‖Display helper (reused from the VAE lab)⟩
def show_grid(grid, title="", figsize=(10, 10)):
    plt.figure(figsize=figsize)
    plt.title(title)
    plt.imshow(np.transpose(grid.numpy(), (1, 2, 0)), cmap="gray")  # ⟨niveaux de gris‖grayscale⟩
    plt.axis("off")
    plt.show()
''', STUDENT)

# ============================================================================ Q2.1 (both)
md(r"""
### Question (Q2.1)

Observez les taux d'apprentissage. Pourquoi le taux d'apprentissage est-il souvent très bas (ici
0.0002) dans les GANs par rapport à d'autres réseaux (souvent 0.001) ? Quel risque prend-on avec des
taux d'apprentissage trop élevés pour $G$ ou $D$ ?
""", r"""
### Question (Q2.1)

Look at the learning rates. Why is the learning rate often very low in GANs (here 0.0002) compared
with other networks (often 0.001)? What do we risk with learning rates that are too high for $G$ or $D$?
""")
md("*Votre réponse :*", "*Your answer:*", INSTRUCTOR)
answer()
md(r"""
L'expérience `learning-rate` entraîne le même GAN avec lr = 2e-4, 1e-3, 5e-3 et deux réglages inégaux
($D$ plus rapide, $G$ plus rapide), puis nomme ce que chaque entraînement a fait (stable, oscillant,
D gagne, D perd, divergence) :
""", r"""
The `learning-rate` experiment trains the same GAN with lr = 2e-4, 1e-3, 5e-3 and two unequal
settings (D faster, G faster), then names what each run did (stable, oscillating, D wins, D loses,
diverged):
""")
experiment("learning-rate")

# ============================================================================ III (instructor)
md(r"""
## III. Boucle d'entraînement : l'alternance cruciale

À chaque batch : d'abord un pas de $D$ (vraies images → 1, fausses images **détachées** → 0), puis un pas
de $G$ (les mêmes fausses images, cette fois reliées au graphe de $G$, notées contre la cible VRAI). Voici
le pas exact du paquet (`gan_step` dans `gan_atelier/training/step.py`) :
""", r"""
## III. The training loop: the crucial alternation

On every batch: first a step of $D$ (real images → 1, **detached** fakes → 0), then a step of $G$ (the
same fakes, now attached to G's graph, scored against the REAL target). Here is the package's exact
step (`gan_step` in `gan_atelier/training/step.py`):
""", INSTRUCTOR)

code(r'''
from gan_atelier.training import LoopHooks
from gan_atelier.training.step import gan_step

display(Markdown("```python\n" + inspect.getsource(gan_step) + "```"))
''', INSTRUCTOR)

md(r"""
Entraînons. Après chaque époque, la cellule affiche la grille des 64 bruits fixes et les courbes
(perte de $D$ contre $2 \ln 2$, perte de $G$ contre $\ln 2$, $D(\mathbf{x})$ et $D(G(\mathbf{z}))$ contre 0,5).
Le dossier de l'entraînement contient aussi `metrics.csv`, `samples/`, `progress.gif` et `curves.png`.
""", r"""
Let us train. After each epoch the cell shows the grid of the 64 fixed noise vectors and the curves
(D's loss against $2 \ln 2$, G's loss against $\ln 2$, $D(\mathbf{x})$ and $D(G(\mathbf{z}))$ against 0.5).
The run folder also holds `metrics.csv`, `samples/`, `progress.gif` and `curves.png`.
""", INSTRUCTOR)

code(r'''
from IPython.display import clear_output
from matplotlib import pyplot as plt

from gan_atelier import train
from gan_atelier.viz import make_grid


def show(trainer, row):
    # ⟨Appelé par la boucle à la fin de chaque époque : grille du bruit fixe + courbes jusqu'ici.‖Called by the loop at the end of every epoch: the fixed-noise grid + the curves so far.⟩
    clear_output(wait=True)
    history = trainer.history
    epochs = [h["epoch"] for h in history]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    axes[0].imshow(make_grid(trainer.fixed_grid_images())[0], cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"⟨époque‖epoch⟩ {trainer.epoch}"); axes[0].axis("off")
    axes[1].plot(epochs, [h["d_loss"] for h in history], "o-", label="⟨perte de D‖D loss⟩")
    axes[1].plot(epochs, [h["g_loss"] for h in history], "o-", label="⟨perte de G‖G loss⟩")
    axes[1].axhline(2 * math.log(2), color="C0", linestyle=":", label="2 ln 2")
    axes[1].axhline(math.log(2), color="C1", linestyle=":", label="ln 2")
    axes[1].set_xlabel("⟨époque‖epoch⟩"); axes[1].legend()
    axes[2].plot(epochs, [h["d_real"] for h in history], "o-", label="D(x)")
    axes[2].plot(epochs, [h["d_fake"] for h in history], "o-", label="D(G(z))")
    axes[2].axhline(0.5, color="gray", linestyle=":"); axes[2].set_ylim(0, 1)
    axes[2].set_xlabel("⟨époque‖epoch⟩"); axes[2].legend()
    plt.show()
    print(f"⟨époque‖epoch⟩ {row['epoch']}: ⟨perte D‖D loss⟩ {row['d_loss']:.3f}, ⟨perte G‖G loss⟩ {row['g_loss']:.3f}, "
          f"{row['seconds']:.1f} s")


run = train(config, f"{OUT}/training", overwrite=True, data=data, progress=False,
            verbose=False, hooks=LoopHooks(on_epoch=[show]))
print(run, "⟨alarmes‖alarms⟩:", run.alarms or "⟨aucune‖none⟩")
''', INSTRUCTOR)

# ============================================================================ III (student)
md(r"""
## III. Boucle d'entraînement : l'alternance cruciale

L'entraînement s'effectue en deux sous-étapes par batch : d'abord on améliore $D$, puis on améliore $G$.
C'est le cœur du jeu antagoniste. Complétez les deux étapes de `train_gan` (`# TODO`) :

1. **étape D** : remettre à zéro les gradients de $D$ ; la perte des vraies images (cible 1) ; générer
   `fake_images` à partir d'un bruit ; la perte des fausses images **détachées** (cible 0) ; la somme des
   deux, `backward()`, le pas de l'optimiseur de $D$ ;
2. **étape G** : remettre à zéro les gradients de $G$ ; $D$ note les **mêmes** `fake_images`, cette fois
   sans `.detach()`, contre la cible VRAI (1) ; `backward()`, le pas de l'optimiseur de $G$.

La suite de la boucle (moyennes par époque, grille du bruit fixe toutes les 5 époques) est donnée.
""", r"""
## III. The training loop: the crucial alternation

Training takes two sub-steps per batch: first we improve $D$, then we improve $G$. This is the heart of
the adversarial game. Complete the two steps of `train_gan` (`# TODO`):

1. **D step**: zero D's gradients; the loss on real images (target 1); generate `fake_images` from
   noise; the loss on the **detached** fakes (target 0); the sum of the two, `backward()`, the step of
   D's optimizer;
2. **G step**: zero G's gradients; D scores the **same** `fake_images`, this time without `.detach()`,
   against the REAL target (1); `backward()`, the step of G's optimizer.

The rest of the loop (per-epoch means, a grid of the fixed noise every 5 epochs) is given.
""", STUDENT)

code(r'''
def train_gan(G, D, G_optimizer, D_optimizer, criterion, dataloader, epochs, latent_dim, device):
    G.train(); D.train()
    for epoch in trange(epochs, desc="⟨Entraînement GAN‖GAN training⟩"):
        D_loss_total = 0
        G_loss_total = 0

        for real_images, _ in dataloader:

            # --- ⟨Préparation des données‖Preparing the data⟩ ---
            real_images = real_images.view(-1, image_size).to(device)
            current_batch_size = real_images.size(0)

            # ⟨Tenseurs de cibles (VRAI=1.0, FAUX=0.0), des floats pour la BCE‖Target tensors (REAL=1.0, FAKE=0.0), floats for the BCE⟩
            real_labels = torch.ones(current_batch_size, 1, device=device)
            fake_labels = torch.zeros(current_batch_size, 1, device=device)

            # ===============================================
            # 1. ⟨ÉTAPE D : Améliorer le Discriminateur‖D STEP: improve the Discriminator⟩
            # ===============================================
            #<TODO d-step: ⟨zero_grad de D ; D_real_loss (cible 1) ; fake_images = G(bruit) ; D_fake_loss sur fake_images détachées (cible 0) ; D_loss = somme ; backward ; pas de D‖zero D's gradients; D_real_loss (target 1); fake_images = G(noise); D_fake_loss on the detached fake_images (target 0); D_loss = the sum; backward; D's step⟩>
            D_optimizer.zero_grad()

            # 1a. ⟨Loss sur les images réelles (cible = 1)‖Loss on the real images (target = 1)⟩
            D_real_pred = D(real_images)
            D_real_loss = criterion(D_real_pred, real_labels)

            # 1b. ⟨Générer les fausses images et calculer la loss (cible = 0)‖Generate the fakes and compute the loss (target = 0)⟩
            noise = torch.randn(current_batch_size, latent_dim, device=device)
            fake_images = G(noise)

            # ⚠️ ⟨POINT CLÉ : .detach() pour arrêter la rétropropagation vers G‖KEY POINT: .detach() stops backpropagation into G⟩
            D_fake_pred = D(fake_images.detach())
            D_fake_loss = criterion(D_fake_pred, fake_labels)

            # 1c. ⟨Rétropropagation de la loss totale de D‖Backpropagate D's total loss⟩
            D_loss = D_real_loss + D_fake_loss
            D_loss.backward()
            D_optimizer.step()
            #</TODO>

            D_loss_total += D_loss.item()

            # ===============================================
            # 2. ⟨ÉTAPE G : Améliorer le Générateur‖G STEP: improve the Generator⟩
            # ===============================================
            #<TODO g-step: ⟨zero_grad de G ; D note les mêmes fake_images (sans .detach()) ; G_loss contre la cible VRAI (1) ; backward ; pas de G‖zero G's gradients; D scores the same fake_images (no .detach()); G_loss against the REAL target (1); backward; G's step⟩>
            G_optimizer.zero_grad()

            # ⟨G veut que D prédise 1 (VRAI) pour ses fausses images (pour le tromper).
            # On réutilise fake_images, mais cette fois le graphe de G est attaché.‖G wants D to predict 1 (REAL) for its fakes (to fool it).
            # We reuse fake_images, but this time G's graph is attached.⟩
            G_pred = D(fake_images)
            G_loss = criterion(G_pred, real_labels)  # ⚠️ ⟨CIBLE = 1 (real_labels) pour la loss de G‖TARGET = 1 (real_labels) for G's loss⟩

            G_loss.backward()
            G_optimizer.step()
            #</TODO>

            G_loss_total += G_loss.item()

        # --- ⟨Affichage de l'évolution (par époque)‖Progress display (per epoch)⟩ ---
        avg_D_loss = D_loss_total / len(dataloader)
        avg_G_loss = G_loss_total / len(dataloader)
        tqdm.write(f"Epoch {epoch+1:2d} | D Loss: {avg_D_loss:.4f} | G Loss: {avg_G_loss:.4f}")

        # 4. ⟨Visualisation toutes les 5 époques‖A grid every 5 epochs⟩
        if (epoch + 1) % 5 == 0:
            G.eval()
            with torch.no_grad():
                # ⟨Générer 64 images à partir du bruit fixe‖Generate 64 images from the fixed noise⟩
                generated_images = G(fixed_noise).cpu().view(64, 1, 28, 28)
                show_grid(make_grid(generated_images, 8), title=f"⟨Génération Époque‖Generation Epoch⟩ {epoch+1}")
            G.train()
''', STUDENT, tags=("todo",))
check('''
check_d_step(train_gan, lang=LANG)
check_g_step(train_gan, lang=LANG)
check_training(train_gan, lang=LANG)
''')

md(r"""
Quand les trois vérifications passent, lancez l'entraînement (`epochs` époques : 5 avec `QUICK`, 50 dans
le TP) :
""", r"""
When the three checks pass, run the training (`epochs` epochs: 5 with `QUICK`, 50 in the lab):
""", STUDENT)

code(r'''
train_gan(G, D, G_optimizer, D_optimizer, criterion, train_dataloader, epochs, latent_dim, device)
G.eval()
with torch.no_grad():
    show_grid(make_grid(G(fixed_noise).cpu().view(64, 1, 28, 28), 8), title="⟨Après l'entraînement‖After training⟩",
              figsize=(5, 5))
G.train();
''', STUDENT, tags=("train",))

# ============================================================================ Q3.1 (both)
md(r"""
### Question (Q3.1)

Dans l'étape d'entraînement du discriminateur, nous utilisons `.detach()` sur les `fake_images`
générées par $G$. Quel est l'effet précis de cette méthode PyTorch dans le contexte des GANs, et
pourquoi est-il essentiel pour l'entraînement de $D$ ?
""", r"""
### Question (Q3.1)

In the discriminator's training step we call `.detach()` on the `fake_images` generated by $G$. What
exactly does this PyTorch method do in the context of GANs, and why is it essential for training $D$?
""")
md("*Votre réponse :*", "*Your answer:*", INSTRUCTOR)
answer()
md(r"""
L'expérience `detach` fait le pas de $D$ avec et sans `.detach()` sur le $G$ et le $D$ du TP, regarde ce
qui arrive dans les gradients de $G$, tente le pas de $G$ qui suit, et chronomètre la différence :
""", r"""
The `detach` experiment runs D's step with and without `.detach()` on the lab's G and D, looks at what
lands in G's gradients, attempts the G step that follows, and times the difference:
""")
experiment("detach")

# ============================================================================ IV
md(r"""
## IV. Analyse des résultats et questions de synthèse

Les courbes de l'entraînement de la partie III, tracées depuis son `metrics.csv` :
""", r"""
## IV. Analysis of the results and closing questions

The curves of section III's run, drawn from its `metrics.csv`:
""", INSTRUCTOR)
code('display(Image(filename=str(run.run_dir / "curves.png")))', INSTRUCTOR)
md(r"""
## IV. Analyse des résultats et questions de synthèse

Une fois l'entraînement terminé, analysez les images générées et les pertes affichées à chaque époque.
""", r"""
## IV. Analysis of the results and closing questions

Once training is over, look at the generated images and at the losses printed every epoch.
""", STUDENT)

FINAL_QUESTIONS = [
    (r"""
### 1. Interprétation de la perte de D

Expliquez la valeur idéale vers laquelle la perte du discriminateur devrait converger. Que signifie une
perte de $D$ trop basse (proche de 0) en milieu ou fin d'entraînement ?
""", r"""
### 1. Reading D's loss

Explain the ideal value D's loss should converge to. What does a D loss that is too low (close to 0)
mean in the middle or at the end of training?
""", "d-loss"),
    (r"""
### 2. Problème de stabilité : le *mode collapse*

Expliquez ce phénomène et décrivez visuellement ce qu'il se passerait sur la grille de génération si
votre modèle en était victime.
""", r"""
### 2. A stability problem: *mode collapse*

Explain the phenomenon and describe what the generation grid would look like if your model suffered
from it.
""", "mode-collapse"),
    (r"""
### 3. Avantage par rapport au VAE

Par rapport au VAE, quel est le principal avantage du GAN en termes de qualité visuelle des images
générées ? Quelle en est la contrepartie ?
""", r"""
### 3. Advantage over the VAE

Compared with the VAE, what is the GAN's main advantage in the visual quality of the generated images?
What is the price (the drawback)?
""", "vae"),
    (r"""
### 4. Ouverture : DCGAN

Quel type d'architecture sera introduit dans la prochaine étape (DCGAN) pour remplacer les couches
linéaires ? Quel avantage les couches convolutionnelles apportent-elles pour la génération d'images ?
""", r"""
### 4. Looking ahead: DCGAN

Which kind of architecture will the next step (DCGAN) introduce to replace the linear layers? What do
convolutional layers bring to image generation, compared with linear layers?
""", "dcgan"),
]

for french, english, name in FINAL_QUESTIONS:
    md(french + "\n*Votre réponse :*\n", english + "\n*Your answer:*\n", INSTRUCTOR)
    md(french, english, STUDENT)
    answer()
    experiment(name)
    if name == "mode-collapse":
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
""", INSTRUCTOR)
        code('''print("⟨diversité par époque‖diversity per epoch⟩:", [round(row["diversity"], 3) for row in run.trainer.history])
print("⟨alarmes‖alarms⟩:", run.alarms or "⟨aucune‖none⟩")''', INSTRUCTOR)

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
""", INSTRUCTOR)
md(r"""
---
Pour vérifier votre code hors du notebook : collez les cellules du TP dans un fichier `mon_tp.py` et
lancez `gan-atelier check mon_tp.py` (le fichier n'est pas exécuté : ni téléchargement ni entraînement).
Pour refaire une expérience : `gan-atelier lab <nom> --quick`.
""", r"""
---
To check your code outside the notebook: paste the lab's cells into a file `my_lab.py` and run
`gan-atelier check my_lab.py --lang en` (the file is not executed: no download, no training). To rerun
an experiment: `gan-atelier lab <name> --quick`.
""", STUDENT)
