"""The official GANPO TransformerDiscriminator, rebuilt as an importable PyTorch module.

Follows `TransformerDiscriminator` of GANPO_trl.py in github.com/enyijiang/GANPO (commit
58ca06deaf9685d2ab2f6b18e49052ed7642ebad): spectral-normalised Linear(input_dim -> hidden), learned
positional embedding [1, max_seq_len, hidden] (N(0, 0.02^2)), `num_layers` pre-LN
nn.TransformerEncoderLayer (batch_first, exact GELU), mean pooling (masked mean when a mask is given),
head SN-Linear(h->h) -> GELU -> SN-Linear(h->1). State-dict names are the ones ganpo's stateDict() uses. Differences that do not matter for the fixtures, which load explicit
state dicts: the official module re-initialises its Linear weights with xavier_uniform_ (zero biases),
takes no `ffn_dim`/`layer_norm_eps` (4·hidden and PyTorch's 1e-5 are its values), returns [B, 1]
scores and clamps the mask count at 1e-9 instead of 1 (the same for any non-empty mask). The GANPO
whole-step reference imports this file.
"""
import torch
from torch import nn


def _sn(module, enabled):
    return nn.utils.spectral_norm(module) if enabled else module


class TransformerDiscriminator(nn.Module):
    def __init__(self, input_dim, hidden_dim=512, num_layers=2, num_heads=8, ffn_dim=None,
                 max_seq_len=2048, dropout=0.1, use_spectral_norm=True, layer_norm_eps=1e-5):
        super().__init__()
        ffn_dim = ffn_dim or 4 * hidden_dim
        self.max_seq_len = max_seq_len
        self.project_in = _sn(nn.Linear(input_dim, hidden_dim), use_spectral_norm)
        self.pos_embedding = nn.Parameter(torch.randn(1, max_seq_len, hidden_dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model=hidden_dim, nhead=num_heads, dim_feedforward=ffn_dim, dropout=dropout,
            activation='gelu', layer_norm_eps=layer_norm_eps, batch_first=True, norm_first=True)
        # enable_nested_tensor=False: PyTorch 1.13's eval fast path would otherwise zero the outputs at
        # padded positions; masked pooling ignores them either way, but the slow path is the same math
        # in eval and training, which keeps the parity comparison about the network and not the kernel.
        self.transformer = nn.TransformerEncoder(layer, num_layers=num_layers, enable_nested_tensor=False)
        self.head = nn.Sequential(
            _sn(nn.Linear(hidden_dim, hidden_dim), use_spectral_norm),
            nn.GELU(),
            _sn(nn.Linear(hidden_dim, 1), use_spectral_norm),
        )

    def forward(self, x, mask=None):
        t = x.shape[1]
        if t > self.max_seq_len:
            x = x[:, : self.max_seq_len]
            mask = mask[:, : self.max_seq_len] if mask is not None else None
            t = self.max_seq_len
        h = self.project_in(x) + self.pos_embedding[:, :t]
        if mask is None:
            h = self.transformer(h)
            pooled = h.mean(dim=1)
        else:
            h = self.transformer(h, src_key_padding_mask=(mask == 0))
            m = mask.to(h.dtype).unsqueeze(-1)
            pooled = (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        return self.head(pooled).squeeze(-1)


class MLPDiscriminator(nn.Module):
    """ganpo's light discriminator: masked mean-pool, then SN-Linear -> GELU -> ... -> SN-Linear(->1)."""

    def __init__(self, input_dim, hidden_dims=(256, 256), use_spectral_norm=True):
        super().__init__()
        layers, d = [], input_dim
        for hd in hidden_dims:
            layers += [_sn(nn.Linear(d, hd), use_spectral_norm), nn.GELU()]
            d = hd
        layers.append(_sn(nn.Linear(d, 1), use_spectral_norm))
        self.net = nn.Sequential(*layers)

    def forward(self, x, mask=None):
        if mask is None:
            pooled = x.mean(dim=1)
        else:
            m = mask.to(x.dtype).unsqueeze(-1)
            pooled = (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        return self.net(pooled).squeeze(-1)


def randomize_(module, generator, scale=0.3):
    """Random values for every parameter and normalised random u/v, so parity tests exercise all of them."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * scale)
            if name.endswith('norm1.weight') or name.endswith('norm2.weight'):
                p.add_(1.0)
        for name, b in module.named_buffers():
            if name.endswith('weight_u') or name.endswith('weight_v'):
                r = torch.randn(b.shape, generator=generator)
                b.copy_(r / r.norm())
