// Child process of tests/wasm-threads.test.ts: the threaded wasm backend can only be initialized
// once per process, before anything else uses wasm. Prints one JSON line.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { initWasmThreads } from '../../src/node';

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
console.log(JSON.stringify({ threads, backend: tf.getBackend(), values: Array.from(out.dataSync()) }));
