"""Recipe search for the `modern` preset: short equal-CPU runs of variants, scored at CPU checkpoints.

Usage (one thread; what docs/results.md "How the recipe was chosen" ran)::

    python bench/recipe_search.py --name A_bn_ns --d-norm batch --loss ns
    python bench/recipe_search.py --name H_sn_hinge_b32 --d-norm sn --loss hinge --beta1 0 --beta2 0.9 --batch 32

A self-contained loop with the project's parts (``models.dcgan`` or the TP's MLP D, ``losses``
pairs, ``regularizers`` R1/R2, ``schedules`` EMA half-life, ``data.load_split``): D step on real
and detached fakes (one pass on ``cat([real, fake])`` unless D has BatchNorm), then G on the
same fakes, the EMA after each step. Training stops at ``--budget`` seconds of the process's CPU
time spent training (scoring excluded); at each ``--checks`` value and at the budget, the raw G
and its EMA are scored (:func:`gan_atelier.metrics.evaluate.evaluate_images`, ``--samples``
images of ``inference.sample(G, n, seed=0)`` vs as many test images). One JSON line per check is
appended to ``bench/results/recipe_search.jsonl``. Runs that share the machine inflate each
other's CPU time (caches): compare runs made side by side, and read the step counts too.
"""
import argparse, copy, json, time
from pathlib import Path

import torch, torch.nn as nn

RESULTS = Path(__file__).resolve().parent / "results" / "recipe_search.jsonl"
from gan_atelier.inference import sample
from gan_atelier.data import load_split
from gan_atelier.losses import get_loss_pair
from gan_atelier.metrics.evaluate import evaluate_images
from gan_atelier.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_atelier.regularizers import gradient_squared_norms
from gan_atelier.schedules import cosine, ema_decay

p = argparse.ArgumentParser()
p.add_argument("--name", required=True)
p.add_argument("--d-norm", default="batch", help="batch | none | sn")
p.add_argument("--d-arch", default="conv"); p.add_argument("--g-arch", default="conv"); p.add_argument("--d-dropout", type=float, default=0.3)
p.add_argument("--d-init", default="dcgan")
p.add_argument("--gc", type=int, default=32); p.add_argument("--dc", type=int, default=32)
p.add_argument("--loss", default="ns")
p.add_argument("--r1", type=float, default=0.0); p.add_argument("--r2", type=float, default=0.0)
p.add_argument("--r-every", type=int, default=1)
p.add_argument("--lr-g", type=float, default=2e-4); p.add_argument("--lr-d", type=float, default=2e-4)
p.add_argument("--beta1", type=float, default=0.5); p.add_argument("--beta2", type=float, default=0.999)
p.add_argument("--ema-hl", type=float, default=10000); p.add_argument("--ema-ramp", type=float, default=0.05)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--budget", type=float, default=300); p.add_argument("--checks", type=float, nargs="*", default=[150])
p.add_argument("--lr-end", type=float, default=1.0)
p.add_argument("--samples", type=int, default=5000)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--save", default="", help="write the final G and EMA state dicts here")
a = p.parse_args()
torch.set_num_threads(1); torch.manual_seed(a.seed)
from gan_atelier.models.mlp import Generator as MG, Discriminator as MD
G = DCGANGenerator(100, a.gc) if a.g_arch == "conv" else MG(100)
D = DCGANDiscriminator(a.dc, norm="batch" if a.d_norm == "batch" else "none") if a.d_arch == "conv" else MD()
if a.d_arch == "mlp":
    for l in D.modules():
        if isinstance(l, nn.Dropout): l.p = a.d_dropout
if a.d_init == "torch":
    for l in D.modules():
        if isinstance(l, (nn.Conv2d, nn.Linear)): l.reset_parameters()
if a.d_norm == "sn":
    for l in list(D.modules()):
        if isinstance(l, (nn.Conv2d, nn.Linear)): torch.nn.utils.parametrizations.spectral_norm(l)
sep = a.d_norm == "batch"
og = torch.optim.Adam(G.parameters(), a.lr_g, betas=(a.beta1, a.beta2))
od = torch.optim.Adam(D.parameters(), a.lr_d, betas=(a.beta1, a.beta2))
ema = copy.deepcopy(G).eval().requires_grad_(False)
pair = get_loss_pair(a.loss)
imgs = load_split("fashion-mnist", "train").images.reshape(60000, -1)
drng = torch.Generator().manual_seed(a.seed + 1); nrng = torch.Generator().manual_seed(a.seed + 2)
perm, pos, step, seen = None, 0, 0, 0
def score(g):
    g.eval(); r = evaluate_images(sample(g, a.samples, seed=0), n=a.samples, memorisation=False, kid_subsets=5); g.train()
    return {k: round(float(r[k]), 3) for k in ("fid", "precision", "recall", "coverage", "class_entropy", "min_class_share")}
cpu = 0.0; checks = sorted(a.checks) + [a.budget]
last = {}
while checks:
    t0 = time.process_time()
    if perm is None or pos + a.batch > 60000:
        perm, pos = torch.randperm(60000, generator=drng), 0
    real = imgs[perm[pos:pos + a.batch]].float().div_(255).view(-1, 1, 28, 28); pos += a.batch
    frac = min(cpu / a.budget, 1.0)
    sc = cosine(1.0, a.lr_end, frac, 1.0) if a.lr_end != 1 else 1.0
    for o, lr in ((og, a.lr_g), (od, a.lr_d)):
        for gr in o.param_groups: gr["lr"] = lr * sc
    z = torch.randn(a.batch, 100, generator=nrng)
    fake = G(z).view(-1, 1, 28, 28)
    lazy = step % a.r_every == 0 and (a.r1 or a.r2)
    ri = real.requires_grad_(bool(lazy and a.r1)); fi = fake.detach().requires_grad_(bool(lazy and a.r2))
    if sep: rl, fl = D(ri), D(fi)
    else:
        l = D(torch.cat([ri, fi])); rl, fl = l[:a.batch], l[a.batch:]
    dl = pair.d_loss(rl, fl)
    if lazy:
        ins = [(g, x) for g, x in ((a.r1, ri), (a.r2, fi)) if g]
        if sep: norms = [gradient_squared_norms(y, [x])[0] for y, (g, x) in zip([rl, fl], [(a.r1, ri), (a.r2, fi)]) if g]
        else: norms = gradient_squared_norms(l, [x for _, x in ins])
        dl = dl + sum(0.5 * g * a.r_every * n for (g, _), n in zip(ins, norms))
    od.zero_grad(set_to_none=True); dl.backward(); od.step()
    D.requires_grad_(False)
    gl = pair.generator_loss(D(fake), rl.detach()); og.zero_grad(set_to_none=True); gl.backward(); og.step()
    D.requires_grad_(True)
    step += 1; seen += a.batch
    with torch.no_grad():
        dec = ema_decay(a.batch, a.ema_hl, seen, a.ema_ramp) if a.ema_hl else 0.0
        for e, q in zip(ema.parameters(), G.parameters()): e.lerp_(q, 1 - dec)
        for e, q in zip(ema.buffers(), G.buffers()): e.copy_(q)
    cpu += time.process_time() - t0
    if step % 200 == 0:
        with torch.no_grad(): gap = float((rl - fl).mean())
        last = {"step": step, "cpu": round(cpu), "dl": round(float(dl), 4), "gl": round(float(gl), 4), "gap": round(gap, 4)}
        print(json.dumps(last), flush=True)
    if cpu >= checks[0]:
        c = checks.pop(0)
        ent = {"name": a.name, "cpu": c, "step": step, "raw": score(G), "ema": score(ema), "last": last}
        print(json.dumps(ent), flush=True)
        with open(RESULTS, "a") as f: f.write(json.dumps({"args": vars(a), **ent}) + "\n")
if a.save:
    torch.save({"G": G.state_dict(), "ema": ema.state_dict()}, a.save)
