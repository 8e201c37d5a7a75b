"""Golden values for src/latent/anchor.ts: the paired latent anchor (the relative squared drift of
the policy's latents from the reference's, masked, averaged over the chosen and rejected sides),

    anchor = 1/2 sum_side  sum_{b,t} m_bt ||h_pol,bt - h_ref,bt||^2 / max(sum_{b,t} m_bt ||h_ref,bt||^2, eps)

written independently from the formula with autograd, float64: value and gradient with respect to
both policy latents, with and without masks, and an all-zero reference (the eps guard). Run with
Debian's python3 (torch 1.13):

    /usr/bin/python3 tools/reference/latent_anchor.py  ->  tests/fixtures/latent_anchor.json
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from latent_cases import finish_case, write_fixture  # noqa: E402

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
    return finish_case(name, side, pc, pr, rc, rr, masked, zero_reference)


cases = [
    case("masked", B=3, Tc=5, Tr=4, H=6, masked=True),
    case("unmasked", B=2, Tc=3, Tr=6, H=4, masked=False),
    # A large latent scale: the loss is relative, so its value stays O(1).
    case("scaled", B=2, Tc=4, Tr=4, H=8, masked=True, scale=50.0),
    case("zero-reference", B=2, Tc=3, Tr=3, H=3, masked=False, scale=1e-3, zero_reference=True),
]
write_fixture("latent_anchor.json", {"eps": EPS, "cases": cases})
