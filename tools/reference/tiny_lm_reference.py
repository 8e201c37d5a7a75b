"""Golden fixture for the example tiny LM (tests/examples/tiny-lm.test.ts).

Builds the same architecture from PyTorch's own modules — nn.TransformerEncoderLayer(norm_first=True,
activation="gelu") with a causal mask, nn.LayerNorm, one-hot @ embedding — in float64, with random
weights laid out as the TinyLM weights (kernels [in, out]; PyTorch stores [out, in], so they are
transposed on the way in and the gradients on the way out). Records logits, the last hidden state
and the gradient of a scalar that depends on both, for every weight.

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tools/reference/tiny_lm_reference.py
Writes tests/fixtures/tiny_lm.json.
"""
import json
import os

import numpy as np
import torch

torch.set_num_threads(2)
V, H, NH, F, L, MAXLEN = 11, 8, 2, 16, 2, 6
B, T = 2, 5


def main():
    rng = np.random.default_rng(20260127)
    g = lambda *s: torch.tensor(rng.normal(0, 0.3, s), dtype=torch.float64, requires_grad=True)
    ones_ish = lambda n: torch.tensor(1 + rng.normal(0, 0.1, n), dtype=torch.float64, requires_grad=True)

    # TinyLM weight order: embedding (tokens, positions); per block (ln1 γ β, qkv W b, out W b,
    # ln2 γ β, fc1 W b, fc2 W b); final LayerNorm (γ β); head (W b).
    names, weights = [], []

    def add(name, t):
        names.append(name)
        weights.append(t)
        return t

    tokens = add("tokens", g(V, H))
    positions = add("positions", g(MAXLEN, H))
    blocks = []
    for i in range(L):
        w = {}
        w["ln1_gamma"] = add(f"b{i}.ln1_gamma", ones_ish(H))
        w["ln1_beta"] = add(f"b{i}.ln1_beta", g(H))
        w["qkv_kernel"] = add(f"b{i}.qkv_kernel", g(H, 3 * H))
        w["qkv_bias"] = add(f"b{i}.qkv_bias", g(3 * H))
        w["out_kernel"] = add(f"b{i}.out_kernel", g(H, H))
        w["out_bias"] = add(f"b{i}.out_bias", g(H))
        w["ln2_gamma"] = add(f"b{i}.ln2_gamma", ones_ish(H))
        w["ln2_beta"] = add(f"b{i}.ln2_beta", g(H))
        w["fc1_kernel"] = add(f"b{i}.fc1_kernel", g(H, F))
        w["fc1_bias"] = add(f"b{i}.fc1_bias", g(F))
        w["fc2_kernel"] = add(f"b{i}.fc2_kernel", g(F, H))
        w["fc2_bias"] = add(f"b{i}.fc2_bias", g(H))
        blocks.append(w)
    final_gamma = add("final_gamma", ones_ish(H))
    final_beta = add("final_beta", g(H))
    head_kernel = add("head_kernel", g(H, V))
    head_bias = add("head_bias", g(V))

    ids = torch.tensor([[1, 5, 6, 7, 2], [1, 8, 9, 0, 0]])
    mask = torch.nn.Transformer.generate_square_subsequent_mask(T).to(torch.float64)

    x = torch.nn.functional.one_hot(ids, V).to(torch.float64) @ tokens + positions[:T]
    for w in blocks:
        layer = torch.nn.TransformerEncoderLayer(
            H, NH, dim_feedforward=F, dropout=0.0, activation="gelu", layer_norm_eps=1e-5,
            batch_first=True, norm_first=True,
        ).to(torch.float64)
        # Point the module's parameters at our leaf tensors so the gradients land on them.
        del layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias
        del layer.self_attn.out_proj.weight, layer.self_attn.out_proj.bias
        del layer.linear1.weight, layer.linear1.bias, layer.linear2.weight, layer.linear2.bias
        del layer.norm1.weight, layer.norm1.bias, layer.norm2.weight, layer.norm2.bias
        layer.self_attn.in_proj_weight = w["qkv_kernel"].t()
        layer.self_attn.in_proj_bias = w["qkv_bias"]
        layer.self_attn.out_proj.weight = w["out_kernel"].t()
        layer.self_attn.out_proj.bias = w["out_bias"]
        layer.linear1.weight, layer.linear1.bias = w["fc1_kernel"].t(), w["fc1_bias"]
        layer.linear2.weight, layer.linear2.bias = w["fc2_kernel"].t(), w["fc2_bias"]
        layer.norm1.weight, layer.norm1.bias = w["ln1_gamma"], w["ln1_beta"]
        layer.norm2.weight, layer.norm2.bias = w["ln2_gamma"], w["ln2_beta"]
        x = layer(x, src_mask=mask)
    hidden = torch.nn.functional.layer_norm(x, (H,), final_gamma, final_beta, eps=1e-5)
    logits = hidden @ head_kernel + head_bias

    u = torch.tensor(rng.normal(0, 1, (B, T, V)), dtype=torch.float64)
    v = torch.tensor(rng.normal(0, 1, (B, T, H)), dtype=torch.float64)
    objective = (logits * u).sum() + (hidden * v).sum()
    grads = torch.autograd.grad(objective, weights)

    out = {
        "source": "tools/reference/tiny_lm_reference.py",
        "config": {"vocabSize": V, "dim": H, "numHeads": NH, "ffnDim": F, "numLayers": L, "maxSeqLen": MAXLEN},
        "inputIds": ids.tolist(),
        "names": names,
        "shapes": [list(w.shape) for w in weights],
        "weights": [w.detach().flatten().tolist() for w in weights],
        "u": u.flatten().tolist(),
        "v": v.flatten().tolist(),
        "logits": logits.detach().flatten().tolist(),
        "hidden": hidden.detach().flatten().tolist(),
        "grads": [gr.flatten().tolist() for gr in grads],
    }
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "tiny_lm.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {os.path.normpath(path)}: {sum(w.numel() for w in weights)} parameters")


if __name__ == "__main__":
    main()
