// Child process of tests/wasm-threads.test.ts: the threaded wasm backend can only be initialized
// once per process, before anything else uses wasm. Prints one JSON line.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { initWasmThreads } from 'ganpo/node';
import { selfAttentionCore } from 'ganpo/ops';

import { kernelFlags } from '../../src/ops/kernel-flags';
import { matMul2d, matMul2dTransposeA } from '../../src/ops/matmul';
import { fusedAttentionAvailable } from '../../src/ops/wasm/attention-kernel';
import { memoryOf, type WasmBackendLike } from '../../src/ops/wasm/backend';
import { kernelPoolFor } from '../../src/ops/wasm/kernel-pool';

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
const attention = (impl: 'fused' | 'per-head'): Float32Array =>
  tf
    .grad((x: tf.Tensor) =>
      tf.sum(
        tf.square(
          selfAttentionCore({
            qkv: x as tf.Tensor2D,
            batch: 2,
            seqLen: 20,
            numHeads: 4,
            keyBias,
            dropout: 0,
            impl,
          }),
        ),
      ),
    )(qkv)
    .dataSync() as Float32Array;
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
    const before = pool?.splitProducts ?? 0;
    const c = tA ? matMul2dTransposeA(a, b) : matMul2d(a, b, biasT);
    if (parallel && (pool?.splitProducts ?? 0) === before)
      throw new Error(`${name}: not split over the pool`);
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
console.log(
  JSON.stringify({
    threads,
    backend: tf.getBackend(),
    values: Array.from(out.dataSync()),
    fusedAvailable: fusedAttentionAvailable(4, 16),
    fusedMaxDiff,
    poolThreads: pool?.threads ?? 0,
    products,
  }),
);
