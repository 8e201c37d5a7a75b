"""Golden values for tests/discriminator-*.test.ts and tests/safetensors.test.ts.

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tools/reference/discriminator_fixtures.py
Weights are float32 numbers; the forward/backward is computed in float64 so the fixtures are exact to
float32 rounding of the inputs. Writes tests/fixtures/discriminator_*.json and *.safetensors.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from official_discriminator import MLPDiscriminator, TransformerDiscriminator, randomize_  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'fixtures')
CFG = dict(input_dim=6, hidden_dim=8, num_layers=2, num_heads=2, ffn_dim=12, max_seq_len=5)
TS_CFG = dict(inputDim=6, hiddenDim=8, numLayers=2, numHeads=2, ffnDim=12, maxSeqLen=5)


def tolist(t):
    return t.detach().cpu().double().numpy().tolist()


def state(model):
    return {k: tolist(v) for k, v in model.state_dict().items()}


def f32(t):
    return torch.tensor(np.asarray(t, dtype=np.float32))


def build(seed, dropout=0.0):
    torch.manual_seed(seed)
    m = TransformerDiscriminator(**CFG, dropout=dropout)
    randomize_(m, torch.Generator().manual_seed(seed + 1))
    return m


def scores_and_grads(model, x, mask, coef, param_grads=False):
    x64 = x.double().clone().requires_grad_(True)
    model.zero_grad()
    s = model(x64, mask)
    (s * coef.double()).sum().backward()
    out = {'scores': tolist(s), 'inputGrad': tolist(x64.grad)}
    if param_grads:
        out['paramGrads'] = {n: tolist(p.grad) for n, p in model.named_parameters()}
    return out


def main():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 6, generator=g).float()
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [0, 1, 1, 0]], dtype=torch.float32)
    coef = torch.tensor([1.0, -0.5, 2.0])
    x_long = torch.randn(2, 7, 6, generator=g).float()
    mask_long = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 1, 1]], dtype=torch.float32)
    coef_long = torch.tensor([0.7, -1.3])

    model = build(10)
    sd32 = state(model)
    m64 = build(10).double().eval()
    m64.load_state_dict(model.state_dict())
    with torch.no_grad():  # the eval fast path (no grad) must agree with the autograd path
        fast = m64(x.double(), mask)
    cases = {
        'mask': scores_and_grads(m64, x, mask, coef),
        'nomask': scores_and_grads(m64, x, None, coef),
        'longMask': scores_and_grads(m64, x_long, mask_long, coef_long),
        'longNoMask': scores_and_grads(m64, x_long, None, coef_long),
    }
    assert torch.allclose(fast, torch.tensor(cases['mask']['scores'], dtype=torch.float64), rtol=1e-10)

    # Training mode, dropout 0: one power iteration per spectral-norm layer, gradients w.r.t. everything.
    m64.train()
    train = scores_and_grads(m64, x, mask, coef, param_grads=True)
    train['stateAfter'] = {k: v for k, v in state(m64).items() if k.endswith('weight_u') or k.endswith('weight_v')}
    m64.eval()
    with torch.no_grad():
        train['evalScoresAfter'] = tolist(m64(x.double(), mask))

    fixture = {
        'config': TS_CFG,
        'state': sd32,
        'x': tolist(x), 'mask': tolist(mask), 'coef': tolist(coef),
        'xLong': tolist(x_long), 'maskLong': tolist(mask_long), 'coefLong': tolist(coef_long),
        'eval': cases,
        'train': train,
    }
    with open(os.path.join(OUT, 'discriminator_transformer.json'), 'w') as f:
        json.dump(fixture, f)

    # MLP discriminator.
    torch.manual_seed(20)
    mlp = MLPDiscriminator(6, (8, 5))
    randomize_(mlp, torch.Generator().manual_seed(21))
    mlp_sd = state(mlp)
    mlp64 = MLPDiscriminator(6, (8, 5)).double()
    mlp64.load_state_dict(mlp.state_dict())
    mlp64.eval()
    mlp_eval = {'mask': scores_and_grads(mlp64, x, mask, coef), 'nomask': scores_and_grads(mlp64, x, None, coef)}
    mlp64.train()
    mlp_train = scores_and_grads(mlp64, x, mask, coef, param_grads=True)
    mlp_train['stateAfter'] = {k: v for k, v in state(mlp64).items() if k.endswith(('weight_u', 'weight_v'))}
    with open(os.path.join(OUT, 'discriminator_mlp.json'), 'w') as f:
        json.dump({'config': {'inputDim': 6, 'hiddenDims': [8, 5]}, 'state': mlp_sd, 'x': tolist(x),
                   'mask': tolist(mask), 'coef': tolist(coef), 'eval': mlp_eval, 'train': mlp_train}, f)

    # A discriminator saved from PyTorch as safetensors (F32), and what it scores.
    other = build(30)
    safetensors_io.write(os.path.join(OUT, 'discriminator_torch.safetensors'),
                         {k: v.numpy() for k, v in other.state_dict().items()}, metadata={'format': 'pt'})
    o64 = build(30).double().eval()
    o64.load_state_dict(other.state_dict())
    with torch.no_grad():
        st_scores = tolist(o64(x.double(), mask))
    with open(os.path.join(OUT, 'discriminator_torch_safetensors.json'), 'w') as f:
        json.dump({'config': TS_CFG, 'x': tolist(x), 'mask': tolist(mask), 'scores': st_scores}, f)

    # Every dtype the reader accepts.
    vals = {'f32': [[1.5, -2.25, 3.0]], 'f16': [0.5, -1.0, 65504.0, 1e-3], 'bf16': [1.0, -3.5, 1e20, 0.15625],
            'i32': [[1, -2], [2147483647, -2147483648]], 'i64': [0, -5, 2**31 - 1, -2**31], 'scalar': 7.0}
    dts = {'f32': 'F32', 'f16': 'F16', 'bf16': 'BF16', 'i32': 'I32', 'i64': 'I64', 'scalar': 'F32'}
    arrays = {k: np.array(v, dtype=np.float64 if dts[k][0] in 'FB' else np.int64) for k, v in vals.items()}
    safetensors_io.write(os.path.join(OUT, 'safetensors_dtypes.safetensors'), arrays, dtypes=dts)
    back = safetensors_io.read(os.path.join(OUT, 'safetensors_dtypes.safetensors'))
    expected = {k: {'shape': list(v.shape), 'values': v.astype(np.float64).ravel().tolist()} for k, v in back.items()}
    with open(os.path.join(OUT, 'safetensors_dtypes.json'), 'w') as f:
        json.dump(expected, f)
    print('fixtures written to', os.path.normpath(OUT))


if __name__ == '__main__':
    main()
