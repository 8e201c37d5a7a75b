"""Loads a safetensors file written by ganpo's writeSafetensors into the official PyTorch module (strict) and
checks it scores what ganpo scored.  Usage: check_safetensors.py <file.safetensors> <case.json>
case.json: {config (ganpo names), x, mask, scores}. Prints one JSON line {ok, maxAbsErr}; exit 1 on mismatch."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from official_discriminator import TransformerDiscriminator  # noqa: E402


def main(path, case_path):
    with open(case_path) as f:
        case = json.load(f)
    c = case['config']
    model = TransformerDiscriminator(c['latentDim'], c['hiddenDim'], c['numLayers'], c['numHeads'], c['ffnDim'],
                                     c['maxSeqLen'], dropout=0.0).double().eval()
    tensors = {k: torch.from_numpy(v).double() for k, v in safetensors_io.read(path).items()}
    model.load_state_dict(tensors, strict=True)
    with torch.no_grad():
        s = model(torch.tensor(case['x'], dtype=torch.float64), torch.tensor(case['mask'], dtype=torch.float64))
    want = torch.tensor(case['scores'], dtype=torch.float64)
    err = (s - want).abs().max().item()
    ok = bool(torch.allclose(s, want, rtol=1e-4, atol=1e-5))
    print(json.dumps({'ok': ok, 'maxAbsErr': err}))
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
