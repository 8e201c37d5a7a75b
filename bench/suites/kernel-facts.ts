// The measurements behind ganpo's wasm kernel choices (cited from src/ops as docs/benchmarks.md, "Why
// the kernels look as they do"), each pair interleaved in one process on the wasm backend:
// - tfjs's matMul with a transpose flag against the same product without it (XNNPACK only serves the
//   flag-free 2-D case);
// - ganpo's SIMD GEMM (matMul2d: B in place up to K·N = 65 536 floats, packed up to 2²¹) against
//   tfjs's matMul (XNNPACK), inside and above its range;
// - ganpo's transpose kernel against tfjs's Transpose and a plain copy of the same bytes;
// - the attention core, forward and backward: fused kernel, per-head 2-D matMuls, batched matMuls.
import * as tf from '@tensorflow/tfjs-core';
import { type AttentionImpl, selfAttentionCore } from '../../src/ops/attention';
import { matMul2d } from '../../src/ops/matmul';
import { transpose2d } from '../../src/ops/wasm/transpose-kernel';
import { type BenchContext, type BenchRow, interleaved, type Timing, useBackend } from '../util';

const read = (t: tf.Tensor): void => {
  t.dataSync();
  t.dispose();
};

function pairRows(name: string, labels: string[], timings: Timing[], shape: string): BenchRow[] {
  const base = timings[0] as Timing;
  return timings.map((t, i) => ({
    suite: 'kernel-facts',
    name: `${name}: ${labels[i]}`,
    backend: 'wasm',
    timing: t,
    extra: { shape, ...(i > 0 ? { [`vs ${labels[0]}`]: `${(t.median / base.median).toFixed(2)}×` } : {}) },
  }));
}

export default async function kernelFacts(ctx: BenchContext): Promise<BenchRow[]> {
  if (!ctx.backends.includes('wasm')) return [];
  await useBackend('wasm');
  const rows: BenchRow[] = [];
  const runs = ctx.quick ? 3 : 10;

  // 1. transpose flags
  {
    const a = tf.randomNormal([1024, 512], 0, 1, 'float32', 1) as tf.Tensor2D;
    const b = tf.randomNormal([512, 256], 0, 1, 'float32', 2) as tf.Tensor2D;
    const bt = tf.transpose(b) as tf.Tensor2D;
    const t = await interleaved(
      [() => read(tf.matMul(a, b)), () => read(tf.matMul(a, bt, false, true))],
      runs,
      1,
    );
    rows.push(...pairRows('tfjs matMul', ['a·b', 'a·(bᵀ) with transposeB'], t, '1024×512·512×256'));
    tf.dispose([a, b, bt]);
  }
  // 2. ganpo's GEMM against XNNPACK
  for (const [m, k, n] of [
    [304, 64, 64],
    [1024, 256, 256],
    [1024, 256, 1024],
    [1024, 1024, 256],
    [2048, 256, 768],
    [1024, 2048, 2048],
  ] as [number, number, number][]) {
    const a = tf.randomNormal([m, k], 0, 1, 'float32', 3) as tf.Tensor2D;
    const b = tf.randomNormal([k, n], 0, 1, 'float32', 4) as tf.Tensor2D;
    const t = await interleaved(
      [() => read(tf.matMul(a, b)), () => read(matMul2d(a, b))],
      ctx.quick ? 2 : 6,
      1,
    );
    const range = k * n <= 65_536 ? 'B in place' : k * n <= 1 << 21 ? 'B packed' : 'above the range: XNNPACK';
    rows.push(
      ...pairRows(
        '2-D product',
        ['XNNPACK (tf.matMul)', `ganpo matMul2d (${range})`],
        t,
        `${m}×${k}·${k}×${n}`,
      ),
    );
    tf.dispose([a, b]);
  }
  // 3. transposes
  for (const [r, c] of [
    [1024, 1024],
    [1024, 256],
  ] as [number, number][]) {
    const x = tf.randomNormal([r, c], 0, 1, 'float32', 5) as tf.Tensor2D;
    const t = await interleaved(
      [() => read(tf.clone(x)), () => read(tf.transpose(x)), () => read(transpose2d(x))],
      runs,
      1,
    );
    rows.push(
      ...pairRows(
        'transpose',
        ['copy (tf.clone)', 'tfjs Transpose', 'ganpo transpose kernel'],
        t,
        `[${r}, ${c}]`,
      ),
    );
    x.dispose();
  }
  // 4. attention core, forward and backward
  for (const [B, T, H, dh] of [
    [8, 128, 8, 32],
    [16, 48, 4, 16],
  ] as [number, number, number, number][]) {
    const qkv = tf.randomNormal([B * T, 3 * H * dh], 0, 1, 'float32', 6) as tf.Tensor2D;
    const keyBias = tf.zeros([B, T]) as tf.Tensor2D;
    const step = (impl: AttentionImpl) => () =>
      read(
        tf.grad((x: tf.Tensor) =>
          tf.sum(
            selfAttentionCore({ qkv: x as tf.Tensor2D, batch: B, seqLen: T, numHeads: H, keyBias, impl }),
          ),
        )(qkv),
      );
    const impls: AttentionImpl[] = ['fused', 'per-head', 'batched'];
    const t = await interleaved(impls.map(step), ctx.quick ? 2 : 6, 1);
    rows.push(...pairRows('attention forward + backward', impls, t, `B${B} T${T} ${H} heads × ${dh}`));
    tf.dispose([qkv, keyBias]);
  }
  return rows;
}
