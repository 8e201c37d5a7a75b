// Child process of tests/wasm-threads.test.ts: the threaded wasm backend can only be initialized
// once per process, before anything else uses wasm. Prints one JSON line.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { initWasmThreads } from 'ganpo/node';
import { selfAttentionCore } from 'ganpo/ops';

import { fusedAttentionAvailable } from '../../src/ops/wasm/attention-kernel';

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
console.log(
  JSON.stringify({
    threads,
    backend: tf.getBackend(),
    values: Array.from(out.dataSync()),
    fusedAvailable: fusedAttentionAvailable(4, 16),
    fusedMaxDiff,
  }),
);
