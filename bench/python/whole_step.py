"""PyTorch CPU baseline for bench/suites/whole-step.ts: one whole preference-training step of a GPT
policy with a frozen reference, as a PyTorch user writes it, in the same run as ganpo's.

Policy (the architecture of examples/tiny-lm): token embedding + learned positions, `layers` pre-LN
nn.TransformerEncoderLayer blocks (exact GELU, causal mask, dropout 0), final LayerNorm (its output
is GANPO's latent), vocabulary head. Reference: a frozen copy.

Variants (`variant` in the config):
- 'dpo': TRL's DPO step (beta 0.1, sigmoid loss, summed completion log-probs; chosen and rejected
  in one concatenated forward as TRL's `concatenated_forward`; reference under no_grad); AdamW.
- 'mlp' / 'transformer': the official GANPO step (GANPO_trl.py of github.com/enyijiang/GANPO at
  58ca06d, `QuadGANDPOTrainer.training_step`; tools/reference/ganpo_step.py has the same order with
  fixtures): policy forward, reference forward, discriminator step on detached latents (three
  training-mode calls per critic, EMA means, quad loss, AdamW lr/2 weight decay 0.01), then
  DPO + 1.0 x generator loss with the critics frozen in eval mode, AdamW step on the policy. Critics:
  tools/reference/official_discriminator.py.

Usage: whole_step.py serve '<json config>' — prints one JSON line {ready, torch, threads,
firstStepMs, ...} after the first step, then answers each stdin line "step" with the step's wall time
in ms, "stats" with {peakRssMB}, and exits on "quit" or end of input. Config (bench/whole-step/config.ts):
threads, vocab, dim, layers, heads, ffn, maxSeqLen, T, B (pairs), prompt, variant, transformerCritic
{hidden, layers, heads, ffn, maxSeqLen, dropout}, mlpCritic {hiddenDims}.
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tools', 'reference'))
from fair_torch import limit_threads, peak_rss_mb  # noqa: E402  (sets OMP_WAIT_POLICY before torch)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from official_discriminator import MLPDiscriminator, TransformerDiscriminator  # noqa: E402


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c['dim']
        self.tokens = nn.Embedding(c['vocab'], d)
        self.positions = nn.Parameter(torch.randn(c['maxSeqLen'], d) * 0.02)
        self.blocks = nn.ModuleList([
            nn.TransformerEncoderLayer(d, c['heads'], dim_feedforward=c['ffn'], dropout=0.0, activation='gelu',
                                       layer_norm_eps=1e-5, batch_first=True, norm_first=True)
            for _ in range(c['layers'])])
        self.norm = nn.LayerNorm(d, eps=1e-5)
        self.head = nn.Linear(d, c['vocab'])

    def forward(self, ids):
        t = ids.shape[1]
        mask = torch.triu(torch.full((t, t), float('-inf')), diagonal=1)
        x = self.tokens(ids) + self.positions[:t]
        for block in self.blocks:
            x = block(x, src_mask=mask)
        hidden = self.norm(x)
        return self.head(hidden), hidden


def completion_logps(logits, ids, loss_mask):
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    tok = torch.gather(logp, 2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (tok * loss_mask[:, 1:]).sum(-1)


def make_critic(c, latent_dim):
    if c['variant'] == 'mlp':
        return MLPDiscriminator(latent_dim, hidden_dims=tuple(c['mlpCritic']['hiddenDims']))
    cc = c['transformerCritic']
    return TransformerDiscriminator(latent_dim, cc['hidden'], cc['layers'], cc['heads'], ffn_dim=cc['ffn'],
                                    max_seq_len=cc['maxSeqLen'], dropout=cc['dropout'])


def build(c):
    torch.manual_seed(0)
    policy = GPT(c)
    reference = GPT(c).requires_grad_(False)
    reference.load_state_dict(policy.state_dict())
    B, T, P = c['B'], c['T'], c['prompt']
    g = torch.Generator().manual_seed(1)
    chosen = torch.randint(0, c['vocab'], (B, T), generator=g)
    rejected = torch.randint(0, c['vocab'], (B, T), generator=g)
    ids = torch.cat([chosen, rejected])
    loss_mask = (torch.arange(T)[None, :] >= P).float().expand(2 * B, T)
    attn = torch.ones(B, T)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-4, weight_decay=0.0)
    variant = c['variant']
    critics = None
    if variant != 'dpo':
        critics = (make_critic(c, c['dim']), make_critic(c, c['dim']))
        d_params = list(critics[0].parameters()) + list(critics[1].parameters())
        opt_d = torch.optim.AdamW(d_params, lr=5e-5, weight_decay=0.01)
    ema = {}

    def ema_update(key, value):
        ema[key] = value if key not in ema else 0.9 * ema[key] + 0.1 * value
        return ema[key]

    def dpo_loss(logits, ref_logits):
        lp = completion_logps(logits, ids, loss_mask)
        rlp = completion_logps(ref_logits, ids, loss_mask)
        z = 0.1 * ((lp[:B] - rlp[:B]) - (lp[B:] - rlp[B:]))
        return -F.logsigmoid(z).mean()

    def step():
        logits, hidden = policy(ids)
        with torch.no_grad():
            ref_logits, ref_hidden = reference(ids)
        loss = dpo_loss(logits, ref_logits)
        if critics is not None:
            d_w, d_l = critics
            h_pc, h_pr = hidden[:B], hidden[B:]
            h_rc, h_rr = ref_hidden[:B], ref_hidden[B:]
            d_w.train()
            d_l.train()
            losses = []
            for name, disc, pol, ref_h, opp in (('w', d_w, h_pc.detach(), h_rc, h_rr),
                                                ('l', d_l, h_pr.detach(), h_rr, h_rc)):
                s_pol = disc(pol, mask=attn)
                if name == 'w':
                    s_ref, s_opp = disc(ref_h, mask=attn), disc(opp, mask=attn)
                else:
                    s_opp, s_ref = disc(opp, mask=attn), disc(ref_h, mask=attn)
                m_ref = ema_update(name + 'ref', s_ref.detach().mean().item())
                m_pol = ema_update(name + 'pol', s_pol.detach().mean().item())
                m_opp = ema_update(name + 'opp', s_opp.detach().mean().item())
                losses.append(0.25 * (F.softplus(-(s_ref - m_pol)).mean() + F.softplus(s_pol - m_ref).mean()
                                      + F.softplus(-(s_pol - m_opp)).mean() + F.softplus(s_opp - m_pol).mean()))
            opt_d.zero_grad(set_to_none=True)
            sum(losses).backward()
            opt_d.step()
            d_w.eval()
            d_l.eval()
            for p in d_params:
                p.requires_grad_(False)
            adv = 0.5 * (F.softplus(-(d_w(h_pc, mask=attn) - ema['wref'])).mean()
                         + F.softplus(-(d_l(h_pr, mask=attn) - ema['lref'])).mean())
            loss = loss + 1.0 * adv
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if critics is not None:
            for p in d_params:
                p.requires_grad_(True)
        return loss.item()

    return policy, step


def main():
    if len(sys.argv) < 3 or sys.argv[1] != 'serve':
        sys.exit(__doc__)
    c = json.loads(sys.argv[2])
    info = limit_threads(int(c.get('threads', 1)))
    t0 = time.perf_counter()
    policy, step = build(c)
    t1 = time.perf_counter()
    step()
    t2 = time.perf_counter()
    info.update({'ready': True, 'parameters': sum(p.numel() for p in policy.parameters()),
                 'setupMs': (t1 - t0) * 1000, 'firstStepMs': (t2 - t1) * 1000})
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == 'step':
            s = time.perf_counter()
            step()
            print((time.perf_counter() - s) * 1000, flush=True)
        elif cmd == 'stats':
            print(json.dumps({'peakRssMB': peak_rss_mb()}), flush=True)
        else:
            break


if __name__ == '__main__':
    main()
