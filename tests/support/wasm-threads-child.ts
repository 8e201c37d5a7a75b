// Child process of tests/wasm-threads.test.ts: the threaded wasm backend can only be initialized
// once per process, before anything else uses wasm. Prints one JSON line.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { initWasmThreads } from 'ganpo/node';
import { geluErf, selfAttentionCore } from 'ganpo/ops';

import { kernelFlags } from '../../src/ops/kernel-flags';
import { matMul2d, matMul2dTransposeA } from '../../src/ops/matmul';
import { fusedAttentionAvailable } from '../../src/ops/wasm/attention-kernel';
import { memoryOf, type WasmBackendLike } from '../../src/ops/wasm/backend';
import { kernelPoolFor } from '../../src/ops/wasm/kernel-pool';
import { transpose2d } from '../../src/ops/wasm/transpose-kernel';

const threads = await initWasmThreads({ threads: 2 });
await tf.setBackend('wasm');
await tf.ready();
const n = 96;
const a = tf.tensor2d(
  Array.from({ length: n * n }, (_, i) => Math.sin(i)),
  [n, n],
);
const b = tf.tensor2d(
  Array.from({ length: n * n }, (_, i) => Math.cos(0.5 * i)),
  [n, n],
);
const out = tf.softmax(tf.matMul(a, b));
// ganpo's SIMD attention kernels import the threaded build's shared memory: same values as per-head.
const qkv = tf.randomNormal([2 * 20, 3 * 64], 0, 1, 'float32', 1) as tf.Tensor2D;
const keyBias = tf.zeros([2, 20]) as tf.Tensor2D;
/** ∂/∂qkv of Σ attention(qkv)²: the gradient runs both of the attention's kernels. */
const attentionGrad = (
  qkv: tf.Tensor2D,
  args: Omit<Parameters<typeof selfAttentionCore>[0], 'qkv'>,
): Float32Array =>
  tf
    .grad((x: tf.Tensor) => tf.sum(tf.square(selfAttentionCore({ ...args, qkv: x as tf.Tensor2D }))))(qkv)
    .dataSync() as Float32Array;
const attention = (impl: 'fused' | 'per-head'): Float32Array =>
  attentionGrad(qkv, { batch: 2, seqLen: 20, numHeads: 4, keyBias, dropout: 0, impl });
const fused = attention('fused');
const perHead = attention('per-head');
const fusedMaxDiff = Math.max(...fused.map((v, i) => Math.abs(v - (perHead[i] as number))));

// ganpo's products split over its kernel pool against the same kernels on the calling thread alone:
// each GEMM variant (B in place with a bias, B packed into panels, Aᵀ·B), row counts that are not a
// multiple of the 4-row tile, bit for bit; and against tf.matMul (XNNPACK) within float tolerance.
const pool = kernelPoolFor(memoryOf(tf.backend() as unknown as WasmBackendLike));
const rand = (shape: [number, number], seed: number) =>
  tf.randomUniform(shape, -1, 1, 'float32', seed) as tf.Tensor2D;
const products = [
  { name: 'inPlace+bias', a: rand([301, 128], 1), b: rand([128, 256], 2), bias: true, tA: false },
  { name: 'packedB', a: rand([262, 256], 3), b: rand([256, 520], 4), bias: false, tA: false },
  { name: 'transposedA', a: rand([200, 130], 5), b: rand([200, 256], 6), bias: false, tA: true },
].map(({ name, a, b, bias, tA }) => {
  const biasT = bias ? (tf.randomUniform([b.shape[1]], -1, 1, 'float32', 7) as tf.Tensor1D) : null;
  const run = (parallel: boolean): Float32Array => {
    kernelFlags.parallelProducts = parallel;
    const before = pool?.splitKernels ?? 0;
    const c = tA ? matMul2dTransposeA(a, b) : matMul2d(a, b, biasT);
    if (parallel && (pool?.splitKernels ?? 0) === before) throw new Error(`${name}: not split over the pool`);
    return c.dataSync() as Float32Array;
  };
  const split = run(true);
  const single = run(false);
  kernelFlags.parallelProducts = true;
  const reference = tf.add(tf.matMul(a, b, tA, false), biasT ?? tf.scalar(0)).dataSync() as Float32Array;
  return {
    name,
    bitIdentical: split.length === single.length && split.every((v, i) => Object.is(v, single[i])),
    maxDiffVsMatMul: split.reduce((m, v, i) => Math.max(m, Math.abs(v - (reference[i] as number))), 0),
  };
});

// The fused attention split by sequences over the pool, forward and backward (the gradient of a
// function of its output), causal and not, against the same kernels on one thread: bit for bit.
const attentionSplit = [false, true].map((causal) => {
  const x = tf.randomNormal([4 * 128, 3 * 64], 0, 1, 'float32', 8) as tf.Tensor2D;
  // Sequence b masks its last 8·(b + 1) keys, so a block reading another sequence's row differs.
  const bias = tf.tensor2d(
    Array.from({ length: 4 * 128 }, (_, i) => (i % 128 >= 128 - 8 * (Math.floor(i / 128) + 1) ? -1e9 : 0)),
    [4, 128],
  );
  const run = (parallel: boolean): Float32Array => {
    kernelFlags.parallelProducts = parallel;
    const before = pool?.splitKernels ?? 0;
    const g = attentionGrad(x, { batch: 4, seqLen: 128, numHeads: 4, keyBias: bias, causal, impl: 'fused' });
    // forward and backward: two kernels split
    if (parallel && (pool?.splitKernels ?? 0) < before + 2)
      throw new Error('attention: not split over the pool');
    return g;
  };
  const split = run(true);
  const single = run(false);
  kernelFlags.parallelProducts = true;
  return {
    causal,
    bitIdentical: split.every((v, i) => Object.is(v, single[i])),
    nonZero: split.some((v) => v !== 0),
  };
});

// GELU split into ranges of elements, forward and backward, a size that leaves a remainder: bit for bit.
const geluSplit = (() => {
  const x = tf.randomNormal([1024, 1027], 0, 2, 'float32', 9);
  const run = (parallel: boolean): Float32Array[] => {
    kernelFlags.parallelProducts = parallel;
    const before = pool?.splitKernels ?? 0;
    const y = geluErf(x).dataSync() as Float32Array;
    const g = tf
      .grad((v: tf.Tensor) => tf.sum(tf.mul(geluErf(v), v)))(x)
      .dataSync() as Float32Array;
    if (parallel && (pool?.splitKernels ?? 0) < before + 2) throw new Error('gelu: not split over the pool');
    return [y, g];
  };
  const [ys, gs] = run(true) as [Float32Array, Float32Array];
  const [y1, g1] = run(false) as [Float32Array, Float32Array];
  kernelFlags.parallelProducts = true;
  return ys.every((v, i) => Object.is(v, y1[i])) && gs.every((v, i) => Object.is(v, g1[i]));
})();

// The transpose split into blocks of columns (odd sizes: a remainder of rows and of columns), exact.
const transposeSplit = (() => {
  const x = tf.randomNormal([1023, 2051], 0, 1, 'float32', 10) as tf.Tensor2D;
  const before = pool?.splitKernels ?? 0;
  const y = transpose2d(x).dataSync();
  if ((pool?.splitKernels ?? 0) === before) throw new Error('transpose: not split over the pool');
  const expected = tf.transpose(x).dataSync();
  return y.length === expected.length && y.every((v, i) => Object.is(v, expected[i]));
})();

console.log(
  JSON.stringify({
    transposeSplit,
    geluSplit,
    attentionSplit,
    threads,
    backend: tf.getBackend(),
    values: Array.from(out.dataSync()),
    fusedAvailable: fusedAttentionAvailable(4, 16),
    fusedMaxDiff,
    poolThreads: pool?.threads ?? 0,
    products,
  }),
);
