"""Golden fixtures for ganpo's preference collation (tests/collate.test.ts).

Re-implements, with PyTorch tensors, what TRL's DPOTrainer (v0.28, the last release with
max_prompt_length) does to a preference pair of token ids, following its batch-level route rather than
ganpo's per-row one, so that the two implementations check each other:

  tokenize_row:       prompt = [bos] + prompt (only when a BOS is used); response += [eos];
                      prompt = prompt[-max_prompt_length:]; response = response[:max_completion_length]
  collator:           prompts left-padded, chosen/rejected responses right-padded to a common width
  concatenated_forward: input = cat(prompt, response); loss_mask = cat(0, response_mask);
                      if max_length < width: keep_start -> flush left, keep first max_length columns
                                             keep_end   -> flush right, keep last max_length columns,
                                                           flush left
                      else flush left. Flushing drops all-padding columns.

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tools/reference/collate_reference.py
Writes tests/fixtures/collate_trl.json.
"""
import json
import os

import numpy as np
import torch

PAD = 0


def pad_rows(rows, side, value):
    width = max([len(r) for r in rows] + [0])
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, r in enumerate(rows):
        if len(r) == 0:
            continue
        t = torch.tensor(r, dtype=torch.long)
        if side == "left":
            out[i, width - len(r):] = t
        else:
            out[i, : len(r)] = t
    return out


def flush(attention, tensors, to):
    """Moves every row's real tokens (attention == 1, contiguous) to the left or right edge, then drops
    columns that are padding in every row."""
    n, width = attention.shape
    outs = [torch.zeros_like(t) if k > 0 else torch.full_like(t, PAD) for k, t in enumerate(tensors)]
    att = torch.zeros_like(attention)
    for i in range(n):
        idx = torch.nonzero(attention[i]).flatten()
        k = idx.numel()
        if k == 0:
            continue
        start = 0 if to == "left" else width - k
        att[i, start : start + k] = 1
        for o, t in zip(outs, tensors):
            o[i, start : start + k] = t[i, idx]
    used = torch.nonzero(att.sum(0)).flatten()
    if used.numel() == 0:
        return att[:, :0], [o[:, :0] for o in outs]
    lo, hi = int(used.min()), int(used.max()) + 1
    return att[:, lo:hi], [o[:, lo:hi] for o in outs]


def trl_collate(pairs, opt):
    bos, eos = opt.get("bosTokenId"), opt["eosTokenId"]
    mpl, mcl, ml = opt.get("maxPromptLength"), opt.get("maxCompletionLength"), opt.get("maxLength")
    prompts, chosen, rejected = [], [], []
    for p in pairs:
        pr = ([bos] if bos is not None else []) + list(p["prompt"])
        ch = list(p["chosen"]) + ([eos] if eos is not None else [])
        rj = list(p["rejected"]) + ([eos] if eos is not None else [])
        if mpl is not None:
            pr = pr[-mpl:]
        if mcl is not None:
            ch, rj = ch[:mcl], rj[:mcl]
        prompts.append(pr)
        chosen.append(ch)
        rejected.append(rj)
    prompt_ids = pad_rows(prompts + prompts, "left", PAD)
    prompt_att = pad_rows([[1] * len(r) for r in prompts + prompts], "left", 0)
    comp_ids = pad_rows(chosen + rejected, "right", PAD)
    comp_att = pad_rows([[1] * len(r) for r in chosen + rejected], "right", 0)
    input_ids = torch.cat([prompt_ids, comp_ids], 1)
    att = torch.cat([prompt_att, comp_att], 1)
    loss_mask = torch.cat([torch.zeros_like(prompt_att), comp_att], 1)
    if ml is not None and ml < att.shape[1]:
        if opt["truncationMode"] == "keep_start":
            att, (input_ids, loss_mask) = flush(att, [input_ids, loss_mask], "left")
            att, input_ids, loss_mask = att[:, :ml], input_ids[:, :ml], loss_mask[:, :ml]
        else:
            att, (input_ids, loss_mask) = flush(att, [input_ids, loss_mask], "right")
            att, input_ids, loss_mask = att[:, -ml:], input_ids[:, -ml:], loss_mask[:, -ml:]
            att, (input_ids, loss_mask) = flush(att, [input_ids, loss_mask], "left")
    else:
        att, (input_ids, loss_mask) = flush(att, [input_ids, loss_mask], "left")
    # ganpo keeps at least one column and rounds the width up to pad_to_multiple_of (right padding).
    mult = opt.get("padToMultipleOf", 1)
    width = max(1, att.shape[1])
    width = -(-width // mult) * mult
    extra = width - att.shape[1]
    if extra > 0:
        att = torch.nn.functional.pad(att, (0, extra), value=0)
        loss_mask = torch.nn.functional.pad(loss_mask, (0, extra), value=0)
        input_ids = torch.nn.functional.pad(input_ids, (0, extra), value=PAD)
    b = len(pairs)
    side = lambda s: {
        "inputIds": input_ids[s].tolist(),
        "attentionMask": att[s].tolist(),
        "completionMask": loss_mask[s].tolist(),
        "completionLengths": loss_mask[s].sum(1).tolist(),
    }
    return {"chosen": side(slice(0, b)), "rejected": side(slice(b, 2 * b)), "seqLength": int(width)}


def random_pairs(rng, n, vocab, max_prompt, max_resp, allow_empty=True):
    lo = 0 if allow_empty else 1
    return [
        {
            "prompt": rng.integers(3, vocab, rng.integers(lo, max_prompt + 1)).tolist(),
            "chosen": rng.integers(3, vocab, rng.integers(lo, max_resp + 1)).tolist(),
            "rejected": rng.integers(3, vocab, rng.integers(lo, max_resp + 1)).tolist(),
        }
        for _ in range(n)
    ]


def main():
    rng = np.random.default_rng(20260127)
    base = {"padTokenId": PAD, "eosTokenId": 2}
    cases = []
    configs = [
        ("no truncation", {"maxLength": None, "maxPromptLength": None, "truncationMode": "keep_end"}),
        ("TRL defaults, short data", {"truncationMode": "keep_end"}),
        ("keep_end cuts prompt starts", {"maxLength": 9, "maxPromptLength": None, "truncationMode": "keep_end"}),
        ("keep_start cuts responses", {"maxLength": 9, "maxPromptLength": None, "truncationMode": "keep_start"}),
        ("prompt longer than maxPromptLength", {"maxLength": 12, "maxPromptLength": 4, "truncationMode": "keep_end"}),
        ("maxPromptLength + keep_start", {"maxLength": 7, "maxPromptLength": 5, "truncationMode": "keep_start"}),
        ("maxCompletionLength drops EOS", {"maxLength": 20, "maxPromptLength": 6, "maxCompletionLength": 3, "truncationMode": "keep_end"}),
        ("BOS prepended, then cut by maxPromptLength", {"bosTokenId": 1, "maxLength": 10, "maxPromptLength": 5, "truncationMode": "keep_end"}),
        ("no EOS, padToMultipleOf 8", {"eosTokenId": None, "maxLength": 11, "maxPromptLength": 8, "truncationMode": "keep_start", "padToMultipleOf": 8}),
    ]
    for name, cfg in configs:
        opt = {**base, **cfg}
        pairs = random_pairs(rng, 5, 20, 10, 7)
        cases.append({"name": name, "options": opt, "pairs": pairs, "expected": trl_collate(pairs, opt)})
    # Edge cases written by hand.
    edge = [
        ("empty responses", {**base, "maxLength": 8, "maxPromptLength": None, "truncationMode": "keep_end"},
         [{"prompt": [5, 6, 7], "chosen": [], "rejected": [8]}, {"prompt": [9], "chosen": [10, 11], "rejected": []}]),
        ("all truncated: keep_start, prompts fill maxLength", {**base, "maxLength": 4, "maxPromptLength": None, "truncationMode": "keep_start"},
         [{"prompt": [5, 6, 7, 8, 9], "chosen": [10], "rejected": [11, 12]}, {"prompt": [5, 6, 7, 8], "chosen": [13], "rejected": [14]}]),
        ("empty everything, no EOS", {"padTokenId": PAD, "eosTokenId": None, "maxLength": 4, "maxPromptLength": 2, "truncationMode": "keep_end"},
         [{"prompt": [], "chosen": [], "rejected": []}]),
        ("keep_end keeps the response when prompt is long", {**base, "maxLength": 3, "maxPromptLength": None, "truncationMode": "keep_end"},
         [{"prompt": [5, 6, 7, 8, 9, 10], "chosen": [11], "rejected": [12, 13, 14, 15]}]),
    ]
    for name, opt, pairs in edge:
        cases.append({"name": name, "options": opt, "pairs": pairs, "expected": trl_collate(pairs, opt)})
    out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "collate_trl.json")
    with open(out, "w") as f:
        json.dump({"source": "tools/reference/collate_reference.py", "trl": "v0.28.0", "cases": cases}, f)
    print(f"wrote {len(cases)} cases to {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
