// Per-kernel profile of one discriminator training step (tf.profile), for finding hot spots:
//   node --import tsx bench/profile-discriminator.ts [wasm|cpu] [fast|naive] [per-head|batched]
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setValidationLevel } from '../src/core/config';
import type { AttentionImpl } from '../src/ops/attention';
import { kernelFlags } from '../src/ops/kernel-flags';
import { makeStep } from './suites/discriminator';

const [backend = 'wasm', mode = 'fast', attention = 'per-head'] = process.argv.slice(2);
setValidationLevel('shapes');
await tf.setBackend(backend);
await tf.ready();
const fast = mode === 'fast';
kernelFlags.fastLinearGradient = fast;
kernelFlags.fusedLayerNorm = fast;
kernelFlags.fusedGelu = fast;
const { step, dispose } = makeStep(attention as AttentionImpl);
step();
step();
const t0 = performance.now();
step();
const wall = performance.now() - t0;
const info = await tf.profile(() => step());
const byKernel = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) {
  const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += ms;
  e.n += 1;
  byKernel.set(k.name, e);
}
const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
console.log(
  `${backend} ${mode} ${attention}: step ${wall.toFixed(0)} ms wall, ${info.kernels.length} kernels, ${total.toFixed(0)} ms in kernels`,
);
for (const [name, e] of [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
  console.log(
    `${name.padEnd(22)} ${e.ms.toFixed(1).padStart(8)} ms  ${String(e.n).padStart(6)} calls  ${((100 * e.ms) / total).toFixed(1)}%`,
  );
}
dispose();
