import * as tf from '@tensorflow/tfjs-core';
import { selfAttentionCore } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { fusedAttentionAvailable } from '../src/ops/wasm/attention-kernel';
import { attentionSimdModule } from '../src/ops/wasm/attention-simd';
import { expectClose, expectNoLeak } from './support/helpers';

// The wasm SIMD attention kernels against plain tfjs ops (batched attention, tfjs autodiff) on the
// cpu backend, with the same inputs, key masks and dropout masks.
const onWasm = tf.getBackend() === 'wasm';

interface Case {
  B: number;
  T: number;
  H: number;
  dh: number;
  dropout: number;
  causal?: boolean;
}

/** Plain-tfjs reference: out and d(Σ out·dy)/dqkv, with the given [B,H,T,T] dropout mask. */
function reference(
  qkv: tf.Tensor2D,
  keyBias: tf.Tensor2D,
  mask: tf.Tensor4D | null,
  dy: tf.Tensor2D,
  c: Case,
) {
  const { B, T, H, dh } = c;
  const f = (x: tf.Tensor2D): tf.Tensor2D => {
    const heads = (t: tf.Tensor): tf.Tensor4D =>
      tf.transpose(tf.reshape(t, [B, T, H, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
    const [q, k, v] = tf.split(x, 3, 1).map(heads) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    let s = tf.add(
      tf.matMul(tf.mul(q, 1 / Math.sqrt(dh)), k, false, true),
      tf.reshape(keyBias, [B, 1, 1, T]),
    );
    if (c.causal) {
      const above = Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0));
      s = tf.add(s, tf.tensor2d(above, [T, T]));
    }
    const a = tf.softmax(s);
    const o = tf.matMul((mask ? tf.mul(a, mask) : a) as tf.Tensor4D, v);
    return tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B * T, H * dh]) as tf.Tensor2D;
  };
  const out = f(qkv);
  const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D), dy)))(qkv);
  return { out: out.dataSync(), grad: grad.dataSync() };
}

const cases: Case[] = [
  { B: 2, T: 13, H: 2, dh: 8, dropout: 0 }, // T not a multiple of 4: the scalar tails
  { B: 2, T: 16, H: 4, dh: 4, dropout: 0.3 },
  { B: 1, T: 33, H: 2, dh: 32, dropout: 0.1 },
  // causal: query i sees keys 0…i (rows of every length mod 4), with padding and dropout too
  { B: 2, T: 13, H: 2, dh: 8, dropout: 0, causal: true },
  { B: 2, T: 16, H: 4, dh: 4, dropout: 0.3, causal: true },
  { B: 1, T: 33, H: 2, dh: 32, dropout: 0.1, causal: true },
];

describe.skipIf(!onWasm)('fused wasm attention kernels', () => {
  it('compiles a valid module', () => {
    expect(WebAssembly.validate(attentionSimdModule({ numHeads: 8, headDim: 32 }) as BufferSource)).toBe(
      true,
    );
    expect(fusedAttentionAvailable(8, 32)).toBe(true);
    expect(fusedAttentionAvailable(2, 6)).toBe(false); // d_head not a multiple of 4
  });

  it.each(cases)('match plain tfjs on the cpu backend: %o', async (c) => {
    const { B, T, H, dh, dropout } = c;
    const causal = c.causal === true;
    expect(fusedAttentionAvailable(H, dh, causal)).toBe(true);
    const hidden = H * dh;
    const qkvV = tf.randomNormal([B * T, 3 * hidden], 0, 1, 'float32', 11).dataSync();
    const dyV = tf.randomNormal([B * T, hidden], 0, 1, 'float32', 12).dataSync();
    // the last two keys of sequence 1 are padding; sequence 0 has none
    const biasV = Array.from({ length: B * T }, (_, i) => (i >= T && i % T >= T - 2 ? -1e9 : 0));
    // Dropout masks: fix Math.random so the kernel path and the reference use the same mask.
    let state = 7;
    const realRandom = Math.random;
    Math.random = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    let got: { out: Float32Array; grad: Float32Array };
    try {
      got = tf.tidy(() => {
        const qkv = tf.tensor2d(qkvV, [B * T, 3 * hidden]);
        const keyBias = tf.tensor2d(biasV, [B, T]);
        const dy = tf.tensor2d(dyV, [B * T, hidden]);
        const run = (x: tf.Tensor2D): tf.Tensor2D =>
          selfAttentionCore({
            qkv: x,
            batch: B,
            seqLen: T,
            numHeads: H,
            keyBias,
            dropout,
            causal,
            impl: 'fused',
          });
        state = 7;
        const out = run(qkv);
        state = 7;
        const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(run(x as tf.Tensor2D), dy)))(qkv);
        return { out: out.dataSync() as Float32Array, grad: grad.dataSync() as Float32Array };
      });
    } finally {
      Math.random = realRandom;
    }
    // The same mask drawn again, for the reference.
    state = 7;
    const keep = 1 / (1 - dropout);
    const maskV =
      dropout > 0
        ? Float32Array.from({ length: B * H * T * T }, () => {
            state = (Math.imul(state, 1103515245) + 12345) >>> 0;
            return state / 2 ** 32 >= dropout ? keep : 0;
          })
        : null;
    await tf.setBackend('cpu');
    try {
      const want = tf.tidy(() =>
        reference(
          tf.tensor2d(qkvV, [B * T, 3 * hidden]),
          tf.tensor2d(biasV, [B, T]),
          maskV ? tf.tensor4d(maskV, [B, H, T, T]) : null,
          tf.tensor2d(dyV, [B * T, hidden]),
          c,
        ),
      );
      expectClose(got.out, want.out, { rtol: 1e-5, atol: 1e-6, label: 'out' });
      expectClose(got.grad, want.grad, { rtol: 1e-4, atol: 1e-5, label: 'dqkv' });
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('without a key bias, equals an all-zero one (causal and not)', () => {
    for (const causal of [false, true]) {
      const [a, b] = tf.tidy(() => {
        const qkv = tf.randomNormal([2 * 9, 3 * 16], 0, 1, 'float32', 3) as tf.Tensor2D;
        const args = { qkv, batch: 2, seqLen: 9, numHeads: 2, causal, impl: 'fused' as const };
        return [
          selfAttentionCore(args).dataSync(),
          selfAttentionCore({ ...args, keyBias: tf.zeros([2, 9]) as tf.Tensor2D }).dataSync(),
        ];
      });
      expect(Array.from(a)).toEqual(Array.from(b));
    }
  });

  it('leaves no tensor behind', async () => {
    const qkv = tf.randomNormal([2 * 8, 3 * 16], 0, 1, 'float32', 1) as tf.Tensor2D;
    const keyBias = tf.zeros([2, 8]) as tf.Tensor2D;
    await expectNoLeak(() => {
      const g = tf.grad((x: tf.Tensor) =>
        tf.sum(
          selfAttentionCore({
            qkv: x as tf.Tensor2D,
            batch: 2,
            seqLen: 8,
            numHeads: 2,
            keyBias,
            dropout: 0.2,
            impl: 'fused',
          }),
        ),
      )(qkv);
      g.dispose();
    });
    tf.dispose([qkv, keyBias]);
  });
});
