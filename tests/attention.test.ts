import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { PER_HEAD_MIN_WORK, selfAttentionCore } from '../src/ops/attention';
import { expectClose } from './support/helpers';

// Which path 'auto' takes is visible in the kernels it runs: per-head gathers one head at a time.
async function gathers(
  seqLen: number,
  numHeads: number,
  hidden: number,
  impl: 'auto' | 'batched' | 'per-head',
) {
  const batch = 2;
  const qkv = tf.randomNormal([batch * seqLen, 3 * hidden], 0, 1, 'float32', 3) as tf.Tensor2D;
  const keyBias = tf.zeros([batch, seqLen]) as tf.Tensor2D;
  let out: number[] = [];
  const info = await tf.profile(() => {
    const y = selfAttentionCore({ qkv, batch, seqLen, numHeads, keyBias, hasMask: false, dropout: 0, impl });
    out = Array.from(y.dataSync());
    y.dispose();
  });
  tf.dispose([qkv, keyBias]);
  return { gathers: info.kernels.filter((k) => k.name === 'GatherV2').length, out };
}

describe('selfAttentionCore auto', () => {
  it('takes the per-head path on wasm only for large heads, with the same values either way', async () => {
    // T 128, d_head 32: T²·d_head = 524 288 ≥ threshold; T 16, d_head 8: 2 048 below.
    expect(128 * 128 * 32).toBeGreaterThanOrEqual(PER_HEAD_MIN_WORK);
    expect(16 * 16 * 8).toBeLessThan(PER_HEAD_MIN_WORK);
    const large = await gathers(128, 2, 64, 'auto');
    const small = await gathers(16, 2, 16, 'auto');
    const wasm = tf.getBackend() === 'wasm';
    expect(large.gathers > 0).toBe(wasm);
    expect(small.gathers).toBe(0);
    const smallPerHead = await gathers(16, 2, 16, 'per-head');
    expect(smallPerHead.gathers).toBeGreaterThan(0);
    expectClose(small.out, smallPerHead.out, { rtol: 1e-5, atol: 1e-6, label: 'batched vs per-head' });
  });
});
