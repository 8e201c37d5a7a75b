"""The parts latent_anchor.py and latent_mmd.py share: how a fixture case is finished from its
random latents (an optional all-zero chosen reference, random attention masks), the record
tests/support/latent-cases.ts reads (the LatentBatch, the loss 1/2 (side(chosen) + side(rejected))
and its gradients with respect to both policy latents), and writing the fixture."""
import json
import os

import torch


def finish_case(name, side, pc, pr, rc, rr, masked, zero_reference):
    """The record of one case; side(pol, ref, mask) is the per-side loss, pc and pr require grad."""
    if zero_reference:
        rc = torch.zeros_like(rc)
    mc = mr = None
    if masked:
        # Right-padded attention masks of random lengths >= 1.
        B, Tc, Tr = pc.shape[0], pc.shape[1], pr.shape[1]
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


def write_fixture(filename, fixture):
    """Writes tests/fixtures/<filename> and prints each case's loss."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", filename)
    with open(path, "w") as fh:
        json.dump(fixture, fh, indent=1)
    print({c["name"]: c["loss"] for c in fixture["cases"]})
