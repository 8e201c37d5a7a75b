// Temperature sampling from any ganpo `CausalLM` (only `forward` is used), so the benchmark runs on a
// user's own model without a generate method. Each prompt has its own random stream, derived from the
// seed and the prompt's index: a prompt's sample does not depend on the batch it is drawn in, and two
// models sampled with the same seed share their uniforms prompt by prompt (common random numbers,
// which make win rates against the SFT model less noisy).
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from 'ganpo';
import { mulberry32 } from '../random';

/** Options of {@link sampleContinuations}. */
export interface SampleOptions {
  /** New tokens per prompt (fewer when `stopTokenId` is drawn). */
  maxNewTokens: number;
  /** Softmax temperature (> 0). */
  temperature: number;
  /** Seed of the per-prompt random streams. */
  seed: number;
  /** Id that right-pads prompts of different lengths inside a batch. */
  padTokenId: number;
  /** A token that ends a continuation when drawn (not included in it). Default none. */
  stopTokenId?: number | null;
  /** Prompts per forward batch. Default 256. */
  batchSize?: number;
}

/** Draws a token from logits `z` at `temperature` with the uniform `u` (inverse CDF). */
function draw(z: Float32Array, temperature: number, u: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of z) max = Math.max(max, v / temperature);
  let total = 0;
  const p = new Float64Array(z.length);
  for (let v = 0; v < z.length; v++) {
    p[v] = Math.exp((z[v] as number) / temperature - max);
    total += p[v] as number;
  }
  let left = u * total;
  for (let v = 0; v < z.length; v++) {
    left -= p[v] as number;
    if (left < 0) return v;
  }
  return z.length - 1;
}

/**
 * Samples a continuation of each prompt (token ids, BOS included if the model wants one) from
 * `model`, one token at a time, re-running the model on the whole prefix (no key/value cache: the
 * benchmark's sequences are a few dozen tokens). Returns the new tokens of each prompt.
 */
export function sampleContinuations(
  model: CausalLM,
  prompts: readonly (readonly number[])[],
  options: SampleOptions,
): number[][] {
  const { maxNewTokens, temperature, seed, padTokenId, stopTokenId = null, batchSize = 256 } = options;
  if (!(temperature > 0)) throw new Error(`sampleContinuations: temperature must be > 0, got ${temperature}`);
  const out: number[][] = prompts.map(() => []);
  for (let start = 0; start < prompts.length; start += batchSize) {
    const rows = prompts.slice(start, start + batchSize).map((p, k) => ({
      index: start + k,
      ids: [...p],
      random: mulberry32((seed * 1_000_003 + start + k) >>> 0),
      done: false,
    }));
    for (let step = 0; step < maxNewTokens; step++) {
      const active = rows.filter((r) => !r.done);
      if (active.length === 0) break;
      const T = Math.max(...active.map((r) => r.ids.length));
      const ids = new Int32Array(active.length * T).fill(padTokenId);
      const last = new Int32Array(active.length);
      active.forEach((r, i) => {
        ids.set(r.ids, i * T);
        last[i] = r.ids.length - 1;
      });
      const picked = tf.tidy(() => {
        const { logits, hidden } = model.forward(tf.tensor2d(ids, [active.length, T], 'int32'), {
          training: false,
        });
        hidden.dispose();
        // Each row's logits at its own last position, as a one-hot contraction (no gather on wasm).
        const at = tf.expandDims(tf.cast(tf.oneHot(tf.tensor1d(last, 'int32'), T), 'float32'), 2);
        return tf.sum(tf.mul(logits, at), 1);
      });
      const data = picked.dataSync() as Float32Array;
      const V = picked.shape[1] as number;
      picked.dispose();
      active.forEach((r, i) => {
        const token = draw(data.subarray(i * V, (i + 1) * V), temperature, r.random());
        if (token === stopTokenId) r.done = true;
        else {
          r.ids.push(token);
          (out[r.index] as number[]).push(token);
        }
      });
    }
  }
  return out;
}
