// biome-ignore-all format: docs/guide.md shows this file as the "≤ 40 lines" snippet; keep it compact.
import * as tf from '@tensorflow/tfjs-core';
import type { GanpoRegularizer, PreferenceBatch } from 'ganpo';
import { causalLogProbs, dpoLoss, ganpoLoss } from 'ganpo';

/** Your causal LM: a forward pass giving logits [B,T,V] and hidden states [B,T,H] (see LatentView). */
type Out = { logits: tf.Tensor3D; hidden: tf.Tensor3D };
type LM = { forward(ids: tf.Tensor2D, options: { training: boolean }): Out };
const run = (lm: LM, s: PreferenceBatch['chosen'], training: boolean) => {
  const { logits, hidden } = lm.forward(s.inputIds, { training });
  return { logp: causalLogProbs({ logits, inputIds: s.inputIds, lossMask: s.completionMask }).sum, hidden };
};

/** One DPO + GANPO step on a collated batch; returns the loss. */
export function ganpoStep(policy: LM, reference: LM, policyVars: tf.Variable[],
                          reg: GanpoRegularizer, opt: tf.Optimizer, b: PreferenceBatch): number {
  const masks = { chosenMask: b.chosen.attentionMask, rejectedMask: b.rejected.attentionMask };
  // 1. Frozen reference, and the current policy's latents, without gradient.
  const ref = tf.tidy(() => ({ c: run(reference, b.chosen, false), r: run(reference, b.rejected, false) }));
  const pol = tf.tidy(() => ({ c: run(policy, b.chosen, false).hidden,
                                r: run(policy, b.rejected, false).hidden }));
  // 2. One step of both discriminators (EMA means updated first, as in the official code).
  reg.discriminatorStep({ policyChosenLatents: pol.c, policyRejectedLatents: pol.r,
                          referenceChosenLatents: ref.c.hidden, referenceRejectedLatents: ref.r.hidden, ...masks });
  // 3. Policy step on L = DPO + λ·adversarial. Always pass the variable list to variableGrads.
  const { value, grads } = tf.variableGrads(() => {
    const c = run(policy, b.chosen, true);
    const r = run(policy, b.rejected, true);
    const preference = dpoLoss({ policyChosenLogps: c.logp, policyRejectedLogps: r.logp, beta: 0.1,
                                 referenceChosenLogps: ref.c.logp, referenceRejectedLogps: ref.r.logp });
    return ganpoLoss({ regularizer: reg, preference, ...masks,
                       policyChosenLatents: c.hidden, policyRejectedLatents: r.hidden,
                       referenceChosenLatents: ref.c.hidden, referenceRejectedLatents: ref.r.hidden }).loss;
  }, policyVars);
  opt.applyGradients(grads);
  const loss = value.dataSync()[0] as number;
  tf.dispose([value, grads, ref, pol]);
  return loss;
}
