"""The checks' messages, French (the TP's language, default) and English (``lang="en"``).

Each failure names the mistake and quotes the TP line (section and code) it concerns, so a
student can find it in the TP (seed ``tp_mlp_gan.md``) without reading the checker's code.
"""

from __future__ import annotations

LANGUAGES = ("fr", "en")

# key: (French, English); fields in braces are filled by the check.
MESSAGES: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------------ generator (TP 2.2)
    "g_build": (
        "Generator(latent_dim, img_dim) ne se construit pas : {error} (TP 2.2, `def __init__(self, latent_dim, img_dim)`)",
        "Generator(latent_dim, img_dim) cannot be built: {error} (TP 2.2, `def __init__(self, latent_dim, img_dim)`)"),
    "g_shape": (
        "G(z) a la forme {shape} pour z de forme {z_shape} : attendu ({n}, {image_size}), une image aplatie par bruit "
        "(TP 2.2, `nn.Linear(1024, img_dim)`)",
        "G(z) has shape {shape} for z of shape {z_shape}: expected ({n}, {image_size}), one flattened image per noise "
        "vector (TP 2.2, `nn.Linear(1024, img_dim)`)"),
    "g_range": (
        "G sans Sigmoid finale : ses sorties vont de {low:.3f} à {high:.3f}, hors de [0, 1] où sont les vraies images "
        "(ToTensor) ; terminez G par `nn.Sigmoid()` (TP 2.2, `nn.Sigmoid() # Sigmoid pour garantir la sortie [0, 1]`)",
        "G without its final Sigmoid: its outputs span {low:.3f} to {high:.3f}, outside [0, 1] where real images live "
        "(ToTensor); end G with `nn.Sigmoid()` (TP 2.2, `nn.Sigmoid() # Sigmoid pour garantir la sortie [0, 1]`)"),
    "g_params": (
        "G a {count:,} paramètres, celui du TP {expected:,} : couches Linear {sizes} attendues (TP 2.2)",
        "G has {count:,} parameters, the TP's {expected:,}: Linear layers {sizes} expected (TP 2.2)"),
    # ------------------------------------------------------------------ discriminator (TP 2.3)
    "d_build": (
        "Discriminator(img_dim) ne se construit pas : {error} (TP 2.3, `def __init__(self, img_dim)`)",
        "Discriminator(img_dim) cannot be built: {error} (TP 2.3, `def __init__(self, img_dim)`)"),
    "d_shape": (
        "D(x) a la forme {shape} pour x de forme {x_shape} : attendu ({n}, 1), un score par image "
        "(TP 2.3, `nn.Linear(256, 1)`)",
        "D(x) has shape {shape} for x of shape {x_shape}: expected ({n}, 1), one score per image "
        "(TP 2.3, `nn.Linear(256, 1)`)"),
    "d_sigmoid": (
        "Sigmoid + BCEWithLogitsLoss : D renvoie une probabilité (sorties dans [0, 1] même quand son dernier biais "
        "vaut +20), or `nn.BCEWithLogitsLoss()` applique déjà la sigmoïde ; D doit finir sur `nn.Linear(256, 1)` "
        "sans activation (TP 2.3, `# Sortie finale sans activation (logits)`)",
        "Sigmoid + BCEWithLogitsLoss: D returns a probability (outputs in [0, 1] even with its last bias at +20), "
        "but `nn.BCEWithLogitsLoss()` already applies the sigmoid; D must end with `nn.Linear(256, 1)` and no "
        "activation (TP 2.3, `# Sortie finale sans activation (logits)`)"),
    "d_params": (
        "D a {count:,} paramètres, celui du TP {expected:,} : couches Linear {sizes} attendues (TP 2.3)",
        "D has {count:,} parameters, the TP's {expected:,}: Linear layers {sizes} expected (TP 2.3)"),
    # ------------------------------------------------------------------ running train_gan
    "not_callable": (
        "{name} n'est pas une fonction : passez la fonction `train_gan` elle-même (TP III)",
        "{name} is not a function: pass the `train_gan` function itself (TP III)"),
    "todo_model": (
        "{name} n'est pas encore complet : {error}",
        "{name} is not complete yet: {error}"),
    "todo": (
        "train_gan n'est pas encore complète : {error}",
        "train_gan is not complete yet: {error}"),
    "crashed": (
        "train_gan s'est arrêtée sur {error} (ligne {line} de votre code) avant la fin {where}",
        "train_gan stopped on {error} (line {line} of your code) before the end {where}"),
    "where_d": ("du pas de D", "of D's step"),
    "where_g": ("du pas de G", "of G's step"),
    "where_run": ("de l'entraînement", "of training"),
    # ------------------------------------------------------------------ D step (TP III, step 1)
    "d_no_loss": (
        "aucune perte rétropropagée ne dépend de D(images réelles) : le pas de D manque "
        "(TP III 1a, `D_real_loss = criterion(D_real_pred, real_labels)` puis 1c `D_loss.backward()`)",
        "no backpropagated loss depends on D(real images): D's step is missing "
        "(TP III 1a, `D_real_loss = criterion(D_real_pred, real_labels)` then 1c `D_loss.backward()`)"),
    "d_no_fake": (
        "la perte de D ne contient pas le terme des fausses images "
        "(TP III 1b-1c, `D_fake_loss = criterion(D_fake_pred, fake_labels)`, `D_loss = D_real_loss + D_fake_loss`)",
        "D's loss lacks the fake-image term "
        "(TP III 1b-1c, `D_fake_loss = criterion(D_fake_pred, fake_labels)`, `D_loss = D_real_loss + D_fake_loss`)"),
    "d_swapped": (
        "cibles inversées dans le pas de D : les vraies images sont notées contre 0 et les fausses contre 1 ; "
        "VRAI = 1, FAUX = 0 (TP III 1a `criterion(D_real_pred, real_labels)`, 1b `criterion(D_fake_pred, fake_labels)`)",
        "swapped targets in D's step: real images are scored against 0 and fakes against 1; REAL = 1, FAKE = 0 "
        "(TP III 1a `criterion(D_real_pred, real_labels)`, 1b `criterion(D_fake_pred, fake_labels)`)"),
    "d_halved": (
        "la perte de D est la moyenne des deux termes (ln 2 à logits nuls) ; le TP les additionne, 2 ln 2 à logits "
        "nuls (TP III 1c, `D_loss = D_real_loss + D_fake_loss`)",
        "D's loss is the mean of the two terms (ln 2 at zero logits); the TP adds them, 2 ln 2 at zero logits "
        "(TP III 1c, `D_loss = D_real_loss + D_fake_loss`)"),
    "d_wrong_loss": (
        "la perte de D n'est pas celle du TP (BCE, vraies → 1, fausses → 0, somme des deux : 2 ln 2 à logits nuls) : "
        "sa pente par rapport aux logits vaut {measured} au lieu de {expected} (TP III 1a-1c)",
        "D's loss is not the TP's (BCE, real → 1, fake → 0, the two added: 2 ln 2 at zero logits): its slope with "
        "respect to the logits is {measured} instead of {expected} (TP III 1a-1c)"),
    "d_no_detach": (
        "pas de .detach() : la perte de D rétropropage jusque dans les poids de G (norme du gradient reçu par G : "
        "{norm:.2e}) ; du temps perdu, et le `G_loss.backward()` qui suit échoue avec « Trying to backward through "
        "the graph a second time » (TP III 1b, `D_fake_pred = D(fake_images.detach())`)",
        "no .detach(): D's loss backpropagates into G's weights (norm of the gradient G receives: {norm:.2e}); "
        "wasted work, and the `G_loss.backward()` that follows fails with \"Trying to backward through the graph a "
        "second time\" (TP III 1b, `D_fake_pred = D(fake_images.detach())`)"),
    "d_no_zero_grad": (
        "zero_grad oublié pour D : au moment de `D_optimizer.step()` les gradients de D ne sont pas ceux de D_loss "
        "(écart relatif {gap:.2f}) : ils s'accumulent d'un batch à l'autre, y compris ceux du pas de G "
        "(TP III étape 1, `D_optimizer.zero_grad()` avant `D_loss.backward()`)",
        "forgotten zero_grad for D: at `D_optimizer.step()` D's gradients are not those of D_loss (relative gap "
        "{gap:.2f}): they pile up from batch to batch, G's step's included "
        "(TP III step 1, `D_optimizer.zero_grad()` before `D_loss.backward()`)"),
    "d_no_step": (
        "D n'est jamais mis à jour : pas de `D_optimizer.step()` après `D_loss.backward()` (TP III 1c)",
        "D is never updated: no `D_optimizer.step()` after `D_loss.backward()` (TP III 1c)"),
    # ------------------------------------------------------------------ G step (TP III, step 2)
    "g_no_loss": (
        "aucune perte rétropropagée ne dépend de D(G(z)) sans dépendre des vraies images : le pas de G manque "
        "(TP III 2, `G_loss = criterion(G_pred, real_labels)` puis `G_loss.backward()`)",
        "no backpropagated loss depends on D(G(z)) alone: G's step is missing "
        "(TP III 2, `G_loss = criterion(G_pred, real_labels)` then `G_loss.backward()`)"),
    "g_saturating": (
        "perte de G saturante : G minimise log(1 − D(G(z))) (pente {measured} au lieu de {expected}) ; quand D "
        "rejette les faux, ce gradient s'annule. Le TP note les faux contre la cible VRAI "
        "(TP III 2, `G_loss = criterion(G_pred, real_labels) # ⚠️ CIBLE = 1`)",
        "saturating G loss: G minimises log(1 − D(G(z))) (slope {measured} instead of {expected}); when D rejects "
        "the fakes this gradient vanishes. The TP scores the fakes against the REAL target "
        "(TP III 2, `G_loss = criterion(G_pred, real_labels) # ⚠️ CIBLE = 1`)"),
    "g_fake_target": (
        "cible FAUX (0) pour G : G apprend à paraître faux, il aide D au lieu de le tromper "
        "(TP III 2, `G_loss = criterion(G_pred, real_labels) # ⚠️ CIBLE = 1`)",
        "FAKE target (0) for G: G learns to look fake and helps D instead of fooling it "
        "(TP III 2, `G_loss = criterion(G_pred, real_labels) # ⚠️ CIBLE = 1`)"),
    "g_wrong_loss": (
        "la perte de G n'est pas celle du TP (−log D(G(z)), BCE contre la cible VRAI) : sa pente par rapport aux "
        "logits vaut {measured} au lieu de {expected} (TP III 2, `G_loss = criterion(G_pred, real_labels)`)",
        "G's loss is not the TP's (−log D(G(z)), BCE against the REAL target): its slope with respect to the logits "
        "is {measured} instead of {expected} (TP III 2, `G_loss = criterion(G_pred, real_labels)`)"),
    "g_detached": (
        "G ne reçoit aucun gradient : dans le pas de G les fausses images sont détachées ou recalculées sans "
        "graphe ; le pas de G réutilise `fake_images` SANS .detach() (TP III 2, `G_pred = D(fake_images)`)",
        "G receives no gradient: in G's step the fakes are detached or recomputed without a graph; G's step reuses "
        "`fake_images` WITHOUT .detach() (TP III 2, `G_pred = D(fake_images)`)"),
    "g_no_zero_grad": (
        "zero_grad oublié pour G : au moment de `G_optimizer.step()` les gradients de G ne sont pas ceux de G_loss "
        "(écart relatif {gap:.2f}) (TP III étape 2, `G_optimizer.zero_grad()` avant `G_loss.backward()`)",
        "forgotten zero_grad for G: at `G_optimizer.step()` G's gradients are not those of G_loss "
        "(relative gap {gap:.2f}) (TP III step 2, `G_optimizer.zero_grad()` before `G_loss.backward()`)"),
    "g_no_step": (
        "G n'est jamais mis à jour : pas de `G_optimizer.step()` après `G_loss.backward()` (TP III 2)",
        "G is never updated: no `G_optimizer.step()` after `G_loss.backward()` (TP III 2)"),
    "g_d_stepped": (
        "D mis à jour pendant le pas de G : `D_optimizer.step()` est appelé après `G_loss.backward()`, donc D "
        "descend le gradient de la perte de G (il apprend à se laisser tromper) ; le pas de G n'appelle que "
        "`G_optimizer.step()` (TP III 2)",
        "D updated during G's step: `D_optimizer.step()` is called after `G_loss.backward()`, so D follows the "
        "gradient of G's loss (it learns to be fooled); G's step calls only `G_optimizer.step()` (TP III 2)"),
    # ------------------------------------------------------------------ the loop (TP III, steps 3-4)
    "t_epochs": (
        "la boucle a parcouru les données {passes} fois pour epochs={epochs} (TP III, `for epoch in trange(epochs, ...)`)",
        "the loop went over the data {passes} times for epochs={epochs} (TP III, `for epoch in trange(epochs, ...)`)"),
    "t_order": (
        "l'alternance n'est pas D puis G au batch {batch} (pas dans l'ordre : {order}) : à chaque batch, d'abord "
        "un pas de D, puis un pas de G (TP III, étapes 1 puis 2)",
        "the alternation is not D then G at batch {batch} (steps in order: {order}): on each batch, first a step of "
        "D, then a step of G (TP III, steps 1 then 2)"),
    "t_no_print": (
        "pas de moyenne par époque affichée sous la forme `D Loss: … | G Loss: …` "
        "(TP III, `tqdm.write(f\"Epoch … | D Loss: {{avg_D_loss:.4f}} | G Loss: {{avg_G_loss:.4f}}\")`)",
        "no per-epoch mean printed as `D Loss: … | G Loss: …` "
        "(TP III, `tqdm.write(f\"Epoch … | D Loss: {{avg_D_loss:.4f}} | G Loss: {{avg_G_loss:.4f}}\")`)"),
    "t_means": (
        "moyenne par époque fausse à l'époque {epoch} : {which} affiché {printed:.4f}, moyenne des pertes des "
        "batches {expected:.4f} (TP III, `avg_D_loss = D_loss_total / len(dataloader)`, `D_loss_total += D_loss.item()`)",
        "wrong per-epoch mean at epoch {epoch}: {which} printed {printed:.4f}, mean of the batch losses "
        "{expected:.4f} (TP III, `avg_D_loss = D_loss_total / len(dataloader)`, `D_loss_total += D_loss.item()`)"),
    "t_no_grid": (
        "aucune grille du bruit fixe générée en {epochs} époques : le TP appelle `G(fixed_noise)` toutes les 5 "
        "époques (TP III, étape 4)",
        "no grid of the fixed noise generated in {epochs} epochs: the TP calls `G(fixed_noise)` every 5 epochs "
        "(TP III, step 4)"),
    "t_fixed_noise": (
        "bruit fixe retiré à chaque époque : les grilles des époques {epochs} viennent de bruits différents, on ne "
        "peut plus comparer les images d'une époque à l'autre ; tirez `fixed_noise` une seule fois avant "
        "l'entraînement (TP II, `fixed_noise = torch.randn(64, latent_dim, device=device)`) et utilisez-le tel quel "
        "(TP III étape 4, `G(fixed_noise)`)",
        "fixed noise redrawn each epoch: the grids of epochs {epochs} come from different noise, so images cannot "
        "be compared from one epoch to the next; draw `fixed_noise` once before training "
        "(TP II, `fixed_noise = torch.randn(64, latent_dim, device=device)`) and use it as is "
        "(TP III step 4, `G(fixed_noise)`)"),
    "t_not_global": (
        "les grilles n'utilisent pas le `fixed_noise` défini avant l'entraînement mais un autre bruit (redéfini "
        "dans train_gan ?) (TP II, `fixed_noise = torch.randn(64, latent_dim, device=device)`)",
        "the grids do not use the `fixed_noise` defined before training but another noise (redefined inside "
        "train_gan?) (TP II, `fixed_noise = torch.randn(64, latent_dim, device=device)`)"),
    # ------------------------------------------------------------------ summaries
    "ok": ("✓ {name} : {what}", "✓ {name}: {what}"),
    "failed": ("✗ {name} : {count} erreur(s)", "✗ {name}: {count} mistake(s)"),
    "ok_generator": ("forme, sortie dans [0, 1] (Sigmoid finale), {count:,} paramètres",
                     "shape, output in [0, 1] (final Sigmoid), {count:,} parameters"),
    "ok_discriminator": ("forme, sortie en logits (pas de Sigmoid), {count:,} paramètres",
                         "shape, logit output (no Sigmoid), {count:,} parameters"),
    "ok_d_step": ("cibles VRAI 1 / FAUX 0, somme des deux BCE, .detach(), zero_grad, D mis à jour",
                  "targets REAL 1 / FAKE 0, sum of the two BCE terms, .detach(), zero_grad, D updated"),
    "ok_g_step": ("perte non saturante (cible VRAI), gradient jusqu'à G, zero_grad, D non modifié",
                  "non-saturating loss (REAL target), gradient reaches G, zero_grad, D left alone"),
    "ok_training": ("D puis G à chaque batch, moyennes par époque, bruit fixe inchangé",
                    "D then G on every batch, per-epoch means, fixed noise unchanged"),
    "not_checked": ("(non vérifié : {what})", "(not checked: {what})"),
    "sizes_not_tp": ("tailles différentes de celles du TP", "sizes differ from the TP's"),
}


def say(key: str, lang: str = "fr", **fields) -> str:
    """The message ``key`` in ``lang`` ("fr" or "en"), its fields filled in."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: valid languages: {', '.join(LANGUAGES)}")
    french, english = MESSAGES[key]
    return (french if lang == "fr" else english).format(**fields)
