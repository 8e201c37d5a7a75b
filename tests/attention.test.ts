import * as tf from '@tensorflow/tfjs-core';
import { type AttentionImpl, selfAttentionCore } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';
import { PER_HEAD_MIN_WORK } from '../src/ops/attention';
import { ATTENTION_FORWARD } from '../src/ops/wasm/attention-kernel';
import { expectClose } from './support/helpers';

// Which path a call takes is visible in the kernels it runs: per-head gathers one head at a time,
// fused runs one GanpoAttentionForward kernel.
async function kernels(seqLen: number, numHeads: number, hidden: number, impl: AttentionImpl) {
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
  const count = (name: string): number => info.kernels.filter((k) => k.name === name).length;
  return { gathers: count('GatherV2'), fused: count(ATTENTION_FORWARD), out };
}

describe('selfAttentionCore auto', () => {
  it('takes the fused kernel on wasm, else per-head only for large heads, with the same values', async () => {
    const wasm = tf.getBackend() === 'wasm';
    const auto = await kernels(16, 2, 16, 'auto');
    expect(auto.fused).toBe(wasm ? 1 : 0);
    expect(auto.gathers).toBe(0);
    // Without the fused kernel ('per-head' | 'batched' chosen explicitly) the threshold still applies:
    // T 128, d_head 32: T²·d_head = 524 288 ≥ threshold; T 16, d_head 8: 2 048 below.
    expect(128 * 128 * 32).toBeGreaterThanOrEqual(PER_HEAD_MIN_WORK);
    expect(16 * 16 * 8).toBeLessThan(PER_HEAD_MIN_WORK);
    const batched = await kernels(16, 2, 16, 'batched');
    expect(batched.gathers).toBe(0);
    expect(batched.fused).toBe(0);
    const perHead = await kernels(16, 2, 16, 'per-head');
    expect(perHead.gathers).toBeGreaterThan(0);
    expectClose(batched.out, perHead.out, { rtol: 1e-5, atol: 1e-6, label: 'batched vs per-head' });
    expectClose(auto.out, perHead.out, { rtol: 1e-5, atol: 1e-6, label: 'auto vs per-head' });
  });
});
