"""Golden values for src/divergence: relativistic average GAN losses (AlexiaJM/RelativisticGAN,
half form), the GANPO "quad" discriminator loss and one-sided generator loss (official GANPO code,
generalised to lsgan/hinge; GANPO_trl.py `QuadGANDPOTrainer`), the paired least-squares and
feature-matching generator losses, and the divergence estimate, written independently from the
formulas, float64. Run with Debian's python3 (torch 1.13):

    /usr/bin/python3 tools/reference/divergence.py  ->  tests/fixtures/divergence.json
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)


def l_real(z, d):
    if d == "sgan":
        return F.softplus(-z)
    if d == "lsgan":
        return (z - 1) ** 2
    return F.relu(1 - z)


def l_fake(z, d):
    if d == "sgan":
        return F.softplus(z)
    if d == "lsgan":
        return (z + 1) ** 2
    return F.relu(1 + z)


CHANCE = {"sgan": math.log(2.0), "lsgan": 1.0, "hinge": 1.0}


def rel_losses(real, fake, d, real_mean=None, fake_mean=None):
    m_r = real.mean() if real_mean is None else torch.tensor(real_mean)
    m_f = fake.mean() if fake_mean is None else torch.tensor(fake_mean)
    d_loss = 0.5 * (l_real(real - m_f, d).mean() + l_fake(fake - m_r, d).mean())
    g_loss = 0.5 * (l_fake(real - m_f, d).mean() + l_real(fake - m_r, d).mean())
    return d_loss, g_loss


def grads(fn, *xs):
    xs = [x.detach().clone().requires_grad_(True) for x in xs]
    y = fn(*xs)
    gs = torch.autograd.grad(y, xs)
    return y.item(), [g.tolist() for g in gs]


out = {"check": {}, "relativistic": [], "ganpo_d": [], "ganpo_g": []}

# Check values of the ½-form RaGAN losses on a small hand-picked input.
real0 = torch.tensor([1.0, 2.0, -0.5])
fake0 = torch.tensor([0.0, -1.0, 0.5])
for d in ("sgan", "lsgan", "hinge"):
    dl, gl = rel_losses(real0, fake0, d)
    out["check"][d] = {"d": dl.item(), "g": gl.item()}

# Random cases: different batch sizes for real and fake, batch means (with gradient) and given
# constant means; includes values beyond the hinge kinks and large logits.
real = torch.randn(5) * 2
fake = torch.randn(4) * 2 + 0.5
for d in ("sgan", "lsgan", "hinge"):
    for means in (None, (0.3, -0.7)):
        rm, fm = (None, None) if means is None else means
        dval, dgr = grads(lambda r, f: rel_losses(r, f, d, rm, fm)[0], real, fake)
        gval, ggr = grads(lambda r, f: rel_losses(r, f, d, rm, fm)[1], real, fake)
        est = 2 * (CHANCE[d] - dval)
        out["relativistic"].append({
            "divergence": d, "real": real.tolist(), "fake": fake.tolist(),
            "realMean": rm, "fakeMean": fm,
            "d": dval, "dGradReal": dgr[0], "dGradFake": dgr[1],
            "g": gval, "gGradReal": ggr[0], "gGradFake": ggr[1],
            "divergenceEstimate": est,
        })

ref = torch.randn(4) + 1.0
pol = torch.randn(4)
opp = torch.randn(4) - 1.0


def quad(r, p, o, d, means):
    m_r = r.mean() if means.get("reference") is None else torch.tensor(means["reference"])
    m_p = p.mean() if means.get("policy") is None else torch.tensor(means["policy"])
    m_o = o.mean() if means.get("opposite") is None else torch.tensor(means["opposite"])
    return 0.25 * (l_real(r - m_p, d).mean() + l_fake(p - m_r, d).mean()
                   + l_real(p - m_o, d).mean() + l_fake(o - m_p, d).mean())


for d in ("sgan", "lsgan", "hinge"):
    for means in ({}, {"reference": 0.8, "policy": 0.1, "opposite": -0.9}, {"policy": 0.2}):
        val, gr = grads(lambda r, p, o: quad(r, p, o, d, means), ref, pol, opp)
        out["ganpo_d"].append({
            "divergence": d, "reference": ref.tolist(), "policy": pol.tolist(), "opposite": opp.tolist(),
            "means": means, "loss": val, "gradReference": gr[0], "gradPolicy": gr[1], "gradOpposite": gr[2],
        })
    m_ref = 0.6
    val, gr = grads(lambda p: l_real(p - m_ref, d).mean(), pol)
    out["ganpo_g"].append({"divergence": d, "policy": pol.tolist(), "referenceMean": m_ref,
                           "loss": val, "gradPolicy": gr[0]})

# Paired least-squares generator term: mean (D(h_theta,i) - D(h_ref,i))^2, gradient w.r.t. the
# policy scores only (the reference scores are constants). Drawn after every other case so the
# earlier fixture values do not change.
pol_p = torch.randn(5)
ref_p = torch.randn(5) + 0.4
val, gr = grads(lambda p: ((p - ref_p) ** 2).mean(), pol_p)
out["ganpo_paired_g"] = [{"policy": pol_p.tolist(), "reference": ref_p.tolist(), "loss": val, "gradPolicy": gr[0]}]

# Paired feature matching: mean_i sum_k (f_k(h_theta,i) - f_k(h_ref,i))^2, gradient w.r.t. the
# policy features only.
feat_p = torch.randn(3, 4)
feat_r = torch.randn(3, 4) * 0.5
val, gr = grads(lambda p: ((p - feat_r) ** 2).sum(-1).mean(), feat_p)
out["ganpo_paired_fm"] = [{"policy": feat_p.tolist(), "reference": feat_r.tolist(), "loss": val, "gradPolicy": gr[0]}]

# Relative paired feature matching (GANPO's default generator term):
# sum_i ||f(h_theta,i) - f(h_ref,i)||^2 / max(sum_i ||f(h_ref,i)||^2, eps), the reference a constant.
# Drawn after every other case so the earlier fixture values do not change; the second case has
# features 1000x larger (the value must not change with the scale) and the third an all-zero
# reference (the eps guard).
EPS_FEATURES = 1e-12
out["ganpo_relative_fm"] = []
for scale, zero in ((1.0, False), (1000.0, False), (1.0, True)):
    fp = torch.randn(4, 5) * scale
    fr = torch.zeros(4, 5) if zero else torch.randn(4, 5) * 0.7 * scale
    val, gr = grads(lambda p: ((p - fr) ** 2).sum() / torch.clamp((fr ** 2).sum(), min=EPS_FEATURES), fp)
    out["ganpo_relative_fm"].append({"policy": fp.tolist(), "reference": fr.tolist(), "loss": val, "gradPolicy": gr[0]})

# RunningMean: EMA with first-value initialisation, momentum 0.9 (official code) and 0.5.
xs = [0.5, -1.25, 2.0, 0.125, 3.5]
ema = {}
for mom in (0.9, 0.5):
    v, vals = None, []
    for x in xs:
        v = x if v is None else mom * v + (1 - mom) * x
        vals.append(v)
    ema[str(mom)] = vals
out["runningMean"] = {"xs": xs, "values": ema}

path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "divergence.json")
with open(path, "w") as fh:
    json.dump(out, fh, indent=1)
print("wrote", os.path.normpath(path))
print(json.dumps(out["check"]))
