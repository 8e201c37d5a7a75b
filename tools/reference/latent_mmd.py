"""Golden values for src/latent/mmd.ts: the unpaired latent MMD (squared maximum mean discrepancy
between the set of the policy's latent vectors and the set of the reference's, every unmasked
position one sample, pairing ignored), averaged over the chosen and rejected sides,

    mmd = 1/2 sum_side  MMD^2(P_side, R_side)
    MMD^2(P, R) = sum_ij w_i w_j k(p_i, p_j) + sum_ij w_i w_j k(r_i, r_j) - 2 sum_ij w_i w_j k(p_i, r_j)
    k(x, y) = 1/3 sum_{c in (0.1, 0.5, 2)} exp(-||x - y||^2 / (c s^2)),   s^2 = max(sum_i w_i ||r_i||^2, eps)

with w_i = m_i / sum m (the attention mask, all ones without one) and the reference terms constants
(the biased V-statistic of Gretton et al. 2012 with a mixture of Gaussian kernels as in Li et al.
2015). Written independently from the formula with autograd, float64: value and gradient with
respect to both policy latents, with and without masks, a large latent scale and an all-zero
reference. Run with Debian's python3 (torch 1.13):

    /usr/bin/python3 tools/reference/latent_mmd.py  ->  tests/fixtures/latent_mmd.json
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from latent_cases import finish_case, write_fixture  # noqa: E402

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
EPS = 1e-12
BANDWIDTHS = (0.1, 0.5, 2.0)


def side(pol, ref, mask):
    H = pol.shape[-1]
    m = torch.ones(pol.shape[:2]) if mask is None else mask
    w = (m / m.sum()).reshape(-1)
    p = pol.reshape(-1, H)
    r = ref.detach().reshape(-1, H)
    s2 = torch.clamp((w * (r ** 2).sum(-1)).sum(), min=EPS)

    def k(a, b):
        d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return sum(torch.exp(-d / (c * s2)) for c in BANDWIDTHS) / len(BANDWIDTHS)

    return w @ k(p, p) @ w + w @ k(r, r) @ w - 2 * (w @ k(p, r) @ w)


def case(name, B, Tc, Tr, H, masked, scale=1.0, shift=0.5, zero_reference=False):
    rc = torch.randn(B, Tc, H) * scale
    rr = torch.randn(B, Tr, H) * scale
    # Policy latents near the reference's, shifted, so the kernels are neither 0 nor 1.
    pc = (rc + shift * scale * torch.randn(B, Tc, H)).requires_grad_(True)
    pr = (rr + shift * scale * torch.randn(B, Tr, H)).requires_grad_(True)
    return finish_case(name, side, pc, pr, rc, rr, masked, zero_reference)


cases = [
    case("masked", B=3, Tc=5, Tr=4, H=6, masked=True),
    case("unmasked", B=2, Tc=3, Tr=6, H=4, masked=False),
    # A large latent scale: the bandwidths follow the reference's scale, so the value stays O(1).
    case("scaled", B=2, Tc=4, Tr=4, H=8, masked=True, scale=50.0),
    case("far", B=2, Tc=3, Tr=3, H=5, masked=False, shift=3.0),
    case("zero-reference", B=2, Tc=3, Tr=3, H=3, masked=False, zero_reference=True),
]
write_fixture("latent_mmd.json", {"eps": EPS, "bandwidths": list(BANDWIDTHS), "cases": cases})
