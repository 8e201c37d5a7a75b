"""Golden values for src/latent/anchor.ts: the paired latent anchor (the relative squared drift of
the policy's latents from the reference's, masked, averaged over the chosen and rejected sides),

    anchor = 1/2 sum_side  sum_{b,t} m_bt ||h_pol,bt - h_ref,bt||^2 / max(sum_{b,t} m_bt ||h_ref,bt||^2, eps)

written independently from the formula with autograd, float64: value and gradient with respect to
both policy latents, with and without masks, and an all-zero reference (the eps guard). Run with
Debian's python3 (torch 1.13):

    /usr/bin/python3 tools/reference/latent_anchor.py  ->  tests/fixtures/latent_anchor.json
"""
import json
import os

import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
EPS = 1e-12


def side(pol, ref, mask):
    m = torch.ones(pol.shape[:2]) if mask is None else mask
    num = (((pol - ref.detach()) ** 2).sum(-1) * m).sum()
    den = ((ref.detach() ** 2).sum(-1) * m).sum()
    return num / torch.clamp(den, min=EPS)


def case(name, B, Tc, Tr, H, masked, scale=1.0, zero_reference=False):
    pc = (torch.randn(B, Tc, H) * scale).requires_grad_(True)
    pr = (torch.randn(B, Tr, H) * scale).requires_grad_(True)
    rc = torch.randn(B, Tc, H) * scale
    rr = torch.randn(B, Tr, H) * scale
    if zero_reference:
        rc = torch.zeros_like(rc)
    mc = mr = None
    if masked:
        # Right-padded attention masks of random lengths >= 1.
        mc = (torch.arange(Tc)[None, :] < torch.randint(1, Tc + 1, (B, 1))).double()
        mr = (torch.arange(Tr)[None, :] < torch.randint(1, Tr + 1, (B, 1))).double()
    loss = 0.5 * (side(pc, rc, mc) + side(pr, rr, mr))
    loss.backward()
    out = {
        "name": name,
        "policyChosenLatents": pc.detach().tolist(),
        "policyRejectedLatents": pr.detach().tolist(),
        "referenceChosenLatents": rc.tolist(),
        "referenceRejectedLatents": rr.tolist(),
        "loss": loss.item(),
        "gradPolicyChosen": pc.grad.tolist(),
        "gradPolicyRejected": pr.grad.tolist(),
    }
    if masked:
        out["chosenMask"] = mc.tolist()
        out["rejectedMask"] = mr.tolist()
    return out


cases = [
    case("masked", B=3, Tc=5, Tr=4, H=6, masked=True),
    case("unmasked", B=2, Tc=3, Tr=6, H=4, masked=False),
    # A large latent scale: the loss is relative, so its value stays O(1).
    case("scaled", B=2, Tc=4, Tr=4, H=8, masked=True, scale=50.0),
    case("zero-reference", B=2, Tc=3, Tr=3, H=3, masked=False, scale=1e-3, zero_reference=True),
]
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "latent_anchor.json")
with open(path, "w") as fh:
    json.dump({"eps": EPS, "cases": cases}, fh, indent=1)
print({c["name"]: c["loss"] for c in cases})
