#!/usr/bin/env python3
"""Continue a ganpo run in PyTorch, as the official GANPO trainer would, and hand it back.

Reads a ganpo handoff bundle (the folder `exportHandoff` writes; layout below), rebuilds the state of
the official trainer from it -- the two `TransformerDiscriminator`s, their AdamW optimizers and cosine
schedules, the six EMA means, the policy with its AdamW state and schedule, the TRL-format data with
its precomputed reference log-probs -- and runs training steps exactly as the official code does. The
official code followed is GANPO_trl.py of github.com/enyijiang/GANPO at commit
58ca06deaf9685d2ab2f6b18e49052ed7642ebad (`QuadGANDPOTrainer.training_step`, `compute_loss_disc`,
`compute_loss`, `create_optimizer_and_scheduler`), on transformers' `Trainer` loop (global-norm
clipping, then the optimizer and scheduler step):

  1. policy forward on the chosen and rejected sequences (latents h_pol kept with their graph);
  2. reference forward without gradient (log-probs, latents h_ref);
  3. critic step on detached latents: D_w scores (policy chosen, reference chosen, reference
     rejected), D_l scores (policy rejected, reference chosen, reference rejected), one training-mode
     call each (one spectral-norm power iteration per call); the six EMA means (momentum, first value
     = first batch mean, float32 tensors) are updated with this batch; per critic
     L = 1/4 [BCE(ref - m_pol, 1) + BCE(pol - m_ref, 0) + BCE(pol - m_opp, 1) + BCE(opp - m_pol, 0)];
     AdamW (lr = policy lr / 2, weight decay 0.01) and its cosine schedule with the policy's warm-up;
  4. policy loss = DPO sigmoid (beta) + adv_weight * 1/2 [BCE(D_w(h_pol^w) - m_w,ref, 1)
     + BCE(D_l(h_pol^l) - m_l,ref, 1)], critics frozen in eval mode; clip_grad_norm_(max_grad_norm);
     AdamW; scheduler step.

One deviation is taken from the bundle: with `critic_masks: true` (ganpo's trainer) the critics get the
attention masks, which the official code has commented out (it scores padding too); with `false` they
get none, as the official code. Without padding in a batch both agree.

Writes, next to the bundle (default tests/fixtures/handoff/state/, exported by
tests/interop/pytorch-handoff.test.ts with GANPO_WRITE_HANDOFF=1):
  expected.json  the continued steps' losses, means, critic and policy weights
  after/         the bundle after the first continued step (the way back)

Run with Debian's python3 (torch 1.13):
  /usr/bin/python3 tools/reference/ganpo_handoff.py [bundle] [steps]
The bundle folder's sibling continue.json gives what the bundle does not: the PyTorch policy and
tokenizer (the test's tiny policy and character tokenizer) and the batches to continue with.

Bundle layout (all tensors safetensors, PyTorch names and layouts):
  ganpo_handoff.json            config (TRL DPOConfig fields, official trainer arguments, what has no
                                counterpart), global_step, running_means (official attribute names),
                                optimizer step counts and learning rates, tokenizer and model notes
  disc_chosen.safetensors       state dict of D_w (disc_rejected.*: D_l)
  disc_chosen.optim.safetensors exp_avg.<param>, exp_avg_sq.<param> of its AdamW
  policy.safetensors            the policy's weights under PyTorch names (optional)
  policy.optim.safetensors      its AdamW moments (optional)
  reference.safetensors         the reference's weights (optional)
  train.jsonl                   TRL preference lines + ref_chosen_logps / ref_rejected_logps
"""
import copy
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402
from collate_reference import trl_collate  # noqa: E402
from official_discriminator import TransformerDiscriminator  # noqa: E402

torch.set_default_dtype(torch.float32)
SIDES = ("chosen", "rejected")
MEANS = ("running_mean_pos", "running_mean_neg", "running_mean_policy",
         "running_mean_pos_rej", "running_mean_neg_rej", "running_mean_policy_rejected_rej")


# ---------------------------------------------------------------------------------------------
# Reading a bundle
# ---------------------------------------------------------------------------------------------

def read_json(path):
    with open(path) as f:
        return json.load(f)


def tensors(path):
    return {k: torch.from_numpy(v) for k, v in safetensors_io.read(path).items()}


def cosine_lambda(warmup, total):
    """transformers.get_cosine_schedule_with_warmup's multiplier (num_cycles 0.5)."""
    def f(step):
        if step < warmup:
            return step / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
    return f


def linear_lambda(warmup, total):
    """transformers.get_linear_schedule_with_warmup's multiplier."""
    def f(step):
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))
    return f


def schedule_lambda(kind, warmup, total):
    if kind == "cosine":
        return cosine_lambda(warmup, total)
    if kind == "linear":
        return linear_lambda(warmup, total)
    if kind == "constant":
        return lambda step: 1.0
    if kind == "constant_with_warmup":
        return lambda step: step / max(1, warmup) if step < warmup else 1.0
    raise ValueError(f"lr_scheduler_type {kind!r} is not supported here")


def set_adamw_state(opt, named_params, moments, steps):
    """Puts exported AdamW moments and per-parameter step counts into an existing torch AdamW (any
    parameter grouping, e.g. transformers' decay / no-decay groups): state is keyed by parameter.
    Parameters never updated have no state, as in PyTorch."""
    for name, p in named_params:
        n = steps.get(name, 0)
        if n == 0:
            continue
        opt.state[p] = {
            "step": torch.tensor(float(n)),
            "exp_avg": moments[f"exp_avg.{name}"].clone().reshape(p.shape),
            "exp_avg_sq": moments[f"exp_avg_sq.{name}"].clone().reshape(p.shape),
        }


def adamw_with_state(named_params, moments, steps, lr, betas, eps, weight_decay):
    """torch.optim.AdamW over `named_params`, holding the exported state."""
    opt = torch.optim.AdamW([p for _, p in named_params], lr=lr, betas=tuple(betas), eps=eps,
                            weight_decay=weight_decay)
    set_adamw_state(opt, named_params, moments, steps)
    return opt


def lambda_lr_at(opt, fn, step):
    """A LambdaLR positioned after `step` scheduler steps (what resuming from scheduler.pt gives)."""
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    return torch.optim.lr_scheduler.LambdaLR(opt, fn, last_epoch=step - 1)


class TinyPolicy(nn.Module):
    """The test bundles' policy: one-hot(ids) @ W1 + b1 -> tanh (the latent) -> @ W2 + b2 (logits)."""

    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        self.V = vocab_size
        self.W1 = nn.Parameter(torch.zeros(vocab_size, hidden_size))
        self.b1 = nn.Parameter(torch.zeros(hidden_size))
        self.W2 = nn.Parameter(torch.zeros(hidden_size, vocab_size))
        self.b2 = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, ids):
        h = torch.tanh(F.one_hot(ids, self.V).float() @ self.W1 + self.b1)
        return h @ self.W2 + self.b2, h


def char_encode(text, alphabet):
    """The test bundles' tokenizer: examples/tokenizers/char-tokenizer.ts (ids 4 + index)."""
    return [4 + alphabet.index(c) for c in text]


class OfficialState:
    """What the official trainer holds between steps, rebuilt from a bundle."""

    def __init__(self, bundle, setup):
        self.dir = bundle
        self.setup = setup
        self.meta = read_json(os.path.join(bundle, "ganpo_handoff.json"))
        cfg, gt = self.meta["dpo_config"], self.meta["ganpo_trainer"]
        self.cfg, self.gt = cfg, gt
        self.step = int(self.meta["global_step"])
        self.masks = bool(gt["critic_masks"])
        # Critics: the official class with the exported architecture, strict state-dict load.
        d = gt["discriminator"]
        warmup, total = int(cfg["warmup_steps"]), int(cfg["max_steps"])
        policy_fn = schedule_lambda(cfg["lr_scheduler_type"], warmup, total)
        critic_fn = cosine_lambda(warmup, total)  # official: "cosine" whatever the policy's schedule
        self.critics, self.critic_opts, self.critic_scheds = {}, {}, {}
        for side in SIDES:
            disc = TransformerDiscriminator(
                input_dim=d["input_dim"], hidden_dim=d["hidden_dim"], num_layers=d["num_layers"],
                num_heads=d["num_heads"], max_seq_len=d["max_seq_len"], dropout=d["dropout"])
            disc.load_state_dict(tensors(os.path.join(bundle, f"disc_{side}.safetensors")), strict=True)
            named = list(disc.named_parameters())
            opt = adamw_with_state(
                named, tensors(os.path.join(bundle, f"disc_{side}.optim.safetensors")),
                self.meta["optimizer_steps"][f"disc_{side}"], cfg["learning_rate"] * gt["disc_lr_ratio"],
                gt["disc_betas"], gt["disc_eps"], gt["disc_weight_decay"])
            self.critics[side] = disc
            self.critic_opts[side] = opt
            self.critic_scheds[side] = lambda_lr_at(opt, critic_fn, self.step)
        self.means = {k: (None if v is None else torch.tensor(v, dtype=torch.float32))
                      for k, v in self.meta["running_means"].items()}
        # Policy and reference.
        pm = setup["policy_model"]
        self.policy = TinyPolicy(pm["vocab_size"], pm["hidden_size"])
        self.policy.load_state_dict(tensors(os.path.join(bundle, "policy.safetensors")), strict=True)
        self.reference = TinyPolicy(pm["vocab_size"], pm["hidden_size"]).requires_grad_(False)
        self.reference.load_state_dict(tensors(os.path.join(bundle, "reference.safetensors")), strict=True)
        self.policy_opt = adamw_with_state(
            list(self.policy.named_parameters()), tensors(os.path.join(bundle, "policy.optim.safetensors")),
            self.meta["optimizer_steps"]["policy"], cfg["learning_rate"],
            [cfg["adam_beta1"], cfg["adam_beta2"]], cfg["adam_epsilon"], cfg["weight_decay"])
        self.policy_sched = lambda_lr_at(self.policy_opt, policy_fn, self.step)
        # Data: TRL lines, tokenized as TRL's tokenize_row and collated as its DPOTrainer.
        with open(os.path.join(bundle, "train.jsonl")) as f:
            self.rows = [json.loads(line) for line in f if line.strip()]

    def batch(self, indices):
        tok = self.setup["tokenizer"]
        pairs = [{k: char_encode(self.rows[i][k], tok["alphabet"]) for k in ("prompt", "chosen", "rejected")}
                 for i in indices]
        cfg = self.cfg
        out = trl_collate(pairs, {
            "eosTokenId": tok["eos_token_id"], "maxLength": cfg["max_length"],
            "maxPromptLength": cfg["max_prompt_length"], "maxCompletionLength": cfg["max_completion_length"],
            "truncationMode": cfg["truncation_mode"]})
        t = lambda side, k, dtype: torch.tensor(out[side][k], dtype=dtype)
        ref = torch.tensor([[self.rows[i]["ref_chosen_logps"], self.rows[i]["ref_rejected_logps"]] for i in indices])
        return {side: {"ids": t(side, "inputIds", torch.long), "att": t(side, "attentionMask", torch.float32),
                       "loss": t(side, "completionMask", torch.float32)} for side in SIDES} | {"ref_logps": ref}

    def update_mean(self, key, value):
        """QuadGANDPOTrainer._update_mean: the first value is the batch mean, then an EMA (float32)."""
        cur = value.detach()
        prev = self.means[key]
        self.means[key] = cur if prev is None else self.gt["momentum"] * prev + (1 - self.gt["momentum"]) * cur
        return self.means[key]

    def train_step(self, indices):
        """One official training step (gradient accumulation 1); returns its logged values."""
        b = self.batch(indices)
        mc = b["chosen"]["att"] if self.masks else None
        mr = b["rejected"]["att"] if self.masks else None
        bce = nn.BCEWithLogitsLoss()
        # 1-2. policy (graph kept) and reference (no grad) forwards.
        self.policy.train()
        logits_c, h_pc = self.policy(b["chosen"]["ids"])
        logits_r, h_pr = self.policy(b["rejected"]["ids"])
        with torch.no_grad():
            ref_logits_c, h_rc = self.reference(b["chosen"]["ids"])
            ref_logits_r, h_rr = self.reference(b["rejected"]["ids"])
        # 3. compute_loss_disc on detached latents, then both critic optimizers and schedulers.
        dw, dl = self.critics["chosen"], self.critics["rejected"]
        dw.train()
        dl.train()
        for p in list(dw.parameters()) + list(dl.parameters()):
            p.requires_grad_(True)
        s_policy = dw(h_pc.detach(), mask=mc)
        s_pos = dw(h_rc, mask=mc)
        s_neg = dw(h_rr, mask=mr)
        s_policy_rejected_rej = dl(h_pr.detach(), mask=mr)
        s_pos_rej = dl(h_rc, mask=mc)
        s_neg_rej = dl(h_rr, mask=mr)
        ref_pos = self.update_mean("running_mean_pos", s_pos.mean())
        ref_neg = self.update_mean("running_mean_neg", s_neg.mean())
        ref_policy = self.update_mean("running_mean_policy", s_policy.mean())
        ref_pos_rej = self.update_mean("running_mean_pos_rej", s_pos_rej.mean())
        ref_neg_rej = self.update_mean("running_mean_neg_rej", s_neg_rej.mean())
        ref_policy_rej = self.update_mean("running_mean_policy_rejected_rej", s_policy_rejected_rej.mean())
        ones, zeros = torch.ones_like(s_pos), torch.zeros_like(s_pos)
        loss_pos = (bce(s_pos - ref_policy, ones) + bce(s_policy - ref_pos, zeros)
                    + bce(s_policy - ref_neg, ones) + bce(s_neg - ref_policy, zeros)) / 4.0
        loss_neg = (bce(s_neg_rej - ref_policy_rej, ones) + bce(s_policy_rejected_rej - ref_neg_rej, zeros)
                    + bce(s_policy_rejected_rej - ref_pos_rej, ones) + bce(s_pos_rej - ref_policy_rej, zeros)) / 4.0
        loss_pos.backward()
        loss_neg.backward()
        for side in SIDES:
            self.critic_opts[side].step()
            self.critic_scheds[side].step()
            self.critic_opts[side].zero_grad()
        # 4. compute_loss: DPO + adversarial term with frozen eval-mode critics.
        dw.eval()
        dl.eval()
        for p in list(dw.parameters()) + list(dl.parameters()):
            p.requires_grad_(False)

        def logps(logits, side):
            ids, m = b[side]["ids"], b[side]["loss"]
            tok = torch.gather(torch.log_softmax(logits[:, :-1], -1), 2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            return (tok * m[:, 1:]).sum(-1)

        pc, pr = logps(logits_c, "chosen"), logps(logits_r, "rejected")
        rc, rr = logps(ref_logits_c, "chosen"), logps(ref_logits_r, "rejected")
        beta = self.cfg["beta"]
        dpo = (-F.logsigmoid(beta * ((pc - rc) - (pr - rr)))).mean()
        s_p = dw(h_pc, mask=mc)
        s_pr = dl(h_pr, mask=mr)
        g_mimic = bce(s_p - self.means["running_mean_pos"], torch.ones_like(s_p))
        g_mimic_rej = bce(s_pr - self.means["running_mean_neg_rej"], torch.ones_like(s_pr))
        adv = (g_mimic + g_mimic_rej) / 2.0
        loss = dpo + self.gt["adv_weight"] * adv
        lr = self.policy_opt.param_groups[0]["lr"]
        self.policy_opt.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.cfg["max_grad_norm"]) \
            if self.cfg["max_grad_norm"] else None
        self.policy_opt.step()
        self.policy_sched.step()
        for p in list(dw.parameters()) + list(dl.parameters()):
            p.requires_grad_(True)
        self.step += 1
        return {
            "global_step": self.step, "loss": loss.item(), "dpo_loss": dpo.item(), "adversarial_loss": adv.item(),
            "disc_loss_pos": loss_pos.item(), "disc_loss_neg": loss_neg.item(), "learning_rate": lr,
            "grad_norm": None if grad_norm is None else grad_norm.item(),
            "ref_logps_match": float((torch.stack([rc, rr], 1) - b["ref_logps"]).abs().max()),
        }

    # -----------------------------------------------------------------------------------------
    # The way back: the same bundle layout, from this state.
    # -----------------------------------------------------------------------------------------

    def write(self, out):
        os.makedirs(out, exist_ok=True)
        steps = {}
        for side in SIDES:
            disc, opt = self.critics[side], self.critic_opts[side]
            safetensors_io.write(os.path.join(out, f"disc_{side}.safetensors"),
                                 {k: v.detach().numpy() for k, v in disc.state_dict().items()}, metadata={"format": "pt"})
            safetensors_io.write(os.path.join(out, f"disc_{side}.optim.safetensors"),
                                 moments_of(disc.named_parameters(), opt), metadata={"format": "pt"})
            steps[f"disc_{side}"] = steps_of(disc.named_parameters(), opt)
        safetensors_io.write(os.path.join(out, "policy.safetensors"),
                             {k: v.detach().numpy() for k, v in self.policy.state_dict().items()}, metadata={"format": "pt"})
        safetensors_io.write(os.path.join(out, "policy.optim.safetensors"),
                             moments_of(self.policy.named_parameters(), self.policy_opt), metadata={"format": "pt"})
        steps["policy"] = steps_of(self.policy.named_parameters(), self.policy_opt)
        for f in ("reference.safetensors", "train.jsonl"):
            shutil.copyfile(os.path.join(self.dir, f), os.path.join(out, f))
        meta = copy.deepcopy(self.meta)
        meta["global_step"] = self.step
        meta["running_means"] = {k: (None if v is None else float(v)) for k, v in self.means.items()}
        meta["optimizer_steps"] = steps
        with open(os.path.join(out, "ganpo_handoff.json"), "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")


def moments_of(named_params, opt):
    out = {}
    for name, p in named_params:
        st = opt.state.get(p)
        if st:
            out[f"exp_avg.{name}"] = st["exp_avg"].detach().numpy()
            out[f"exp_avg_sq.{name}"] = st["exp_avg_sq"].detach().numpy()
    return out


def steps_of(named_params, opt):
    return {name: int(opt.state[p]["step"]) if p in opt.state else 0 for name, p in named_params}


def state_json(sd, zero_key_bias=False):
    out = {}
    for k, v in sd.items():
        v = v.detach().clone().float()
        if zero_key_bias and k.endswith("in_proj_bias"):
            # The key bias cannot change any output (softmax over keys ignores a per-query constant),
            # so its gradient is exactly 0 and Adam turns float32 noise into +-lr steps: not compared.
            n = v.shape[0] // 3
            v[n:2 * n] = 0
        out[k] = {"shape": list(v.shape), "data": [float(f"{x:.9g}") for x in v.flatten().tolist()]}
    return out


def snapshot(state):
    return {
        "running_means": {k: float(v) for k, v in state.means.items()},
        "policy": state_json(state.policy.state_dict()),
        "disc_chosen": state_json(state.critics["chosen"].state_dict(), zero_key_bias=True),
        "disc_rejected": state_json(state.critics["rejected"].state_dict(), zero_key_bias=True),
    }


def main():
    bundle = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "tests", "fixtures", "handoff", "state")
    nsteps = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    root = os.path.dirname(os.path.normpath(bundle))
    # What the bundle does not say: the model and tokenizer of the PyTorch side (here the test's tiny
    # policy and character tokenizer), and the batches to continue with (ganpo's data order is its own).
    setup = read_json(os.path.join(root, "continue.json"))
    batches = setup["batches"]
    torch.manual_seed(0)
    state = OfficialState(bundle, setup)
    steps = []
    for k in range(nsteps):
        metrics = state.train_step(batches[k])
        steps.append({"batch": batches[k], "metrics": metrics, "after": snapshot(state)})
        if k == 0:
            state.write(os.path.join(root, "after"))
    out = {"source": "tools/reference/ganpo_handoff.py", "bundle": os.path.basename(os.path.normpath(bundle)),
           "start_step": int(state.meta["global_step"]), "steps": steps}
    path = os.path.join(root, "expected.json")
    with open(path, "w") as f:
        json.dump(out, f)
    for s in steps:
        print(json.dumps(s["metrics"]))
    print(f"wrote {os.path.normpath(path)} and {os.path.normpath(os.path.join(root, 'after'))}")


if __name__ == "__main__":
    main()
