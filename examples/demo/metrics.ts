// What the study measures about a trained policy besides generation quality: how far its last hidden
// states moved from the reference model's (latent drift, what GANPO is meant to hold down) and how far
// its output distribution moved (KL(policy ‖ reference) on completions it samples itself).
import * as tf from '@tensorflow/tfjs-core';
import {
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferencePair,
} from 'ganpo';
import type { TinyLM } from '../tiny-lm/index';

/**
 * Σ_{b,t} m_bt·‖hp_bt − hr_bt‖² and Σ_{b,t} m_bt·‖hr_bt‖² of hidden states `hp`, `hr` [B,T,H] over
 * the positions where `mask` [B,T] is 1 (real tokens, padding excluded). Plain numbers.
 */
export function squaredDistanceSums(
  hp: tf.Tensor3D,
  hr: tf.Tensor3D,
  mask: tf.Tensor2D,
): { distance: number; reference: number } {
  const [d, r] = tf.tidy(() => {
    const m = tf.cast(mask, 'float32');
    const dist = tf.sum(tf.mul(tf.sum(tf.square(tf.sub(hp, hr)), -1), m));
    const ref = tf.sum(tf.mul(tf.sum(tf.square(hr), -1), m));
    return [dist, ref];
  });
  const out = { distance: d.dataSync()[0] as number, reference: r.dataSync()[0] as number };
  tf.dispose([d, r]);
  return out;
}

/**
 * Per-sequence summed token KL, Σ_t mask_bt · Σ_v p_bt(v)·(log p_bt(v) − log q_bt(v)), with p =
 * softmax(`policyLogits`) and q = softmax(`referenceLogits`) [B,T,V]; `mask` [B,T] marks the positions
 * whose next-token distribution counts. Returns [B] (caller disposes). Exact per position (the whole
 * vocabulary is summed), so averaged over completions sampled from the policy it is an unbiased
 * estimate of the sequence-level KL(π_θ ‖ π_ref) with lower variance than log π_θ(y) − log π_ref(y).
 */
export function tokenKl(
  policyLogits: tf.Tensor3D,
  referenceLogits: tf.Tensor3D,
  mask: tf.Tensor2D,
): tf.Tensor1D {
  return tf.tidy(() => {
    const lp = tf.logSoftmax(policyLogits, -1);
    const lq = tf.logSoftmax(referenceLogits, -1);
    const perPosition = tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq)), -1);
    return tf.sum(tf.mul(perPosition, tf.cast(mask, 'float32')), -1) as tf.Tensor1D;
  });
}

/**
 * Latent drift of `policy` from `reference` on the sequences of `pairs` (prompt+chosen and
 * prompt+rejected): Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² over every real token of every sequence, with h the
 * last hidden state (the latent GANPO's critics see). 0 = unchanged.
 */
export function latentDrift(
  policy: TinyLM,
  reference: TinyLM,
  pairs: readonly PreferencePair[],
  collate: CollateOptions,
  batchSize = 100,
): number {
  let distance = 0;
  let norm = 0;
  for (let i = 0; i < pairs.length; i += batchSize) {
    const batch = collatePreferencePairs(pairs.slice(i, i + batchSize), collate);
    try {
      for (const side of [batch.chosen, batch.rejected]) {
        const hp = tf.tidy(() => policy.forward(side.inputIds).hidden);
        const hr = tf.tidy(() => reference.forward(side.inputIds).hidden);
        const s = squaredDistanceSums(hp, hr, side.attentionMask);
        tf.dispose([hp, hr]);
        distance += s.distance;
        norm += s.reference;
      }
    } finally {
      disposePreferenceBatch(batch);
    }
  }
  return distance / norm;
}

/**
 * Mean over prompts of the summed token KL(π_θ ‖ π_ref) along completions the policy sampled at
 * temperature 1 (`answers`: token ids without EOS, as `TinyLM.generate` returns them). A completion
 * shorter than `maxNewTokens` stopped on EOS, so EOS is scored as its last token; a completion of
 * `maxNewTokens` tokens was cut and has no EOS. Nats per completion.
 */
export function completionKl(
  policy: TinyLM,
  reference: TinyLM,
  prompts: readonly (readonly number[])[],
  answers: readonly (readonly number[])[],
  { padTokenId, eosTokenId, maxNewTokens }: { padTokenId: number; eosTokenId: number; maxNewTokens: number },
  batchSize = 100,
): number {
  let total = 0;
  for (let i = 0; i < prompts.length; i += batchSize) {
    const pairs: PreferencePair[] = prompts.slice(i, i + batchSize).map((p, k) => {
      const a = answers[i + k] as readonly number[];
      const completion = a.length < maxNewTokens ? [...a, eosTokenId] : [...a];
      return { prompt: [...p], chosen: completion, rejected: completion };
    });
    const batch = collatePreferencePairs(pairs, { padTokenId, eosTokenId: null, maxLength: null });
    try {
      const kl = tf.tidy(() => {
        const { inputIds, completionMask } = batch.chosen;
        const [b, t] = inputIds.shape;
        // logits[:, t] predict token t + 1: a position counts when the token it predicts is a completion token.
        const next = tf.cast(tf.slice(completionMask, [0, 1], [b, t - 1]), 'float32');
        const mask = tf.concat([next, tf.zeros([b, 1])], 1);
        return tf.sum(
          tokenKl(policy.forward(inputIds).logits, reference.forward(inputIds).logits, mask as tf.Tensor2D),
        );
      });
      total += kl.dataSync()[0] as number;
      kl.dispose();
    } finally {
      disposePreferenceBatch(batch);
    }
  }
  return total / prompts.length;
}
